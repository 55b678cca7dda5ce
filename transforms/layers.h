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

/* From now on the context keeps each layer's packed weights (the fast path's layout of them) from one
 * call to the next, found again by the weight pointer and the layer's shape, instead of packing them
 * on every call: for callers that run the same layers many times (a codec runs each layer once per
 * band of rows) and whose layers keep their weights — address and values — for the context's
 * lifetime, as a loaded model does. Costs lic_scratch_parts.packed per layer. */
void lic_xf_ctx_keep_packed(lic_xf_ctx *ctx);
/* The path actually in use: FAST falls back to REFERENCE on CPUs without the needed ISA. */
enum lic_kernel_path lic_xf_ctx_path(const lic_xf_ctx *ctx);
/* Short name of the kernels in use ("c", "avx2", "avx512"): static string. */
const char *lic_xf_ctx_kernel_name(const lic_xf_ctx *ctx);

/* Scratch memory one thread of a context needs to run a layer on an input of this size (bytes), so
 * the caller can check a memory cap before any work; a context with n threads needs up to n times this.
 * It also bounds a lic_conv2d_rows call that reads in_h rows of an in_w-wide input. */
size_t lic_conv2d_scratch_size(const lic_conv_layer *L, int in_h, int in_w);

/* The context's scratch is one shared block (offset tables, and the packed weights of the current
 * layer), grown to the largest any layer needs, and one block per thread, likewise. So n threads
 * running several layers need at most the largest `shared` plus n times the largest `slot` of those
 * layers, each rounded up to 64 KiB, plus: the largest `packed` in the shared block, or, for a context
 * that keeps packed weights (lic_xf_ctx_keep_packed), the sum of `packed` over the layers it has run.
 * These give the parts for a conv on (or a band call reading) in_h x in_w, and for a GDN on rows x w,
 * as the larger of the two kernel paths' needs (`packed` for any size; shared and slot 0 for a size
 * the kernels refuse). */
typedef struct lic_scratch_parts {
    size_t shared, slot, packed;
} lic_scratch_parts;
lic_scratch_parts lic_conv2d_scratch_parts(const lic_conv_layer *L, int in_h, int in_w);
/* Shared and slot of a context that runs the layers of a and of b: the larger of each (packed: the
 * sum, what a context that keeps packed weights holds). */
static inline lic_scratch_parts lic_scratch_parts_max(lic_scratch_parts a, lic_scratch_parts b)
{
    lic_scratch_parts m = {a.shared > b.shared ? a.shared : b.shared, a.slot > b.slot ? a.slot : b.slot,
                           a.packed + b.packed};
    return m;
}
lic_scratch_parts lic_gdn_scratch_parts(const lic_gdn_layer *L, int rows, int w);

/* out = conv(in). out->c/h/w must already be set to the layer's output shape and out->data sized for
 * it; in and out must not overlap. Returns 0, LIC_EINVAL on shape mismatch, LIC_ENOMEM when scratch
 * space cannot grow. Scratch space is kept and reused across calls. */
int lic_conv2d(lic_xf_ctx *ctx, const lic_conv_layer *L, const lic_tensor *in, lic_tensor *out);

/* In-place GDN / IGDN. */
int lic_gdn(lic_xf_ctx *ctx, const lic_gdn_layer *L, lic_tensor *t);

/* Band-by-band execution (codec/tiles.c): the layers above, restricted to a range of output rows, on
 * tensors of which only some rows are held (lic_band). lic_conv2d and lic_gdn are these calls on whole
 * tensors, so both compute every element the same way, bit for bit. */

/* Input rows [*in_lo, *in_hi) (clamped to [0, in_h)) that output rows [lo, hi) of layer L read, for an
 * input of in_h rows: the smallest range holding every row they read (with k < s, not every row in it).
 * Empty (*in_lo == *in_hi) when they read only padding (or lo >= hi).
 *   conv:            output row y reads y*s + ky - k/2, ky = 0..k-1:       [lo*s - k/2, (hi-1)*s - k/2 + k)
 *   transposed conv: output row y reads (y + k/2 - ky) / s where exact:  [ceil((lo + k/2 - k + 1) / s),
 *                                                                          floor((hi - 1 + k/2) / s) + 1) */
void lic_conv2d_rows_needed(const lic_conv_layer *L, int in_h, int lo, int hi, int *in_lo, int *in_hi);

/* Output rows [lo, hi) of conv(in) (or the transposed conv), into the held rows of out. in and out
 * describe the whole tensors (out->h, out->w: the layer's output shape for in->h, in->w; channels as
 * lic_conv2d), of which only some rows are held; they must not overlap. Every row lic_conv2d_rows_needed
 * names must be held by in, and [lo, hi) by out; else LIC_EINVAL (also for 0 <= lo < hi <= out->h
 * violated, and for a transposed conv, lo or hi not a multiple of the stride unless equal to out->h).
 * Writes only rows [lo, hi) of out; each element is bit-identical to lic_conv2d's (any lo, hi, thread
 * count). Scratch: at most lic_conv2d_scratch_size(L, n, in->w) per thread, n = rows it reads.
 * Returns 0, LIC_EINVAL or LIC_ENOMEM as lic_conv2d. */
int lic_conv2d_rows(lic_xf_ctx *ctx, const lic_conv_layer *L, const lic_band *in, lic_band *out, int lo, int hi);

/* In-place GDN / IGDN on rows [lo, hi) of t (held), bit-identical to lic_gdn on those rows. LIC_EINVAL
 * unless 0 <= lo < hi <= t->h and t holds [lo, hi). */
int lic_gdn_rows(lic_xf_ctx *ctx, const lic_gdn_layer *L, lic_band *t, int lo, int hi);

/* In place: the n floats of channel ch (ch = 0 .. c-1, at data + ch * plane) times gain[ch]. */
void lic_channel_gain(float *data, int c, size_t plane, size_t n, const float *gain);

/* In-place leaky ReLU: x < 0 -> x * slope. */
void lic_leaky_relu(lic_xf_ctx *ctx, lic_tensor *t, float slope);

/* Pixel shuffle by factor r: in has c*r*r planes of h x w, out has c planes of h*r x w*r;
 * out[c][y*r+i][x*r+j] = in[c*r*r + i*r + j][y][x] (PyTorch's PixelShuffle). */
int lic_pixel_shuffle(lic_xf_ctx *ctx, const lic_tensor *in, int r, lic_tensor *out);
/* Output rows [lo, hi) (multiples of r) of the pixel shuffle, from a band of the input holding rows
 * [lo / r, hi / r), into the held rows of out (out->h, out->w: the whole output's shape); the same
 * values as lic_pixel_shuffle. LIC_EINVAL for shapes or rows as lic_conv2d_rows refuses them. */
int lic_pixel_shuffle_rows(lic_xf_ctx *ctx, const lic_band *in, int r, lic_band *out, int lo, int hi);

#endif /* LIC_TRANSFORMS_LAYERS_H */
