/* Tests of gpu/ (the CUDA/cuDNN backend, docs/GPU.md).
 *
 *   test_gpu            what needs no device (below); always runs
 *   test_gpu --device   what needs a CUDA device; without one it prints why and exits with
 *                       LIC_TEST_SKIP, which ctest reports as skipped (tests/gpu.cmake)
 *
 * Without a device (CI, the development machines) what runs is:
 *   - device queries: built in or not, 0 devices means every request is LIC_EUNSUPPORTED, no crash;
 *   - the memory planner: whole image when it fits, tiles under a budget (8000x6000 with the default
 *     model), tiles partition the image, windows aligned;
 *   - the tiling itself, emulated with the CPU reference kernels: g_a and g_s computed tile by tile
 *     with the planner's windows equal the whole-image results bit for bit, and a halo one latent
 *     shorter than the planned margin already breaks that (the halo is tight, the test is sensitive).
 * With a device:
 *   - per-op parity against the CPU reference kernels (normalized MSE thresholds per op and precision);
 *   - whole g_a / h_a / g_s parity for the tiny models and the default model, FP32, strict FP32, FP16,
 *     and tiled GPU vs whole-image GPU;
 *   - an 8000x6000 image under a 4 GiB device budget;
 *   - the cross-device test through the public API: images encoded with the CUDA backend decode on the
 *     CPU to exactly the encoder's symbols and parameters, and the other way round (Kodak when
 *     LIC_KODAK_DIR or ../shared/kodak holds it, else testdata/images/768x512.png);
 *   - with LIC_GPU_BENCH=R also a benchmark (scripts/bench_gpu.sh): transform times per precision and
 *     FP16's cost in dB. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tests/test_support.h"

#include "apps/image_io.h"
#include "codec/internal.h"
#include "gpu/gpu.h"
#include "lic/codec.h"
#include "transforms/layers.h"

#define TINY_MODEL "testdata/models/tiny.licw"
#define TINY_DECONV_MODEL "testdata/models/tiny_deconv.licw"
#define PHOTO "testdata/images/768x512.png"

/* ---- helpers --------------------------------------------------------------------------------- */


static uint32_t rng = 12345;

static float frand(void) /* uniform in [-1, 1) */
{
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xFFFFFF) / (float)(1 << 23) - 1.0f;
}

static float *fbuf(size_t n)
{
    float *p = calloc(n + 16, sizeof(float));
    assert_non_null(p);
    return p;
}

static float *rand_buf(size_t n, float scale, float offset)
{
    float *p = fbuf(n);
    for (size_t i = 0; i < n; i++)
        p[i] = offset + scale * frand();
    return p;
}

static int have_gpu(void)
{
    return lic_gpu_device_count() > 0;
}

/* sum (a - b)^2 / sum b^2; a non-finite value makes it infinite. */
static double nmse(const float *got, const float *ref, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i]))
            return INFINITY;
        double d = (double)got[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    return den > 0 ? num / den : num;
}

static lic_model *load(const char *path)
{
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_file(&m, path, NULL), 0);
    return m;
}

/* The model's float layers as the backend sees them: recognised from its op lists
 * (lic_gpu_model_from_ops), into storage that lives as long as the test. */
static lic_gpu_layers g_layers;

static lic_gpu_model gpu_model(const lic_model_data *md)
{
    lic_gpu_model g;
    assert_int_equal(lic_gpu_model_from_ops(md->ops + md->analysis.first, md->analysis.count,
                                            md->ops + md->synthesis.first, md->synthesis.count, &g_layers, &g),
                     0);
    assert_int_equal(g.subpel, md->arch.gs_up == LIC_GS_UP_SUBPEL);
    assert_true(g.relu_slope == (float)md->arch.relu_slope_q8 / 256.0f);
    return g;
}

static const lic_gpu_layers *layers_of(const lic_model_data *md)
{
    (void)gpu_model(md);
    return &g_layers;
}

/* Largest float activation of the model's transforms on an h x w input, plus the input. */
static size_t act_floats(const lic_model_data *md, int h, int w)
{
    size_t c = 3 * 4;
    for (int i = 0; i < 4; i++) {
        if ((size_t)layers_of(md)->g_a[i].cout > c)
            c = (size_t)layers_of(md)->g_a[i].cout;
        if ((size_t)layers_of(md)->g_s[i].cout > c)
            c = (size_t)layers_of(md)->g_s[i].cout;
    }
    return c * (size_t)(h / 2 + 1) * (size_t)(w / 2 + 1) + 3 * (size_t)h * w;
}

/* ---- CPU reference transforms (what the engine computes) -------------------------------------- */

typedef struct ref_ctx {
    lic_xf_ctx *xf;
    float *buf[3];
    size_t cap;
} ref_ctx;

static void ref_open(ref_ctx *r, enum lic_kernel_path path, size_t cap)
{
    assert_int_equal(lic_xf_ctx_create(&r->xf, path, NULL, &test_alloc), 0);
    for (int i = 0; i < 3; i++)
        r->buf[i] = fbuf(cap);
    r->cap = cap;
}

static void ref_close(ref_ctx *r)
{
    lic_xf_ctx_free(&r->xf);
    for (int i = 0; i < 3; i++)
        free(r->buf[i]);
}

static lic_tensor conv_out(const lic_conv_layer *L, int h, int w, float *data)
{
    lic_tensor t = {L->cout, L->transposed ? h * L->stride : lic_conv_out_size(h, L->stride),
                    L->transposed ? w * L->stride : lic_conv_out_size(w, L->stride), data};
    return t;
}

/* g_a on 3 x h x w, y (M x h/16 x w/16) into y. */
static void ref_g_a(ref_ctx *r, const lic_model_data *md, const float *x, int h, int w, float *y)
{
    memcpy(r->buf[0], x, sizeof(float) * 3 * (size_t)h * w);
    lic_tensor cur = {3, h, w, r->buf[0]};
    for (int i = 0; i < 4; i++) {
        lic_tensor out = conv_out(&layers_of(md)->g_a[i], cur.h, cur.w, i == 3 ? y : r->buf[(i + 1) & 1]);
        assert_true(lic_tensor_count(out.c, out.h, out.w) <= r->cap);
        assert_int_equal(lic_conv2d(r->xf, &layers_of(md)->g_a[i], &cur, &out), 0);
        if (i < 3)
            assert_int_equal(lic_gdn(r->xf, &layers_of(md)->g_a_gdn[i], &out), 0);
        cur = out;
    }
}

/* y * gain then h_a; z into z. y is modified (as the engine does). */
static void ref_h_a(ref_ctx *r, const lic_model_data *md, float *y, int lh, int lw, const float *gain, float *z)
{
    size_t hw = (size_t)lh * lw;
    for (int c = 0; c < md->arch.M; c++)
        for (size_t p = 0; p < hw; p++)
            y[c * hw + p] *= gain[c];
    lic_tensor cur = {md->arch.M, lh, lw, y};
    for (int i = 0; i < 3; i++) {
        lic_tensor out = conv_out(&layers_of(md)->h_a[i], cur.h, cur.w, i == 2 ? z : r->buf[i]);
        assert_int_equal(lic_conv2d(r->xf, &layers_of(md)->h_a[i], &cur, &out), 0);
        if (i < 2)
            lic_leaky_relu(r->xf, &out, (float)md->arch.relu_slope_q8 / 256.0f);
        cur = out;
    }
}

/* g_s on M x lh x lw into x (3 x 16lh x 16lw). */
static void ref_g_s(ref_ctx *r, const lic_model_data *md, const float *yhat, int lh, int lw, float *x)
{
    memcpy(r->buf[0], yhat, sizeof(float) * (size_t)md->arch.M * lh * lw);
    lic_tensor cur = {md->arch.M, lh, lw, r->buf[0]};
    int which = 1;
    for (int i = 0; i < 4; i++) {
        const lic_conv_layer *L = &layers_of(md)->g_s[i];
        float *dst = i == 3 ? x : r->buf[which];
        lic_tensor out;
        if (md->arch.gs_up == LIC_GS_UP_SUBPEL) {
            lic_tensor wide = conv_out(L, cur.h, cur.w, r->buf[2]);
            assert_true(lic_tensor_count(wide.c, wide.h, wide.w) <= r->cap);
            assert_int_equal(lic_conv2d(r->xf, L, &cur, &wide), 0);
            out = (lic_tensor){wide.c / 4, wide.h * 2, wide.w * 2, dst};
            assert_int_equal(lic_pixel_shuffle(r->xf, &wide, 2, &out), 0);
        } else {
            out = conv_out(L, cur.h, cur.w, dst);
            assert_true(lic_tensor_count(out.c, out.h, out.w) <= r->cap);
            assert_int_equal(lic_conv2d(r->xf, L, &cur, &out), 0);
        }
        if (i < 3)
            assert_int_equal(lic_gdn(r->xf, &layers_of(md)->g_s_igdn[i], &out), 0);
        cur = out;
        which = which == 1 ? 0 : 1;
    }
}

/* Copies a window of c planes (ph x pw) into contiguous planes, or a contiguous window back. */
static void window_get(const float *src, int c, int ph, int pw, int y0, int x0, int h, int w, float *dst)
{
    for (int k = 0; k < c; k++)
        for (int y = 0; y < h; y++)
            memcpy(dst + ((size_t)k * h + y) * w, src + ((size_t)k * ph + y0 + y) * pw + x0, sizeof(float) * w);
}

static void window_put(const float *src, int c, int h, int w, int sy, int sx, int ch, int cw, float *dst, int ph,
                       int pw, int y0, int x0)
{
    for (int k = 0; k < c; k++)
        for (int y = 0; y < ch; y++)
            memcpy(dst + ((size_t)k * ph + y0 + y) * pw + x0, src + ((size_t)k * h + sy + y) * w + sx,
                   sizeof(float) * cw);
}

/* ---- without a device ------------------------------------------------------------------------ */

