/* lic transforms: float layers (see layers.h). This file validates shapes, owns the context and its
 * scratch, and dispatches to the kernels of the context's table: the C reference (transforms/cpu/xf_ref.c)
 * or the fast path (transforms/cpu/xf_fast.c with the SIMD micro-kernels). Both take bands and a range
 * of output rows; lic_conv2d and lic_gdn are those calls on whole tensors. */
#include "transforms/layers.h"

#include <string.h>

#include "transforms/cpu/xf_cpu.h"
#include "util/mem.h"

#define XF_CH_MAX 65536     /* channel limit, keeps every index product far inside size_t */
#define XF_SIDE_MAX (1 << 20)

int lic_xf_ctx_create(lic_xf_ctx **out, enum lic_kernel_path path, lic_threadpool *pool,
                      const lic_allocator *alloc)
{
    return lic_xf_ctx_create_masked(out, path, LIC_XF_FEAT_ALL, pool, alloc);
}

int lic_xf_ctx_create_masked(lic_xf_ctx **out, enum lic_kernel_path path, unsigned features,
                             lic_threadpool *pool, const lic_allocator *alloc)
{
    if (!out)
        return LIC_EINVAL;
    *out = NULL;
    if (!alloc || !alloc->alloc || !alloc->free ||
        (path != LIC_KERNELS_REFERENCE && path != LIC_KERNELS_FAST))
        return LIC_EINVAL;
    lic_xf_ctx *ctx = lic_mem_zalloc(alloc, sizeof(*ctx));
    if (!ctx)
        return LIC_ENOMEM;
    ctx->alloc = alloc;
    ctx->pool = pool;
    ctx->n_threads = lic_threadpool_size(pool);
    lic_xf_kernels_select(&ctx->kern, path, features);
    ctx->slots = lic_mem_alloc_array(alloc, (size_t)ctx->n_threads, sizeof(lic_xf_slot));
    if (!ctx->slots) {
        lic_mem_free(alloc, ctx);
        return LIC_ENOMEM;
    }
    for (int i = 0; i < ctx->n_threads; i++) {
        atomic_init(&ctx->slots[i].busy, 0);
        ctx->slots[i].buf = NULL;
        ctx->slots[i].size = 0;
    }
    *out = ctx;
    return LIC_OK;
}

void lic_xf_ctx_free(lic_xf_ctx **pctx)
{
    if (!pctx || !*pctx)
        return;
    lic_xf_ctx *ctx = *pctx;
    const lic_allocator *a = ctx->alloc;
    for (int i = 0; i < ctx->n_threads; i++)
        lic_mem_free(a, ctx->slots[i].buf);
    lic_mem_free(a, ctx->slots);
    lic_mem_free(a, ctx->shared);
    for (int i = 0; i < ctx->n_packed; i++)
        lic_mem_free(a, ctx->packed[i].a);
    lic_mem_free(a, ctx->packed);
    lic_mem_free(a, ctx);
    *pctx = NULL;
}

void lic_xf_ctx_keep_packed(lic_xf_ctx *ctx)
{
    if (ctx)
        ctx->keep_packed = 1;
}

float *lic_xf_packed_get(lic_xf_ctx *ctx, const float *w, const int key[6], size_t floats, int *fresh)
{
    for (int i = 0; i < ctx->n_packed; i++)
        if (ctx->packed[i].w == w && memcmp(ctx->packed[i].key, key, sizeof(ctx->packed[i].key)) == 0) {
            *fresh = 0;
            return ctx->packed[i].a;
        }
    if (ctx->n_packed == ctx->cap_packed) {
        const int cap = ctx->cap_packed ? 2 * ctx->cap_packed : 16;
        lic_xf_packed *p = lic_mem_alloc_array(ctx->alloc, (size_t)cap, sizeof(*p));
        if (!p)
            return NULL;
        if (ctx->n_packed)
            memcpy(p, ctx->packed, sizeof(*p) * (size_t)ctx->n_packed);
        lic_mem_free(ctx->alloc, ctx->packed);
        ctx->packed = p;
        ctx->cap_packed = cap;
    }
    float *a = floats <= SIZE_MAX / sizeof(float) ? lic_mem_alloc(ctx->alloc, floats * sizeof(float)) : NULL;
    if (!a)
        return NULL;
    lic_xf_packed *e = &ctx->packed[ctx->n_packed++];
    e->w = w;
    memcpy(e->key, key, sizeof(e->key));
    e->a = a;
    *fresh = 1;
    return a;
}

enum lic_kernel_path lic_xf_ctx_path(const lic_xf_ctx *ctx)
{
    return ctx->kern.path;
}

