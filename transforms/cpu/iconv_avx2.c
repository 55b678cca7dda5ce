/* lic transforms: AVX2 kernel of the integer conv layers. Byte-identical to iconv_ref.c (tested).
 *
 * Layout: iconv_tiles.h (shared with iconv_avx512.c): out[o][p] = bias[o] + sum_r W[o][r] * X[r][p],
 * rows r = (input channel, tap), positions in tiles of TP = 16 outputs of one row (one phase), tasks of
 * GROUP tiles x SUPER output channels. Here one tile is two vectors of 8 int32 lanes, and the
 * micro-kernel keeps 2 outputs x 2 vectors x (lo, hi) = 8 int32 accumulators in registers.
 *
 * Arithmetic. Rows are paired and the inputs saturated to int16 (the reference saturates too), so
 * _mm256_madd_epi16 gives x_a*w_a + x_b*w_b per int32 lane. With full int16 weights one madd can
 * already overflow ((-2^15)^2 * 2 = 2^31), so each weight is split exactly into
 *     w = 256*wh + wl,   wl = w & 255 in [0, 255],   wh = floor(w / 256) in [-128, 127],
 * and two int32 sums are kept, Sl = sum x*wl and Sh = sum x*wh, added to the int64 sums as
 * Sl + 256*Sh after every chunk of at most CHUNK_PAIRS = 128 row pairs. Proof of no int32 overflow,
 * with |x| <= 2^15:
 *     one madd lane of Sl: |x_a*wl_a + x_b*wl_b| <= 2 * 2^15 * 255 = 16 711 680,
 *         128 of them: <= 2 139 095 040 < 2^31 - 1 = 2 147 483 647;
 *     one madd lane of Sh: |x_a*wh_a + x_b*wh_b| <= 2 * 2^15 * 2^7 = 2^23,
 *         128 of them: <= 2^30 < 2^31 - 1.
 * The int64 sums are the exact integer sums of the contract, so the result equals the reference. */
#include "transforms/cpu/iconv.h"

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__)) && \
    !defined(LIC_NO_SIMD)

#include <immintrin.h>

#include "transforms/cpu/iconv_tiles.h"

/* Target attributes instead of relying on -mavx2: the file builds with any flags, and only this
 * file's functions use AVX2, behind the run-time check lic_xf_cpu_has_avx2 (cpu/xf_select.c, compiled without ISA flags
 * so the check itself cannot execute AVX2 instructions). */
#define AVX2_FN __attribute__((target("avx2")))

#define TP LIC_ICONV_TP                /* output positions per tile: two vectors of 8 int32 lanes */
#define CHUNK_PAIRS 128                /* row pairs per int32 sum; see the proof above */
#define CHUNK_ROWS (2 * CHUNK_PAIRS)
#define OB 16                          /* output channels whose int64 sums are live at once (even);
                                        * stack of run_group: about 60 KiB in all */

_Static_assert(CHUNK_PAIRS <= 128, "the int32 overflow proof holds for at most 128 pairs per chunk");
_Static_assert(CHUNK_ROWS % 16 == 0, "pack_w splits weights 16 at a time");
_Static_assert(OB % 2 == 0, "kern2 works on pairs of outputs");
_Static_assert(TP == 16, "pack_x and kern2 handle a tile as two vectors of 8 lanes");

/* Packs the rows ri[0 .. 2*npairs) of tile t: xp[2p] holds positions 0..7 and xp[2p+1] positions 8..15
 * of rows (2p, 2p+1), interleaved as int16 pairs (even row in the low half of each lane).
 * packs_epi32 saturates to int16 and leaves positions lane-swizzled ([0-3, 8-11 | 4-7, 12-15]);
 * unpacklo/hi_epi16 undo exactly that swizzle. */
AVX2_FN static void pack_x(const lic_iconv_geom *g, const lic_iconv_tile *t, const lic_iconv_rowinfo *ri,
                           int npairs, __m256i *xp)
{
    int32_t ta[TP], tb[TP];
    for (int p = 0; p < npairs; p++) {
        const int32_t *a = lic_iconv_row_src(g, t, &ri[2 * p], ta);
        const int32_t *b = lic_iconv_row_src(g, t, &ri[2 * p + 1], tb);
        __m256i pa = _mm256_packs_epi32(_mm256_loadu_si256((const __m256i *)a),
                                        _mm256_loadu_si256((const __m256i *)(a + 8)));
        __m256i pb = _mm256_packs_epi32(_mm256_loadu_si256((const __m256i *)b),
                                        _mm256_loadu_si256((const __m256i *)(b + 8)));
        xp[2 * p] = _mm256_unpacklo_epi16(pa, pb);
        xp[2 * p + 1] = _mm256_unpackhi_epi16(pa, pb);
    }
}

/* Splits the weights of rows [r0, r0 + nrows) for outputs o0 .. o0+nob2-1 into int16 pairs
 * (wl, wh) as described at the top; outputs >= o_end (padding to an even count) get zero weights. */
AVX2_FN static void pack_w(const lic_iconv_geom *g, int o0, int nob2, int o_end, int r0, int nrows,
                           int32_t (*wl)[CHUNK_PAIRS], int32_t (*wh)[CHUNK_PAIRS])
{
    int16_t tmp[CHUNK_ROWS] __attribute__((aligned(32)));
    const int nvec = (nrows + 15) / 16;
    for (int ol = 0; ol < nob2; ol++) {
        lic_iconv_weight_rows(g, o0 + ol, o_end, r0, nrows, tmp, CHUNK_ROWS);
        const __m256i lowbyte = _mm256_set1_epi16(0xff);
        for (int v = 0; v < nvec; v++) {
            __m256i w = _mm256_load_si256((const __m256i *)(tmp + 16 * v));
            _mm256_storeu_si256((__m256i *)(wl[ol] + 8 * v), _mm256_and_si256(w, lowbyte));
            _mm256_storeu_si256((__m256i *)(wh[ol] + 8 * v), _mm256_srai_epi16(w, 8));
        }
    }
}