static void test_device_query(void **state)
{
    (void)state;
    int n = lic_gpu_device_count();
    assert_true(n >= 0);
    assert_true(lic_gpu_built_in() == 0 || lic_gpu_built_in() == 1);
    if (!lic_gpu_built_in())
        assert_int_equal(n, 0);
    assert_int_equal(lic_gpu_device_count(), n); /* stable, and no state left behind */
    print_message("CUDA built in: %d, usable devices: %d\n", lic_gpu_built_in(), n);
    if (n > 0)
        return;
    /* No device: every request is a clean LIC_EUNSUPPORTED (or LIC_EINVAL for bad arguments). */
    lic_model *m = load(TINY_MODEL);
    lic_gpu_model gm = gpu_model(&m->data);
    static char sentinel;
    lic_gpu_transforms *ctx = (lic_gpu_transforms *)(void *)&sentinel; /* must be overwritten */
    assert_int_equal(lic_gpu_transforms_create(&ctx, &gm, NULL, &test_alloc), LIC_EUNSUPPORTED);
    assert_null(ctx);
    lic_gpu_transforms_free(&ctx);
    lic_gpu_transforms_free(NULL);
    float x[3 * 64 * 64] = {0}, t[16];
    lic_tensor in = {3, 64, 64, x}, out = {3, 64, 64, x};
    lic_gpu_op op = {LIC_GPU_OP_LEAKY_RELU, NULL, NULL, 0.1f};
    int r = lic_gpu_run_op(0, LIC_GPU_FP32, &op, &in, &out, NULL);
    assert_int_equal(r, LIC_EUNSUPPORTED);
    assert_int_not_equal(lic_gpu_analysis(NULL, x, 64, 64, t, t, t), 0);
    assert_int_not_equal(lic_gpu_synthesis(NULL, x, 4, 4, t), 0);
    lic_model_release(&m);
}

/* Checks the invariants of a plan: tiles partition the image, windows hold their cores with the halo
 * (clipped), everything on the 16-pixel latent grid. */
static void check_plan(const lic_gpu_plan *p)
{
    assert_true(p->tiles_y >= 1 && p->tiles_x >= 1 && p->tiles_y * p->tiles_x <= LIC_GPU_MAX_TILES);
    assert_int_equal(p->tile % 64, 0);
    assert_int_equal(p->halo % 16, 0);
    uint64_t area = 0;
    for (int i = 0; i < p->tiles_y * p->tiles_x; i++) {
        lic_gpu_tile t;
        lic_gpu_plan_tile(p, i, &t);
        int v[8] = {t.wy, t.wx, t.wh, t.ww, t.cy, t.cx, t.ch, t.cw};
        for (int k = 0; k < 8; k++)
            assert_int_equal(v[k] % 16, 0);
        assert_true(t.ch > 0 && t.cw > 0 && t.cy + t.ch <= p->ph && t.cx + t.cw <= p->pw);
        assert_true(t.wy >= 0 && t.wx >= 0 && t.wy + t.wh <= p->ph && t.wx + t.ww <= p->pw);
        assert_int_equal(t.wy, t.cy - p->halo > 0 ? t.cy - p->halo : 0);
        assert_int_equal(t.wx, t.cx - p->halo > 0 ? t.cx - p->halo : 0);
        int ey = t.cy + t.ch + p->halo, ex = t.cx + t.cw + p->halo;
        assert_int_equal(t.wy + t.wh, ey < p->ph ? ey : p->ph);
        assert_int_equal(t.wx + t.ww, ex < p->pw ? ex : p->pw);
        /* row-major grid of cores: each starts where the previous one in its row/column ended */
        assert_int_equal(t.cy, (i / p->tiles_x) * p->tile);
        assert_int_equal(t.cx, (i % p->tiles_x) * p->tile);
        area += (uint64_t)t.ch * t.cw;
    }
    assert_true(area == (uint64_t)p->ph * p->pw);
}

static void test_plan(void **state)
{
    (void)state;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_default(&m, NULL), 0);
    const lic_model_data *md = &m->data;
    lic_gpu_model gm = gpu_model(md);
    int N = layers_of(md)->g_a[0].cout, M = md->arch.M;
    lic_gpu_plan p;

    /* Kodak size, unlimited budget: one tile, no halo, buffers exactly the walk's maxima. */
    assert_int_equal(lic_gpu_plan_make(&gm, 512, 768, 4, UINT64_MAX, 0, &p), 0);
    check_plan(&p);
    assert_int_equal(p.tiles_y * p.tiles_x, 1);
    assert_int_equal(p.halo, 0);
    assert_true(p.act_count[0] >= 3ull * 512 * 768);
    assert_true(p.act_count[1] >= (uint64_t)N * 256 * 384);
    assert_true(p.y_count == (uint64_t)M * 32 * 48);
    assert_int_equal(p.staging_count, 0); /* FP32 copies straight into the buffers */
    lic_gpu_plan k16;
    assert_int_equal(lic_gpu_plan_make(&gm, 512, 768, 2, UINT64_MAX, 0, &k16), 0);
    assert_true(k16.staging_count > 0 && k16.bytes < p.bytes);
    print_message("768x512 default model: %.3f GiB (FP32), %.3f GiB (FP16)\n", p.bytes / 1073741824.0,
                  k16.bytes / 1073741824.0);

    /* 8000x6000 (padded 8000x6016): the whole image, then under 4 GiB and 1 GiB, FP32 and FP16. */
    const int ph = 6016, pw = 8000;
    lic_gpu_plan whole, whole16, p4, p1, p4h;
    assert_int_equal(lic_gpu_plan_make(&gm, ph, pw, 4, UINT64_MAX, 0, &whole), 0);
    assert_int_equal(lic_gpu_plan_make(&gm, ph, pw, 2, UINT64_MAX, 0, &whole16), 0);
    assert_int_equal(lic_gpu_plan_make(&gm, ph, pw, 4, 4ull << 30, 0, &p4), 0);
    assert_int_equal(lic_gpu_plan_make(&gm, ph, pw, 4, 1ull << 30, 0, &p1), 0);
    assert_int_equal(lic_gpu_plan_make(&gm, ph, pw, 2, 4ull << 30, 0, &p4h), 0);
    check_plan(&whole), check_plan(&p4), check_plan(&p1), check_plan(&p4h);
    assert_int_equal(whole.tiles_y * whole.tiles_x, 1);
    assert_true(p4.tiles_y * p4.tiles_x > 1 && p4.bytes <= (4ull << 30));
    assert_true(p1.bytes <= (1ull << 30) && p1.tile <= p4.tile);
    assert_true(p4h.tile >= p4.tile); /* half storage fits larger tiles */
    assert_true(whole16.bytes < whole.bytes * 6 / 10);
    assert_int_equal(p4.halo, lic_gpu_halo(&gm));
    print_message("8000x6000 default model: whole image %.2f GiB (FP32), %.2f GiB (FP16); "
                  "4 GiB budget: %d tiles of %d px + %d px halo, %.2f GiB; 1 GiB budget: %d tiles of %d, %.2f GiB\n",
                  whole.bytes / 1073741824.0, whole16.bytes / 1073741824.0, p4.tiles_y * p4.tiles_x, p4.tile, p4.halo,
                  p4.bytes / 1073741824.0, p1.tiles_y * p1.tiles_x, p1.tile, p1.bytes / 1073741824.0);
    print_message("8000x6000 FP16, 4 GiB budget: %d tiles of %d px, %.2f GiB\n", p4h.tiles_y * p4h.tiles_x, p4h.tile,
                  p4h.bytes / 1073741824.0);
    /* 16384x16384 with no budget: the whole image would hold tensors of 2^31 elements or more,
     * which cuDNN cannot take, so it is tiled anyway. */
    assert_int_equal(lic_gpu_plan_make(&gm, 16384, 16384, 4, UINT64_MAX, 0, &p), 0);
    check_plan(&p);
    assert_true(p.tiles_y * p.tiles_x > 1 && p.act_count[1] <= 0x7fffffffull);
    /* A budget below what the untiled h_a and the latent need cannot be met. */
    assert_int_equal(lic_gpu_plan_make(&gm, ph, pw, 4, 64ull << 20, 0, &p), LIC_ELIMIT);
    /* Forced tiles, and argument checks. */
    assert_int_equal(lic_gpu_plan_make(&gm, 512, 768, 4, UINT64_MAX, 128, &p), 0);
    check_plan(&p);
    assert_int_equal(p.tiles_y * p.tiles_x, 4 * 6);
    assert_int_equal(lic_gpu_plan_make(&gm, 512, 768, 4, UINT64_MAX, 100, &p), LIC_EINVAL);
    assert_int_equal(lic_gpu_plan_make(&gm, 500, 768, 4, UINT64_MAX, 0, &p), LIC_EINVAL);
    assert_int_equal(lic_gpu_plan_make(&gm, 512, 768, 3, UINT64_MAX, 0, &p), LIC_EINVAL);
    assert_int_equal(lic_gpu_plan_make(NULL, 512, 768, 4, UINT64_MAX, 0, &p), LIC_EINVAL);
    lic_gpu_model bad = gm;
    bad.subpel = !gm.subpel; /* the g_s layers do not match the declared upsampling */
    assert_int_equal(lic_gpu_plan_make(&bad, 512, 768, 4, UINT64_MAX, 0, &p), LIC_EINVAL);
    lic_model_release(&m);
}

/* ---- the op-list plan (gpu/gpu_oplan.c) ----------------------------------------------------------- */

/* The model's float transforms as the op-list executor sees them; kept: the model's io views. */
static lic_view g_kept[7];

static lic_gpu_graph graph_of(const lic_model_data *md)
{
    const lic_view io[7] = {md->io.x, md->io.y, md->io.z, md->io.x_out, md->io.zhat, md->io.yq, md->io.yctx};
    memcpy(g_kept, io, sizeof io);
    lic_gpu_graph g = {md->ops, md->n_ops, md->n_bufs, {{md->analysis.first, md->analysis.count},
                                                         {md->synthesis.first, md->synthesis.count}}, g_kept, 7};
    return g;
}

