/* lic transforms: AVX2 kernel of the integer conv layers. Byte-identical to iconv_ref.c (tested).
 *
 * Layout. A layer is a matrix product: out[o][p] = bias[o] + sum_r W[o][r] * X[r][p], where a row
 * r = (input channel i, tap t) and X[r][p] is the input that tap t of channel i sees from output
 * position p (0 outside the input). Conv rows are all taps, r = i*k*k + t, so W[o][.] is the
 * contiguous weight[o][.][.][.]. A transposed conv is done per output phase (oy mod s, ox mod s):
 * only the taps with the matching phase reach those outputs, and their inputs are contiguous.
 * Positions come in tiles of 16 outputs of one row (one phase); a 1x1 stride-1 conv sees each plane
 * as one long row.
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
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "transforms/cpu/iconv.h"

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__)) && \
    !defined(LIC_NO_SIMD)

#include <immintrin.h>

/* Target attributes instead of relying on -mavx2: the file builds with any flags, and only this
 * file's functions use AVX2, behind the run-time check lic_xf_cpu_has_avx2 (cpu/xf_select.c, compiled without ISA flags
 * so the check itself cannot execute AVX2 instructions). */
#define AVX2_FN __attribute__((target("avx2")))

#define TP 16                          /* output positions per tile: two vectors of 8 int32 lanes */
#define CHUNK_PAIRS 128                /* row pairs per int32 sum; see the proof above */
#define CHUNK_ROWS (2 * CHUNK_PAIRS)
#define GROUP 16                       /* tiles whose int64 sums are live at once (stack: about 60 KiB in all) */
#define OB 16                          /* output channels whose int64 sums are live at once (even) */
#define SUPER 64                       /* output channels per task */

_Static_assert(CHUNK_PAIRS <= 128, "the int32 overflow proof holds for at most 128 pairs per chunk");
_Static_assert(CHUNK_ROWS % 16 == 0, "pack_w splits weights 16 at a time");
_Static_assert(OB % 2 == 0, "kern2 works on pairs of outputs");

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

/* Packs the rows ri[0 .. 2*npairs) of tile t: xp[2p] holds positions 0..7 and xp[2p+1] positions 8..15
 * of rows (2p, 2p+1), interleaved as int16 pairs (even row in the low half of each lane).
 * packs_epi32 saturates to int16 and leaves positions lane-swizzled ([0-3, 8-11 | 4-7, 12-15]);
 * unpacklo/hi_epi16 undo exactly that swizzle. */
AVX2_FN static void pack_x(const geom *g, const tile *t, const rowinfo *ri, int npairs, __m256i *xp)
{
    int32_t ta[TP], tb[TP];
    for (int p = 0; p < npairs; p++) {
        const int32_t *a = row_src(g, t, &ri[2 * p], ta);
        const int32_t *b = row_src(g, t, &ri[2 * p + 1], tb);
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
AVX2_FN static void pack_w(const geom *g, int o0, int nob2, int o_end, int r0, int nrows,
                           int32_t (*wl)[CHUNK_PAIRS], int32_t (*wh)[CHUNK_PAIRS])
{
    const lic_iconv_layer *L = g->c->L;
    const int kk = g->k * g->k;
    int16_t tmp[CHUNK_ROWS] __attribute__((aligned(32)));
    const int nvec = (nrows + 15) / 16;
    for (int ol = 0; ol < nob2; ol++) {
        int o = o0 + ol;
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
AVX2_FN static void run_group(const geom *g, int o0, int o_end, const tile *tiles, int ntiles)
{
    const lic_iconv_call *c = g->c;
    const lic_iconv_layer *L = c->L;
    const int nob = o_end - o0, nob2 = (nob + 1) & ~1;
    int64_t acc[OB][GROUP * TP];
    int32_t wl[OB][CHUNK_PAIRS], wh[OB][CHUNK_PAIRS];
    __m256i xp[2 * CHUNK_PAIRS];
    rowinfo ri[CHUNK_ROWS];

    for (int ol = 0; ol < nob2; ol++) {
        int64_t b = ol < nob ? L->bias[o0 + ol] : 0;
        for (int j = 0; j < ntiles * TP; j++)
            acc[ol][j] = b;
    }
    for (int r0 = 0; r0 < g->nrows; r0 += CHUNK_ROWS) {
        int nrows = g->nrows - r0 < CHUNK_ROWS ? g->nrows - r0 : CHUNK_ROWS;
        int npairs = (nrows + 1) / 2;
        pack_w(g, o0, nob2, o_end, r0, nrows, wl, wh);
        row_info(g, r0, nrows, ri);
        for (int t = 0; t < ntiles; t++) {
            pack_x(g, &tiles[t], ri, npairs, xp);
            for (int ol = 0; ol < nob2; ol += 2)
                kern2(xp, npairs, wl[ol], wh[ol], wl[ol + 1], wh[ol + 1], acc[ol] + t * TP, acc[ol + 1] + t * TP);
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

int lic_iconv_avx2_tasks(const lic_iconv_call *c)
{
    int64_t groups, per_task;
    int nsuper;
    task_grid(c, &groups, &per_task, &nsuper);
    return (int)((groups + per_task - 1) / per_task) * nsuper;
}

void lic_iconv_avx2_task(const lic_iconv_call *c, int task)
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
