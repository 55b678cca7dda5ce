/* lic transforms: AVX-512 VNNI kernel of the integer conv layers. Byte-identical to iconv_ref.c (tested).
 *
 * Layout: iconv_tiles.h (shared with iconv_avx2.c): out[o][p] = bias[o] + sum_r W[o][r] * X[r][p],
 * rows r = (input channel, tap), positions in tiles of TP = 16 outputs of one row (one phase), tasks of
 * GROUP tiles x SUPER output channels. Here one tile is one 512-bit vector, and the
 * micro-kernel keeps 4 outputs x 2 tiles x (lo, hi) = 16 int32 accumulators in registers.
 *
 * Arithmetic. Rows are paired and the inputs saturated to int16 (the reference saturates too), so one
 * VPDPWSSD (_mm512_dpwssd_epi32) adds x_a*w_a + x_b*w_b to each int32 lane. It wraps on overflow
 * (it is not the saturating VPDPWSSDS), so every partial sum must stay inside int32, and with full int16
 * weights one pair can already reach (-2^15)^2 * 2 = 2^31. So, as in the AVX2 kernel, each weight is
 * split exactly into
 *     w = 256*wh + wl,   wl = w & 255 in [0, 255],   wh = floor(w / 256) in [-128, 127],
 * and two int32 sums are kept, Sl = sum x*wl and Sh = sum x*wh, added to the int64 sums as
 * Sl + 256*Sh after every chunk of at most CHUNK_PAIRS = 128 row pairs. Proof of no int32 overflow,
 * with |x| <= 2^15 (every partial sum of a chunk is bounded by the same sums of absolute values):
 *     one pair of Sl: |x_a*wl_a + x_b*wl_b| <= 2 * 2^15 * 255 = 16 711 680,
 *         128 pairs: <= 2 139 095 040 < 2^31 - 1 = 2 147 483 647;
 *     one pair of Sh: |x_a*wh_a + x_b*wh_b| <= 2 * 2^15 * 2^7 = 2^23,
 *         128 pairs: <= 2^30 < 2^31 - 1.
 * The int32 sums start at 0 for every chunk, VPDPWSSD computes each product exactly (int16 x int16
 * fits int32) and each addition of it never leaves int32 by the bounds above, so Sl and Sh are exact.
 * The flush widens them to int64 (|Sl + 256*Sh| < 2^40) and the int64 sums are the exact integer sums
 * of the contract (|acc| < 2^49, lic_iconv_validate), so the result equals the reference. */
#include "transforms/cpu/iconv.h"

#if defined(LIC_XF_HAVE_AVX512VNNI) && (defined(__GNUC__) || defined(__clang__)) && \
    (defined(__x86_64__) || defined(__i386__)) && !defined(LIC_NO_SIMD)

#include <immintrin.h>

#include "transforms/cpu/iconv_tiles.h"

/* Target attributes as in iconv_avx2.c: only these functions use AVX-512 and VNNI, behind the run-time
 * check lic_xf_cpu_has_avx512vnni (cpu/xf_select.c). */
#define V512_FN __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

#define TP LIC_ICONV_TP                /* output positions per tile: one vector of 16 int32 lanes */
#define CHUNK_PAIRS 128                /* row pairs per int32 sum; see the proof above */
#define CHUNK_ROWS (2 * CHUNK_PAIRS)
#define OB 32                          /* output channels whose int64 sums are live at once (multiple of 4);
                                        * stack of run_group: acc 64 KiB + weights 32 KiB + x 16 KiB */

_Static_assert(CHUNK_PAIRS <= 128, "the int32 overflow proof holds for at most 128 pairs per chunk");
_Static_assert(OB % 4 == 0, "the micro-kernel works on 4 outputs");
_Static_assert(TP == 16, "pack_x and kern4 handle a tile as one vector of 16 lanes");

/* Packs the rows ri[0 .. 2*npairs) of tile t: xp[p] holds rows (2p, 2p+1) of positions 0..15 as int16
 * pairs, the even row in the low half of each 32-bit lane. VPMOVSDW saturates to int16 and keeps the
 * order; VPERMW interleaves the two rows. */