/* Both plans of one size: same return code and, when planned, the same grid, halo, buffers and bytes. */
static void same_plans(const lic_gpu_model *gm, lic_gpu_oplan *op, const lic_gpu_graph *g, int ph, int pw, int es,
                       uint64_t budget, int force)
{
    lic_gpu_plan old;
    int r_old = lic_gpu_plan_make(gm, ph, pw, es, budget, force, &old);
    int r_new = lic_gpu_oplan_size(op, g, ph, pw, es, budget, force);
    if (r_old != r_new)
        fail_msg("%dx%d es %d budget %llu tile %d: fixed plan %d, op-list plan %d", pw, ph, es,
                 (unsigned long long)budget, force, r_old, r_new);
    if (r_old < 0)
        return;
    const lic_gpu_plan *q = &op->grid;
    int64_t a[] = {old.ph, old.pw, old.tile, old.halo, old.tiles_y, old.tiles_x, old.elem_size,
                   (int64_t)old.act_count[0], (int64_t)old.act_count[1], (int64_t)old.act_count[2],
                   (int64_t)old.y_count, (int64_t)old.staging_count, (int64_t)old.weight_bytes, (int64_t)old.bytes};
    int64_t b[] = {q->ph, q->pw, q->tile, q->halo, q->tiles_y, q->tiles_x, q->elem_size,
                   (int64_t)q->act_count[0], (int64_t)q->act_count[1], (int64_t)q->act_count[2],
                   (int64_t)q->y_count, (int64_t)q->staging_count, (int64_t)q->weight_bytes, (int64_t)q->bytes};
    static const char *field[] = {"ph", "pw", "tile", "halo", "tiles_y", "tiles_x", "elem_size", "act[0]",
                                  "act[1]", "act[2]", "y_count", "staging", "weights", "bytes"};
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++)
        if (a[i] != b[i])
            fail_msg("%dx%d es %d budget %llu tile %d: %s is %lld in the fixed plan, %lld in the op-list plan", pw,
                     ph, es, (unsigned long long)budget, force, field[i], (long long)a[i], (long long)b[i]);
    check_plan(q);
}

static void oplan_case(const char *name, lic_model *m)
{
    const lic_model_data *md = &m->data;
    lic_gpu_model gm = gpu_model(md);
    lic_gpu_graph g = graph_of(md);
    lic_gpu_oplan op;
    assert_int_equal(lic_gpu_oplan_build(&g, &op), 0);
    /* g_a + gain (tiled), h_a (whole, from y on the device), g_s (tiled, from the host's y-hat). */
    assert_int_equal(op.n_chains, 3);
    const lic_gpu_chain *ga = &op.chain[0], *ha = &op.chain[1], *gs = &op.chain[2];
    assert_true(ga->tiled && !ha->tiled && gs->tiled);
    assert_true(lic_view_eq(&ga->src, &md->io.x) && lic_view_eq(&ga->dst, &md->io.y));
    assert_true(lic_view_eq(&ha->src, &md->io.y) && lic_view_eq(&ha->dst, &md->io.z));
    assert_true(lic_view_eq(&gs->src, &md->io.y) && lic_view_eq(&gs->dst, &md->io.x_out));
    assert_true(ga->src_from == -1 && ha->src_from == 0 && gs->src_from == -1);
    assert_true(ga->dst_dev && ga->dst_host && !ha->dst_dev && ha->dst_host && gs->dst_host);
    assert_int_equal(ga->count + ha->count, md->analysis.count);
    assert_int_equal(gs->count, md->synthesis.count);
    assert_int_equal(op.halo, lic_gpu_halo(&gm));
    static const int sizes[][2] = {{64, 64}, {512, 768}, {768, 512}, {1024, 1024}, {6016, 8000}, {16384, 16384}};
    static const uint64_t budgets[] = {UINT64_MAX, 4ull << 30, 1ull << 30, 256ull << 20, 64ull << 20, 1ull << 20};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int es = 2; es <= 4; es += 2) {
            for (size_t b = 0; b < sizeof budgets / sizeof budgets[0]; b++)
                same_plans(&gm, &op, &g, sizes[s][0], sizes[s][1], es, budgets[b], 0);
            if (sizes[s][0] <= 1024)
                for (int t = 64; t <= 512; t += 64)
                    same_plans(&gm, &op, &g, sizes[s][0], sizes[s][1], es, UINT64_MAX, t);
        }
    /* Windows: a tiled chain's are the grid's, an untiled chain's the whole image. */
    assert_int_equal(lic_gpu_oplan_size(&op, &g, 512, 768, 4, UINT64_MAX, 128), 0);
    lic_gpu_tile t, u;
    lic_gpu_oplan_window(&op, ga, 7, &t);
    lic_gpu_plan_tile(&op.grid, 7, &u);
    assert_memory_equal(&t, &u, sizeof t);
    lic_gpu_oplan_window(&op, ha, 7, &t);
    assert_true(t.wy == 0 && t.wx == 0 && t.wh == 512 && t.ww == 768 && t.ch == 512 && t.cw == 768);
    print_message("  op-list plan of %-8s (%s, %s): 3 chains, halo %d px, equal to the fixed plan\n", name,
                  md->arch.name, gm.subpel ? "sub-pixel g_s" : "transposed g_s", op.halo);

    /* What the executor does not run: the probability path's integer ops, a range that starts in place. */
    lic_gpu_graph bad = g;
    for (int s = 0; s < md->n_steps; s++)
        if (md->steps[s].ops.count > 0) {
            bad.range[1].first = md->steps[s].ops.first, bad.range[1].count = md->steps[s].ops.count;
            break;
        }
    assert_int_equal(lic_gpu_oplan_build(&bad, &op), LIC_EUNSUPPORTED);
    bad = g;
    bad.range[0].first += 1, bad.range[0].count -= 1; /* starts at g_a's first GDN */
    assert_int_equal(lic_gpu_oplan_build(&bad, &op), LIC_EUNSUPPORTED);
    bad = g;
    bad.range[0].count = g.n_ops + 1;
    assert_int_equal(lic_gpu_oplan_build(&bad, &op), LIC_EINVAL);
    bad = g;
    bad.n_bufs = 0;
    assert_int_equal(lic_gpu_oplan_build(&bad, &op), LIC_EINVAL);
    assert_int_equal(lic_gpu_oplan_build(NULL, &op), LIC_EINVAL);
    assert_int_equal(lic_gpu_oplan_size(&op, &g, 512, 768, 4, UINT64_MAX, 0), LIC_EINVAL); /* not built */
}

/* The op-list plan equals the fixed-layer plan for every model the fixed path knows: the shipped
 * model, the tiny ones (sub-pixel and transposed g_s) and the second architecture, lic-hp1. */
static void test_oplan(void **state)
{
    (void)state;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_default(&m, NULL), 0);
    oplan_case("default", m);
    lic_model_release(&m);
    m = load(TINY_MODEL);
    oplan_case("tiny", m);
    lic_model_release(&m);
    m = load(TINY_DECONV_MODEL);
    oplan_case("tiny-dc", m);
    lic_model_release(&m);
    /* The switch, and the context calls without a device (or without CUDA). */
    assert_int_equal(setenv("LIC_GPU_OPLIST", "1", 1), 0);
    assert_int_equal(lic_gpu_oplist_requested(), lic_gpu_built_in());
    assert_int_equal(setenv("LIC_GPU_OPLIST", "yes", 1), 0);
    assert_int_equal(lic_gpu_oplist_requested(), 0);
    assert_int_equal(unsetenv("LIC_GPU_OPLIST"), 0);
    assert_int_equal(lic_gpu_oplist_requested(), 0);
    assert_false(lic_gpu_is_oplist(NULL));
    void *host[LIC_MAX_BUFS] = {0};
    assert_int_not_equal(lic_gpu_run_range(NULL, LIC_GPU_ANALYSIS, host, 64, 64, NULL), 0);
    if (lic_gpu_device_count() == 0) {
        m = load(TINY_MODEL);
        lic_gpu_graph g = graph_of(&m->data);
        static char sentinel;
        lic_gpu_transforms *ctx = (lic_gpu_transforms *)(void *)&sentinel; /* must be overwritten */
        assert_int_equal(lic_gpu_transforms_create_ops(&ctx, &g, NULL, &test_alloc), LIC_EUNSUPPORTED);
        assert_null(ctx);
        lic_model_release(&m);
    }
    const char *hp1 = getenv("LIC_TEST_HP1_MODEL"); /* set by ctest (tests/gpu.cmake) */
    if (hp1) {
        m = load(hp1);
        assert_string_equal(m->data.arch.name, "lic-hp1");
        oplan_case("hp1", m);
        lic_model_release(&m);
    } else {
        print_message("  lic-hp1: LIC_TEST_HP1_MODEL not set (ctest sets it), not checked in this run\n");
    }
}

/* g_a and g_s tile by tile on the CPU reference kernels, with the planner's windows (halo adjusted by
 * halo_delta): returns 1 if every core equals the whole-image result bit for bit. */
static int tiles_match(const char *model_path, int halo_delta)
{
    lic_model *m = load(model_path);
    const lic_model_data *md = &m->data;
    lic_gpu_model gm = gpu_model(md);
    const int ph = 256, pw = 320, lh = ph / 16, lw = pw / 16, M = md->arch.M;
    lic_gpu_plan p;
    assert_int_equal(lic_gpu_plan_make(&gm, ph, pw, 4, UINT64_MAX, 64, &p), 0);
    assert_int_equal(p.tiles_y * p.tiles_x, 4 * 5);
    p.halo += halo_delta;
    ref_ctx r;
    ref_open(&r, LIC_KERNELS_REFERENCE, act_floats(md, ph, pw) + (size_t)M * lh * lw * 4);
    rng = 777;
    float *x = rand_buf(3 * (size_t)ph * pw, 0.5f, 0.5f);
    size_t ny = (size_t)M * lh * lw, nx = 3 * (size_t)ph * pw;
    float *ya = fbuf(ny), *yh = fbuf(ny), *yt = fbuf(ny), *xs = fbuf(nx), *xt = fbuf(nx);
    float *win = fbuf(act_floats(md, ph, pw)), *wout = fbuf(act_floats(md, ph, pw));
    ref_g_a(&r, md, x, ph, pw, ya);
    for (size_t i = 0; i < ny; i++)
        yh[i] = roundf(ya[i] * 4.0f); /* a y-hat-like input for g_s */
    ref_g_s(&r, md, yh, lh, lw, xs);
    for (int i = 0; i < p.tiles_y * p.tiles_x; i++) {
        lic_gpu_tile t;
        lic_gpu_plan_tile(&p, i, &t);
        window_get(x, 3, ph, pw, t.wy, t.wx, t.wh, t.ww, win);
        ref_g_a(&r, md, win, t.wh, t.ww, wout);
        window_put(wout, M, t.wh / 16, t.ww / 16, (t.cy - t.wy) / 16, (t.cx - t.wx) / 16, t.ch / 16, t.cw / 16, yt, lh,
                   lw, t.cy / 16, t.cx / 16);
        window_get(yh, M, lh, lw, t.wy / 16, t.wx / 16, t.wh / 16, t.ww / 16, win);
        ref_g_s(&r, md, win, t.wh / 16, t.ww / 16, wout);
        window_put(wout, 3, t.wh, t.ww, t.cy - t.wy, t.cx - t.wx, t.ch, t.cw, xt, ph, pw, t.cy, t.cx);
    }
    int same = !memcmp(ya, yt, sizeof(float) * ny) && !memcmp(xs, xt, sizeof(float) * nx);
    free(x), free(ya), free(yh), free(yt), free(xs), free(xt), free(win), free(wout);
    ref_close(&r);
    lic_model_release(&m);
    return same;
}

