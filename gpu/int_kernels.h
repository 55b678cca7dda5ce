/* lic gpu: the integer probability path as GPU kernels, written once for the device and for the host
 * emulation that tests it on any machine (docs/GPU.md §8).
 *
 * Each kernel is a `*_thread` function here: given the launch geometry (block index, thread index,
 * grid size) it computes the output elements that CUDA thread owns, with exactly the arithmetic of the
 * CPU reference: the sums of transforms/cpu/iconv_ref.c in int64 (exact in any order), then
 * lic_iconv_finish of transforms/iconv_arith.h; the scale index, symbol and y-hat of
 * entropy/entropy_model.h. Those leaf functions are shared, not copied: they are marked
 * LIC_HOST_DEVICE (util/hostdev.h), so nvcc compiles the same source for the device.
 *
 * gpu/cuda/int_kernels.cu launches the `*_thread` functions as __global__ kernels with the grids of
 * lic_gpu_iconv_grid and lic_gpu_ypass_grid; gpu/int_emul.c loops over the same grids, block by block
 * and thread by thread, and calls the same functions. So the emulation runs the device's indexing as
 * well as its arithmetic.
 *
 * Layout: planar int32 tensors (CHW, batch 1) as lic_itensor. Plain C that also compiles as CUDA C++. */
#ifndef LIC_GPU_INT_KERNELS_H
#define LIC_GPU_INT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "entropy/entropy_model.h"
#include "transforms/iconv_arith.h"
#include "util/fixed.h"
#include "util/hostdev.h"

/* Threads per block of every integer kernel: 8 warps, consecutive threads on consecutive positions of
 * a plane (coalesced loads and stores along a row). */
#define LIC_GPU_INT_BLOCK 256u
/* Default cap of blocks along a plane; a thread then loops over the plane with the grid's stride. The
 * cap keeps launches small for huge planes; tests lower it to exercise the stride loop. */
#define LIC_GPU_INT_MAX_BLOCKS 4096u
/* gridDim.y holds the plane row index: CUDA allows at most 65535 (layers have at most 4096 channels). */
#define LIC_GPU_INT_MAX_PLANES 65535

/* A launch: grid gx x gy blocks of LIC_GPU_INT_BLOCK threads; block (bx, by) with thread tx covers
 * positions p = bx * BLOCK + tx + k * gx * BLOCK (k = 0, 1, ...) of plane row by (an output channel
 * group of the conv, a channel of the pass). */
typedef struct lic_gpu_int_grid {
    unsigned gx, gy;
} lic_gpu_int_grid;

/* The grid for `planes` planes of n positions, at most max_blocks blocks per plane (>= 1). */
static inline lic_gpu_int_grid lic_gpu_int_grid_for(size_t n, int planes, unsigned max_blocks)
{
    size_t b = (n + LIC_GPU_INT_BLOCK - 1) / LIC_GPU_INT_BLOCK;
    if (max_blocks < 1)
        max_blocks = 1;
    lic_gpu_int_grid g = {(unsigned)(b < 1 ? 1 : b > max_blocks ? max_blocks : b), (unsigned)planes};
    return g;
}

/* ---- integer conv / transposed conv (transforms/ilayers.h) ------------------------------------- */

/* One validated call (the checks of lic_iconv2d), with device or host pointers. */
typedef struct lic_gpu_iconv_args {
    int cin, cout, k, stride, transposed, relu, slope_q8, out_bits;
    const int16_t *weight; /* [cout][cin][k][k], or [cin][cout][k][k] when transposed */
    const int32_t *bias;   /* [cout] */
    const int32_t *shift;  /* [cout] */
    const int32_t *in;     /* cin planes of ih x iw */
    int ih, iw;
    int32_t *out;          /* cout planes of oh x ow */
    int oh, ow;
} lic_gpu_iconv_args;

/* Output channels per thread: each input a thread loads feeds this many sums (registers), so a block
 * reads its inputs once per OB channels instead of once per channel. */
#define LIC_GPU_INT_OB 4

/* The sums of outputs o0 .. o0+nob-1 (nob <= OB) at (oy, ox): bias + weight * saturated input over
 * every (input channel, tap) that reaches the output, zero padding; the sums of iconv_ref.c, in int64
 * (|sum| < 2^49, lic_iconv_validate; exact in any order). A conv reads input (oy*s + ky - k/2,
 * ox*s + kx - k/2); a transposed conv gathers input ((oy + k/2 - ky) / s, (ox + k/2 - kx) / s) where
 * both divide exactly. acc[nob .. OB) stay 0 and are never stored. */
