/* lic transforms: fast path driver for conv, transposed conv and GDN (ISA-independent; the arithmetic
 * is in the table's micro-kernels, transforms/cpu/xf_gemm_*.c).
 *
 * Every layer is run as one or more "phases", each an ordinary convolution over an output grid:
 *   conv, stride s:       1 phase, grid = output, input row of grid row m and tap ky: m*s + ky - k/2.
 *   transposed, stride s: s*s phases (sub-pixel decomposition). Output (m*s + py, n*s + px) only receives
 *                         the taps ky = py + k/2 (mod s), from input row m + (py + k/2 - ky)/s, so phase
 *                         (py, px) is a stride-1 conv over the input with about (k/s)^2 taps; no product
 *                         with an inserted zero is ever computed.
 *   GDN:                  1x1 conv of x^2 with gamma, over the rows [lo, hi) flattened to one row (they
 *                         are contiguous in each channel of a band).
 * A phase is a GEMM C[cout][pixels] = A[cout][cin*taps] * B[cin*taps][pixels]. B is never built: for a
 * block of output rows the needed input rows of a few channels are copied into a "strip" (zero padded,
 * and for stride 2 split into even and odd columns), so that the nr pixels of any reduction step are
 * contiguous in the strip; an offset table gives where. A is packed per call into [cout/mr][K][mr].
 *
 * A call computes a range of grid rows [mlo, mhi) (conv: output rows [lo, hi); transposed: input rows
 * m = lo/s .. hi/s - 1, giving output rows [lo, hi)) from bands (xf_cpu.h): input row iy of channel c
 * is at in + c * in_plane + (iy - in_row0) * win, and is zero padding when outside [0, hin), the whole
 * tensor's rows. Row blocks, and so scratch, are sized from the range's rows, not the whole height.
 *
 * Determinism: each output element is one FMA chain over the reduction index in a fixed order, started
 * from the bias; tiles, channel blocks and kernel shapes only decide where partial chains are stored
 * (exactly) between calls. Results are therefore identical for any thread count, any tiling and any
 * range of rows (a band-by-band run gives the whole-tensor call's bits). */
#include <string.h>

#include "transforms/cpu/xf_cpu.h"

#define XF_CW_STEP 48     /* column chunks are multiples of this, a multiple of every kernel's panel */
#define XF_CW_MAX 768     /* widest column chunk */
#define XF_R_MAX 8        /* most output rows per task */
#define XF_TARGET_PIX 768 /* pixels per task block, so C and strip stay in L2 */
#define XF_KC_TARGET 400  /* reduction steps per channel block, so a strip slice stays in L1 */
#define XF_TEMP_FLOATS (128 * 1024) /* accumulators of a transposed-conv task (512 KiB, L2) */

enum { MODE_CONV, MODE_TCONV, MODE_GDN };

/* Taps of one phase along one axis. */
typedef struct xf_axis {
    int n;
    int kidx[LIC_XF_K_MAX]; /* ky (or kx) into the weight */
    int d[LIC_XF_K_MAX];    /* input coordinate = m*sg + d */
} xf_axis;

typedef struct xf_geom {
    int mode;
    int cin, cout, k;
    int hin, win;       /* the whole input (zero padding outside) */
    int sg;             /* input step per grid step */
    int nph;            /* phases per axis */
    int mlo, mhi, wg;   /* grid rows computed, grid columns of one phase */
    xf_axis ay[LIC_XF_S_MAX], ax[LIC_XF_S_MAX];
    int dymin, dymax;   /* over all row taps */
    int amin, amax;     /* column taps: dx = a*sg + q with 0 <= q < sg */
    int maxtaps;
    int R, CW, cb;      /* rows and columns per task, channels per reduction block */
    int nrows, Lp;      /* strip: [cb][nrows][sg][Lp] */
    int nrb, ncc;       /* row blocks, column chunks */
    size_t strip_floats, temp_floats;
} xf_geom;