const char *lic_xf_ctx_kernel_name(const lic_xf_ctx *ctx)
{
    return ctx->kern.name;
}

/* Grows a buffer to at least `need` bytes (never shrinks). New sizes are rounded up to 64 KiB so that a
 * sequence of slightly growing layers does not reallocate each time. */
static int grow(const lic_allocator *a, float **buf, size_t *size, size_t need)
{
    if (need <= *size)
        return LIC_OK;
    if (need > SIZE_MAX - 65536)
        return LIC_ENOMEM;
    need = (need + 65535) & ~(size_t)65535;
    lic_mem_free(a, *buf);
    *size = 0;
    *buf = lic_mem_alloc(a, need);
    if (!*buf)
        return LIC_ENOMEM;
    *size = need;
    return LIC_OK;
}

int lic_xf_reserve(lic_xf_ctx *ctx, size_t shared_bytes, size_t slot_bytes)
{
    int ret = grow(ctx->alloc, &ctx->shared, &ctx->shared_size, shared_bytes);
    for (int i = 0; ret == LIC_OK && i < ctx->n_threads; i++)
        ret = grow(ctx->alloc, &ctx->slots[i].buf, &ctx->slots[i].size, slot_bytes);
    return ret;
}

lic_xf_slot *lic_xf_slot_get(lic_xf_ctx *ctx)
{
    /* At most n_threads tasks run at once, so the scan always finds a free slot. */
    for (;;) {
        for (int i = 0; i < ctx->n_threads; i++) {
            int expect = 0;
            if (atomic_compare_exchange_strong(&ctx->slots[i].busy, &expect, 1))
                return &ctx->slots[i];
        }
    }
}

void lic_xf_slot_put(lic_xf_slot *s)
{
    atomic_store(&s->busy, 0);
}

static int layer_ok(const lic_conv_layer *L)
{
    return L && L->weight && L->cin >= 1 && L->cin <= XF_CH_MAX && L->cout >= 1 && L->cout <= XF_CH_MAX &&
           L->k >= 1 && L->k <= LIC_XF_K_MAX && L->stride >= 1 && L->stride <= LIC_XF_S_MAX;
}

static int tensor_ok(const lic_tensor *t)
{
    return t && t->data && t->c >= 1 && t->h >= 1 && t->w >= 1 && t->h <= XF_SIDE_MAX && t->w <= XF_SIDE_MAX;
}

/* Output side of the layer for an input side, 0 if it would not fit an int. */
static int out_side(const lic_conv_layer *L, int in)
{
    if (!L->transposed)
        return lic_conv_out_size(in, L->stride);
    return in <= XF_SIDE_MAX / L->stride ? in * L->stride : 0;
}

size_t lic_conv2d_scratch_size(const lic_conv_layer *L, int in_h, int in_w)
{
    /* The fast path's need for one thread: packed weights and offset tables (shared) plus one task's
     * strip and accumulators (per thread). A context with n threads needs at most n times this; the
     * reference path needs less. */
    if (!layer_ok(L) || in_h < 1 || in_w < 1 || in_h > XF_SIDE_MAX || in_w > XF_SIDE_MAX)
        return 0;
    lic_xf_scratch_need n = lic_xf_fast_conv2d_need(L, in_h, in_w);
    return n.shared + n.slot;
}

