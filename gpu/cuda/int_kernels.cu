/* lic gpu: the integer kernels of the probability path on CUDA (gpu/int_kernels.h, docs/GPU.md §8).
 *
 * Nothing is computed here: each __global__ kernel hands its block and thread indexes to the
 * `*_thread` function of gpu/int_kernels.h, which gpu/int_emul.c runs on the host over the same grid.
 * The arguments travel by value (kernel parameter space); a thread's outputs depend only on its
 * indexes, and integer sums are exact, so the result is the CPU's whatever the scheduling. */
#include "gpu/cuda/int_launch.h"

namespace {

__global__ void __launch_bounds__(LIC_GPU_INT_BLOCK) k_iconv(lic_gpu_iconv_args a)
{
    lic_gpu_iconv_thread(&a, blockIdx.x, blockIdx.y, threadIdx.x, gridDim.x);
}

__global__ void __launch_bounds__(LIC_GPU_INT_BLOCK) k_ypass(lic_gpu_ypass_args a)
{
    lic_gpu_ypass_thread(&a, blockIdx.x, blockIdx.y, threadIdx.x, gridDim.x);
}

} // namespace

extern "C" int lic_cuda_iconv(cudaStream_t stream, const lic_gpu_iconv_args *a, unsigned max_blocks)
{
    const lic_gpu_int_grid g = lic_gpu_iconv_grid(a, max_blocks);
    k_iconv<<<dim3(g.gx, g.gy), LIC_GPU_INT_BLOCK, 0, stream>>>(*a);
    return (int)cudaGetLastError();
}

extern "C" int lic_cuda_ypass(cudaStream_t stream, const lic_gpu_ypass_args *a, unsigned max_blocks)
{
    const lic_gpu_int_grid g = lic_gpu_ypass_grid(a, max_blocks);
    k_ypass<<<dim3(g.gx, g.gy), LIC_GPU_INT_BLOCK, 0, stream>>>(*a);
    return (int)cudaGetLastError();
}
