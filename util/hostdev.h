/* lic util: LIC_HOST_DEVICE marks a `static inline` function that the integer probability path runs
 * both on the CPU and in CUDA kernels (gpu/int_kernels.h, docs/GPU.md §8). In C it is empty; under
 * nvcc it makes the function callable from host and device code, so the GPU compiles the very
 * arithmetic the CPU runs and the tests check, instead of a copy of it. */
#ifndef LIC_UTIL_HOSTDEV_H
#define LIC_UTIL_HOSTDEV_H

#if defined(__CUDACC__)
#define LIC_HOST_DEVICE __host__ __device__
#else
#define LIC_HOST_DEVICE
#endif

#endif /* LIC_UTIL_HOSTDEV_H */