static int floor_div(int a, int b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

void lic_conv2d_rows_needed(const lic_conv_layer *L, int in_h, int lo, int hi, int *in_lo, int *in_hi)
{
    long a = 0, b = 0;
    /* only the geometry of L is needed */
    if (L && L->k >= 1 && L->k <= LIC_XF_K_MAX && L->stride >= 1 && L->stride <= LIC_XF_S_MAX && in_h >= 1 &&
        lo < hi && lo > -2 * XF_SIDE_MAX && hi < 2 * XF_SIDE_MAX) {
        const int k = L->k, s = L->stride, p = k / 2;
        if (!L->transposed) { /* output row y reads y*s + ky - p, ky = 0..k-1 */
            a = (long)lo * s - p;
            b = (long)(hi - 1) * s - p + k;
        } else { /* output row y reads (y + p - ky) / s for the ky that make it exact */
            a = -floor_div(-(lo + p - k + 1), s);
            b = floor_div(hi - 1 + p, s) + 1;
        }
        a = a < 0 ? 0 : a > in_h ? in_h : a;
        b = b < a ? a : b > in_h ? in_h : b;
    }
    if (in_lo)
        *in_lo = (int)a;
    if (in_hi)
        *in_hi = (int)b;
}

/* Shape of a band, its fields, and that its c planes of held rows fit a size_t; the library never
 * trusts them. Row numbers stay far inside an int. */
static int band_ok(const lic_band *b)
{
    if (!b || !b->data || b->c < 1 || b->c > XF_CH_MAX || b->h < 1 || b->w < 1 || b->h > XF_SIDE_MAX ||
        b->w > XF_SIDE_MAX || b->rows < 0 || b->rows > 2 * XF_SIDE_MAX || b->row0 < -2 * XF_SIDE_MAX ||
        b->row0 > 2 * XF_SIDE_MAX)
        return 0;
    const size_t max_floats = SIZE_MAX / sizeof(float);
    const size_t row_floats = (size_t)b->rows * (size_t)b->w; /* < 2^42 */
    if ((size_t)b->rows > max_floats / (size_t)b->w || b->plane < row_floats)
        return 0;
    /* (c - 1) * plane + rows * w floats, addressable */
    return b->plane <= (max_floats - row_floats) / (size_t)b->c;
}

/* Rows [lo, hi) held by b (lo < hi). */
static int band_holds(const lic_band *b, int lo, int hi)
{
    return lo >= b->row0 && hi <= b->row0 + b->rows;
}

int lic_conv2d_rows(lic_xf_ctx *ctx, const lic_conv_layer *L, const lic_band *in, lic_band *out, int lo, int hi)
{
    if (!ctx || !layer_ok(L) || !band_ok(in) || !band_ok(out))
        return LIC_EINVAL;
    if (in->c != L->cin || out->c != L->cout || out->h != out_side(L, in->h) || out->w != out_side(L, in->w))
        return LIC_EINVAL;
    if (lo < 0 || lo >= hi || hi > out->h || !band_holds(out, lo, hi))
        return LIC_EINVAL;
    if (L->transposed && (lo % L->stride != 0 || (hi % L->stride != 0 && hi != out->h)))
        return LIC_EINVAL;
    int in_lo, in_hi;
    lic_conv2d_rows_needed(L, in->h, lo, hi, &in_lo, &in_hi);
    if (in_lo < in_hi && !band_holds(in, in_lo, in_hi))
        return LIC_EINVAL;
    if (ctx->kern.path == LIC_KERNELS_FAST)
        return lic_xf_fast_conv2d(ctx, L, in, out, lo, hi);
    return lic_xf_ref_conv2d(ctx, L, in, out, lo, hi);
}

int lic_gdn_rows(lic_xf_ctx *ctx, const lic_gdn_layer *L, lic_band *t, int lo, int hi)
{
    if (!ctx || !L || !L->beta || !L->gamma || L->c < 1 || L->c > XF_CH_MAX || !band_ok(t) || t->c != L->c)
        return LIC_EINVAL;
    if (lo < 0 || lo >= hi || hi > t->h || !band_holds(t, lo, hi))
        return LIC_EINVAL;
    if (ctx->kern.path == LIC_KERNELS_FAST)
        return lic_xf_fast_gdn(ctx, L, t, lo, hi);
    return lic_xf_ref_gdn(ctx, L, t, lo, hi);
}

/* A whole tensor as a band: every row held, planes h * w apart. */
static lic_band whole_band(const lic_tensor *t)
{
    lic_band b = {t->c, t->h, t->w, 0, t->h, (size_t)t->h * (size_t)t->w, t->data};
    return b;
}

lic_scratch_parts lic_conv2d_scratch_parts(const lic_conv_layer *L, int in_h, int in_w)
{
    lic_scratch_parts p = {0, 0, 0};
    if (!layer_ok(L))
        return p;
    /* every tap of a transposed conv belongs to one phase: k*k taps in all, as a conv */
    p.packed = (size_t)L->cout * (size_t)L->cin * (size_t)L->k * (size_t)L->k * sizeof(float);
    if (in_h >= 1 && in_w >= 1 && in_h <= XF_SIDE_MAX && in_w <= XF_SIDE_MAX) {
        lic_xf_scratch_need n = lic_xf_fast_conv2d_need(L, in_h, in_w); /* the reference needs none */
        p.shared = n.shared - p.packed;
        p.slot = n.slot;
    }
    return p;
}

lic_scratch_parts lic_gdn_scratch_parts(const lic_gdn_layer *L, int rows, int w)
{
    lic_scratch_parts p = {0, 0, 0};
    if (!L || L->c < 1 || L->c > XF_CH_MAX)
        return p;
    p.packed = (size_t)L->c * (size_t)L->c * sizeof(float);
    if (rows < 1 || w < 1 || w > XF_SIDE_MAX || (size_t)rows * (size_t)w > (size_t)1 << 30)
        return p;
    lic_xf_scratch_need n = lic_xf_fast_gdn_need(L, (int)((size_t)rows * (size_t)w));
    const size_t ref = ((size_t)L->c + 1) * (size_t)w * sizeof(float); /* one row's squares and sums */
    p.shared = n.shared - p.packed;
    p.slot = n.slot > ref ? n.slot : ref;
    return p;
}

int lic_conv2d(lic_xf_ctx *ctx, const lic_conv_layer *L, const lic_tensor *in, lic_tensor *out)
{
    if (!ctx || !layer_ok(L) || !tensor_ok(in) || !tensor_ok(out))
        return LIC_EINVAL;
    lic_band bi = whole_band(in), bo = whole_band(out);
    return lic_conv2d_rows(ctx, L, &bi, &bo, 0, out->h);
}

int lic_gdn(lic_xf_ctx *ctx, const lic_gdn_layer *L, lic_tensor *t)
{
    if (!tensor_ok(t))
        return LIC_EINVAL;
    lic_band b = whole_band(t);
    return lic_gdn_rows(ctx, L, &b, 0, t->h);
}

void lic_channel_gain(float *data, int c, size_t plane, size_t n, const float *gain)
{
    for (int ch = 0; ch < c; ch++)
        for (size_t i = 0; i < n; i++)
            data[(size_t)ch * plane + i] *= gain[ch];
}

void lic_leaky_relu(lic_xf_ctx *ctx, lic_tensor *t, float slope)
{
    (void)ctx; /* memory-bound: one plain loop serves both paths (the compiler vectorizes it) */
    if (!t || !t->data)
        return;
    const size_t n = lic_tensor_count(t->c, t->h, t->w);
    float *x = t->data;
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] < 0.0f ? x[i] * slope : x[i];
}

