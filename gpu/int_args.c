/* lic gpu: checks of the integer kernels' arguments (gpu/int_host.h). Pure host code, built with or
 * without CUDA; a conv is checked by lic_iconv_call_check, as lic_iconv2d checks it, so the device and
 * the emulation accept exactly the calls the CPU accepts. */
#include <stdint.h>

#include "gpu/int_host.h"

int lic_gpu_iconv_args_make(const lic_iconv_layer *L, const lic_itensor *in, const lic_itensor *out,
                            lic_gpu_iconv_args *a)
{
    if (!a || lic_iconv_call_check(L, in, out) != LIC_OK || L->cout > LIC_GPU_INT_MAX_PLANES)
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