static void test_tiling_exact_on_cpu(void **state)
{
    (void)state;
    /* The planned halo (one latent of margin) and one latent less still reproduce the whole image
     * exactly; two latents less do not — so the check can fail and the halo is not oversized. */
    const char *models[] = {TINY_MODEL, TINY_DECONV_MODEL};
    for (int i = 0; i < 2; i++) {
        assert_true(tiles_match(models[i], 0));
        assert_true(tiles_match(models[i], -16));
        assert_false(tiles_match(models[i], -32));
    }
}

/* ---- with a device: per-op parity ------------------------------------------------------------ */

static const char *prec_name[] = {"fp32", "fp32-strict", "fp16"};

/* NMSE limits per op class and precision (FP32 with TF32, strict FP32, FP16). */
static const double LIM_CONV[3] = {1e-5, 1e-9, 1e-4};
static const double LIM_GDN[3] = {1e-9, 1e-9, 1e-5};
static const double LIM_COPY[3] = {1e-14, 1e-14, 1e-6};

static void check_op(const char *name, const lic_gpu_op *op, const lic_tensor *in, const lic_tensor *ref,
                     const double lim[3])
{
    size_t n = lic_tensor_count(ref->c, ref->h, ref->w);
    float *got = fbuf(n);
    for (int pr = 0; pr < 3; pr++) {
        lic_tensor out = {ref->c, ref->h, ref->w, got};
        memset(got, 0, n * sizeof(float));
        assert_int_equal(lic_gpu_run_op(0, (enum lic_gpu_precision)pr, op, in, &out, NULL), 0);
        double e = nmse(got, ref->data, n);
        print_message("  %-28s %-11s nmse %.3g (limit %.0e)\n", name, prec_name[pr], e, lim[pr]);
        if (!(e <= lim[pr]))
            fail_msg("%s %s: nmse %g above %g", name, prec_name[pr], e, lim[pr]);
    }
    free(got);
}

static void conv_case(lic_xf_ctx *xf, const char *name, int cin, int cout, int k, int stride, int transposed, int h,
                      int w)
{
    size_t nw = (size_t)cin * cout * k * k;
    float *wt = rand_buf(nw, 1.0f / sqrtf((float)cin * k * k), 0.0f), *b = rand_buf((size_t)cout, 0.1f, 0.0f);
    lic_conv_layer L = {cin, cout, k, stride, transposed, wt, b};
    float *x = rand_buf((size_t)cin * h * w, 1.0f, 0.0f);
    lic_tensor in = {cin, h, w, x};
    lic_tensor ref = conv_out(&L, h, w, NULL);
    ref.data = fbuf(lic_tensor_count(ref.c, ref.h, ref.w));
    assert_int_equal(lic_conv2d(xf, &L, &in, &ref), 0);
    lic_gpu_op op = {LIC_GPU_OP_CONV, &L, NULL, 0.0f};
    check_op(name, &op, &in, &ref, LIM_CONV);
    free(wt), free(b), free(x), free(ref.data);
}

static void gdn_case(lic_xf_ctx *xf, const char *name, int c, int inverse, int h, int w)
{
    float *beta = rand_buf((size_t)c, 0.5f, 1.0f), *gamma = rand_buf((size_t)c * c, 0.05f, 0.05f);
    lic_gdn_layer L = {c, inverse, beta, gamma};
    float *x = rand_buf((size_t)c * h * w, 2.0f, 0.0f);
    lic_tensor in = {c, h, w, x}, ref = {c, h, w, fbuf((size_t)c * h * w)};
    memcpy(ref.data, x, sizeof(float) * (size_t)c * h * w);
    assert_int_equal(lic_gdn(xf, &L, &ref), 0);
    lic_gpu_op op = {LIC_GPU_OP_GDN, NULL, &L, 0.0f};
    check_op(name, &op, &in, &ref, LIM_GDN);
    free(beta), free(gamma), free(x), free(ref.data);
}

static void test_op_parity(void **state)
{
    (void)state;
    lic_xf_ctx *xf = NULL;
    assert_int_equal(lic_xf_ctx_create(&xf, LIC_KERNELS_REFERENCE, NULL, &test_alloc), 0);
    rng = 4242;
    /* Odd sizes: partial strides at the borders. */
    conv_case(xf, "conv 5x5 s2 16->24", 16, 24, 5, 2, 0, 37, 29);
    conv_case(xf, "conv 5x5 s2 3->64", 3, 64, 5, 2, 0, 64, 96);
    conv_case(xf, "conv 3x3 s1 32->48 (subpel)", 32, 48, 3, 1, 0, 23, 31);
    conv_case(xf, "tconv 5x5 s2 24->16", 24, 16, 5, 2, 1, 17, 13);
    conv_case(xf, "tconv 5x5 s2 64->3", 64, 3, 5, 2, 1, 32, 48);
    gdn_case(xf, "gdn c=24", 24, 0, 19, 23);
    gdn_case(xf, "igdn c=24", 24, 1, 19, 23);
    gdn_case(xf, "gdn c=192", 192, 0, 16, 24);
    gdn_case(xf, "igdn c=5", 5, 1, 7, 9);

    float *x = rand_buf(48 * 13 * 17, 1.0f, 0.0f);
    lic_tensor in = {48, 13, 17, x}, ref = {48, 13, 17, fbuf(48 * 13 * 17)};
    memcpy(ref.data, x, sizeof(float) * 48 * 13 * 17);
    lic_leaky_relu(xf, &ref, 0.1f);
    lic_gpu_op relu = {LIC_GPU_OP_LEAKY_RELU, NULL, NULL, 0.1f};
    check_op("leaky relu", &relu, &in, &ref, LIM_COPY);
    lic_tensor sref = {12, 26, 34, ref.data};
    assert_int_equal(lic_pixel_shuffle(xf, &in, 2, &sref), 0);
    lic_gpu_op shuf = {LIC_GPU_OP_PIXEL_SHUFFLE, NULL, NULL, 0.0f};
    check_op("pixel shuffle 2", &shuf, &in, &sref, LIM_COPY);
    free(x), free(ref.data);
    lic_xf_ctx_free(&xf);
}

/* ---- with a device: the op-list executor's ops, one short chain at a time ----------------------- */

/* A conv then the ops named by `post` (g GDN, i IGDN, l leaky ReLU, a gain, s pixel shuffle), as an op
 * list on a 128 x 192 frame, through lic_gpu_run_range against the CPU reference kernels: whole, and in
 * 64-pixel tiles. The conv takes its bias from the op that follows when it can (docs/GPU.md §9), so
 * these cases cover the fused and the standalone forms of every op. */
static void oplist_case(lic_xf_ctx *xf, const char *name, int cin, int cout, int k, int stride, int tr,
                        const char *post)
{
    const int ph = 128, pw = 192, s_in = tr || stride == 1 ? 2 : 1, s_out = tr ? 1 : 2;
    float *wt = rand_buf((size_t)cin * cout * k * k, 0.2f, 0.0f), *b = rand_buf((size_t)cout, 0.1f, 0.0f);
    lic_conv_layer L = {cin, cout, k, stride, tr, wt, b};
    float *beta = rand_buf((size_t)cout, 0.5f, 1.0f), *gamma = rand_buf((size_t)cout * cout, 0.05f, 0.05f);
    lic_gdn_layer G[2] = {{cout, 0, beta, gamma}, {cout, 1, beta, gamma}};
    float *gain = rand_buf((size_t)cout, 0.5f, 1.0f);
    lic_op ops[6];
    int n = 0;
    const lic_view in = {0, 0, cin, s_in};
    lic_view cur = {1, 0, cout, s_out};
    ops[n++] = (lic_op){.kind = LIC_OP_CONV, .conv = &L, .in = in, .out = cur};
    /* The CPU reference, op by op. */
    const size_t n_in = (size_t)cin * (ph >> s_in) * (pw >> s_in);
    float *x = rand_buf(n_in, 1.0f, 0.0f);
    lic_tensor tin = {cin, ph >> s_in, pw >> s_in, x};
    lic_tensor t = {cout, ph >> s_out, pw >> s_out, fbuf((size_t)cout * (ph >> s_out) * (pw >> s_out))};
    assert_int_equal(lic_conv2d(xf, &L, &tin, &t), 0);
    for (const char *c = post; *c; c++) {
        lic_op op = {.kind = LIC_OP_GDN, .in = cur, .out = cur};
        if (*c == 'g' || *c == 'i') {
            op.gdn = &G[*c == 'i'];
            assert_int_equal(lic_gdn(xf, op.gdn, &t), 0);
        } else if (*c == 'l') {
            op.kind = LIC_OP_LEAKY_RELU, op.slope_q8 = 26;
            lic_leaky_relu(xf, &t, 26 / 256.0f);
        } else if (*c == 'a') {
            op.kind = LIC_OP_GAIN;
            for (size_t i = 0; i < (size_t)t.c * t.h * t.w; i++)
                t.data[i] *= gain[i / ((size_t)t.h * t.w)];
        } else {
            op.kind = LIC_OP_PIXEL_SHUFFLE;
            op.out = (lic_view){cur.buf == 1 ? 2 : 1, 0, cur.c / 4, cur.scale - 1};
            lic_tensor u = {op.out.c, t.h * 2, t.w * 2, fbuf((size_t)t.c * t.h * t.w)};
            assert_int_equal(lic_pixel_shuffle(xf, &t, 2, &u), 0);
            free(t.data);
            t = u;
            cur = op.out;
        }
        ops[n++] = op;
    }
    const lic_view kept[2] = {in, cur};
    lic_gpu_graph g = {ops, n, 3, {{0, n}, {0, 0}}, kept, 2};
    const size_t n_out = (size_t)t.c * t.h * t.w;
    float *got = fbuf(n_out);
    for (int pr = 0; pr < 3; pr++)
        for (int tile = 0; tile <= 64; tile += 64) {
            lic_gpu_options o;
            lic_gpu_options_init(&o);
            o.precision = (enum lic_gpu_precision)pr;
            o.force_tile = tile;
            lic_gpu_transforms *ctx = NULL;
            assert_int_equal(lic_gpu_transforms_create_ops(&ctx, &g, &o, &test_alloc), 0);
            void *host[3] = {x, NULL, NULL};
            host[cur.buf] = got;
            memset(got, 0, n_out * sizeof(float));
            assert_int_equal(lic_gpu_run_range(ctx, LIC_GPU_ANALYSIS, host, ph, pw, gain), 0);
            assert_int_equal(lic_gpu_run_range(ctx, LIC_GPU_SYNTHESIS, host, ph, pw, gain), LIC_EUNSUPPORTED);
            lic_gpu_transforms_free(&ctx);
            double e = nmse(got, t.data, n_out);
            print_message("  op lists %-26s %-11s %s nmse %.3g (limit %.0e)\n", name, prec_name[pr],
                          tile ? "64 px tiles" : "whole      ", e, LIM_CONV[pr]);
            if (!(e <= LIM_CONV[pr]))
                fail_msg("op lists %s %s tile %d: nmse %g above %g", name, prec_name[pr], tile, e, LIM_CONV[pr]);
        }
    free(wt), free(b), free(beta), free(gamma), free(gain), free(x), free(t.data), free(got);
}

