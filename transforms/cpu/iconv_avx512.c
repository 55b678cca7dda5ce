/* lic transforms: AVX-512 VNNI kernel of the integer conv layers. Byte-identical to iconv_ref.c (tested).
 *
 * Layout: as in iconv_avx2.c, whose geometry code (tiles, phases of a transposed conv, task split) this
 * file copies: out[o][p] = bias[o] + sum_r W[o][r] * X[r][p], rows r = (input channel, tap), positions
 * in tiles of TP = 16 outputs of one row (one phase). Here one tile is one 512-bit vector, and the
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
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "transforms/cpu/iconv.h"

#if defined(LIC_XF_HAVE_AVX512VNNI) && (defined(__GNUC__) || defined(__clang__)) && \
    (defined(__x86_64__) || defined(__i386__)) && !defined(LIC_NO_SIMD)

#include <immintrin.h>

/* Target attributes as in iconv_avx2.c: only these functions use AVX-512 and VNNI, behind the run-time
 * check lic_xf_cpu_has_avx512vnni (cpu/xf_select.c). */
#define V512_FN __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

#define TP 16                          /* output positions per tile: one vector of 16 int32 lanes */
#define CHUNK_PAIRS 128                /* row pairs per int32 sum; see the proof above */
#define CHUNK_ROWS (2 * CHUNK_PAIRS)
#define GROUP 16                       /* tiles whose int64 sums are live at once */
#define OB 32                          /* output channels whose int64 sums are live at once (multiple of 4);
                                        * stack of run_group: acc 64 KiB + weights 32 KiB + x 16 KiB */
#define SUPER 64                       /* output channels per task */

_Static_assert(CHUNK_PAIRS <= 128, "the int32 overflow proof holds for at most 128 pairs per chunk");
_Static_assert(OB % 4 == 0, "the micro-kernel works on 4 outputs");

typedef struct tile {
    int y;  /* output row (0 for a flat 1x1 conv) */
    ptrdiff_t x0; /* first output column */
    int n;  /* valid positions, 1..TP; position j is column x0 + j*sx */
} tile;

typedef struct geom {
    const lic_iconv_call *c;
    int k, s, r;
    int flat;            /* 1x1 stride-1 conv: each plane is one row */
    int in_rows;         /* input rows (1 when flat) */
    ptrdiff_t in_len;    /* input row length (ih*iw when flat) */
    int out_rows;
    ptrdiff_t out_len;
    size_t in_plane, out_plane;
    int sx;              /* column step inside a tile: s for a transposed phase, else 1 */
    int ntaps;
    int taps[49];        /* ky*k + kx of the taps of the current phase, increasing */
    int nrows;           /* cin * ntaps */
    int nphase;          /* output phases: s*s for a transposed conv, else 1 */
    int py, px;          /* the current phase */
    int ph_rows;         /* output rows of the phase */
    ptrdiff_t ph_cols;   /* output columns of the phase (per row) */
    ptrdiff_t tiles_per_row;
    int64_t ngroups;     /* groups of GROUP tiles in the phase */
} geom;

static const int32_t zeros[TP];

/* Where row r of the current phase reads: input plane of channel i and tap (ky, kx). Computed once
 * per chunk so that packing a tile does no divisions. plane is NULL for the padding row of an odd pair. */
typedef struct rowinfo {
    const int32_t *plane;
    int ky, kx;
} rowinfo;

static void row_info(const geom *g, int r0, int nrows, rowinfo *ri)
{
    for (int q = 0; q < 2 * ((nrows + 1) / 2); q++) {
        int r = r0 + q;
        if (q >= nrows) {
            ri[q].plane = NULL;
            continue;
        }
        int i = r / g->ntaps, tap = g->taps[r % g->ntaps];
        ri[q].plane = g->c->in + (size_t)i * g->in_plane;
        ri[q].ky = tap / g->k;
        ri[q].kx = tap % g->k;
    }
}

/* The TP inputs of a row for the positions of tile t: a pointer into the input when they are
 * contiguous and inside the row, else gathered into tmp (zeros outside the input). */
static inline const int32_t *row_src(const geom *g, const tile *t, const rowinfo *ri, int32_t *tmp)
{
    if (!ri->plane)
        return zeros;
    ptrdiff_t iy, base, dx;
    if (g->c->L->transposed) {
        /* the phase makes both divisions exact (truncation of an exact quotient is exact) */
        iy = ((ptrdiff_t)t->y + g->r - ri->ky) / g->s;
        base = ((ptrdiff_t)t->x0 + g->r - ri->kx) / g->s;
        dx = 1;
    } else {
        iy = (ptrdiff_t)t->y * g->s + ri->ky - g->r;
        base = (ptrdiff_t)t->x0 * g->s + ri->kx - g->r;
        dx = g->s;
    }
    if (iy < 0 || iy >= g->in_rows)
        return zeros;
    const int32_t *src = ri->plane + (size_t)iy * (size_t)g->in_len;
    if (dx == 1 && base >= 0 && base + TP <= g->in_len)
        return src + base;
    for (int j = 0; j < TP; j++) {
        ptrdiff_t ix = base + j * dx;
        tmp[j] = (j < t->n && ix >= 0 && ix < g->in_len) ? src[ix] : 0;
    }
    return tmp;
}

