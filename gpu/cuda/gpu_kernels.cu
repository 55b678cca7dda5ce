/* lic gpu: CUDA kernels of the backend (see gpu_kernels.h). One translation unit, so the CUDA part of
 * the build is a single nvcc invocation per architecture.
 *
 * All arithmetic is float, whatever the storage type: half values are widened on load and rounded
 * (to nearest even) on store. Element-wise kernels are memory-bound: grid-stride loops, one element per
 * thread per step, coalesced along the plane. */
#include <cuda_fp16.h>
#include <stdint.h>

#include "gpu/cuda/gpu_kernels.h"

namespace {

__device__ __forceinline__ float ld(const float *p)
{
    return *p;
}
__device__ __forceinline__ float ld(const __half *p)
{
    return __half2float(*p);
}
__device__ __forceinline__ void st(float *p, float v)
{
    *p = v;
}
__device__ __forceinline__ void st(__half *p, float v)
{
    *p = __float2half_rn(v);
}

/* Blocks for a grid-stride loop over n elements: enough to fill a large GPU, never more than needed. */
unsigned blocks_for(size_t n, unsigned threads)
{
    size_t b = (n + threads - 1) / threads;
    return (unsigned)(b < 4096 ? (b ? b : 1) : 4096);
}

template <typename T>
__global__ void k_bias_act(T *x, size_t hw, const float *bias, int act, float slope, const float *gain)
{
    const int c = blockIdx.y;
    const float b = bias ? bias[c] : 0.0f, g = gain ? gain[c] : 1.0f;
    T *p = x + (size_t)c * hw;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < hw; i += (size_t)gridDim.x * blockDim.x) {
        float v = ld(p + i) + b;
        if (act && v < 0.0f)
            v = v * slope;
        st(p + i, v * g);
    }
}

/* GDN: a block owns GDN_TP consecutive pixels of every channel. It first stores (x + bias)^2 of its
 * pixels for all channels in shared memory, then each warp (fixed ty, 32 pixels) computes output
 * channels ty, ty + GDN_TY, ... : the gamma row is the same for the whole warp (a broadcast load) and
 * the squares are read with consecutive addresses (no bank conflicts). GDN_R output channels per pass
 * keep each loaded square in a register for GDN_R multiply-adds. In place is safe: all reads of the
 * first phase precede the barrier, and in the second phase each thread rewrites only elements it
 * alone reads. */
constexpr int GDN_TP = 32;
constexpr int GDN_TY = 8;
constexpr int GDN_R = 4;

template <typename T>
__global__ void __launch_bounds__(GDN_TP *GDN_TY) k_gdn(T *x, int c, size_t hw, const float *bias,
                                                         const float *beta, const float *gamma, int inverse)
{
    extern __shared__ float sq[]; /* [c][GDN_TP] */
    const int tx = threadIdx.x, ty = threadIdx.y;
    const size_t p = (size_t)blockIdx.x * GDN_TP + tx;
    const bool ok = p < hw;
    for (int j = ty; j < c; j += GDN_TY) {
        float v = ok ? ld(x + (size_t)j * hw + p) + (bias ? bias[j] : 0.0f) : 0.0f;
        sq[j * GDN_TP + tx] = v * v;
    }
    __syncthreads();
    for (int i0 = ty; i0 < c; i0 += GDN_TY * GDN_R) {
        float acc[GDN_R];
        const float *g[GDN_R];
#pragma unroll
        for (int r = 0; r < GDN_R; r++) {
            int i = i0 + r * GDN_TY;
            int ic = i < c ? i : c - 1; /* past the end: compute a duplicate, never store it */
            acc[r] = beta[ic];
            g[r] = gamma + (size_t)ic * c;
        }
        for (int j = 0; j < c; j++) {
            const float s = sq[j * GDN_TP + tx];
#pragma unroll
            for (int r = 0; r < GDN_R; r++)
                acc[r] = acc[r] + g[r][j] * s;
        }
        if (!ok)
            continue;
#pragma unroll
        for (int r = 0; r < GDN_R; r++) {
            int i = i0 + r * GDN_TY;
            if (i < c) {
                T *xp = x + (size_t)i * hw + p;
                float v = ld(xp) + (bias ? bias[i] : 0.0f);
                st(xp, inverse ? v * sqrtf(acc[r]) : v / sqrtf(acc[r]));
            }
        }
    }
}

template <typename T>
__global__ void k_shuffle2(const T *in, T *out, int c, int h, int w, const float *bias)
{
    const int wo = 2 * w;
    const size_t plane_out = (size_t)4 * h * w, n = (size_t)c * plane_out;
    for (size_t o = (size_t)blockIdx.x * blockDim.x + threadIdx.x; o < n; o += (size_t)gridDim.x * blockDim.x) {
        int k = (int)(o / plane_out);
        size_t r = o - (size_t)k * plane_out;
        int oy = (int)(r / wo), ox = (int)(r - (size_t)oy * wo);
        int ci = 4 * k + 2 * (oy & 1) + (ox & 1);
        float v = ld(in + ((size_t)ci * h + (oy >> 1)) * w + (ox >> 1));
        st(out + o, v + (bias ? bias[ci] : 0.0f));
    }
}