LIC_HOST_DEVICE static inline void lic_gpu_iconv_sums(const lic_gpu_iconv_args *a, int o0, int nob, int oy, int ox,
                                                      int64_t acc[LIC_GPU_INT_OB])
{
    const int k = a->k, s = a->stride, r = a->k / 2, kk = a->k * a->k;
    const size_t plane = (size_t)a->ih * (size_t)a->iw;
    /* weight of (output o0 + j, input i, tap t): w0 + j * ostep + t, w0 = the (o0, i) filter */
    const size_t ostep = a->transposed ? (size_t)kk : (size_t)a->cin * (size_t)kk;
    for (int j = 0; j < LIC_GPU_INT_OB; j++)
        acc[j] = j < nob ? a->bias[o0 + j] : 0;
    for (int i = 0; i < a->cin; i++) {
        const int32_t *src = a->in + (size_t)i * plane;
        const int16_t *w0 = a->weight + (a->transposed ? ((size_t)i * (size_t)a->cout + (size_t)o0)
                                                       : ((size_t)o0 * (size_t)a->cin + (size_t)i)) *
                                            (size_t)kk;
        for (int ky = 0; ky < k; ky++) {
            int iy;
            if (a->transposed) {
                const int ty = oy + r - ky;
                if (ty < 0 || ty % s != 0)
                    continue;
                iy = ty / s;
            } else {
                iy = oy * s + ky - r;
            }
            if (iy < 0 || iy >= a->ih)
                continue;
            const int32_t *row = src + (size_t)iy * (size_t)a->iw;
            for (int kx = 0; kx < k; kx++) {
                int ix;
                if (a->transposed) {
                    const int tx = ox + r - kx;
                    if (tx < 0 || tx % s != 0)
                        continue;
                    ix = tx / s;
                } else {
                    ix = ox * s + kx - r;
                }
                if (ix < 0 || ix >= a->iw)
                    continue;
                const int64_t x = lic_iconv_sat16(row[ix]);
                const int16_t *w = w0 + ky * k + kx;
                for (int j = 0; j < LIC_GPU_INT_OB; j++)
                    if (j < nob)
                        acc[j] += (int64_t)w[(size_t)j * ostep] * x;
            }
        }
    }
}

/* The launch of an integer conv: planes of oh*ow positions, one row of blocks per OB output channels. */
static inline lic_gpu_int_grid lic_gpu_iconv_grid(const lic_gpu_iconv_args *a, unsigned max_blocks)
{
    return lic_gpu_int_grid_for((size_t)a->oh * (size_t)a->ow, (a->cout + LIC_GPU_INT_OB - 1) / LIC_GPU_INT_OB,
                                max_blocks);
}

/* The outputs of thread tx of block (bx, by) in a grid of gx blocks per plane: channels by*OB ..
 * by*OB + OB - 1 (fewer in the last row of blocks), positions as lic_gpu_int_grid says. */
LIC_HOST_DEVICE static inline void lic_gpu_iconv_thread(const lic_gpu_iconv_args *a, unsigned bx, unsigned by,
                                                        unsigned tx, unsigned gx)
{
    const int o0 = (int)by * LIC_GPU_INT_OB;
    const int nob = a->cout - o0 < LIC_GPU_INT_OB ? a->cout - o0 : LIC_GPU_INT_OB;
    const size_t n = (size_t)a->oh * (size_t)a->ow, step = (size_t)gx * LIC_GPU_INT_BLOCK;
    for (size_t p = (size_t)bx * LIC_GPU_INT_BLOCK + tx; p < n; p += step) {
        const int oy = (int)(p / (size_t)a->ow), ox = (int)(p % (size_t)a->ow);
        int64_t acc[LIC_GPU_INT_OB];
        lic_gpu_iconv_sums(a, o0, nob, oy, ox, acc);
        for (int j = 0; j < LIC_GPU_INT_OB; j++)
            if (j < nob)
                a->out[(size_t)(o0 + j) * n + p] =
                    lic_iconv_finish(acc[j], a->shift[o0 + j], a->relu, a->slope_q8, a->out_bits);
    }
}

/* ---- the Gaussian conditional of y, one checkerboard pass (codec/engine.c, code_y) -------------- */

