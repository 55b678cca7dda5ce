/* lic gpu: option defaults, shared by the CUDA backend and the stub. */
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