/* One block row per (plane, row) of the window, threads along the row. */
template <typename S, typename D>
__global__ void k_window(const S *src, int sh, int sw, int sy, int sx, D *dst, int dh, int dw, int dy, int dx, int c,
                         int h, int w)
{
    const size_t rows = (size_t)c * h;
    for (size_t r = blockIdx.y; r < rows; r += gridDim.y) {
        int k = (int)(r / h), y = (int)(r - (size_t)k * h);
        const S *s = src + ((size_t)k * sh + sy + y) * sw + sx;
        D *d = dst + ((size_t)k * dh + dy + y) * dw + dx;
        for (int x = blockIdx.x * blockDim.x + threadIdx.x; x < w; x += gridDim.x * blockDim.x)
            st(d + x, ld(s + x));
    }
}

template <typename S, typename D>
int launch_window(cudaStream_t s, const void *src, int sh, int sw, int sy, int sx, void *dst, int dh, int dw, int dy,
                  int dx, int c, int h, int w)
{
    size_t rows = (size_t)c * h;
    dim3 grid((unsigned)((w + 255) / 256 < 64 ? (w + 255) / 256 : 64), (unsigned)(rows < 65535 ? rows : 65535));
    k_window<S, D><<<grid, 256, 0, s>>>((const S *)src, sh, sw, sy, sx, (D *)dst, dh, dw, dy, dx, c, h, w);
    return (int)cudaGetLastError();
}

} // namespace

extern "C" int lic_cuda_bias_act(cudaStream_t s, int dtype, void *x, int c, size_t hw, const float *bias, int act,
                                 float slope, const float *gain)
{
    if (c < 1 || c > 65535 || hw == 0)
        return (int)cudaErrorInvalidValue;
    dim3 grid(blocks_for(hw, 256) < 256 ? blocks_for(hw, 256) : 256, (unsigned)c);
    if (dtype == LIC_CUDA_F16)
        k_bias_act<__half><<<grid, 256, 0, s>>>((__half *)x, hw, bias, act, slope, gain);
    else
        k_bias_act<float><<<grid, 256, 0, s>>>((float *)x, hw, bias, act, slope, gain);
    return (int)cudaGetLastError();
}

extern "C" int lic_cuda_gdn_setup(int c)
{
    if (c < 1 || c > LIC_CUDA_GDN_MAX_C)
        return (int)cudaErrorInvalidValue;
    int bytes = c * GDN_TP * (int)sizeof(float);
    if (bytes <= 48 * 1024)
        return 0;
    cudaError_t e = cudaFuncSetAttribute(k_gdn<float>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
    if (e == cudaSuccess)
        e = cudaFuncSetAttribute(k_gdn<__half>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
    return (int)e;
}

extern "C" int lic_cuda_gdn(cudaStream_t s, int dtype, void *x, int c, size_t hw, const float *bias,
                            const float *beta, const float *gamma, int inverse)
{
    if (c < 1 || c > LIC_CUDA_GDN_MAX_C || hw == 0 || (hw + GDN_TP - 1) / GDN_TP > 0x7fffffffu)
        return (int)cudaErrorInvalidValue;
    dim3 block(GDN_TP, GDN_TY), grid((unsigned)((hw + GDN_TP - 1) / GDN_TP));
    size_t smem = (size_t)c * GDN_TP * sizeof(float);
    if (dtype == LIC_CUDA_F16)
        k_gdn<__half><<<grid, block, smem, s>>>((__half *)x, c, hw, bias, beta, gamma, inverse);
    else
        k_gdn<float><<<grid, block, smem, s>>>((float *)x, c, hw, bias, beta, gamma, inverse);
    return (int)cudaGetLastError();
}

extern "C" int lic_cuda_shuffle2(cudaStream_t s, int dtype, const void *in, void *out, int c, int h, int w,
                                 const float *bias)
{
    if (c < 1 || h < 1 || w < 1)
        return (int)cudaErrorInvalidValue;
    size_t n = (size_t)c * 4 * h * w;
    if (dtype == LIC_CUDA_F16)
        k_shuffle2<__half><<<blocks_for(n, 256), 256, 0, s>>>((const __half *)in, (__half *)out, c, h, w, bias);
    else
        k_shuffle2<float><<<blocks_for(n, 256), 256, 0, s>>>((const float *)in, (float *)out, c, h, w, bias);
    return (int)cudaGetLastError();
}

extern "C" int lic_cuda_window(cudaStream_t s, int src_dtype, const void *src, int sh, int sw, int sy, int sx,
                               int dst_dtype, void *dst, int dh, int dw, int dy, int dx, int c, int h, int w)
{
    if (c < 1 || h < 1 || w < 1 || sy < 0 || sx < 0 || dy < 0 || dx < 0 || sy + h > sh || sx + w > sw ||
        dy + h > dh || dx + w > dw)
        return (int)cudaErrorInvalidValue;
    if (src_dtype == LIC_CUDA_F16)
        return dst_dtype == LIC_CUDA_F16
                   ? launch_window<__half, __half>(s, src, sh, sw, sy, sx, dst, dh, dw, dy, dx, c, h, w)
                   : launch_window<__half, float>(s, src, sh, sw, sy, sx, dst, dh, dw, dy, dx, c, h, w);
    return dst_dtype == LIC_CUDA_F16 ? launch_window<float, __half>(s, src, sh, sw, sy, sx, dst, dh, dw, dy, dx, c, h, w)
                                     : launch_window<float, float>(s, src, sh, sw, sy, sx, dst, dh, dw, dy, dx, c, h, w);
}
