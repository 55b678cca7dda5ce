/* lic gpu: the CUDA kernels of the backend (gpu_kernels.cu), callable from C. Everything around the
 * convolutions that cuDNN does not do: bias, activations, gains, GDN/IGDN, pixel shuffle, and window
 * copies (pad/crop of tiles, float <-> half conversion).
 *
 * Tensors are planar (CHW, batch 1) in device memory, of type float or half (`dtype`). Bias, gain and
 * GDN parameters are always float. Every launcher enqueues on `stream` and returns the cudaError_t of
 * the launch as an int (0 = success); execution errors surface at the next synchronization. */
#ifndef LIC_GPU_CUDA_GPU_KERNELS_H
#define LIC_GPU_CUDA_GPU_KERNELS_H

#include <stddef.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

enum lic_cuda_dtype {
    LIC_CUDA_F32 = 0,
    LIC_CUDA_F16 = 1,
};

/* Largest channel count the GDN kernel takes (its shared memory holds a tile of every channel). */
#define LIC_CUDA_GDN_MAX_C 1024

/* x[c][p] = act(x[c][p] + bias[c]) * gain[c], in place. bias and gain may be NULL; act: 0 = none,
 * 1 = leaky ReLU with `slope` (applied before the gain, as the CPU engine does). */
int lic_cuda_bias_act(cudaStream_t s, int dtype, void *x, int c, size_t hw, const float *bias, int act, float slope,
                      const float *gain);

/* In-place GDN (inverse = 0) or IGDN (inverse = 1) over c planes of hw elements, with an optional bias
 * added first (so a conv's bias and its GDN are one pass):
 *   v_i = x_i + bias_i,  n_i = beta_i + sum_j gamma[i][j] * v_j^2 (j ascending, float),
 *   x_i = v_i / sqrt(n_i)  or  v_i * sqrt(n_i).
 * c <= LIC_CUDA_GDN_MAX_C; lic_cuda_gdn_setup must have been called for this c on the current device. */
int lic_cuda_gdn(cudaStream_t s, int dtype, void *x, int c, size_t hw, const float *bias, const float *beta,
                 const float *gamma, int inverse);
/* Raises the kernel's dynamic shared memory limit when c needs more than the default 48 KiB. */
int lic_cuda_gdn_setup(int c);

/* out[c][2y+i][2x+j] = in[4c + 2i + j][y][x] + bias[4c + 2i + j] (PyTorch PixelShuffle(2) after a conv
 * whose bias is added here). in: 4c planes of h x w; out: c planes of 2h x 2w. bias may be NULL. */
int lic_cuda_shuffle2(cudaStream_t s, int dtype, const void *in, void *out, int c, int h, int w, const float *bias);

/* Copies a window of c planes: dst[k][dy + y][dx + x] = src[k][sy + y][sx + x] for y < h, x < w, with
 * type conversion. src planes are sh x sw, dst planes dh x dw (only their widths and plane sizes
 * matter). Used for tile crops, latent windows, and float <-> half conversion (h = 1, one plane). */
int lic_cuda_window(cudaStream_t s, int src_dtype, const void *src, int sh, int sw, int sy, int sx, int dst_dtype,
                    void *dst, int dh, int dw, int dy, int dx, int c, int h, int w);

#ifdef __cplusplus
}
#endif
#endif /* LIC_GPU_CUDA_GPU_KERNELS_H */
