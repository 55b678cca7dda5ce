/* lic gpu: stub backend for builds without CUDA (LIC_CUDA=OFF, or AUTO without nvcc or cuDNN): no
 * devices, every request LIC_EUNSUPPORTED. The memory planner (gpu_plan.c) is built either way. */
#include "gpu/gpu.h"
#include "gpu/int_host.h"

int lic_gpu_device_count(void)
{
    return 0;
}

int lic_gpu_built_in(void)
{
    return 0;
}

int lic_gpu_transforms_create(lic_gpu_transforms **out, const lic_gpu_model *m, const lic_gpu_options *opt,
                              const lic_allocator *alloc)
{
    (void)m, (void)opt, (void)alloc;
    if (out)
        *out = NULL;
    return LIC_EUNSUPPORTED;
}

void lic_gpu_transforms_free(lic_gpu_transforms **ctx)
{
    if (ctx)
        *ctx = NULL;
}

int lic_gpu_analysis(lic_gpu_transforms *ctx, const float *x, int ph, int pw, const float *gain, float *y_out,
                     float *z_out)
{
    (void)ctx, (void)x, (void)ph, (void)pw, (void)gain, (void)y_out, (void)z_out;
    return LIC_EUNSUPPORTED;
}

int lic_gpu_synthesis(lic_gpu_transforms *ctx, const float *yhat, int lh, int lw, float *x_out)
{
    (void)ctx, (void)yhat, (void)lh, (void)lw, (void)x_out;
    return LIC_EUNSUPPORTED;
}

int lic_gpu_transforms_memory(const lic_gpu_transforms *ctx, lic_gpu_plan *plan, uint64_t *device_bytes)
{
    (void)ctx, (void)plan, (void)device_bytes;
    return LIC_EUNSUPPORTED;
}

int lic_gpu_run_op(int device, enum lic_gpu_precision precision, const lic_gpu_op *op, const lic_tensor *in,
                   lic_tensor *out, const lic_logger *logger)
{
    (void)device, (void)precision, (void)op, (void)in, (void)out, (void)logger;
    return LIC_EUNSUPPORTED;
}

int lic_gpu_int_enabled(const lic_gpu_transforms *ctx)
{
    (void)ctx;
    return 0;
}

int lic_gpu_iconv(lic_gpu_transforms *ctx, const lic_iconv_layer *L, const lic_itensor *in, lic_itensor *out)
{
    (void)ctx, (void)L, (void)in, (void)out;
    return LIC_EUNSUPPORTED;
}

int lic_gpu_iconv_run(int device, const lic_iconv_layer *L, const lic_itensor *in, lic_itensor *out,
                      const lic_logger *log)
{
    (void)device, (void)L, (void)in, (void)out, (void)log;
    return LIC_EUNSUPPORTED;
}

int lic_gpu_ypass_run(int device, const lic_gpu_ypass_args *a, const lic_logger *log)
{
    (void)device, (void)a, (void)log;
    return LIC_EUNSUPPORTED;
}

int lic_gpu_transforms_create_ops(lic_gpu_transforms **out, const lic_gpu_graph *g, const lic_gpu_options *opt,
                                  const lic_allocator *alloc)
{
    (void)g, (void)opt, (void)alloc;
    if (out)
        *out = NULL;
    return LIC_EUNSUPPORTED;
}

int lic_gpu_is_oplist(const lic_gpu_transforms *ctx)
{
    (void)ctx;
    return 0;
}

int lic_gpu_run_range(lic_gpu_transforms *ctx, int range, void *const *host, int ph, int pw, const float *gain)
{
    (void)ctx, (void)range, (void)host, (void)ph, (void)pw, (void)gain;
    return LIC_EUNSUPPORTED;
}
