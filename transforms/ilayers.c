/* lic transforms: integer conv / transposed conv of the probability path (see ilayers.h).
 * This file checks layers and shapes and runs a kernel's tasks on the pool (cpu/iconv_ref.c,
 * cpu/iconv_avx2.c, cpu/iconv_avx512.c). Tasks write disjoint outputs and every kernel computes exact integer sums, so
 * results do not depend on the thread count or the kernel. */
#include "transforms/ilayers.h"

#include <stdint.h>

#include "transforms/cpu/iconv.h"
#include "transforms/cpu/xf_cpu.h"

int lic_iconv_validate(const lic_iconv_layer *L)
{
    if (!L || !L->weight || !L->bias || !L->shift)
        return LIC_EMODEL;
    if (L->cin < 1 || L->cin > 4096 || L->cout < 1 || L->cout > 4096)
        return LIC_EMODEL;
    /* Odd k only: with padding k/2 an even kernel would not give the documented output sizes
     * (ceil(in/s), in*s) in PyTorch. */
    if (L->k < 1 || L->k > 7 || (L->k & 1) == 0)
        return LIC_EMODEL;
    if (L->stride < 1 || L->stride > 2)
        return LIC_EMODEL;
    if ((L->transposed != 0 && L->transposed != 1) || (L->relu != 0 && L->relu != 1))
        return LIC_EMODEL;
    if (L->relu_slope_q8 < 0 || L->relu_slope_q8 > 255)
        return LIC_EMODEL;
    if (L->out_bits != 16 && L->out_bits != 24)
        return LIC_EMODEL;
    for (int o = 0; o < L->cout; o++)
        if (L->shift[o] < 1 || L->shift[o] > 62)
            return LIC_EMODEL;

    /* Accumulator bound for inputs and weights in int16 range: every output receives at most
     * cin*k*k products (a transposed conv fewer), each |w*x| <= 2^15 * 2^15 = 2^30, plus |bias| <= 2^31,
     * plus the rounding term 2^(shift-1) <= 2^61. With cin <= 4096 and k <= 7 the products sum to
     * < 2^48, so the check below always passes today; it stays so that widening the ranges above
     * cannot silently allow an overflow. Unsigned arithmetic: no overflow in the check itself. */
    const uint64_t terms = (uint64_t)L->cin * (uint64_t)L->k * (uint64_t)L->k;
    const uint64_t prod_max = (uint64_t)1 << 30;
    const uint64_t room = ((uint64_t)1 << 63) - ((uint64_t)1 << 61) - ((uint64_t)1 << 31);
    if (terms > room / prod_max)
        return LIC_EMODEL;
    return LIC_OK;
}

/* Checks a tensor's descriptor and returns its element count in *count (0 on error). */
static int tensor_ok(const lic_itensor *t, size_t *count)
{
    *count = 0;
    if (!t || !t->data || t->c < 1 || t->h < 1 || t->w < 1)
        return 0;
    size_t hw = (size_t)t->h * (size_t)t->w; /* both < 2^31: no overflow in size_t of 64 bits */
    if ((size_t)t->h > SIZE_MAX / (size_t)t->w || hw > SIZE_MAX / sizeof(int32_t) / (size_t)t->c)
        return 0;
    *count = hw * (size_t)t->c;
    return 1;
}

int lic_iconv_kernel_available(int kernel)
{
    switch (kernel) {
    case LIC_ICONV_KERNEL_REF:
        return 1;
    case LIC_ICONV_KERNEL_AVX2:
        return lic_xf_cpu_has_avx2();
    case LIC_ICONV_KERNEL_AVX512:
        return lic_xf_cpu_has_avx512vnni();
    default:
        return 0;
    }
}

int lic_iconv_kernel_for(unsigned features)
{
    if ((features & LIC_XF_FEAT_AVX512VNNI) && lic_iconv_kernel_available(LIC_ICONV_KERNEL_AVX512))
        return LIC_ICONV_KERNEL_AVX512;
    if ((features & LIC_XF_FEAT_AVX2) && lic_iconv_kernel_available(LIC_ICONV_KERNEL_AVX2))
        return LIC_ICONV_KERNEL_AVX2;
    return LIC_ICONV_KERNEL_REF;
}

const char *lic_iconv_kernel_name(int kernel)
{
    switch (kernel) {
    case LIC_ICONV_KERNEL_REF: return "ref";
    case LIC_ICONV_KERNEL_AVX2: return "avx2";
    case LIC_ICONV_KERNEL_AVX512: return "avx512vnni";
    default: return "?";
    }
}

typedef struct iconv_job {
    const lic_iconv_call *call;
    void (*task)(const lic_iconv_call *c, int task);
} iconv_job;

static void iconv_task(void *arg, int task)
{
    const iconv_job *j = arg;
    j->task(j->call, task);
}

int lic_iconv_call_check(const lic_iconv_layer *L, const lic_itensor *in, const lic_itensor *out)
{
    if (!L || lic_iconv_validate(L) != LIC_OK)
        return LIC_EINVAL;
    size_t n_in, n_out;
    if (!tensor_ok(in, &n_in) || !tensor_ok(out, &n_out))
        return LIC_EINVAL;
    if (in->c != L->cin || out->c != L->cout)
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
    /* No in-place operation: the output must not overlap the input. */
    uintptr_t ib = (uintptr_t)in->data, ie = ib + n_in * sizeof(int32_t);
    uintptr_t ob = (uintptr_t)out->data, oe = ob + n_out * sizeof(int32_t);
    if (ib < oe && ob < ie)
        return LIC_EINVAL;
    return LIC_OK;
}

int lic_iconv2d_kernel(lic_threadpool *pool, const lic_iconv_layer *L, const lic_itensor *in,
                       lic_itensor *out, int kernel)
{
    int ret = lic_iconv_call_check(L, in, out);
    if (ret != LIC_OK)
        return ret;

    lic_iconv_call call = { L, in->data, in->h, in->w, out->data, out->h, out->w };
    iconv_job job = { &call, NULL };
    int n_tasks;
    if (kernel == LIC_ICONV_KERNEL_BEST)
        kernel = lic_iconv_kernel_for(LIC_XF_FEAT_ALL);
    if (!lic_iconv_kernel_available(kernel))
        return LIC_EUNSUPPORTED;
    if (kernel == LIC_ICONV_KERNEL_AVX512) {
        job.task = lic_iconv_avx512_task;
        n_tasks = lic_iconv_avx512_tasks(&call);
    } else if (kernel == LIC_ICONV_KERNEL_AVX2) {
        job.task = lic_iconv_avx2_task;
        n_tasks = lic_iconv_avx2_tasks(&call);
    } else {
        job.task = lic_iconv_ref_task;
        n_tasks = lic_iconv_ref_tasks(&call);
    }
    lic_threadpool_run(pool, n_tasks, iconv_task, &job);
    return LIC_OK;
}

int lic_iconv2d(lic_threadpool *pool, const lic_iconv_layer *L, const lic_itensor *in, lic_itensor *out)
{
    return lic_iconv2d_kernel(pool, L, in, out, LIC_ICONV_KERNEL_BEST);
}