/* Packs the rows ri[0 .. 2*npairs) of tile t: xp[p] holds rows (2p, 2p+1) of positions 0..15 as int16
 * pairs, the even row in the low half of each 32-bit lane. VPMOVSDW saturates to int16 and keeps the
 * order; VPERMW interleaves the two rows. */
V512_FN static void pack_x(const geom *g, const tile *t, const rowinfo *ri, int npairs, __m512i *xp)
{
    int32_t ta[TP], tb[TP];
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                         23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (int p = 0; p < npairs; p++) {
        const int32_t *a = row_src(g, t, &ri[2 * p], ta);
        const int32_t *b = row_src(g, t, &ri[2 * p + 1], tb);
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
static void pack_w(const geom *g, int o0, int nob4, int o_end, int r0, int nrows,
                   uint32_t (*wl)[CHUNK_PAIRS], uint32_t (*wh)[CHUNK_PAIRS])
{
    const lic_iconv_layer *L = g->c->L;
    const int kk = g->k * g->k;
    const int npairs = (nrows + 1) / 2;
    int16_t tmp[CHUNK_ROWS + 1];
    for (int ol = 0; ol < nob4; ol++) {
        const int o = o0 + ol;
        memset(tmp, 0, sizeof(tmp));
        if (o < o_end) {
            if (!L->transposed) {
                memcpy(tmp, L->weight + (size_t)o * (size_t)g->nrows + (size_t)r0, (size_t)nrows * sizeof(int16_t));
            } else {
                for (int q = 0; q < nrows; q++) {
                    int r = r0 + q, i = r / g->ntaps;
                    tmp[q] = L->weight[((size_t)i * (size_t)L->cout + (size_t)o) * (size_t)kk + (size_t)g->taps[r % g->ntaps]];
                }
            }
        }
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
V512_FN static void run_group(const geom *g, int o0, int o_end, const tile *tiles, int ntiles)
{
    const lic_iconv_call *c = g->c;
    const lic_iconv_layer *L = c->L;
    const int nob = o_end - o0, nob4 = (nob + 3) & ~3;
    int64_t acc[OB][GROUP * TP];
    uint32_t wl[OB][CHUNK_PAIRS], wh[OB][CHUNK_PAIRS];
    __m512i xp[2][CHUNK_PAIRS];
    rowinfo ri[CHUNK_ROWS];

    for (int ol = 0; ol < nob4; ol++) {
        int64_t b = ol < nob ? L->bias[o0 + ol] : 0;
        for (int j = 0; j < ntiles * TP; j++)
            acc[ol][j] = b;
    }
    for (int r0 = 0; r0 < g->nrows; r0 += CHUNK_ROWS) {
        int nrows = g->nrows - r0 < CHUNK_ROWS ? g->nrows - r0 : CHUNK_ROWS;
        int npairs = (nrows + 1) / 2;
        pack_w(g, o0, nob4, o_end, r0, nrows, wl, wh);
        row_info(g, r0, nrows, ri);
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
    /* Layer fields in locals: the stores below are int32 and could alias them otherwise. */
    const int relu = L->relu, slope = L->relu_slope_q8, bits = L->out_bits;
    const size_t sx = (size_t)g->sx;
    for (int ol = 0; ol < nob; ol++) {
        const int o = o0 + ol, shift = L->shift[o];
        int32_t *plane = c->out + (size_t)o * g->out_plane;
        for (int t = 0; t < ntiles; t++) {
            int32_t *dst = plane + (size_t)tiles[t].y * (size_t)g->out_len + (size_t)tiles[t].x0;
            const int64_t *a = acc[ol] + t * TP;
            const int n = tiles[t].n;
            for (int j = 0; j < n; j++)
                dst[(size_t)j * sx] = lic_iconv_finish(a[j], shift, relu, slope, bits);
        }
    }
}

static void geom_init(geom *g, const lic_iconv_call *c)
{
    const lic_iconv_layer *L = c->L;
    memset(g, 0, sizeof(*g));
    g->c = c;
    g->k = L->k;
    g->s = L->stride;
    g->r = L->k / 2;
    g->flat = L->k == 1 && L->stride == 1 && !L->transposed;
    g->in_rows = g->flat ? 1 : c->ih;
    g->in_len = g->flat ? (ptrdiff_t)c->ih * c->iw : c->iw;
    g->out_rows = g->flat ? 1 : c->oh;
    g->out_len = g->flat ? (ptrdiff_t)c->oh * c->ow : c->ow;
    g->in_plane = (size_t)c->ih * (size_t)c->iw;
    g->out_plane = (size_t)c->oh * (size_t)c->ow;
    g->sx = L->transposed ? g->s : 1;
    g->nphase = L->transposed ? g->s * g->s : 1;
}

/* Selects output phase ph (transposed: (oy mod s, ox mod s) = (ph / s, ph % s)): its taps, rows and
 * tile grid. A conv has the single phase 0 with every tap. */
static void geom_phase(geom *g, int ph)
{
    const lic_iconv_layer *L = g->c->L;
    const int sy = L->transposed ? g->s : 1;
    g->py = L->transposed ? ph / g->s : 0;
    g->px = L->transposed ? ph % g->s : 0;
    g->ntaps = 0;
    for (int ky = 0; ky < g->k; ky++)
        for (int kx = 0; kx < g->k; kx++)
            if (!L->transposed || (((g->py + g->r - ky) % g->s + g->s) % g->s == 0 &&
                                   ((g->px + g->r - kx) % g->s + g->s) % g->s == 0))
                g->taps[g->ntaps++] = ky * g->k + kx;
    g->nrows = L->cin * g->ntaps;
    g->ph_rows = (g->out_rows - g->py + sy - 1) / sy;
    g->ph_cols = (g->out_len - g->px + g->sx - 1) / g->sx;
    g->tiles_per_row = (g->ph_cols + TP - 1) / TP;
    g->ngroups = ((int64_t)g->ph_rows * g->tiles_per_row + GROUP - 1) / GROUP;
}

/* Tasks: (group of tiles, block of SUPER output channels), each group taking all outputs of its block in
 * OB-channel steps while its inputs stay in cache. Outputs of different tasks are disjoint. Tasks are
 * capped at 2^16 groups' worth by letting a task take several groups of a huge plane. */
static void task_grid(const lic_iconv_call *c, int64_t *groups, int64_t *per_task, int *nsuper)
{
    geom g;
    geom_init(&g, c);
    int64_t n = 0;
    for (int ph = 0; ph < g.nphase; ph++) {
        geom_phase(&g, ph);
        n += g.ngroups;
    }
    *groups = n;
    *per_task = (n + 65535) / 65536;
    *nsuper = (c->L->cout + SUPER - 1) / SUPER;
}

int lic_iconv_avx512_tasks(const lic_iconv_call *c)
{
    int64_t groups, per_task;
    int nsuper;
    task_grid(c, &groups, &per_task, &nsuper);
    return (int)((groups + per_task - 1) / per_task) * nsuper;
}

void lic_iconv_avx512_task(const lic_iconv_call *c, int task)
{
    int64_t groups, per_task;
    int nsuper;
    task_grid(c, &groups, &per_task, &nsuper);
    const int o_lo = (task % nsuper) * SUPER;
    const int o_hi = c->L->cout - o_lo < SUPER ? c->L->cout : o_lo + SUPER;
    int64_t g0 = (int64_t)(task / nsuper) * per_task, g1 = g0 + per_task;
    if (g1 > groups)
        g1 = groups;

    geom g;
    geom_init(&g, c);
    int ph = 0;
    int64_t first = 0; /* global index of the first group of phase ph */
    geom_phase(&g, ph);
    for (int64_t gi = g0; gi < g1; gi++) {
        while (gi >= first + g.ngroups) {
            first += g.ngroups;
            geom_phase(&g, ++ph);
        }
        const int sy = c->L->transposed ? g.s : 1;
        const int64_t t0 = (gi - first) * GROUP, tn = (int64_t)g.ph_rows * g.tiles_per_row;
        tile tiles[GROUP];
        int nt = 0;
        for (int64_t t = t0; t < tn && nt < GROUP; t++, nt++) {
            int64_t row = t / g.tiles_per_row, col = (t % g.tiles_per_row) * TP;
            tiles[nt].y = g.py + (int)row * sy;
            tiles[nt].x0 = g.px + (ptrdiff_t)col * g.sx;
            tiles[nt].n = g.ph_cols - col < TP ? (int)(g.ph_cols - col) : TP;
        }
        for (int o = o_lo; o < o_hi; o += OB)
            run_group(&g, o, o_hi - o < OB ? o_hi : o + OB, tiles, nt);
    }
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