V512_FN static void pack_x(const lic_iconv_geom *g, const lic_iconv_tile *t, const lic_iconv_rowinfo *ri,
                           int npairs, __m512i *xp)
{
    int32_t ta[TP], tb[TP];
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                         23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (int p = 0; p < npairs; p++) {
        const int32_t *a = lic_iconv_row_src(g, t, &ri[2 * p], ta);
        const int32_t *b = lic_iconv_row_src(g, t, &ri[2 * p + 1], tb);
        __m256i pa = _mm512_cvtsepi32_epi16(_mm512_loadu_si512((const void *)a));
        __m256i pb = _mm512_cvtsepi32_epi16(_mm512_loadu_si512((const void *)b));
        xp[p] = _mm512_permutexvar_epi16(idx, _mm512_inserti64x4(_mm512_castsi256_si512(pa), pb, 1));
    }
}

/* floor(w / 256) of an int16 weight without shifting a negative value: w - (w & 255) is an exact
 * multiple of 256. */
static inline int32_t w_high(int32_t w)
{
    return (w - (w & 255)) / 256;
}

/* Splits the weights of rows [r0, r0 + nrows) for outputs o0 .. o0+nob4-1 into pairs (wl, wh) packed as
 * int16 pairs in an int32 (row 2p in the low half), as described at the top; outputs >= o_end (padding
 * to a multiple of 4) and the padding row of an odd count get zero weights. */
static void pack_w(const lic_iconv_geom *g, int o0, int nob4, int o_end, int r0, int nrows,
                   uint32_t (*wl)[CHUNK_PAIRS], uint32_t (*wh)[CHUNK_PAIRS])
{
    const int npairs = (nrows + 1) / 2;
    int16_t tmp[CHUNK_ROWS + 1];
    for (int ol = 0; ol < nob4; ol++) {
        lic_iconv_weight_rows(g, o0 + ol, o_end, r0, nrows, tmp, CHUNK_ROWS + 1);
        for (int p = 0; p < npairs; p++) {
            const int32_t a = tmp[2 * p], b = tmp[2 * p + 1];
            wl[ol][p] = (uint32_t)(a & 255) | ((uint32_t)(b & 255) << 16);
            wh[ol][p] = ((uint32_t)w_high(a) & 0xffffu) | (((uint32_t)w_high(b) & 0xffffu) << 16);
        }
    }
}

/* acc[0..15] += lo + 256*hi, widened to int64 (|lo + 256*hi| < 2^40: no wrap; the left shift of a
 * two's complement int64 by 8 is the product by 256). */
V512_FN static inline void flush16(int64_t *acc, __m512i lo, __m512i hi)
{
    __m512i l0 = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(lo));
    __m512i l1 = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(lo, 1));
    __m512i h0 = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(hi));
    __m512i h1 = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(hi, 1));
    __m512i a0 = _mm512_loadu_si512((const void *)acc);
    __m512i a1 = _mm512_loadu_si512((const void *)(acc + 8));
    a0 = _mm512_add_epi64(a0, _mm512_add_epi64(l0, _mm512_slli_epi64(h0, 8)));
    a1 = _mm512_add_epi64(a1, _mm512_add_epi64(l1, _mm512_slli_epi64(h1, 8)));
    _mm512_storeu_si512((void *)acc, a0);
    _mm512_storeu_si512((void *)(acc + 8), a1);
}

/* acc += VPDPWSSD(x, broadcast of the int16 pair *w). Inline assembly because GCC 12 compiles
 * _mm512_dpwssd_epi32 in this loop with a register copy around every instruction (the accumulators
 * get moved instead of updated in place), which costs a third of the kernel's speed; the memory
 * operand with {1to16} also saves the separate broadcast. Same instruction, same result. */