static void test_oplist_op_parity(void **state)
{
    (void)state;
    lic_xf_ctx *xf = NULL;
    assert_int_equal(lic_xf_ctx_create(&xf, LIC_KERNELS_REFERENCE, NULL, &test_alloc), 0);
    rng = 4343;
    oplist_case(xf, "conv 5x5 s2 16->24", 16, 24, 5, 2, 0, "");
    oplist_case(xf, "tconv 5x5 s2 24->16", 24, 16, 5, 2, 1, "");
    oplist_case(xf, "conv+gdn", 16, 24, 5, 2, 0, "g");
    oplist_case(xf, "tconv+igdn", 24, 16, 5, 2, 1, "i");
    oplist_case(xf, "conv+leaky relu", 16, 24, 3, 1, 0, "l");
    oplist_case(xf, "conv+gain", 16, 24, 5, 2, 0, "a");
    oplist_case(xf, "conv+gdn, leaky relu, gain", 16, 24, 5, 2, 0, "gla");
    oplist_case(xf, "conv 3x3+shuffle+igdn", 32, 48, 3, 1, 0, "si");
    oplist_case(xf, "conv 3x3+leaky relu+shuffle", 32, 48, 3, 1, 0, "ls");
    lic_xf_ctx_free(&xf);
}

/* ---- with a device: whole transforms --------------------------------------------------------- */

/* The engine's padding: edge pixels replicated, [0, 1]. */
static float *load_photo(int *ph, int *pw)
{
    app_image img;
    char msg[256];
    assert_int_equal(app_image_read(PHOTO, NULL, &img, msg, sizeof msg), 0);
    *ph = (int)(img.height + 63) / 64 * 64, *pw = (int)(img.width + 63) / 64 * 64;
    size_t plane = (size_t)*ph * *pw;
    float *x = fbuf(3 * plane);
    for (int y = 0; y < *ph; y++)
        for (int xx = 0; xx < *pw; xx++) {
            uint32_t sy = (uint32_t)y < img.height ? (uint32_t)y : img.height - 1;
            uint32_t sx = (uint32_t)xx < img.width ? (uint32_t)xx : img.width - 1;
            const uint8_t *px = img.data + sy * img.stride + sx * img.channels;
            for (int c = 0; c < 3; c++)
                x[c * plane + (size_t)y * *pw + xx] = px[img.channels == 3 ? c : 0] / 255.0f;
        }
    app_image_free(&img);
    return x;
}

/* The path under test: 0 the fixed-layer context (lic_gpu_transforms_create), 1 the op-list executor
 * (lic_gpu_transforms_create_ops, docs/GPU.md §9). main runs every device test once per path. */
static int g_oplist;
static const char *path_name(void)
{
    return g_oplist ? "op lists" : "fixed layers";
}

/* A context of the path under test and, for the op-list path, host buffers of the model's ids that
 * hold its io views (x, y, z, x_out) for one padded size, as the engine's do. */
typedef struct xf_ctx {
    lic_gpu_transforms *g;
    const lic_model_data *md;
    void *host[LIC_MAX_BUFS];
    int ph, pw;
} xf_ctx;

static void xf_open(xf_ctx *x, const lic_model_data *md, const lic_gpu_options *o)
{
    memset(x, 0, sizeof(*x));
    x->md = md;
    if (g_oplist) {
        lic_gpu_graph g = graph_of(md);
        assert_int_equal(lic_gpu_transforms_create_ops(&x->g, &g, o, &test_alloc), 0);
        assert_true(lic_gpu_is_oplist(x->g));
    } else {
        lic_gpu_model gm = gpu_model(md);
        assert_int_equal(lic_gpu_transforms_create(&x->g, &gm, o, &test_alloc), 0);
        assert_false(lic_gpu_is_oplist(x->g));
    }
}

static void xf_host_free(xf_ctx *x)
{
    for (int b = 0; b < LIC_MAX_BUFS; b++)
        free(x->host[b]), x->host[b] = NULL;
}

static void xf_close(xf_ctx *x)
{
    lic_gpu_transforms_free(&x->g);
    assert_null(x->g);
    xf_host_free(x);
}

static const lic_view *io_views(const lic_model_data *md, int i)
{
    const lic_view *v[4] = {&md->io.x, &md->io.y, &md->io.z, &md->io.x_out};
    return v[i];
}

static float *xf_view(xf_ctx *x, const lic_view *v)
{
    return (float *)x->host[v->buf] + (size_t)v->c0 * (size_t)(x->ph >> v->scale) * (size_t)(x->pw >> v->scale);
}

/* Host buffers as large as the io views need (not the model's whole buffers: an 8000x6000 image's
 * intermediates would take tens of GB that the device path never touches on the host). */
static void xf_size(xf_ctx *x, int ph, int pw)
{
    if (x->ph == ph && x->pw == pw)
        return;
    xf_host_free(x);
    x->ph = ph, x->pw = pw;
    uint64_t need[LIC_MAX_BUFS] = {0};
    for (int i = 0; i < 4; i++) {
        const lic_view *v = io_views(x->md, i);
        uint64_t n = (uint64_t)(v->c0 + v->c) * (uint64_t)(ph >> v->scale) * (uint64_t)(pw >> v->scale);
        if (n > need[v->buf])
            need[v->buf] = n;
    }
    for (int b = 0; b < x->md->n_bufs; b++)
        if (need[b])
            x->host[b] = fbuf(need[b]);
}

static int xf_analysis(xf_ctx *x, const float *img, int ph, int pw, const float *gain, float *y, float *z)
{
    if (!g_oplist)
        return lic_gpu_analysis(x->g, img, ph, pw, gain, y, z);
    const lic_model_data *md = x->md;
    xf_size(x, ph, pw);
    memcpy(xf_view(x, &md->io.x), img, sizeof(float) * 3 * (size_t)ph * pw);
    int r = lic_gpu_run_range(x->g, LIC_GPU_ANALYSIS, x->host, ph, pw, gain);
    if (r == 0) {
        memcpy(y, xf_view(x, &md->io.y), sizeof(float) * (size_t)md->io.y.c * (ph / 16) * (pw / 16));
        memcpy(z, xf_view(x, &md->io.z), sizeof(float) * (size_t)md->io.z.c * (ph / 64) * (pw / 64));
    }
    return r;
}

static int xf_synthesis(xf_ctx *x, const float *yhat, int lh, int lw, float *out)
{
    if (!g_oplist)
        return lic_gpu_synthesis(x->g, yhat, lh, lw, out);
    const lic_model_data *md = x->md;
    xf_size(x, 16 * lh, 16 * lw);
    memcpy(xf_view(x, &md->io.y), yhat, sizeof(float) * (size_t)md->io.y.c * lh * lw);
    int r = lic_gpu_run_range(x->g, LIC_GPU_SYNTHESIS, x->host, 16 * lh, 16 * lw, NULL);
    if (r == 0)
        memcpy(out, xf_view(x, &md->io.x_out), sizeof(float) * 3 * (size_t)lh * lw * 256);
    return r;
}

/* ---- the op-list executor's walk, emulated on the CPU kernels ------------------------------------- */

/* What gpu/cuda/exec.c does for range r, step for step, with the CPU reference kernels in place of
 * cuDNN and gpu_kernels.cu: slots of exactly the planned sizes (an op never writes the slot it reads
 * unless it works in place), whole buffers for the chains the plan keeps on the device, source windows
 * in, cores out. So the plan's device-independent half — chains, slots, sizes, windows, halo — is
 * checked here, on any machine: tiled runs must equal whole ones bit for bit, as on the CPU engine. */
