/* lic transforms: the float layers of g_a, h_a and g_s, and the context that runs them.
 *
 * Weights use PyTorch's layouts so that exported checkpoints need no reordering:
 *   conv:           weight[cout][cin][k][k], bias[cout]
 *   transposed conv: weight[cin][cout][k][k], bias[cout]
 * Padding is always k/2. A stride-s conv maps an in x in plane to ceil(in/s); a stride-s transposed
 * conv (PyTorch padding k/2, output_padding s-1) maps in to in*s. */
#ifndef LIC_TRANSFORMS_LAYERS_H
#define LIC_TRANSFORMS_LAYERS_H

#include "lic/common.h"
#include "transforms/tensor.h"
#include "transforms/threadpool.h"

typedef struct lic_conv_layer {
    int cin, cout, k, stride;
    int transposed;        /* 1: transposed conv (weight[cin][cout][k][k]) */
    const float *weight;
    const float *bias;     /* may be NULL */
} lic_conv_layer;

/* GDN (Balle et al.): y_i = x_i / sqrt(beta_i + sum_j gamma[i][j] x_j^2); IGDN multiplies instead.
 * beta and gamma are the effective (already reparametrized) values. */
typedef struct lic_gdn_layer {
    int c;
    int inverse;
    const float *beta;     /* [c] */
    const float *gamma;    /* [c][c] */
} lic_gdn_layer;

/* Which kernels a context uses. The C reference is always available and is the ground truth the
 * fast kernels are tested against. */
enum lic_kernel_path {
    LIC_KERNELS_REFERENCE = 0, /* plain C, one thread per output plane block */
    LIC_KERNELS_FAST = 1,      /* best available: SIMD (AVX-512 / AVX2 when the CPU has them) */
};

/* CPU features the kernels may use. A mask of these restricts kernel selection; a kernel also needs
 * the CPU (and OS) to support it. The values equal the public LIC_CPU_* bits of lic/codec.h (checked
 * in codec/engine.c), so the codec passes lic_config.cpu_features through unchanged. */
enum lic_xf_feature {
    LIC_XF_FEAT_AVX2 = 1 << 0,       /* AVX2 + FMA: float micro-kernels, int16 integer kernel */
    LIC_XF_FEAT_AVX512 = 1 << 1,     /* AVX-512 F/BW/VL + FMA: float micro-kernels */
    LIC_XF_FEAT_AVX512VNNI = 1 << 2, /* AVX-512 VNNI: integer kernel */
    LIC_XF_FEAT_ALL = (1 << 3) - 1
};

/* The LIC_XF_FEAT_* bits this CPU and OS support and this build has kernels for. CPUID is read on the
 * first call only; later calls return the cached answer. */
unsigned lic_xf_cpu_features(void);

/* Execution context of the float layers: kernel path, thread pool, scratch space.
 * One per encoder/decoder; not shared between threads. */
typedef struct lic_xf_ctx lic_xf_ctx;

/* Creates a context. `pool` is borrowed (may be NULL for serial execution); `alloc` must be a filled
 * allocator (non-NULL alloc and free) and is borrowed for the context's lifetime. */
int lic_xf_ctx_create(lic_xf_ctx **out, enum lic_kernel_path path, lic_threadpool *pool,
                      const lic_allocator *alloc);
/* Same, with the FAST path restricted to kernels whose features are all in `features`
 * (LIC_XF_FEAT_* bits; the reference kernels when none qualifies). lic_xf_ctx_create allows all. */
int lic_xf_ctx_create_masked(lic_xf_ctx **out, enum lic_kernel_path path, unsigned features,
                             lic_threadpool *pool, const lic_allocator *alloc);
void lic_xf_ctx_free(lic_xf_ctx **ctx);
/* The path actually in use: FAST falls back to REFERENCE on CPUs without the needed ISA. */
enum lic_kernel_path lic_xf_ctx_path(const lic_xf_ctx *ctx);
/* Short name of the kernels in use ("c", "avx2", "avx512"): static string. */
const char *lic_xf_ctx_kernel_name(const lic_xf_ctx *ctx);

/* Scratch memory one thread of a context needs to run a layer on an input of this size (bytes), so
 * the caller can check a memory cap before any work; a context with n threads needs up to n times this. */
size_t lic_conv2d_scratch_size(const lic_conv_layer *L, int in_h, int in_w);

/* out = conv(in). out->c/h/w must already be set to the layer's output shape and out->data sized for
 * it; in and out must not overlap. Returns 0, LIC_EINVAL on shape mismatch, LIC_ENOMEM when scratch
 * space cannot grow. Scratch space is kept and reused across calls. */
int lic_conv2d(lic_xf_ctx *ctx, const lic_conv_layer *L, const lic_tensor *in, lic_tensor *out);

/* In-place GDN / IGDN. */
int lic_gdn(lic_xf_ctx *ctx, const lic_gdn_layer *L, lic_tensor *t);

/* In-place leaky ReLU: x < 0 -> x * slope. */
void lic_leaky_relu(lic_xf_ctx *ctx, lic_tensor *t, float slope);

/* Pixel shuffle by factor r: in has c*r*r planes of h x w, out has c planes of h*r x w*r;
 * out[c][y*r+i][x*r+j] = in[c*r*r + i*r + j][y][x] (PyTorch's PixelShuffle). */
int lic_pixel_shuffle(lic_xf_ctx *ctx, const lic_tensor *in, int r, lic_tensor *out);

#endif /* LIC_TRANSFORMS_LAYERS_H */
