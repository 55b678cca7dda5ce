/* lic transforms: the integer layers of the probability path (docs/ARCHITECTURE.md, "The determinism rule").
 *
 * Every layer computes, for each output channel o and position p:
 *     acc  = bias[o] + sum_{i,ky,kx} weight[o][i][ky][kx] * in[i][p + (ky,kx) - k/2]     (int64)
 *     v    = (acc + (1 << (shift[o] - 1))) >> shift[o]        (arithmetic shift = floor; shift >= 1)
 *     if relu and v < 0:  v = (v * relu_slope_q8 + 128) >> 8   (leaky ReLU as multiply-shift)
 *     out  = clamp(v, -2^(out_bits-1), 2^(out_bits-1) - 1)
 * weight is int16, bias int32, inputs are int32 holding values in int16 range (hidden layers use
 * out_bits = 16; final layers that produce means/scales use out_bits = 24). Zero padding.
 * Transposed layers scatter in[i][y][x] * weight[i][o][ky][kx] to out[o][y*s + ky - k/2][x*s + kx - k/2]
 * (PyTorch ConvTranspose2d with padding k/2, output_padding s-1) and then apply the same
 * bias/shift/relu/clamp. All sums are exact integers, so the result is identical on every machine, for
 * every thread count and every kernel path; PyTorch reproduces it with float64 tensors. */
#ifndef LIC_TRANSFORMS_ILAYERS_H
#define LIC_TRANSFORMS_ILAYERS_H

#include "lic/common.h"
#include "transforms/tensor.h"
#include "transforms/threadpool.h"

typedef struct lic_iconv_layer {
    int cin, cout, k, stride; /* k odd, 1..7 (padding k/2 gives the stated shapes only for odd k) */
    int transposed;          /* weight[cin][cout][k][k] when 1, else weight[cout][cin][k][k] */
    int relu;                /* apply the integer leaky ReLU */
    int relu_slope_q8;       /* slope in 1/256 units, 0..255 */
    int out_bits;            /* 16 or 24 */
    const int16_t *weight;
    const int32_t *bias;     /* [cout] */
    const int32_t *shift;    /* [cout], each 1..62 */
} lic_iconv_layer;

/* out = iconv(in). Shapes as for the float layers (stride-s conv: ceil(in/s); transposed: in*s).
 * in and out must not overlap. Inputs outside int16 range are saturated to [-32768, 32767].
 * `pool` may be NULL. Work is split into tasks that write disjoint outputs (channels, or positions x
 * channels) and never split a sum, so results do not depend on the pool.
 * Returns 0 or LIC_EINVAL on a shape mismatch, overlapping buffers or invalid layer fields. */
int lic_iconv2d(lic_threadpool *pool, const lic_iconv_layer *L, const lic_itensor *in, lic_itensor *out);

/* Kernel choice for callers that decide once (an engine, from its configuration) instead of per call.
 * lic_iconv_kernel_for returns the id of the fastest kernel this CPU runs among those `features`
 * (LIC_XF_FEAT_* bits of transforms/layers.h) allows, the reference kernel when none; ids are
 * listed in transforms/cpu/iconv.h. Every kernel gives the same bits, so the choice is speed only. */
int lic_iconv_kernel_for(unsigned features);
/* "ref", "avx2", "avx512vnni"; "?" for an unknown id. Static string. */
const char *lic_iconv_kernel_name(int kernel);
/* lic_iconv2d with a given kernel id. LIC_EUNSUPPORTED when that kernel is not built in or the CPU
 * lacks it, else what lic_iconv2d returns. */
int lic_iconv2d_kernel(lic_threadpool *pool, const lic_iconv_layer *L, const lic_itensor *in,
                       lic_itensor *out, int kernel);

/* Checks a layer's fields (sizes, shifts in 1..62, out_bits, slope) so that a model loader can reject
 * bad files; also proves the int64 accumulator cannot overflow for inputs within int16 range.
 * Returns 0 or LIC_EMODEL. */
int lic_iconv_validate(const lic_iconv_layer *L);

/* Checks a call of L on in -> out: a valid layer (lic_iconv_validate), tensors with data, positive
 * sides and the layer's channels, out of the sides L makes of in's, and in and out disjoint (no
 * in-place operation). Returns 0 or LIC_EINVAL. lic_iconv2d and the GPU integer kernels
 * (gpu/int_args.c) both check with it, so they accept exactly the same calls. */
int lic_iconv_call_check(const lic_iconv_layer *L, const lic_itensor *in, const lic_itensor *out);

#endif /* LIC_TRANSFORMS_ILAYERS_H */