static void emulate_range(lic_xf_ctx *xf, const lic_gpu_graph *g, const lic_gpu_oplan *p, int r, xf_ctx *h,
                          const float *gain)
{
    const int ph = p->grid.ph, pw = p->grid.pw;
    float *slot[3], *whole[LIC_GPU_MAX_CHAINS] = {0};
    for (int i = 0; i < 3; i++)
        slot[i] = fbuf(p->grid.act_count[i] ? p->grid.act_count[i] : 1);
    for (int k = 0; k < p->n_chains; k++) {
        const lic_gpu_chain *c = &p->chain[k];
        if (c->range != r)
            continue;
        if (c->dst_dev)
            whole[k] = fbuf((size_t)c->dst.c * (ph >> c->dst.scale) * (pw >> c->dst.scale));
        const int n = c->tiled ? p->grid.tiles_y * p->grid.tiles_x : 1;
        for (int t = 0; t < n; t++) {
            lic_gpu_tile win;
            lic_gpu_oplan_window(p, c, t, &win);
            const int H = win.wh, W = win.ww, ss = c->src.scale, ds = c->dst.scale;
            assert_int_equal(win.wy % p->unit, 0), assert_int_equal(win.wx % p->unit, 0);
            assert_int_equal(H % p->unit, 0), assert_int_equal(W % p->unit, 0);
            float *cur = c->tiled || c->src_from < 0 ? slot[0] : whole[c->src_from];
            if (c->tiled || c->src_from < 0) {
                assert_true((uint64_t)c->src.c * (H >> ss) * (W >> ss) <= p->grid.act_count[0]);
                const float *from = c->src_from < 0 ? xf_view(h, &c->src) : whole[c->src_from];
                assert_non_null(from);
                window_get(from, c->src.c, ph >> ss, pw >> ss, win.wy >> ss, win.wx >> ss, H >> ss, W >> ss, cur);
            }
            for (int i = c->first; i < c->first + c->count; i++) {
                const lic_op *op = &g->ops[i];
                lic_tensor in = {op->in.c, H >> op->in.scale, W >> op->in.scale, cur};
                const int s = p->slot[i];
                assert_true(s >= 0 && s <= 2);
                if (lic_view_eq(&op->in, &op->out)) {
                    if (op->kind == LIC_OP_GDN)
                        assert_int_equal(lic_gdn(xf, op->gdn, &in), 0);
                    else if (op->kind == LIC_OP_LEAKY_RELU)
                        lic_leaky_relu(xf, &in, (float)op->slope_q8 / 256.0f);
                    else if (op->kind == LIC_OP_GAIN)
                        for (size_t e = 0; e < (size_t)in.c * in.h * in.w; e++)
                            in.data[e] *= gain[e / ((size_t)in.h * in.w)];
                    else
                        fail_msg("op %d: unexpected in-place kind %d", i, (int)op->kind);
                    continue;
                }
                assert_true(slot[s] != cur); /* never reads the slot it writes */
                lic_tensor out = {op->out.c, H >> op->out.scale, W >> op->out.scale, slot[s]};
                assert_true((uint64_t)out.c * out.h * out.w <= p->grid.act_count[s]);
                if (op->kind == LIC_OP_CONV)
                    assert_int_equal(lic_conv2d(xf, op->conv, &in, &out), 0);
                else if (op->kind == LIC_OP_PIXEL_SHUFFLE)
                    assert_int_equal(lic_pixel_shuffle(xf, &in, 2, &out), 0);
                else
                    fail_msg("op %d: unexpected kind %d", i, (int)op->kind);
                cur = slot[s];
            }
            const int sy = (win.cy - win.wy) >> ds, sx = (win.cx - win.wx) >> ds;
            if (c->dst_dev)
                window_put(cur, c->dst.c, H >> ds, W >> ds, sy, sx, win.ch >> ds, win.cw >> ds, whole[k], ph >> ds,
                           pw >> ds, win.cy >> ds, win.cx >> ds);
            else if (c->dst_host)
                window_put(cur, c->dst.c, H >> ds, W >> ds, sy, sx, win.ch >> ds, win.cw >> ds, xf_view(h, &c->dst),
                           ph >> ds, pw >> ds, win.cy >> ds, win.cx >> ds);
        }
        if (c->dst_dev && c->dst_host)
            memcpy(xf_view(h, &c->dst), whole[k],
                   sizeof(float) * (size_t)c->dst.c * (ph >> c->dst.scale) * (pw >> c->dst.scale));
    }
    for (int i = 0; i < 3; i++)
        free(slot[i]);
    for (int k = 0; k < LIC_GPU_MAX_CHAINS; k++)
        free(whole[k]);
}

/* Analysis then synthesis of one model at 256 x 320 through the emulated executor, tiles of `tile`
 * pixels (0: whole) and the plan's halo changed by halo_delta; y, z and x_out into out[0..2]. */
static void emulate_model(const lic_model_data *md, int tile, int halo_delta, float *out[3])
{
    const int ph = 256, pw = 320;
    lic_gpu_graph g = graph_of(md);
    lic_gpu_oplan p;
    assert_int_equal(lic_gpu_oplan_build(&g, &p), 0);
    assert_int_equal(lic_gpu_oplan_size(&p, &g, ph, pw, 4, UINT64_MAX, tile), 0);
    if (tile)
        assert_int_equal(p.grid.tiles_y * p.grid.tiles_x, (ph / tile) * (pw / tile));
    p.halo += halo_delta, p.grid.halo += halo_delta;
    lic_xf_ctx *xf = NULL;
    assert_int_equal(lic_xf_ctx_create(&xf, LIC_KERNELS_REFERENCE, NULL, &test_alloc), 0);
    xf_ctx h;
    memset(&h, 0, sizeof h);
    h.md = md;
    xf_size(&h, ph, pw);
    rng = 777;
    const lic_view *vx = &md->io.x, *vy = &md->io.y, *vz = &md->io.z, *vo = &md->io.x_out;
    const size_t nx = 3 * (size_t)ph * pw, ny = (size_t)vy->c * (ph / 16) * (pw / 16);
    const size_t nz = (size_t)vz->c * (ph >> vz->scale) * (pw >> vz->scale);
    float *x = rand_buf(nx, 0.5f, 0.5f), *gain = rand_buf((size_t)vy->c, 0.5f, 1.0f);
    memcpy(xf_view(&h, vx), x, sizeof(float) * nx);
    emulate_range(xf, &g, &p, LIC_GPU_ANALYSIS, &h, gain);
    out[0] = fbuf(ny), out[1] = fbuf(nz), out[2] = fbuf(nx);
    memcpy(out[0], xf_view(&h, vy), sizeof(float) * ny);
    memcpy(out[1], xf_view(&h, vz), sizeof(float) * nz);
    float *yhat = xf_view(&h, vy);
    for (size_t i = 0; i < ny; i++)
        yhat[i] = roundf(yhat[i] * 4.0f); /* a y-hat-like input for g_s */
    emulate_range(xf, &g, &p, LIC_GPU_SYNTHESIS, &h, NULL);
    memcpy(out[2], xf_view(&h, vo), sizeof(float) * nx);
    free(x), free(gain);
    xf_host_free(&h);
    lic_xf_ctx_free(&xf);
}

static void test_oplan_emulated(void **state)
{
    (void)state;
    const char *paths[3] = {TINY_MODEL, TINY_DECONV_MODEL, getenv("LIC_TEST_HP1_MODEL")};
    for (int k = 0; k < 3 && paths[k]; k++) {
        lic_model *m = load(paths[k]);
        const lic_model_data *md = &m->data;
        const size_t n[3] = {(size_t)md->io.y.c * 16 * 20, (size_t)md->io.z.c * 4 * 5, 3 * (size_t)256 * 320};
        float *whole[3], *tiled[3], *short_halo[3];
        emulate_model(md, 0, 0, whole);
        emulate_model(md, 64, 0, tiled);
        /* The planned halo holds one latent of margin; two latents less must make the borders wrong. */
        emulate_model(md, 64, -32, short_halo);
        /* The whole-image walk is the CPU transforms (test_gpu's reference of what the engine computes). */
        const int lh = 16, lw = 20, M = md->io.y.c;
        ref_ctx r;
        ref_open(&r, LIC_KERNELS_REFERENCE, act_floats(md, 256, 320) + n[0] * 4);
        rng = 777; /* emulate_model's inputs */
        float *x = rand_buf(n[2], 0.5f, 0.5f), *gain = rand_buf((size_t)M, 0.5f, 1.0f);
        float *y = fbuf(n[0]), *z = fbuf(n[1]), *xo = fbuf(n[2]);
        ref_g_a(&r, md, x, 256, 320, y);
        ref_h_a(&r, md, y, lh, lw, gain, z);
        for (size_t i = 0; i < n[0]; i++)
            y[i] = roundf(y[i] * 4.0f);
        ref_g_s(&r, md, y, lh, lw, xo);
        if (memcmp(z, whole[1], n[1] * sizeof(float)) || memcmp(xo, whole[2], n[2] * sizeof(float)))
            fail_msg("%s: the emulated op-list executor differs from the CPU transforms", paths[k]);
        free(x), free(gain), free(y), free(z), free(xo);
        ref_close(&r);
        for (int i = 0; i < 3; i++) {
            if (memcmp(whole[i], tiled[i], n[i] * sizeof(float)))
                fail_msg("%s: emulated op-list executor, 64 px tiles: output %d differs from the whole image",
                         paths[k], i);
        }
        assert_true(memcmp(whole[0], short_halo[0], n[0] * sizeof(float)) ||
                    memcmp(whole[2], short_halo[2], n[2] * sizeof(float)));
        print_message("  %s: emulated op-list executor, 20 tiles of 64 px == whole image bit for bit (y, z, x)\n",
                      paths[k]);
        for (int i = 0; i < 3; i++)
            free(whole[i]), free(tiled[i]), free(short_halo[i]);
        lic_model_release(&m);
    }
}

static const double LIM_Y[3] = {1e-4, 1e-8, 1e-3};

