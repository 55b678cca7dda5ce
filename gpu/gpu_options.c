/* lic gpu: option defaults and the opt-in switches (integer kernels, op-list executor), shared by the
 * CUDA backend and the stub. */
#include <stdlib.h>
#include <string.h>

#include "gpu/gpu.h"

void lic_gpu_options_init(lic_gpu_options *opt)
{
    if (!opt)
        return;
    memset(opt, 0, sizeof(*opt));
    opt->device = 0;
    opt->precision = LIC_GPU_FP32;
    opt->analysis = 1;
    opt->synthesis = 1;
}

int lic_gpu_int_requested(void)
{
    if (!lic_gpu_built_in())
        return 0;
    const char *v = getenv("LIC_GPU_INT");
    return v && strcmp(v, "1") == 0;
}

int lic_gpu_oplist_requested(void)
{
    if (!lic_gpu_built_in())
        return 0;
    const char *v = getenv("LIC_GPU_OPLIST");
    return v && strcmp(v, "1") == 0;
}
