/* lic gpu: stub backend for builds without CUDA. */
#include "gpu/gpu.h"

int lic_gpu_device_count(void)
{
    return 0;
}

int lic_gpu_built_in(void)
{
    return 0;
}