/* c channels of y at the positions (x + y) % 2 == pass of h x w planes. */
typedef struct lic_gpu_ypass_args {
    int c, h, w, pass;
    const int32_t *params;     /* c means, then c scales (1/256 units), planes of h x w */
    const int32_t *thresholds; /* levels - 1 ascending (the Gaussian conditional's) */
    int levels;
    int ctx_shift;             /* LIC_GAUSSIAN_FRAC_BITS - yctx_frac_bits, 0..8 */
    const int64_t *yfix;       /* encode: y' in 1/256 units (c planes), NULL when decoding */
    int32_t *symbols;          /* encode: written; decode: read (c planes) */
    int32_t *index;            /* written: the CDF row of each position (c planes) */
    int32_t *yq, *yctx;        /* written when not NULL: y-hat in 1/256 units and in context format */
} lic_gpu_ypass_args;

/* y-hat in the context networks' format: round to 2^-yctx_frac_bits, saturated to int16 (the input range
 * of the integer layers), as code_y stores it in yctx and in the anchors. */
LIC_HOST_DEVICE static inline int32_t lic_gpu_y_ctx(int32_t v, int ctx_shift)
{
    return (int32_t)lic_clamp_i64(lic_round_shr(v, ctx_shift), INT16_MIN, INT16_MAX);
}

/* One position of a pass: the scale index; when encoding the symbol of y' under the mean; then y-hat. */
LIC_HOST_DEVICE static inline void lic_gpu_ypass_element(const lic_gpu_ypass_args *a, int ch, size_t p)
{
    const size_t hw = (size_t)a->h * (size_t)a->w, e = (size_t)ch * hw + p;
    const int32_t mu = a->params[e], scale = a->params[(size_t)(a->c + ch) * hw + p];
    a->index[e] = lic_gaussian_scale_index_of(a->thresholds, a->levels, scale);
    int32_t s;
    if (a->yfix)
        a->symbols[e] = s = lic_gaussian_quantize(a->yfix[e], mu);
    else
        s = lic_symbol_clamp(a->symbols[e]);
    const int32_t v = lic_gaussian_reconstruct(s, mu);
    if (a->yq)
        a->yq[e] = v;
    if (a->yctx)
        a->yctx[e] = lic_gpu_y_ctx(v, a->ctx_shift);
}

/* Positions of a pass in h x w planes: row y holds the columns x = ((y + pass) & 1) + 2j, ceil(w / 2)
 * of them when it starts at 0, floor(w / 2) otherwise. */
LIC_HOST_DEVICE static inline size_t lic_gpu_ypass_count(int h, int w, int pass)
{
    const size_t even = ((size_t)w + 1) / 2, odd = (size_t)w / 2;
    return (size_t)h / 2 * (even + odd) + ((size_t)h % 2 ? (pass ? odd : even) : 0);
}

/* Thread tx of block (bx, by): channel by, the pass's positions k = bx * BLOCK + tx + j * gx * BLOCK,
 * numbered row by row (ceil(w / 2) or floor(w / 2) per row, by the row's parity). Positions off the
 * pass are never touched. */
LIC_HOST_DEVICE static inline void lic_gpu_ypass_thread(const lic_gpu_ypass_args *a, unsigned bx, unsigned by,
                                                        unsigned tx, unsigned gx)
{
    const size_t even = ((size_t)a->w + 1) / 2, odd = (size_t)a->w / 2, pair = even + odd;
    const size_t n = lic_gpu_ypass_count(a->h, a->w, a->pass);
    const size_t step = (size_t)gx * LIC_GPU_INT_BLOCK;
    for (size_t k = (size_t)bx * LIC_GPU_INT_BLOCK + tx; k < n; k += step) {
        /* rows 2m and 2m+1 together hold `pair` positions: the one starting at column 0 holds `even` */
        const size_t m = k / pair, rem = k % pair;
        const size_t first = a->pass ? odd : even; /* positions of row 2m (its start is pass & 1) */
        const size_t y = 2 * m + (rem >= first);
        const size_t j = rem >= first ? rem - first : rem;
        const size_t x = ((y + (size_t)a->pass) & 1) + 2 * j;
        lic_gpu_ypass_element(a, (int)by, y * (size_t)a->w + x);
    }
}

/* The launch of a pass: planes of its positions, one row of blocks per channel. */
static inline lic_gpu_int_grid lic_gpu_ypass_grid(const lic_gpu_ypass_args *a, unsigned max_blocks)
{
    return lic_gpu_int_grid_for(lic_gpu_ypass_count(a->h, a->w, a->pass), a->c, max_blocks);
}

#endif /* LIC_GPU_INT_KERNELS_H */
