/* lic transforms: C reference kernels (the ground truth of the fast path).
 *
 * Every output element is bias + the sum of its products in a fixed order (input channel, then ky,
 * then kx), accumulated with separate multiply and add (the build uses -ffp-contract=off). Loops are
 * arranged plane-wise so that the compiler can vectorize them, which changes no element's order.
 * Work is split by output channel (conv) or by row (GDN), so results do not depend on the pool.
 * A call computes output rows [lo, hi) from bands (xf_cpu.h); each element's order is the same whatever
 * the range, so a band-by-band run gives the whole-tensor call's bits. */
#include <math.h>
#include <string.h>

#include "transforms/cpu/xf_cpu.h"

typedef struct conv_job {
    const lic_conv_layer *L;
    const lic_band *in;
    lic_band *out;
    int lo, hi; /* output rows */
} conv_job;

/* First and one-past-last output index o in [0, n_out) with 0 <= o*s + d < n_in. */
static void valid_range(int n_out, int n_in, int s, int d, int *lo, int *hi)
{
    int a = 0, b = n_out;
    if (d < 0)
        a = (-d + s - 1) / s;
    /* o*s + d <= n_in - 1  <=>  o <= (n_in - 1 - d) / s */
    if (n_in - 1 - d < 0)
        b = 0;
    else if ((n_in - 1 - d) / s + 1 < b)
        b = (n_in - 1 - d) / s + 1;
    *lo = a;
    *hi = b > a ? b : a;
}

static void conv_plane(void *arg, int co)
{
    const conv_job *J = arg;
    const lic_conv_layer *L = J->L;
    const int k = L->k, s = L->stride, p = k / 2;
    const int hi_ = J->in->h, wi = J->in->w, ho = J->out->h, wo = J->out->w, lo = J->lo, hi = J->hi;
    const int r0i = J->in->row0, r0o = J->out->row0; /* row y of a plane: (y - row0) rows into the band */
    float *o = J->out->data + (size_t)co * J->out->plane;
    const float b = L->bias ? L->bias[co] : 0.0f;
    for (size_t i = (size_t)(lo - r0o) * wo; i < (size_t)(hi - r0o) * wo; i++)
        o[i] = b;
    for (int ci = 0; ci < L->cin; ci++) {
        const float *ip = J->in->data + (size_t)ci * J->in->plane;
        for (int ky = 0; ky < k; ky++) {
            int y0, y1;
            valid_range(ho, hi_, s, ky - p, &y0, &y1);
            y0 = y0 < lo ? lo : y0;
            y1 = y1 > hi ? hi : y1;
            for (int kx = 0; kx < k; kx++) {
                const float w = L->weight[(((size_t)co * L->cin + ci) * k + ky) * k + kx];
                int x0, x1;
                valid_range(wo, wi, s, kx - p, &x0, &x1);
                for (int oy = y0; oy < y1; oy++) {
                    const float *irow = ip + (size_t)(oy * s + ky - p - r0i) * wi;
                    float *orow = o + (size_t)(oy - r0o) * wo;
                    for (int ox = x0; ox < x1; ox++)
                        orow[ox] = orow[ox] + w * irow[ox * s + kx - p];
                }
            }
        }
    }
}

/* Transposed conv as a scatter: in[ci][iy][ix] * w[ci][co][ky][kx] lands on
 * out[co][iy*s + ky - p][ix*s + kx - p]; only the products landing in rows [lo, hi) are computed.
 * Per output element the order is (ci, ky, kx). */
