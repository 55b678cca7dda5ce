/* lic transforms, internal: the ISA-independent half of the SIMD integer conv kernels
 * (iconv_avx2.c, iconv_avx512.c): tiles of output positions, the phases of a transposed conv, where a
 * row reads its inputs, the weight rows, the int64 sums' start and finish, and the split into tasks.
 *
 * Layout. A layer is a matrix product: out[o][p] = bias[o] + sum_r W[o][r] * X[r][p], where a row
 * r = (input channel i, tap t) and X[r][p] is the input that tap t of channel i sees from output
 * position p (0 outside the input). Conv rows are all taps, r = i*k*k + t, so W[o][.] is the
 * contiguous weight[o][.][.][.]. A transposed conv is done per output phase (oy mod s, ox mod s):
 * only the taps with the matching phase reach those outputs, and their inputs are contiguous.
 * Positions come in tiles of LIC_ICONV_TP outputs of one row (one phase); a 1x1 stride-1 conv sees
 * each plane as one long row.
 *
 * Everything here is plain C, static inline, included only by the two kernels: each gets a copy
 * compiled with its own ISA flags, and the compiler inlines it into the ISA code. The kernels supply
 * the arithmetic (run_group: packing, the int32 chunk sums and their overflow proof). */
#ifndef LIC_TRANSFORMS_CPU_ICONV_TILES_H
#define LIC_TRANSFORMS_CPU_ICONV_TILES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "transforms/cpu/iconv.h"

#define LIC_ICONV_TP 16    /* output positions per tile */
#define LIC_ICONV_GROUP 16 /* tiles whose int64 sums are live at once */
#define LIC_ICONV_SUPER 64 /* output channels per task */

typedef struct lic_iconv_tile {
    int y;        /* output row (0 for a flat 1x1 conv) */
    ptrdiff_t x0; /* first output column */
    int n;        /* valid positions, 1..TP; position j is column x0 + j*sx */
} lic_iconv_tile;

typedef struct lic_iconv_geom {
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
} lic_iconv_geom;

/* The int64 sums of one output channel for the GROUP tiles of a group, TP positions per tile. */
typedef int64_t lic_iconv_acc_row[LIC_ICONV_GROUP * LIC_ICONV_TP];

/* All outputs o0..o_end-1 (at most the kernel's ob) of the ntiles <= GROUP tiles of the current phase. */
typedef void (*lic_iconv_run_group_fn)(const lic_iconv_geom *g, int o0, int o_end, const lic_iconv_tile *tiles,
                                       int ntiles);

/* Where row r of the current phase reads: input plane of channel i and tap (ky, kx). Computed once
 * per chunk so that packing a tile does no divisions. plane is NULL for the padding row of an odd pair. */
typedef struct lic_iconv_rowinfo {
    const int32_t *plane;
    int ky, kx;
} lic_iconv_rowinfo;

/* Fills ri[0 .. nrows rounded up to even) for rows [r0, r0 + nrows) of the current phase. */
static inline void lic_iconv_row_info(const lic_iconv_geom *g, int r0, int nrows, lic_iconv_rowinfo *ri)
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
static inline const int32_t *lic_iconv_row_src(const lic_iconv_geom *g, const lic_iconv_tile *t,
                                               const lic_iconv_rowinfo *ri, int32_t *tmp)
{
    static const int32_t zeros[LIC_ICONV_TP];
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
    if (dx == 1 && base >= 0 && base + LIC_ICONV_TP <= g->in_len)
        return src + base;
    for (int j = 0; j < LIC_ICONV_TP; j++) {
        ptrdiff_t ix = base + j * dx;
        tmp[j] = (j < t->n && ix >= 0 && ix < g->in_len) ? src[ix] : 0;
    }
    return tmp;
}

/* The weights of output o for rows [r0, r0 + nrows) of the current phase, into tmp[0 .. nrows), and
 * zeros in the rest of tmp[0 .. len); all zeros when o >= o_end (a padding output). */
static inline void lic_iconv_weight_rows(const lic_iconv_geom *g, int o, int o_end, int r0, int nrows,
                                         int16_t *tmp, size_t len)
{
    const lic_iconv_layer *L = g->c->L;
    const int kk = g->k * g->k;
    memset(tmp, 0, len * sizeof(int16_t));
    if (o >= o_end)
        return;
    if (!L->transposed) {
        memcpy(tmp, L->weight + (size_t)o * (size_t)g->nrows + (size_t)r0, (size_t)nrows * sizeof(int16_t));
    } else {
        for (int q = 0; q < nrows; q++) {
            int r = r0 + q, i = r / g->ntaps;
            tmp[q] = L->weight[((size_t)i * (size_t)L->cout + (size_t)o) * (size_t)kk + (size_t)g->taps[r % g->ntaps]];
        }
    }
}

/* Starts the sums acc[0 .. nobp) of outputs o0.. of ntiles tiles at the bias; the padding outputs
 * nob .. nobp-1 (rounded up to the micro-kernel's width) start at 0 and are never stored. */
static inline void lic_iconv_acc_init(const lic_iconv_geom *g, int o0, int nob, int nobp, int ntiles,
                                      lic_iconv_acc_row *acc)
{
    const lic_iconv_layer *L = g->c->L;
    for (int ol = 0; ol < nobp; ol++) {
        int64_t b = ol < nob ? L->bias[o0 + ol] : 0;
        for (int j = 0; j < ntiles * LIC_ICONV_TP; j++)
            acc[ol][j] = b;
    }
}

