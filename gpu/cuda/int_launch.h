/* lic gpu: launchers of the integer kernels (int_kernels.cu), callable from C. The arguments are those
 * of gpu/int_kernels.h with device pointers, already checked (gpu/int_host.h). Each enqueues one
 * kernel on `stream` with the grid of lic_gpu_iconv_grid / lic_gpu_ypass_grid and returns the
 * cudaError_t of the launch as an int (0 = success). */
#ifndef LIC_GPU_CUDA_INT_LAUNCH_H
#define LIC_GPU_CUDA_INT_LAUNCH_H

#include <cuda_runtime_api.h>

#include "gpu/int_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

int lic_cuda_iconv(cudaStream_t stream, const lic_gpu_iconv_args *a, unsigned max_blocks);
int lic_cuda_ypass(cudaStream_t stream, const lic_gpu_ypass_args *a, unsigned max_blocks);

#ifdef __cplusplus
}
#endif
#endif /* LIC_GPU_CUDA_INT_LAUNCH_H */
