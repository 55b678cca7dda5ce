/* lic gpu: checks of the integer kernels' arguments (gpu/int_host.h). Pure host code, built with or
 * without CUDA; the same checks as lic_iconv2d, so the device and the emulation accept exactly the
 * calls the CPU accepts. */
#include <stdint.h>

#include "gpu/int_host.h"

/* Element count of a tensor, 0 when its descriptor is unusable. */
static size_t tensor_count(const lic_itensor *t)
{
    if (!t || !t->data || t->c < 1 || t->h < 1 || t->w < 1)
        return 0;
    const size_t hw = (size_t)t->h * (size_t)t->w; /* both < 2^31: exact in 64-bit size_t */
    if (hw > SIZE_MAX / sizeof(int32_t) / (size_t)t->c)
        return 0;
    return hw * (size_t)t->c;
}

int lic_gpu_iconv_args_make(const lic_iconv_layer *L, const lic_itensor *in, const lic_itensor *out,
                            lic_gpu_iconv_args *a)
{
    if (!L || !a || lic_iconv_validate(L) != LIC_OK)
        return LIC_EINVAL;
    const size_t n_in = tensor_count(in), n_out = tensor_count(out);
    if (!n_in || !n_out || in->c != L->cin || out->c != L->cout || L->cout > LIC_GPU_INT_MAX_PLANES)
        return LIC_EINVAL;
    int eh, ew;
    if (L->transposed) {
        if (in->h > INT32_MAX / L->stride || in->w > INT32_MAX / L->stride)
            return LIC_EINVAL;
        eh = in->h * L->stride;
        ew = in->w * L->stride;
    } else {
        eh = lic_conv_out_size(in->h, L->stride);
        ew = lic_conv_out_size(in->w, L->stride);
    }
    if (out->h != eh || out->w != ew)
        return LIC_EINVAL;
    const uintptr_t ib = (uintptr_t)in->data, ie = ib + n_in * sizeof(int32_t);
    const uintptr_t ob = (uintptr_t)out->data, oe = ob + n_out * sizeof(int32_t);
    if (ib < oe && ob < ie)
        return LIC_EINVAL;
    *a = (lic_gpu_iconv_args){L->cin, L->cout, L->k, L->stride, L->transposed, L->relu, L->relu_slope_q8,
                              L->out_bits, L->weight, L->bias, L->shift, in->data, in->h, in->w, out->data,
                              out->h, out->w};
    return LIC_OK;
}

int lic_gpu_ypass_args_check(const lic_gpu_ypass_args *a)
{
    if (!a || a->c < 1 || a->h < 1 || a->w < 1 || (a->pass != 0 && a->pass != 1) || a->levels < 1 ||
        a->ctx_shift < 0 || a->ctx_shift > LIC_GAUSSIAN_FRAC_BITS || !a->params || !a->thresholds ||
        !a->symbols || !a->index || a->c > LIC_GPU_INT_MAX_PLANES)
        return LIC_EINVAL;
    /* 2c planes of params must be addressable in size_t */
    const size_t hw = (size_t)a->h * (size_t)a->w;
    if (hw > SIZE_MAX / sizeof(int64_t) / 2 / (size_t)a->c)
        return LIC_EINVAL;
    return LIC_OK;
}