static void model_parity(lic_model *m, const char *name)
{
    const lic_model_data *md = &m->data;
    int ph, pw;
    float *x = load_photo(&ph, &pw);
    const int lh = ph / 16, lw = pw / 16, M = md->arch.M, Nz = layers_of(md)->h_a[2].cout;
    size_t ny = (size_t)M * lh * lw, nz = (size_t)Nz * (lh / 4) * (lw / 4), nx = 3 * (size_t)ph * pw;
    float *gain = fbuf((size_t)M);
    for (int c = 0; c < M; c++)
        gain[c] = md->gain[(size_t)(md->arch.n_gains / 2) * M + c];
    ref_ctx r;
    ref_open(&r, LIC_KERNELS_FAST, act_floats(md, ph, pw) + ny * 4);
    float *y = fbuf(ny), *z = fbuf(nz), *xs = fbuf(nx);
    ref_g_a(&r, md, x, ph, pw, y);
    ref_h_a(&r, md, y, lh, lw, gain, z);
    float *yhat = fbuf(ny);
    for (size_t i = 0; i < ny; i++)
        yhat[i] = roundf(y[i]) / gain[i / ((size_t)lh * lw)];
    ref_g_s(&r, md, yhat, lh, lw, xs);

    float *gy = fbuf(ny), *gz = fbuf(nz), *gx = fbuf(nx), *ty = fbuf(ny), *tx = fbuf(nx);
    for (int pr = 0; pr < 3; pr++) {
        lic_gpu_options o;
        lic_gpu_options_init(&o);
        o.precision = (enum lic_gpu_precision)pr;
        xf_ctx g, gt;
        xf_open(&g, md, &o);
        o.force_tile = 128;
        xf_open(&gt, md, &o);
        for (int rep = 0; rep < 2; rep++) { /* the second run reuses the planned buffers */
            assert_int_equal(xf_analysis(&g, x, ph, pw, gain, gy, gz), 0);
            assert_int_equal(xf_synthesis(&g, yhat, lh, lw, gx), 0);
        }
        assert_int_equal(xf_analysis(&gt, x, ph, pw, gain, ty, gz), 0);
        assert_int_equal(xf_synthesis(&gt, yhat, lh, lw, tx), 0);
        double ey = nmse(gy, y, ny), ez = nmse(gz, z, nz), ex = nmse(gx, xs, nx);
        double ety = nmse(ty, gy, ny), etx = nmse(tx, gx, nx);
        lic_gpu_plan p;
        uint64_t bytes = 0;
        assert_int_equal(lic_gpu_transforms_memory(g.g, &p, &bytes), 0);
        print_message("  %-12s %-8s %-11s nmse y %.3g z %.3g x %.3g; tiled vs whole y %.3g x %.3g; %.1f MB on device\n",
                      path_name(), name, prec_name[pr], ey, ez, ex, ety, etx, bytes / 1048576.0);
        if (!(ey <= LIM_Y[pr] && ez <= 10 * LIM_Y[pr] && ex <= LIM_Y[pr]))
            fail_msg("%s %s %s: transforms differ from the CPU", path_name(), name, prec_name[pr]);
        if (!(ety <= LIM_Y[pr] && etx <= LIM_Y[pr]))
            fail_msg("%s %s %s: tiled results differ from whole-image ones", path_name(), name, prec_name[pr]);
        xf_close(&g);
        xf_close(&gt);
    }
    free(x), free(gain), free(y), free(z), free(xs), free(yhat), free(gy), free(gz), free(gx), free(ty), free(tx);
    ref_close(&r);
}

static void test_model_parity(void **state)
{
    (void)state;
    lic_model *m = load(TINY_MODEL);
    model_parity(m, "tiny");
    lic_model_release(&m);
    m = load(TINY_DECONV_MODEL);
    model_parity(m, "tiny-dc");
    lic_model_release(&m);
    assert_int_equal(lic_model_load_default(&m, NULL), 0);
    model_parity(m, "default");
    lic_model_release(&m);
}

/* 8000x6000 under a 4 GiB device budget (tiled), FP32, against the same image under no budget. */
static void test_large_image(void **state)
{
    (void)state;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_default(&m, NULL), 0);
    const lic_model_data *md = &m->data;
    const int ph = 6016, pw = 8000, lh = ph / 16, lw = pw / 16, M = md->arch.M, Nz = layers_of(md)->h_a[2].cout;
    size_t nx = 3 * (size_t)ph * pw, ny = (size_t)M * lh * lw, nz = (size_t)Nz * (lh / 4) * (lw / 4);
    float *x = fbuf(nx), *y = fbuf(ny), *z = fbuf(nz), *xo = fbuf(nx), *gain = fbuf((size_t)M);
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)((i * 2654435761u) >> 24) / 255.0f;
    for (int c = 0; c < M; c++)
        gain[c] = 1.0f;
    lic_gpu_options o;
    lic_gpu_options_init(&o);
    o.max_memory = 4ull << 30;
    xf_ctx g;
    xf_open(&g, md, &o);
    assert_int_equal(xf_analysis(&g, x, ph, pw, gain, y, z), 0);
    lic_gpu_plan p;
    uint64_t bytes = 0;
    assert_int_equal(lic_gpu_transforms_memory(g.g, &p, &bytes), 0);
    print_message("  %s: 8000x6000 analysis: %d tiles of %d px, %.2f GiB planned on device\n", path_name(),
                  p.tiles_y * p.tiles_x, p.tile, bytes / 1073741824.0);
    assert_true(bytes <= o.max_memory && p.tiles_y * p.tiles_x > 1);
    for (size_t i = 0; i < ny; i++)
        y[i] = roundf(y[i]);
    assert_int_equal(xf_synthesis(&g, y, lh, lw, xo), 0);
    assert_int_equal(lic_gpu_transforms_memory(g.g, &p, &bytes), 0);
    assert_true(bytes <= o.max_memory);
    for (size_t i = 0; i < nx; i += 4099)
        assert_true(isfinite(xo[i]));
    xf_close(&g);
    free(x), free(y), free(z), free(xo), free(gain);
    lic_model_release(&m);
}

/* ---- with a device: cross-device bitstreams -------------------------------------------------- */

static int image_list(char paths[][512], int max)
{
    const char *dir = getenv("LIC_KODAK_DIR");
    if (!dir)
        dir = "../shared/kodak";
    int full = getenv("LIC_GPU_FULL_KODAK") != NULL, n = 0;
    for (int i = 1; i <= 24 && n < (full ? max : 4); i++) {
        snprintf(paths[n], 512, "%s/kodim%02d.png", dir, i);
        FILE *f = fopen(paths[n], "rb");
        if (!f)
            break;
        fclose(f);
        n++;
    }
    if (n == 0)
        snprintf(paths[n++], 512, "%s", PHOTO);
    return n;
}

static void coded_same(lic_encoder *enc, lic_decoder *dec, const lic_image *img, int q, lic_image *out)
{
    uint8_t *bits = NULL;
    size_t n = 0;
    assert_int_equal(lic_encode(enc, img, q, &bits, &n), 0);
    assert_int_equal(lic_decode(dec, bits, n, out), 0);
    lic_stats se, sd;
    assert_int_equal(lic_encoder_get_stats(enc, &se), 0);
    assert_int_equal(lic_decoder_get_stats(dec, &sd), 0);
    assert_true(se.n_symbols == sd.n_symbols);
    assert_true(se.symbols_hash == sd.symbols_hash);
    assert_true(se.params_hash == sd.params_hash);
    lic_free(bits);
}

static double psnr8(const lic_image *a, const lic_image *b)
{
    double se = 0;
    for (uint32_t y = 0; y < a->height; y++)
        for (uint32_t x = 0; x < a->width * 3; x++) {
            double d = (double)a->data[y * a->stride + x] - b->data[y * b->stride + x];
            se += d * d;
        }
    se /= (double)a->width * a->height * 3;
    return se > 0 ? 10 * log10(255.0 * 255.0 / se) : 99.0;
}

/* Counts the log lines that say the op-list executor was chosen (codec/backend_cuda.c). */
static void count_oplist_lines(void *opaque, int level, const char *msg)
{
    (void)level;
    if (strstr(msg, "LIC_GPU_OPLIST=1"))
        ++*(int *)opaque;
}

static void test_cross_device(void **state)
{
    (void)state;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_default(&m, NULL), 0);
    lic_config gcfg, ccfg;
    assert_int_equal(lic_config_init(&gcfg), 0);
    assert_int_equal(lic_config_init(&ccfg), 0);
    gcfg.backend = LIC_BACKEND_CUDA;
    int oplist_lines = 0; /* the GPU encoder and decoder must take the path under test */
    gcfg.logger = (lic_logger){&oplist_lines, count_oplist_lines, LIC_LOG_INFO};
    ccfg.backend = LIC_BACKEND_CPU;
    lic_encoder *genc = NULL, *cenc = NULL;
    lic_decoder *gdec = NULL, *cdec = NULL;
    int r = lic_encoder_open(&genc, m, &gcfg);
    if (r == LIC_EUNSUPPORTED)
        fail_msg("a GPU is present but the CUDA backend is refused: is the engine patch (docs/GPU.md) in?");
    assert_int_equal(r, 0);
    assert_int_equal(lic_decoder_open(&gdec, m, &gcfg), 0);
    if (oplist_lines != (g_oplist ? 2 : 0))
        fail_msg("%s: %d of 2 GPU codecs log the op-list path", path_name(), oplist_lines);
    assert_int_equal(lic_encoder_open(&cenc, m, &ccfg), 0);
    assert_int_equal(lic_decoder_open(&cdec, m, &ccfg), 0);
    static char paths[24][512];
    int n = image_list(paths, 24);
    static const int qualities[3] = {10, 50, 90};
    for (int i = 0; i < n; i++) {
        app_image a;
        char msg[256];
        assert_int_equal(app_image_read(paths[i], NULL, &a, msg, sizeof msg), 0);
        assert_int_equal(a.channels, 3);
        lic_image img = {a.width, a.height, LIC_PIXFMT_RGB8, a.data, a.stride};
        for (int k = 0; k < 3; k++) {
            lic_image o1 = {0}, o2 = {0};
            coded_same(genc, cdec, &img, qualities[k], &o1); /* GPU -> CPU */
            lic_stats st;
            assert_int_equal(lic_encoder_get_stats(genc, &st), 0);
            assert_string_equal(st.backend, "cuda");
            coded_same(cenc, gdec, &img, qualities[k], &o2); /* CPU -> GPU */
            assert_int_equal(lic_decoder_get_stats(gdec, &st), 0);
            assert_string_equal(st.backend, "cuda");
            print_message("  %s: %s q%d: GPU->CPU and CPU->GPU symbols identical; PSNR %.2f / %.2f dB\n",
                          path_name(), paths[i], qualities[k], psnr8(&img, &o1), psnr8(&img, &o2));
            lic_image_free(&o1);
            lic_image_free(&o2);
        }
        app_image_free(&a);
    }
    lic_encoder_close(&genc), lic_encoder_close(&cenc);
    lic_decoder_close(&gdec), lic_decoder_close(&cdec);
    lic_model_release(&m);
}