typedef struct shuffle_job {
    const lic_band *in;
    lic_band *out;
    int r, lo, hi; /* output rows [lo, hi), multiples of r */
} shuffle_job;

/* One output plane of the pixel shuffle over rows [lo, hi): row y*r + i interleaves the rows y of the
 * r input planes c*r*r + i*r + j, j = 0..r-1. Memory-bound; tasks are output planes, so any split
 * gives the same bytes. */
static void shuffle_plane(void *arg, int c)
{
    const shuffle_job *J = arg;
    const lic_band *in = J->in, *out = J->out;
    const int r = J->r, w = in->w, wo = out->w;
    for (int y = J->lo / r; y < J->hi / r; y++)
        for (int i = 0; i < r; i++) {
            const float *src =
                in->data + ((size_t)c * r * r + (size_t)i * r) * in->plane + (size_t)(y - in->row0) * w;
            float *dst = out->data + (size_t)c * out->plane + (size_t)(y * r + i - out->row0) * wo;
            if (r == 2) {
                const float *s0 = src, *s1 = src + in->plane;
                for (int x = 0; x < w; x++) {
                    dst[2 * x] = s0[x];
                    dst[2 * x + 1] = s1[x];
                }
            } else {
                for (int j = 0; j < r; j++) {
                    const float *sj = src + (size_t)j * in->plane;
                    for (int x = 0; x < w; x++)
                        dst[(size_t)x * r + j] = sj[x];
                }
            }
        }
}

int lic_pixel_shuffle_rows(lic_xf_ctx *ctx, const lic_band *in, int r, lic_band *out, int lo, int hi)
{
    if (!band_ok(in) || !band_ok(out) || r < 1 || r > LIC_XF_S_MAX || in->c % (r * r) != 0 ||
        out->c != in->c / (r * r) || in->h > XF_SIDE_MAX / r || in->w > XF_SIDE_MAX / r || out->h != in->h * r ||
        out->w != in->w * r)
        return LIC_EINVAL;
    if (lo < 0 || lo >= hi || hi > out->h || lo % r != 0 || hi % r != 0 || !band_holds(out, lo, hi) ||
        !band_holds(in, lo / r, hi / r))
        return LIC_EINVAL;
    shuffle_job J = {in, out, r, lo, hi};
    lic_threadpool_run(ctx ? ctx->pool : NULL, out->c, shuffle_plane, &J);
    return LIC_OK;
}

int lic_pixel_shuffle(lic_xf_ctx *ctx, const lic_tensor *in, int r, lic_tensor *out)
{
    if (!tensor_ok(in) || !tensor_ok(out))
        return LIC_EINVAL;
    const lic_band bi = whole_band(in);
    lic_band bo = whole_band(out);
    return lic_pixel_shuffle_rows(ctx, &bi, r, &bo, 0, out->h);
}