/* acc[0..7] += lo + 256*hi, widened to int64 (|lo + 256*hi| < 2^40: no wrap). */
AVX2_FN static inline void flush8(int64_t *acc, __m256i lo, __m256i hi)
{
    __m256i l0 = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(lo));
    __m256i l1 = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(lo, 1));
    __m256i h0 = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(hi));
    __m256i h1 = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(hi, 1));
    __m256i a0 = _mm256_loadu_si256((const __m256i *)acc);
    __m256i a1 = _mm256_loadu_si256((const __m256i *)(acc + 4));
    a0 = _mm256_add_epi64(a0, _mm256_add_epi64(l0, _mm256_slli_epi64(h0, 8)));
    a1 = _mm256_add_epi64(a1, _mm256_add_epi64(l1, _mm256_slli_epi64(h1, 8)));
    _mm256_storeu_si256((__m256i *)acc, a0);
    _mm256_storeu_si256((__m256i *)(acc + 4), a1);
}

/* Two outputs x one tile x one chunk: 8 int32 sums (2 outputs x 2 position vectors x lo/hi). */
AVX2_FN static void kern2(const __m256i *xp, int npairs, const int32_t *wl0, const int32_t *wh0,
                          const int32_t *wl1, const int32_t *wh1, int64_t *acc0, int64_t *acc1)
{
    __m256i l00 = _mm256_setzero_si256(), l01 = l00, h00 = l00, h01 = l00;
    __m256i l10 = l00, l11 = l00, h10 = l00, h11 = l00;
    for (int p = 0; p < npairs; p++) {
        __m256i x0 = _mm256_load_si256(xp + 2 * p), x1 = _mm256_load_si256(xp + 2 * p + 1);
        __m256i w = _mm256_set1_epi32(wl0[p]);
        l00 = _mm256_add_epi32(l00, _mm256_madd_epi16(x0, w));
        l01 = _mm256_add_epi32(l01, _mm256_madd_epi16(x1, w));
        w = _mm256_set1_epi32(wh0[p]);
        h00 = _mm256_add_epi32(h00, _mm256_madd_epi16(x0, w));
        h01 = _mm256_add_epi32(h01, _mm256_madd_epi16(x1, w));
        w = _mm256_set1_epi32(wl1[p]);
        l10 = _mm256_add_epi32(l10, _mm256_madd_epi16(x0, w));
        l11 = _mm256_add_epi32(l11, _mm256_madd_epi16(x1, w));
        w = _mm256_set1_epi32(wh1[p]);
        h10 = _mm256_add_epi32(h10, _mm256_madd_epi16(x0, w));
        h11 = _mm256_add_epi32(h11, _mm256_madd_epi16(x1, w));
    }
    flush8(acc0, l00, h00);
    flush8(acc0 + 8, l01, h01);
    flush8(acc1, l10, h10);
    flush8(acc1 + 8, l11, h11);
}

/* All outputs o0..o_end-1 of up to GROUP tiles of the current phase. */
AVX2_FN static void run_group(const lic_iconv_geom *g, int o0, int o_end, const lic_iconv_tile *tiles,
                              int ntiles)
{
    const int nob = o_end - o0, nob2 = (nob + 1) & ~1;
    lic_iconv_acc_row acc[OB];
    int32_t wl[OB][CHUNK_PAIRS], wh[OB][CHUNK_PAIRS];
    __m256i xp[2 * CHUNK_PAIRS];
    lic_iconv_rowinfo ri[CHUNK_ROWS];

    lic_iconv_acc_init(g, o0, nob, nob2, ntiles, acc);
    for (int r0 = 0; r0 < g->nrows; r0 += CHUNK_ROWS) {
        int nrows = g->nrows - r0 < CHUNK_ROWS ? g->nrows - r0 : CHUNK_ROWS;
        int npairs = (nrows + 1) / 2;
        pack_w(g, o0, nob2, o_end, r0, nrows, wl, wh);
        lic_iconv_row_info(g, r0, nrows, ri);
        for (int t = 0; t < ntiles; t++) {
            pack_x(g, &tiles[t], ri, npairs, xp);
            for (int ol = 0; ol < nob2; ol += 2)
                kern2(xp, npairs, wl[ol], wh[ol], wl[ol + 1], wh[ol + 1], acc[ol] + t * TP, acc[ol + 1] + t * TP);
        }
    }
    lic_iconv_acc_store(g, o0, nob, tiles, ntiles, acc);
}

int lic_iconv_avx2_tasks(const lic_iconv_call *c)
{
    return lic_iconv_tiles_tasks(c);
}

void lic_iconv_avx2_task(const lic_iconv_call *c, int task)
{
    lic_iconv_tiles_task(c, task, OB, run_group);
}

#else /* no AVX2 on this target or compiler */

/* Never called: lic_xf_cpu_has_avx2() is 0 in builds without the AVX2 files. */
int lic_iconv_avx2_tasks(const lic_iconv_call *c)
{
    (void)c;
    return 0;
}

void lic_iconv_avx2_task(const lic_iconv_call *c, int task)
{
    (void)c;
    (void)task;
}

#endif