/* ---- with a device and LIC_GPU_BENCH=R: transform throughput per precision -------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double psnr_planes(const float *x, const float *ref, int ph, int pw, int h, int w)
{
    double se = 0;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < h; y++)
            for (int i = 0; i < w; i++) {
                float v = x[((size_t)c * ph + y) * pw + i] * 255.0f;
                v = v < 0 ? 0 : v > 255 ? 255 : roundf(v);
                double d = v - roundf(ref[((size_t)c * ph + y) * pw + i] * 255.0f);
                se += d * d;
            }
    se /= 3.0 * h * w;
    return se > 0 ? 10 * log10(255.0 * 255.0 / se) : 99.0;
}

/* For each image and precision: median wall time of lic_gpu_analysis (g_a, gain, h_a, host copies
 * included) and lic_gpu_synthesis over R runs after a warm-up, and the PSNR of g_s(round(y')/gain)
 * against the input, so that FP16's cost in dB is measured on the same latents' rounding. Kodak from
 * LIC_KODAK_DIR / ../shared/kodak (all 24 with LIC_GPU_FULL_KODAK), default model. */
static void test_bench(void **state)
{
    (void)state;
    const char *env = getenv("LIC_GPU_BENCH"); /* main runs this test only when it is set */
    int runs = atoi(env) > 0 ? atoi(env) : 10;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_default(&m, NULL), 0);
    const lic_model_data *md = &m->data;
    lic_gpu_model gm = gpu_model(md);
    const int M = md->arch.M, Nz = layers_of(md)->h_a[2].cout;
    static char paths[24][512];
    int n = image_list(paths, 24);
    lic_gpu_transforms *g[3] = {NULL, NULL, NULL};
    for (int pr = 0; pr < 3; pr++) {
        lic_gpu_options o;
        lic_gpu_options_init(&o);
        o.precision = (enum lic_gpu_precision)pr;
        assert_int_equal(lic_gpu_transforms_create(&g[pr], &gm, &o, &test_alloc), 0);
    }
    double tot_a[3] = {0}, tot_s[3] = {0}, tot_psnr[3] = {0};
    double *ta = calloc((size_t)runs, sizeof(double)), *ts = calloc((size_t)runs, sizeof(double));
    float *gain = fbuf((size_t)M);
    for (int c = 0; c < M; c++)
        gain[c] = md->gain[(size_t)(md->arch.n_gains / 2) * M + c];
    for (int i = 0; i < n; i++) {
        app_image a;
        char msg[256];
        assert_int_equal(app_image_read(paths[i], NULL, &a, msg, sizeof msg), 0);
        int ph = (int)(a.height + 63) / 64 * 64, pw = (int)(a.width + 63) / 64 * 64, lh = ph / 16, lw = pw / 16;
        size_t plane = (size_t)ph * pw, ny = (size_t)M * lh * lw;
        float *x = fbuf(3 * plane), *xo = fbuf(3 * plane), *y = fbuf(ny), *z = fbuf((size_t)Nz * plane / 4096);
        for (int yy = 0; yy < ph; yy++)
            for (int xx = 0; xx < pw; xx++) {
                uint32_t sy = (uint32_t)yy < a.height ? (uint32_t)yy : a.height - 1;
                uint32_t sx = (uint32_t)xx < a.width ? (uint32_t)xx : a.width - 1;
                for (int c = 0; c < 3; c++)
                    x[c * plane + (size_t)yy * pw + xx] = a.data[sy * a.stride + sx * a.channels + (a.channels == 3 ? c : 0)] / 255.0f;
            }
        for (int pr = 0; pr < 3; pr++) {
            assert_int_equal(lic_gpu_analysis(g[pr], x, ph, pw, gain, y, z), 0); /* warm-up, plans */
            for (int r = 0; r < runs; r++) {
                double t0 = now_s();
                assert_int_equal(lic_gpu_analysis(g[pr], x, ph, pw, gain, y, z), 0);
                ta[r] = now_s() - t0;
            }
            for (size_t k = 0; k < ny; k++)
                y[k] = roundf(y[k]) / gain[k / ((size_t)lh * lw)];
            assert_int_equal(lic_gpu_synthesis(g[pr], y, lh, lw, xo), 0);
            for (int r = 0; r < runs; r++) {
                double t0 = now_s();
                assert_int_equal(lic_gpu_synthesis(g[pr], y, lh, lw, xo), 0);
                ts[r] = now_s() - t0;
            }
            qsort(ta, (size_t)runs, sizeof(double), cmp_double);
            qsort(ts, (size_t)runs, sizeof(double), cmp_double);
            tot_a[pr] += ta[runs / 2];
            tot_s[pr] += ts[runs / 2];
            tot_psnr[pr] += psnr_planes(xo, x, ph, pw, (int)a.height, (int)a.width);
        }
        free(x), free(xo), free(y), free(z);
        app_image_free(&a);
    }
    for (int pr = 0; pr < 3; pr++)
        print_message("BENCH gpu %-11s images %d: analysis %.3f ms (%.1f img/s), synthesis %.3f ms (%.1f img/s), "
                      "psnr %.4f dB (delta vs fp32 %+.4f)\n",
                      prec_name[pr], n, 1e3 * tot_a[pr] / n, n / tot_a[pr], 1e3 * tot_s[pr] / n, n / tot_s[pr],
                      tot_psnr[pr] / n, (tot_psnr[pr] - tot_psnr[0]) / n);
    for (int pr = 0; pr < 3; pr++)
        lic_gpu_transforms_free(&g[pr]);
    free(ta), free(ts), free(gain);
    lic_model_release(&m);
}

/* Without a usable GPU, --backend cuda is a clean LIC_EUNSUPPORTED and AUTO runs on the CPU
 * (main runs it only when there is no device). */
static void test_backend_selection_without_gpu(void **state)
{
    (void)state;
    lic_model *m = load(TINY_MODEL);
    lic_config cfg;
    assert_int_equal(lic_config_init(&cfg), 0);
    cfg.backend = LIC_BACKEND_CUDA;
    lic_encoder *e = NULL;
    lic_decoder *d = NULL;
    assert_int_equal(lic_encoder_open(&e, m, &cfg), LIC_EUNSUPPORTED);
    assert_null(e);
    assert_int_equal(lic_decoder_open(&d, m, &cfg), LIC_EUNSUPPORTED);
    cfg.backend = LIC_BACKEND_AUTO;
    assert_int_equal(lic_encoder_open(&e, m, &cfg), 0);
    lic_stats st;
    assert_int_equal(lic_encoder_get_stats(e, &st), 0);
    assert_string_equal(st.backend, "cpu");
    lic_encoder_close(&e);
    /* The same with the op-list executor asked for. */
    assert_int_equal(setenv("LIC_GPU_OPLIST", "1", 1), 0);
    assert_int_equal(lic_encoder_open(&e, m, &cfg), 0);
    assert_int_equal(lic_encoder_get_stats(e, &st), 0);
    assert_string_equal(st.backend, "cpu");
    lic_encoder_close(&e);
    cfg.backend = LIC_BACKEND_CUDA;
    assert_int_equal(lic_encoder_open(&e, m, &cfg), LIC_EUNSUPPORTED);
    assert_null(e);
    assert_int_equal(unsetenv("LIC_GPU_OPLIST"), 0);
    lic_model_release(&m);
}

/* Group setups: which path the device tests take. */
static int use_fixed(void **state)
{
    (void)state;
    g_oplist = 0;
    return unsetenv("LIC_GPU_OPLIST");
}

static int use_oplist(void **state)
{
    (void)state;
    g_oplist = 1;
    return setenv("LIC_GPU_OPLIST", "1", 1);
}

int main(int argc, char **argv)
{
    int device = argc == 2 && !strcmp(argv[1], "--device");
    if (argc > 1 && !device) {
        fprintf(stderr, "usage: test_gpu [--device]\n");
        return 2;
    }
    struct CMUnitTest tests[12];
    size_t n = 0;
    if (!device) {
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_device_query);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_plan);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_oplan);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_oplan_emulated);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_tiling_exact_on_cpu);
        if (!have_gpu())
            tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_backend_selection_without_gpu);
        else
            printf("test_gpu: a CUDA device is present: the no-device backend selection test does not apply\n");
    } else {
        if (!have_gpu()) {
            printf("test_gpu: SKIPPED --device: %s\n", lic_gpu_built_in() ? "no usable CUDA device"
                                                                            : "built without CUDA");
            return LIC_TEST_SKIP;
        }
        /* Each path in its own group (docs/GPU.md §9): the fixed layers, then the op lists. The
         * cross-device test opens encoders, which read LIC_GPU_OPLIST when they pick the path. */
        struct CMUnitTest fixed[5], oplist[5];
        size_t nf = 0, no = 0;
        fixed[nf++] = (struct CMUnitTest)cmocka_unit_test(test_op_parity);
        oplist[no++] = (struct CMUnitTest)cmocka_unit_test(test_oplist_op_parity);
        fixed[nf++] = (struct CMUnitTest)cmocka_unit_test(test_model_parity);
        oplist[no++] = (struct CMUnitTest)cmocka_unit_test(test_model_parity);
        fixed[nf++] = (struct CMUnitTest)cmocka_unit_test(test_large_image);
        oplist[no++] = (struct CMUnitTest)cmocka_unit_test(test_large_image);
        fixed[nf++] = (struct CMUnitTest)cmocka_unit_test(test_cross_device);
        oplist[no++] = (struct CMUnitTest)cmocka_unit_test(test_cross_device);
        if (getenv("LIC_GPU_BENCH"))
            fixed[nf++] = (struct CMUnitTest)cmocka_unit_test(test_bench);
        int failed = _cmocka_run_group_tests("test_gpu --device (fixed layers)", fixed, nf, use_fixed, NULL);
        failed += _cmocka_run_group_tests("test_gpu --device (op lists, LIC_GPU_OPLIST=1)", oplist, no, use_oplist,
                                          NULL);
        return failed ? 1 : 0;
    }
    return _cmocka_run_group_tests(device ? "test_gpu --device" : "test_gpu", tests, n, NULL, NULL);
}