static void tconv_plane(void *arg, int co)
{
    const conv_job *J = arg;
    const lic_conv_layer *L = J->L;
    const int k = L->k, s = L->stride, p = k / 2;
    const int hi_ = J->in->h, wi = J->in->w, wo = J->out->w, lo = J->lo, hi = J->hi;
    const int r0i = J->in->row0, r0o = J->out->row0; /* row y of a plane: (y - row0) rows into the band */
    float *o = J->out->data + (size_t)co * J->out->plane;
    const float b = L->bias ? L->bias[co] : 0.0f;
    for (size_t i = (size_t)(lo - r0o) * wo; i < (size_t)(hi - r0o) * wo; i++)
        o[i] = b;
    for (int ci = 0; ci < L->cin; ci++) {
        const float *ip = J->in->data + (size_t)ci * J->in->plane;
        for (int ky = 0; ky < k; ky++) {
            /* input rows iy with lo <= iy*s + ky - p < hi (hi <= out->h) */
            int y0, y1;
            valid_range(hi_, hi - lo, s, ky - p - lo, &y0, &y1);
            for (int kx = 0; kx < k; kx++) {
                const float w = L->weight[(((size_t)ci * L->cout + co) * k + ky) * k + kx];
                int x0, x1;
                valid_range(wi, wo, s, kx - p, &x0, &x1);
                for (int iy = y0; iy < y1; iy++) {
                    const float *irow = ip + (size_t)(iy - r0i) * wi;
                    float *orow = o + (size_t)(iy * s + ky - p - r0o) * wo;
                    for (int ix = x0; ix < x1; ix++)
                        orow[ix * s + kx - p] = orow[ix * s + kx - p] + w * irow[ix];
                }
            }
        }
    }
}

int lic_xf_ref_conv2d(lic_xf_ctx *ctx, const lic_conv_layer *L, const lic_band *in, lic_band *out, int lo, int hi)
{
    conv_job J = {L, in, out, lo, hi};
    lic_threadpool_run(ctx->pool, L->cout, L->transposed ? tconv_plane : conv_plane, &J);
    return LIC_OK;
}

lic_xf_scratch_need lic_xf_ref_conv2d_need(const lic_conv_layer *L, int in_h, int in_w)
{
    (void)L, (void)in_h, (void)in_w;
    return (lic_xf_scratch_need){0, 0};
}

typedef struct gdn_job {
    lic_xf_ctx *ctx;
    const lic_gdn_layer *L;
    lic_band *t;
    int lo; /* first row; task y is row lo + y */
} gdn_job;

/* One row of GDN: the row's squares of every channel go to the slot first, so the row can be
 * overwritten in place. norm_i = beta_i + sum_j gamma[i][j] * x_j^2 in j order. */
static void gdn_row(void *arg, int task)
{
    const gdn_job *J = arg;
    const lic_gdn_layer *L = J->L;
    const int c = L->c, w = J->t->w;
    const size_t plane = J->t->plane;
    float *row = J->t->data + (size_t)(J->lo + task - J->t->row0) * w; /* the row in channel 0 */
    lic_xf_slot *slot = lic_xf_slot_get(J->ctx);
    float *sq = slot->buf, *acc = sq + (size_t)c * w;
    for (int j = 0; j < c; j++) {
        const float *x = row + j * plane;
        for (int i = 0; i < w; i++)
            sq[(size_t)j * w + i] = x[i] * x[i];
    }
    for (int i = 0; i < c; i++) {
        for (int x = 0; x < w; x++)
            acc[x] = L->beta[i];
        for (int j = 0; j < c; j++) {
            const float g = L->gamma[(size_t)i * c + j];
            const float *s = sq + (size_t)j * w;
            for (int x = 0; x < w; x++)
                acc[x] = acc[x] + g * s[x];
        }
        float *xo = row + i * plane;
        if (L->inverse)
            for (int x = 0; x < w; x++)
                xo[x] = xo[x] * sqrtf(acc[x]);
        else
            for (int x = 0; x < w; x++)
                xo[x] = xo[x] / sqrtf(acc[x]);
    }
    lic_xf_slot_put(slot);
}

int lic_xf_ref_gdn(lic_xf_ctx *ctx, const lic_gdn_layer *L, lic_band *t, int lo, int hi)
{
    size_t need = ((size_t)L->c + 1) * (size_t)t->w * sizeof(float);
    int ret = lic_xf_reserve(ctx, 0, need);
    if (ret < 0)
        return ret;
    gdn_job J = {ctx, L, t, lo};
    lic_threadpool_run(ctx->pool, hi - lo, gdn_row, &J);
    return LIC_OK;
}

void lic_xf_kernels_init_ref(lic_xf_kernels *k)
{
    memset(k, 0, sizeof(*k));
    k->name = "c";
    k->path = LIC_KERNELS_REFERENCE;
}