static int floor_div(int a, int b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static void set_axes(xf_geom *g, xf_axis *ax, int k, int s, int transposed)
{
    const int p = k / 2;
    for (int ph = 0; ph < g->nph; ph++) {
        xf_axis *a = &ax[ph];
        a->n = 0;
        for (int kk = 0; kk < k; kk++) {
            if (!transposed) {
                a->kidx[a->n] = kk;
                a->d[a->n++] = kk - p;
            } else if ((ph + p - kk) % s == 0) { /* exact multiple: C division is exact */
                a->kidx[a->n] = kk;
                a->d[a->n++] = (ph + p - kk) / s;
            }
        }
    }
}

/* Fills the geometry of a layer on an hin x win input, computing grid rows [mlo, mhi), for a pool of
 * n_threads. */
static void geom_init(xf_geom *g, int mode, int cin, int cout, int k, int s, int hin, int win, int mlo,
                      int mhi, int n_threads)
{
    memset(g, 0, sizeof(*g));
    g->mode = mode;
    g->cin = cin, g->cout = cout, g->k = k, g->hin = hin, g->win = win;
    const int tr = mode == MODE_TCONV;
    g->sg = tr ? 1 : s;
    g->nph = tr ? s : 1;
    g->mlo = mlo, g->mhi = mhi;
    g->wg = tr ? win : lic_conv_out_size(win, s);
    const int ng = mhi - mlo;
    set_axes(g, g->ay, k, s, tr);
    set_axes(g, g->ax, k, s, tr);
    g->dymin = g->amin = 1 << 20;
    g->dymax = g->amax = -(1 << 20);
    int maxny = 0, maxnx = 0;
    for (int ph = 0; ph < g->nph; ph++) {
        for (int i = 0; i < g->ay[ph].n; i++) {
            int d = g->ay[ph].d[i];
            g->dymin = d < g->dymin ? d : g->dymin;
            g->dymax = d > g->dymax ? d : g->dymax;
        }
        for (int i = 0; i < g->ax[ph].n; i++) {
            int a = floor_div(g->ax[ph].d[i], g->sg);
            g->amin = a < g->amin ? a : g->amin;
            g->amax = a > g->amax ? a : g->amax;
        }
        maxny = g->ay[ph].n > maxny ? g->ay[ph].n : maxny;
        maxnx = g->ax[ph].n > maxnx ? g->ax[ph].n : maxnx;
    }
    g->maxtaps = maxny * maxnx;

    if (g->wg <= XF_CW_MAX) {
        g->CW = g->wg;
    } else {
        int nch = (g->wg + XF_CW_MAX / 2 - 1) / (XF_CW_MAX / 2);
        g->CW = ((g->wg + nch - 1) / nch + XF_CW_STEP - 1) / XF_CW_STEP * XF_CW_STEP;
    }
    g->ncc = (g->wg + g->CW - 1) / g->CW;
    if (mode == MODE_GDN) {
        g->R = 1;
    } else {
        /* conv writes C straight to the output; transposed conv accumulates all phases of R grid rows
         * in the slot (s*s*cout*R*CW floats), so R is bounded by that buffer. */
        g->R = mode == MODE_CONV ? XF_TARGET_PIX / g->CW
                                 : (int)(XF_TEMP_FLOATS / ((size_t)g->nph * g->nph * cout * g->CW));
        g->R = g->R < 1 ? 1 : g->R > XF_R_MAX ? XF_R_MAX : g->R;
        /* Enough tasks to keep every thread busy; smaller blocks never need more scratch. */
        while (n_threads > 1 && g->R > 1 && (long)((ng + g->R - 1) / g->R) * g->ncc < 3L * n_threads)
            g->R = (g->R + 1) / 2;
    }
    if (g->R > ng)
        g->R = ng;
    g->nrb = (ng + g->R - 1) / g->R;
    g->cb = XF_KC_TARGET / g->maxtaps;
    g->cb = g->cb < 1 ? 1 : g->cb > cin ? cin : g->cb;
    g->nrows = (g->R - 1) * g->sg + g->dymax - g->dymin + 1;
    g->Lp = g->CW + g->amax - g->amin;
    g->strip_floats = ((size_t)g->cb * g->nrows * g->sg * g->Lp + 15) & ~(size_t)15;
    g->temp_floats = mode == MODE_CONV ? 0 : (size_t)g->nph * g->nph * cout * g->R * g->CW;
}

/* Shared scratch layout: packed A of every phase, then the offset tables, then a zero bias. */
static size_t packed_floats(const xf_geom *g)
{
    size_t taps = 0;
    for (int py = 0; py < g->nph; py++)
        for (int px = 0; px < g->nph; px++)
            taps += (size_t)g->ay[py].n * g->ax[px].n;
    return (size_t)g->cout * g->cin * taps;
}

static size_t boff_count(const xf_geom *g)
{
    size_t n = 0;
    for (int py = 0; py < g->nph; py++)
        for (int px = 0; px < g->nph; px++)
            n += (size_t)g->cb * g->ay[py].n * g->ax[px].n;
    return n;
}

static lic_xf_scratch_need geom_need(const xf_geom *g)
{
    lic_xf_scratch_need n;
    n.shared = (packed_floats(g) + boff_count(g) + (size_t)g->cout + 64) * sizeof(float);
    n.slot = (g->strip_floats + g->temp_floats + 16) * sizeof(float);
    return n;
}

/* The need of a whole in_h-row input. It bounds that of a band's call that reads n = in_h rows: grid
 * rows mlo .. mhi-1 read the distinct image rows m*s (conv; so n >= (mhi - mlo - 1)*s + 1) or m
 * (transposed; n >= mhi - mlo), so the call has no more grid rows than the whole n-row input, and its
 * row blocks are no taller; everything else depends on the width alone. */
lic_xf_scratch_need lic_xf_fast_conv2d_need(const lic_conv_layer *L, int in_h, int in_w)
{
    xf_geom g;
    const int hg = L->transposed ? in_h : lic_conv_out_size(in_h, L->stride);
    geom_init(&g, L->transposed ? MODE_TCONV : MODE_CONV, L->cin, L->cout, L->k, L->stride, in_h, in_w, 0, hg, 1);
    return geom_need(&g);
}

lic_xf_scratch_need lic_xf_fast_gdn_need(const lic_gdn_layer *L, int n)
{
    xf_geom g;
    geom_init(&g, MODE_GDN, L->c, L->c, 1, 1, 1, n, 0, 1, 1);
    return geom_need(&g);
}

typedef struct xf_job {
    lic_xf_ctx *ctx;
    const lic_xf_kernels *kt;
    const xf_geom *g;
    const float *w;      /* weights in PyTorch layout */
    int w_transposed;    /* 1: w[cin][cout][k][k] */
    const float *in;     /* band of cin planes of hin x win: row iy of channel c at
                          * in + c*in_plane + (iy - in_row0)*win */
    size_t in_plane;
    int in_row0;
    float *out;          /* band of cout planes, rows of wo floats, the same way (GDN: in == out) */
    size_t out_plane;
    int out_row0, wo;
    const float *bias;   /* [cout], never NULL */
    int square;          /* strip holds x^2 (GDN) */
    int inverse;         /* IGDN */
    int ngr, nblk;       /* output channel groups, mr-blocks */
    int nv;              /* vectors per micro-kernel panel */
    float *A;            /* packed weights, all phases */
    int32_t *boff;       /* offset tables, all phases */
    size_t a_at[LIC_XF_S_MAX * LIC_XF_S_MAX];
    size_t b_at[LIC_XF_S_MAX * LIC_XF_S_MAX];
} xf_job;

/* Packs the weights of one mr-block of output channels for every phase: [K][mrb], K = (c, ty, tx). */
static void pack_task(void *arg, int blk)
{
    const xf_job *J = arg;
    const xf_geom *g = J->g;
    const int mr = J->kt->mr, k = g->k;
    const int co0 = blk * mr, mrb = g->cout - co0 < mr ? g->cout - co0 : mr;
    for (int py = 0; py < g->nph; py++) {
        for (int px = 0; px < g->nph; px++) {
            const xf_axis *ay = &g->ay[py], *ax = &g->ax[px];
            const int ntaps = ay->n * ax->n;
            const size_t K = (size_t)g->cin * ntaps;
            float *a = J->A + J->a_at[py * g->nph + px] + (size_t)co0 * K;
            for (int c = 0; c < g->cin; c++)
                for (int ty = 0; ty < ay->n; ty++)
                    for (int tx = 0; tx < ax->n; tx++) {
                        const size_t kk = (size_t)c * ntaps + (size_t)ty * ax->n + tx;
                        const int ky = ay->kidx[ty], kx = ax->kidx[tx];
                        for (int r = 0; r < mrb; r++) {
                            const int co = co0 + r;
                            size_t wi = J->w_transposed ? ((size_t)c * g->cout + co) : ((size_t)co * g->cin + c);
                            a[kk * mrb + r] = J->w[(wi * k + ky) * k + kx];
                        }
                    }
        }
    }
}

/* Copies input rows iy0 .. iy0+nr-1 of channels c0 .. c0+cbn-1 into the strip: row r of channel c,
 * column phase q, position j holds in[c][iy0 + r][(u0 + j)*sg + q], zero outside the image (rows
 * outside [0, hin) are never read from the band). */
static void fill_strip(const xf_job *J, float *strip, int c0, int cbn, int iy0, int nr, int u0, int lt)
{
    const xf_geom *g = J->g;
    const int sg = g->sg, hin = g->hin, win = g->win, Lp = g->Lp;
    const size_t plane = J->in_plane;
    for (int c = 0; c < cbn; c++) {
        for (int r = 0; r < nr; r++) {
            const int iy = iy0 + r;
            float *d0 = strip + (((size_t)c * g->nrows + r) * sg) * Lp;
            if (iy < 0 || iy >= hin) {
                for (int q = 0; q < sg; q++)
                    memset(d0 + (size_t)q * Lp, 0, sizeof(float) * lt);
                continue;
            }
            const float *src = J->in + (size_t)(c0 + c) * plane + (size_t)(iy - J->in_row0) * win;
            for (int q = 0; q < sg; q++) {
                float *d = d0 + (size_t)q * Lp;
                int jlo = u0 < 0 ? -u0 : 0;
                int jhi = (win - q + sg - 1) / sg - u0; /* first j with (u0 + j)*sg + q >= win */
                jlo = jlo > lt ? lt : jlo;
                jhi = jhi < jlo ? jlo : jhi > lt ? lt : jhi;
                memset(d, 0, sizeof(float) * jlo);
                const float *s = src + (size_t)(u0 + jlo) * sg + q;
                float *dd = d + jlo;
                const int cnt = jhi - jlo;
                if (J->square) { /* GDN: always a 1x1, stride-1 layer */
                    for (int j = 0; j < cnt; j++)
                        dd[j] = s[j] * s[j];
                } else if (sg == 1) {
                    memcpy(dd, s, sizeof(float) * cnt);
                } else if (sg == 2) {
                    for (int j = 0; j < cnt; j++)
                        dd[j] = s[2 * j];
                } else {
                    for (int j = 0; j < cnt; j++)
                        dd[j] = s[(size_t)j * sg];
                }
                memset(d + jhi, 0, sizeof(float) * (lt - jhi));
            }
        }
    }
}

static void conv_task(void *arg, int task)
{
    const xf_job *J = arg;
    const xf_geom *g = J->g;
    const lic_xf_kernels *kt = J->kt;
    const int gi = task % J->ngr, rest = task / J->ngr;
    const int cc = rest % g->ncc, rb = rest / g->ncc;
    const int m0 = g->mlo + rb * g->R, m1 = m0 + g->R < g->mhi ? m0 + g->R : g->mhi;
    const int n0 = cc * g->CW, n1 = n0 + g->CW < g->wg ? n0 + g->CW : g->wg;
    const int b0 = (int)((long)gi * J->nblk / J->ngr), b1 = (int)((long)(gi + 1) * J->nblk / J->ngr);
    const int mr = kt->mr, nr = kt->vec * J->nv, sg = g->sg, nph = g->nph;
    const int co_lo = b0 * mr, co_hi = b1 * mr < g->cout ? b1 * mr : g->cout;
    const size_t oplane = J->out_plane;
    const int r0 = J->out_row0;
    const int direct = g->mode == MODE_CONV;
    const ptrdiff_t tld = (ptrdiff_t)g->R * g->CW;

    lic_xf_slot *slot = lic_xf_slot_get(J->ctx);
    float *strip = slot->buf, *temp = strip + g->strip_floats;

    /* phases no tap reaches (k < s) hold the bias */
    for (int py = 0; py < nph; py++)
        for (int px = 0; px < nph; px++)
            if (g->ay[py].n * g->ax[px].n == 0)
                for (int co = co_lo; co < co_hi; co++)
                    for (int m = m0; m < m1; m++)
                        for (int n = n0; n < n1; n++)
                            J->out[co * oplane + (size_t)(m * nph + py - r0) * J->wo + (size_t)n * nph + px] =
                                J->bias[co];

    /* The strip of a channel block serves every phase, so it is filled once per block. */
    for (int c0 = 0; c0 < g->cin; c0 += g->cb) {
        const int cbn = g->cin - c0 < g->cb ? g->cin - c0 : g->cb;
        fill_strip(J, strip, c0, cbn, m0 * sg + g->dymin, (m1 - m0 - 1) * sg + g->dymax - g->dymin + 1,
                   n0 + g->amin, n1 - n0 + g->amax - g->amin);
        for (int ph = 0; ph < nph * nph; ph++) {
            const int ntaps = g->ay[ph / nph].n * g->ax[ph % nph].n;
            if (ntaps == 0)
                continue;
            const size_t K = (size_t)g->cin * ntaps;
            const float *A = J->A + J->a_at[ph];
            const int32_t *bo = J->boff + J->b_at[ph];
            float *tph = temp + (size_t)ph * (co_hi - co_lo) * tld;
            const int kc = cbn * ntaps;
            for (int m = m0; m < m1; m++) {
                const float *brow = strip + (size_t)(m - m0) * sg * sg * g->Lp;
                for (int n = n0; n < n1; n += nr) {
                    const int nn = n1 - n < nr ? n1 - n : nr;
                    const int nv = (nn + kt->vec - 1) / kt->vec;
                    for (int b = b0; b < b1; b++) {
                        const int co = b * mr, mrb = g->cout - co < mr ? g->cout - co : mr;
                        const float *a = A + (size_t)co * K + (size_t)c0 * ntaps * mrb;
                        float *c;
                        ptrdiff_t ldc;
                        if (direct) {
                            c = J->out + co * oplane + (size_t)(m - r0) * J->wo + n;
                            ldc = (ptrdiff_t)oplane;
                        } else {
                            c = tph + (size_t)(co - co_lo) * tld + (size_t)(m - m0) * g->CW + (n - n0);
                            ldc = tld;
                        }
                        kt->gemm[mrb - 1][nv - 1](kc, a, brow + (n - n0), bo, c, ldc,
                                                  c0 == 0 ? J->bias + co : NULL, nn);
                    }
                }
            }
        }
    }

    if (g->mode == MODE_TCONV) { /* interleave the phases into the output rows */
        for (int co = co_lo; co < co_hi; co++)
            for (int m = m0; m < m1; m++)
                for (int py = 0; py < nph; py++) {
                    float *o = J->out + co * oplane + (size_t)(m * nph + py - r0) * J->wo;
                    for (int px = 0; px < nph; px++) {
                        const int ph = py * nph + px;
                        if (g->ay[py].n * g->ax[px].n == 0)
                            continue;
                        const float *t = temp + ((size_t)ph * (co_hi - co_lo) + (co - co_lo)) * tld +
                                         (size_t)(m - m0) * g->CW;
                        for (int n = n0; n < n1; n++)
                            o[(size_t)n * nph + px] = t[n - n0];
                    }
                }
    } else if (g->mode == MODE_GDN) { /* out = x / sqrt(norm) or x * sqrt(norm), in place (one row) */
        for (int co = co_lo; co < co_hi; co++)
            kt->gdn_finish(J->out + co * oplane + n0, temp + (size_t)(co - co_lo) * tld, n1 - n0, J->inverse);
    }
    lic_xf_slot_put(slot);
}

/* Offset of tap (c, ty, tx) of a phase in the strip, relative to the strip row of the grid row and to
 * the strip column of the grid column. */
static void make_offsets(const xf_geom *g, int py, int px, int32_t *bo)
{
    const xf_axis *ay = &g->ay[py], *ax = &g->ax[px];
    int k = 0;
    for (int c = 0; c < g->cb; c++)
        for (int ty = 0; ty < ay->n; ty++)
            for (int tx = 0; tx < ax->n; tx++) {
                const int dx = ax->d[tx];
                const int a = floor_div(dx, g->sg), q = dx - a * g->sg;
                bo[k++] = (int32_t)((((c * g->nrows) + ay->d[ty] - g->dymin) * g->sg + q) * g->Lp + a - g->amin);
            }
}

static int run(lic_xf_ctx *ctx, xf_job *J, xf_geom *g)
{
    const lic_xf_kernels *kt = &ctx->kern;
    lic_xf_scratch_need need = geom_need(g);
    /* Kept packed weights live outside the shared block, which then holds only the offset tables. */
    const size_t own_a = ctx->keep_packed ? 0 : packed_floats(g);
    int ret = lic_xf_reserve(ctx, need.shared - (packed_floats(g) - own_a) * sizeof(float), need.slot);
    if (ret < 0)
        return ret;
    J->ctx = ctx;
    J->kt = kt;
    J->g = g;
    J->A = ctx->shared;
    J->boff = (int32_t *)(ctx->shared + own_a);
    size_t a = 0, b = 0;
    for (int py = 0; py < g->nph; py++)
        for (int px = 0; px < g->nph; px++) {
            const int ph = py * g->nph + px, ntaps = g->ay[py].n * g->ax[px].n;
            J->a_at[ph] = a;
            J->b_at[ph] = b;
            make_offsets(g, py, px, J->boff + b);
            a += (size_t)g->cout * g->cin * ntaps;
            b += (size_t)g->cb * ntaps;
        }
    if (!J->bias) {
        float *z = (float *)(J->boff + b);
        memset(z, 0, sizeof(float) * g->cout);
        J->bias = z;
    }
    J->nblk = (g->cout + kt->mr - 1) / kt->mr;
    J->nv = g->cout <= kt->mr_narrow ? kt->nv_narrow : kt->nv;
    int fresh = 1;
    if (ctx->keep_packed) {
        const int key[6] = {g->mode, g->cin, g->cout, g->k, g->mode == MODE_TCONV ? g->nph : g->sg, J->w_transposed};
        if (!(J->A = lic_xf_packed_get(ctx, J->w, key, packed_floats(g), &fresh)))
            return LIC_ENOMEM;
    }
    if (fresh)
        lic_threadpool_run(ctx->pool, J->nblk, pack_task, J);

    /* Split output channels too when there are fewer pixel blocks than threads. GDN never does: its
     * tasks read every channel of their pixels and write them back in place. */
    J->ngr = 1;
    const long pix_tasks = (long)g->nrb * g->ncc;
    if (g->mode != MODE_GDN && ctx->n_threads > 1 && pix_tasks < 2L * ctx->n_threads) {
        long want = (2L * ctx->n_threads + pix_tasks - 1) / pix_tasks;
        J->ngr = (int)(want < J->nblk ? want : J->nblk);
    }
    lic_threadpool_run(ctx->pool, (int)(pix_tasks * J->ngr), conv_task, J);
    return LIC_OK;
}

int lic_xf_fast_conv2d(lic_xf_ctx *ctx, const lic_conv_layer *L, const lic_band *in, lic_band *out, int lo, int hi)
{
    /* grid rows: conv, the output rows; transposed, the input rows m whose phases give output rows
     * m*s + py, py = 0..s-1 (lo and hi are multiples of s: layers.c checks lo, and out->h = in->h * s) */
    const int s = L->transposed ? L->stride : 1;
    xf_geom g;
    geom_init(&g, L->transposed ? MODE_TCONV : MODE_CONV, L->cin, L->cout, L->k, L->stride, in->h, in->w,
              lo / s, hi / s, ctx->n_threads);
    xf_job J;
    memset(&J, 0, sizeof(J));
    J.w = L->weight;
    J.w_transposed = L->transposed;
    J.in = in->data;
    J.in_plane = in->plane;
    J.in_row0 = in->row0;
    J.out = out->data;
    J.out_plane = out->plane;
    J.out_row0 = out->row0;
    J.wo = out->w;
    J.bias = L->bias;
    return run(ctx, &J, &g);
}

/* Rows [lo, hi) of each channel are (hi - lo) * w contiguous floats, one grid row; channels are the
 * band's plane apart. */
int lic_xf_fast_gdn(lic_xf_ctx *ctx, const lic_gdn_layer *L, lic_band *t, int lo, int hi)
{
    const size_t n = (size_t)(hi - lo) * t->w;
    if (n > (size_t)1 << 30)
        return LIC_EINVAL;
    xf_geom g;
    geom_init(&g, MODE_GDN, L->c, L->c, 1, 1, 1, (int)n, 0, 1, ctx->n_threads);
    xf_job J;
    memset(&J, 0, sizeof(J));
    J.w = L->gamma;
    float *x = t->data + (size_t)(lo - t->row0) * t->w;
    J.in = x;
    J.in_plane = t->plane;
    J.out = x;
    J.out_plane = t->plane;
    J.wo = (int)n;
    J.bias = L->beta;
    J.square = 1;
    J.inverse = L->inverse;
    return run(ctx, &J, &g);
}