/* Finishes (lic_iconv_finish) and stores the sums acc[0 .. nob) of outputs o0.. of the tiles. */
static inline void lic_iconv_acc_store(const lic_iconv_geom *g, int o0, int nob, const lic_iconv_tile *tiles,
                                       int ntiles, const lic_iconv_acc_row *acc)
{
    const lic_iconv_call *c = g->c;
    const lic_iconv_layer *L = c->L;
    /* Layer fields in locals: the stores below are int32 and could alias them otherwise. */
    const int relu = L->relu, slope = L->relu_slope_q8, bits = L->out_bits;
    const size_t sx = (size_t)g->sx;
    for (int ol = 0; ol < nob; ol++) {
        const int o = o0 + ol, shift = L->shift[o];
        int32_t *plane = c->out + (size_t)o * g->out_plane;
        for (int t = 0; t < ntiles; t++) {
            int32_t *dst = plane + (size_t)tiles[t].y * (size_t)g->out_len + (size_t)tiles[t].x0;
            const int64_t *a = acc[ol] + t * LIC_ICONV_TP;
            const int n = tiles[t].n;
            for (int j = 0; j < n; j++)
                dst[(size_t)j * sx] = lic_iconv_finish(a[j], shift, relu, slope, bits);
        }
    }
}

static inline void lic_iconv_geom_init(lic_iconv_geom *g, const lic_iconv_call *c)
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
static inline void lic_iconv_geom_phase(lic_iconv_geom *g, int ph)
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
    g->tiles_per_row = (g->ph_cols + LIC_ICONV_TP - 1) / LIC_ICONV_TP;
    g->ngroups = ((int64_t)g->ph_rows * g->tiles_per_row + LIC_ICONV_GROUP - 1) / LIC_ICONV_GROUP;
}

/* Tasks: (group of tiles, block of SUPER output channels), each group taking all outputs of its block in
 * ob-channel steps while its inputs stay in cache. Outputs of different tasks are disjoint. Tasks are
 * capped at 2^16 groups' worth by letting a task take several groups of a huge plane. */
static inline void lic_iconv_task_grid(const lic_iconv_call *c, int64_t *groups, int64_t *per_task, int *nsuper)
{
    lic_iconv_geom g;
    lic_iconv_geom_init(&g, c);
    int64_t n = 0;
    for (int ph = 0; ph < g.nphase; ph++) {
        lic_iconv_geom_phase(&g, ph);
        n += g.ngroups;
    }
    *groups = n;
    *per_task = (n + 65535) / 65536;
    *nsuper = (c->L->cout + LIC_ICONV_SUPER - 1) / LIC_ICONV_SUPER;
}

/* The number of tasks of call c (the *_tasks entry of a kernel, iconv.h). */
static inline int lic_iconv_tiles_tasks(const lic_iconv_call *c)
{
    int64_t groups, per_task;
    int nsuper;
    lic_iconv_task_grid(c, &groups, &per_task, &nsuper);
    return (int)((groups + per_task - 1) / per_task) * nsuper;
}

/* Runs task `task` of call c (the *_task entry of a kernel, iconv.h): builds its groups of tiles and
 * calls run_group on them for blocks of at most ob output channels. */
static inline void lic_iconv_tiles_task(const lic_iconv_call *c, int task, int ob, lic_iconv_run_group_fn run_group)
{
    int64_t groups, per_task;
    int nsuper;
    lic_iconv_task_grid(c, &groups, &per_task, &nsuper);
    const int o_lo = (task % nsuper) * LIC_ICONV_SUPER;
    const int o_hi = c->L->cout - o_lo < LIC_ICONV_SUPER ? c->L->cout : o_lo + LIC_ICONV_SUPER;
    int64_t g0 = (int64_t)(task / nsuper) * per_task, g1 = g0 + per_task;
    if (g1 > groups)
        g1 = groups;

    lic_iconv_geom g;
    lic_iconv_geom_init(&g, c);
    int ph = 0;
    int64_t first = 0; /* global index of the first group of phase ph */
    lic_iconv_geom_phase(&g, ph);
    for (int64_t gi = g0; gi < g1; gi++) {
        while (gi >= first + g.ngroups) {
            first += g.ngroups;
            lic_iconv_geom_phase(&g, ++ph);
        }
        const int sy = c->L->transposed ? g.s : 1;
        const int64_t t0 = (gi - first) * LIC_ICONV_GROUP, tn = (int64_t)g.ph_rows * g.tiles_per_row;
        lic_iconv_tile tiles[LIC_ICONV_GROUP];
        int nt = 0;
        for (int64_t t = t0; t < tn && nt < LIC_ICONV_GROUP; t++, nt++) {
            int64_t row = t / g.tiles_per_row, col = (t % g.tiles_per_row) * LIC_ICONV_TP;
            tiles[nt].y = g.py + (int)row * sy;
            tiles[nt].x0 = g.px + (ptrdiff_t)col * g.sx;
            tiles[nt].n = g.ph_cols - col < LIC_ICONV_TP ? (int)(g.ph_cols - col) : LIC_ICONV_TP;
        }
        for (int o = o_lo; o < o_hi; o += ob)
            run_group(&g, o, o_hi - o < ob ? o_hi : o + ob, tiles, nt);
    }
}

#endif /* LIC_TRANSFORMS_CPU_ICONV_TILES_H */