V512_FN static inline __attribute__((always_inline)) __m512i dp_bcast(__m512i acc, __m512i x, const uint32_t *w)
{
    __asm__("vpdpwssd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(x), "m"(*w));
    return acc;
}

/* Four outputs x nt (1 or 2, a constant at each call) tiles x one chunk: 8*nt int32 sums, kept in
 * registers once the loops over o and t are unrolled. acc[o] points at the int64 sums of output o for
 * the first tile; the second tile's follow TP later. */
V512_FN static inline __attribute__((always_inline)) void
kern4(const __m512i *x0p, const __m512i *x1p, int npairs, uint32_t (*wl)[CHUNK_PAIRS],
      uint32_t (*wh)[CHUNK_PAIRS], int64_t *const acc[4], const int nt)
{
    __m512i l[4][2], h[4][2];
#pragma GCC unroll 4
    for (int o = 0; o < 4; o++)
        l[o][0] = l[o][1] = h[o][0] = h[o][1] = _mm512_setzero_si512();
    for (int p = 0; p < npairs; p++) {
        const __m512i x0 = _mm512_load_si512((const void *)(x0p + p));
        const __m512i x1 = _mm512_load_si512((const void *)(x1p + p));
#pragma GCC unroll 4
        for (int o = 0; o < 4; o++) {
            l[o][0] = dp_bcast(l[o][0], x0, &wl[o][p]);
            h[o][0] = dp_bcast(h[o][0], x0, &wh[o][p]);
            if (nt == 2) {
                l[o][1] = dp_bcast(l[o][1], x1, &wl[o][p]);
                h[o][1] = dp_bcast(h[o][1], x1, &wh[o][p]);
            }
        }
    }
#pragma GCC unroll 4
    for (int o = 0; o < 4; o++) {
        flush16(acc[o], l[o][0], h[o][0]);
        if (nt == 2)
            flush16(acc[o] + TP, l[o][1], h[o][1]);
    }
}

V512_FN static void kern4x1(const __m512i *xp, int npairs, uint32_t (*wl)[CHUNK_PAIRS],
                            uint32_t (*wh)[CHUNK_PAIRS], int64_t *const acc[4])
{
    kern4(xp, xp, npairs, wl, wh, acc, 1);
}

V512_FN static void kern4x2(const __m512i *x0p, const __m512i *x1p, int npairs, uint32_t (*wl)[CHUNK_PAIRS],
                            uint32_t (*wh)[CHUNK_PAIRS], int64_t *const acc[4])
{
    kern4(x0p, x1p, npairs, wl, wh, acc, 2);
}

/* All outputs o0..o_end-1 of up to GROUP tiles of the current phase. */
V512_FN static void run_group(const lic_iconv_geom *g, int o0, int o_end, const lic_iconv_tile *tiles,
                              int ntiles)
{
    const int nob = o_end - o0, nob4 = (nob + 3) & ~3;
    lic_iconv_acc_row acc[OB];
    uint32_t wl[OB][CHUNK_PAIRS], wh[OB][CHUNK_PAIRS];
    __m512i xp[2][CHUNK_PAIRS];
    lic_iconv_rowinfo ri[CHUNK_ROWS];

    lic_iconv_acc_init(g, o0, nob, nob4, ntiles, acc);
    for (int r0 = 0; r0 < g->nrows; r0 += CHUNK_ROWS) {
        int nrows = g->nrows - r0 < CHUNK_ROWS ? g->nrows - r0 : CHUNK_ROWS;
        int npairs = (nrows + 1) / 2;
        pack_w(g, o0, nob4, o_end, r0, nrows, wl, wh);
        lic_iconv_row_info(g, r0, nrows, ri);
        for (int t = 0; t < ntiles; t += 2) {
            const int nt = ntiles - t < 2 ? 1 : 2;
            pack_x(g, &tiles[t], ri, npairs, xp[0]);
            if (nt == 2)
                pack_x(g, &tiles[t + 1], ri, npairs, xp[1]);
            for (int ol = 0; ol < nob4; ol += 4) {
                int64_t *const a4[4] = { acc[ol] + t * TP, acc[ol + 1] + t * TP, acc[ol + 2] + t * TP,
                                         acc[ol + 3] + t * TP };
                if (nt == 2)
                    kern4x2(xp[0], xp[1], npairs, wl + ol, wh + ol, a4);
                else
                    kern4x1(xp[0], npairs, wl + ol, wh + ol, a4);
            }
        }
    }
    lic_iconv_acc_store(g, o0, nob, tiles, ntiles, acc);
}

int lic_iconv_avx512_tasks(const lic_iconv_call *c)
{
    return lic_iconv_tiles_tasks(c);
}

void lic_iconv_avx512_task(const lic_iconv_call *c, int task)
{
    lic_iconv_tiles_task(c, task, OB, run_group);
}

#else /* no AVX-512 VNNI on this target or compiler */

/* Never called: lic_xf_cpu_has_avx512vnni() is 0 in builds without this kernel. */
int lic_iconv_avx512_tasks(const lic_iconv_call *c)
{
    (void)c;
    return 0;
}

void lic_iconv_avx512_task(const lic_iconv_call *c, int task)
{
    (void)c;
    (void)task;
}

#endif
