/* lic codec: shared encoder/decoder machinery — workspace planning, the float transforms, and the
 * integer probability path (docs/FORMAT.md §1.3). Encoder and decoder run the same
 * lic_engine_code_latents so that the means and scale indexes they compute cannot diverge. */
#include "codec/engine.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "entropy/entropy_model.h"
#include "util/fixed.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/mem.h"
#include "gpu/gpu.h"
#include "transforms/ilayers.h"

/* lic_config.cpu_features goes to transforms/ unchanged: the public and internal bits must agree. */
_Static_assert(LIC_CPU_AVX2 == LIC_XF_FEAT_AVX2 && LIC_CPU_AVX512 == LIC_XF_FEAT_AVX512 &&
                   LIC_CPU_AVX512VNNI == LIC_XF_FEAT_AVX512VNNI && LIC_CPU_ALL == LIC_XF_FEAT_ALL,
               "LIC_CPU_* and LIC_XF_FEAT_* differ");

double lic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Decides from cfg.backend whether the float transforms should run on CUDA: *want_gpu = 1 when
 * asked for (CUDA) or possible (AUTO with a device). CUDA without a usable GPU is LIC_EUNSUPPORTED. */
static int select_backend(const lic_engine *e, int *want_gpu)
{
    *want_gpu = 0;
    switch (e->cfg.backend) {
    case LIC_BACKEND_AUTO:
        *want_gpu = lic_gpu_device_count() > 0;
        if (lic_gpu_built_in() && !*want_gpu)
            lic_log(&e->cfg.logger, LIC_LOG_INFO, "no usable GPU: transforms run on the CPU");
        return LIC_OK;
    case LIC_BACKEND_CPU:
        return LIC_OK;
    case LIC_BACKEND_CUDA:
        if (lic_gpu_device_count() == 0) {
            lic_log(&e->cfg.logger, LIC_LOG_ERROR, lic_gpu_built_in()
                        ? "CUDA backend requested, but no usable GPU (driver, compute capability 8.0+)"
                        : "CUDA backend requested, but this build has none (LIC_CUDA)");
            return LIC_EUNSUPPORTED;
        }
        *want_gpu = 1;
        return LIC_OK;
    default:
        return LIC_EINVAL;
    }
}

/* Uploads the float transforms to the GPU. Failing is an error only when CUDA was asked for
 * explicitly; under AUTO the engine stays on the CPU with one logged line. */
static int open_gpu(lic_engine *e)
{
    const lic_model_data *md = e->md;
    lic_gpu_model gm = {md->g_a, md->g_a_gdn, md->h_a, md->g_s, md->g_s_igdn, md->arch.gs_up == LIC_GS_UP_SUBPEL,
                        (float)md->arch.relu_slope_q8 / 256.0f};
    lic_gpu_options o;
    lic_gpu_options_init(&o);
    o.max_memory = e->cfg.max_memory;
    o.logger = &e->cfg.logger;
    int ret = lic_gpu_transforms_create(&e->gpu, &gm, &o, &e->cfg.allocator);
    if (ret == LIC_OK) {
        e->stats.backend = "cuda";
        return LIC_OK;
    }
    if (e->cfg.backend == LIC_BACKEND_CUDA)
        return ret; /* logged by gpu/ */
    lic_log(&e->cfg.logger, LIC_LOG_INFO, "CUDA backend unavailable (%s): transforms run on the CPU",
            lic_strerror(ret));
    return LIC_OK;
}

/* Fills a zeroed engine. On failure the caller runs engine_release, which copes with partial state. */
static int engine_init(lic_engine *e, lic_model *m, const lic_config *cfg)
{
    if (cfg)
        e->cfg = *cfg;
    else
        lic_config_init(&e->cfg);
    lic_mem_resolve(&e->cfg.allocator, cfg ? &cfg->allocator : NULL);

    int want_gpu, ret = select_backend(e, &want_gpu);
    if (ret < 0 || (ret = lic_threadpool_create(&e->pool, e->cfg.n_threads, &e->cfg.allocator)) < 0 ||
        (ret = lic_xf_ctx_create_masked(&e->xf, LIC_KERNELS_FAST, e->cfg.cpu_features, e->pool,
                                        &e->cfg.allocator)) < 0)
        return ret;
    e->ikernel = lic_iconv_kernel_for(e->cfg.cpu_features);
    lic_model_retain(m);
    e->model = m;
    e->md = &m->data;
    e->stats.backend = "cpu";
    return want_gpu ? open_gpu(e) : LIC_OK;
}

static void free_workspace(lic_engine *e)
{
    const lic_allocator *a = &e->cfg.allocator;
    lic_mem_free(a, e->fbuf[0]);
    lic_mem_free(a, e->fbuf[1]);
    lic_mem_free(a, e->y);
    lic_mem_free(a, e->iarena);
    e->fbuf[0] = e->fbuf[1] = e->y = NULL;
    e->iarena = NULL;
    e->ws_float_count = e->ws_y_count = e->iarena_count = 0;
}

static void engine_release(lic_engine *e)
{
    free_workspace(e);
    lic_gpu_transforms_free(&e->gpu);
    lic_xf_ctx_free(&e->xf);
    lic_threadpool_free(&e->pool);
    if (e->model)
        lic_model_release(e->model);
    e->model = NULL;
}

int lic_engine_open(lic_engine **out, size_t size, lic_model *m, const lic_config *cfg)
{
    *out = NULL;
    if (!m)
        return LIC_EINVAL;
    int ret = lic_config_check(cfg);
    if (ret < 0)
        return ret;
    lic_allocator a;
    lic_mem_resolve(&a, cfg ? &cfg->allocator : NULL);
    lic_engine *e = lic_mem_zalloc(&a, size);
    if (!e)
        return LIC_ENOMEM;
    if ((ret = engine_init(e, m, cfg)) < 0) {
        engine_release(e);
        lic_mem_free(&a, e);
        return ret;
    }
    *out = e;
    return LIC_OK;
}

void lic_engine_close(lic_engine *e)
{
    if (!e)
        return;
    lic_allocator a = e->cfg.allocator;
    engine_release(e);
    lic_mem_free(&a, e);
}

/* Sizes of every buffer for a padded size, in elements; returns the estimated peak bytes, or 0 on
 * overflow. Computed in uint64 from sides <= 2^20, so nothing here can overflow before the check. */
typedef struct ws_plan {
    uint64_t fcount, ycount, icount, scratch, peak;
} ws_plan;

static int group_max(const lic_model_data *md)
{
    int g = 0;
    for (int k = 0; k < md->arch.n_groups; k++)
        if (md->groups[k].size > g)
            g = md->groups[k].size;
    return g;
}

static void plan_workspace(const lic_engine *e, int ph, int pw, ws_plan *p)
{
    const struct lic_model_arch *a = &e->md->arch;
    uint64_t px = (uint64_t)ph * (uint64_t)pw, hw = px / 256, zhw = hw / 16;
    uint64_t g = (uint64_t)group_max(e->md);
    uint64_t f = 3 * px;
    if ((uint64_t)a->N * px / 4 > f)
        f = (uint64_t)a->N * px / 4;
    p->fcount = f;
    p->ycount = (uint64_t)a->M * hw;
    p->icount = 2 * (uint64_t)a->M * hw                       /* yq, yctx */
                + (uint64_t)a->N * zhw                        /* zhat */
                + (uint64_t)a->N * zhw * 4 + (uint64_t)a->C_h * hw /* hs_tmp */
                + (uint64_t)(a->C_h + a->C_cc + a->C_sp) * hw /* ep_in */
                + (uint64_t)a->C_cc * hw + g * hw             /* cc_tmp, anchors */
                + 2 * (uint64_t)a->C_ep * hw + 2 * g * hw;    /* ep_tmp, params */
    /* The largest scratch of any float layer: one thread's strip, which grows with the image (largest
     * for the full-resolution layers), plus the layer's packed weights, which do not (largest for the
     * wide layers at the start of g_s: 1.2 MB in the shipped model, more than the whole workspace of
     * a small image). Input sides: g_a[i] at 1/2^i, h_a at 1/16 then 1/32, g_s[i] at 2^i/16. */
    uint64_t scratch = 0;
    const lic_model_data *md = e->md;
    for (int i = 0; i < 11; i++) {
        const lic_conv_layer *L = i < 4 ? &md->g_a[i] : i < 8 ? &md->g_s[i - 4] : &md->h_a[i - 8];
        int ih = i < 4 ? ph >> i : i < 8 ? (ph / 16) << (i - 4) : ph / (i < 10 ? 16 : 32);
        int iw = i < 4 ? pw >> i : i < 8 ? (pw / 16) << (i - 4) : pw / (i < 10 ? 16 : 32);
        uint64_t s = lic_conv2d_scratch_size(L, ih, iw);
        if (s > scratch)
            scratch = s;
    }
    p->scratch = scratch * (uint64_t)lic_threadpool_size(e->pool);
    /* Symbol writers buffer their symbols (and briefly twice that while growing): about 40 bytes per
     * symbol. Add the decoded image, and 256 KB for the writers' first blocks and scratch rounding. */
    p->peak = 4 * (2 * f + p->ycount + p->icount) + p->scratch + 40 * (p->ycount + (uint64_t)a->N * zhw) +
              3 * px + (256u << 10);
}

/* The limit checks of lic_engine_prepare; fills *p (the plan for the padded size) when the sides and
 * pixel count are within bounds. */
static int check_size(const lic_engine *e, uint32_t width, uint32_t height, lic_size_check *out, ws_plan *p)
{
    const lic_config *c = &e->cfg;
    if (width == 0 || height == 0)
        return LIC_EINVAL;
    memset(out, 0, sizeof(*out));
    const uint64_t side = width > height ? width : height, px = (uint64_t)width * height;
    /* The absolute bound behind the configurable one keeps plan_workspace free of overflow. */
    const uint64_t max_side = c->max_side < (1u << 20) ? c->max_side : (1u << 20);
    if (side > max_side) {
        *out = (lic_size_check){LIC_LIMIT_SIDE, side, max_side, 0};
        return LIC_ELIMIT;
    }
    if (px > c->max_pixels) {
        *out = (lic_size_check){LIC_LIMIT_PIXELS, px, c->max_pixels, 0};
        return LIC_ELIMIT;
    }
    plan_workspace(e, (int)((height + 63) / 64 * 64), (int)((width + 63) / 64 * 64), p);
    out->memory = p->peak;
    if (c->max_memory && p->peak > c->max_memory) {
        *out = (lic_size_check){LIC_LIMIT_MEMORY, p->peak, c->max_memory, p->peak};
        return LIC_ELIMIT;
    }
    if (p->peak > SIZE_MAX / 2) { /* only reachable with no cap on a 32-bit machine */
        *out = (lic_size_check){LIC_LIMIT_MEMORY, p->peak, SIZE_MAX / 2, p->peak};
        return LIC_ELIMIT;
    }
    return LIC_OK;
}

int lic_engine_check_size(const lic_engine *e, uint32_t width, uint32_t height, lic_size_check *out)
{
    ws_plan p;
    return check_size(e, width, height, out, &p);
}

int lic_engine_prepare(lic_engine *e, uint32_t width, uint32_t height)
{
    const lic_config *c = &e->cfg;
    lic_size_check chk;
    ws_plan p;
    int ret = check_size(e, width, height, &chk, &p);
    if (ret == LIC_ELIMIT && chk.exceeded == LIC_LIMIT_MEMORY)
        lic_log(&c->logger, LIC_LOG_ERROR, "image %ux%u needs about %llu MB, above the %llu MB cap", width,
                height, (unsigned long long)(chk.value >> 20), (unsigned long long)(chk.limit >> 20));
    if (ret < 0)
        return ret;
    const int ph = (int)((height + 63) / 64 * 64), pw = (int)((width + 63) / 64 * 64);

    /* Buffers are reused while large enough: index arithmetic always uses the new size. */
    if (!e->fbuf[0] || p.fcount > e->ws_float_count || p.ycount > e->ws_y_count || p.icount > e->iarena_count) {
        free_workspace(e);
        const lic_allocator *a = &c->allocator;
        e->fbuf[0] = lic_mem_alloc(a, (size_t)p.fcount * sizeof(float));
        e->fbuf[1] = lic_mem_alloc(a, (size_t)p.fcount * sizeof(float));
        e->y = lic_mem_alloc(a, (size_t)p.ycount * sizeof(float));
        e->iarena = lic_mem_alloc(a, (size_t)p.icount * sizeof(int32_t));
        if (!e->fbuf[0] || !e->fbuf[1] || !e->y || !e->iarena) {
            free_workspace(e);
            return LIC_ENOMEM;
        }
        e->ws_float_count = (size_t)p.fcount;
        e->ws_y_count = (size_t)p.ycount;
        e->iarena_count = (size_t)p.icount;
    }
    e->ph = ph;
    e->pw = pw;
    e->lh = ph / 16;
    e->lw = pw / 16;

    /* Carve the integer arena for this size. */
    const struct lic_model_arch *a = &e->md->arch;
    size_t hw = (size_t)e->lh * e->lw, zhw = hw / 16, g = (size_t)group_max(e->md);
    int32_t *q = e->iarena;
    e->yq = q, q += (size_t)a->M * hw;
    e->yctx = q, q += (size_t)a->M * hw;
    e->zhat = q, q += (size_t)a->N * zhw;
    e->hs_tmp[0] = q, q += (size_t)a->N * zhw * 4;
    e->hs_tmp[1] = q, q += (size_t)a->C_h * hw;
    e->ep_in = q, q += (size_t)(a->C_h + a->C_cc + a->C_sp) * hw;
    e->cc_tmp = q, q += (size_t)a->C_cc * hw;
    e->anchors = q, q += g * hw;
    e->ep_tmp[0] = q, q += (size_t)a->C_ep * hw;
    e->ep_tmp[1] = q, q += (size_t)a->C_ep * hw;
    e->params = q;
    return LIC_OK;
}

void lic_engine_gains(const lic_engine *e, int quality, int inverse, float *out)
{
    const struct lic_model_arch *a = &e->md->arch;
    const float *table = inverse ? e->md->gain_inv : e->md->gain;
    double t = (double)(quality - 1) * (a->n_gains - 1) / 99.0;
    int j = (int)t;
    if (j >= a->n_gains - 1)
        j = a->n_gains > 1 ? a->n_gains - 2 : 0;
    double f = a->n_gains > 1 ? t - j : 0.0;
    for (int c = 0; c < a->M; c++) {
        double lo = table[(size_t)j * a->M + c];
        double hi = a->n_gains > 1 ? table[(size_t)(j + 1) * a->M + c] : lo;
        out[c] = (float)(pow(lo, 1.0 - f) * pow(hi, f));
    }
}

static lic_tensor tensor(int c, int h, int w, float *data)
{
    lic_tensor t = {c, h, w, data};
    return t;
}

/* A conv layer's output shape for an input of (h, w). */
static lic_tensor conv_out(const lic_conv_layer *L, int h, int w, float *data)
{
    if (L->transposed)
        return tensor(L->cout, h * L->stride, w * L->stride, data);
    return tensor(L->cout, lic_conv_out_size(h, L->stride), lic_conv_out_size(w, L->stride), data);
}

/* A GPU failure in the middle of an image: under AUTO the engine drops the GPU for good and the caller
 * reruns the step on the CPU (inputs are host buffers the GPU only read); with CUDA asked for
 * explicitly the error is returned. */
static int gpu_failed(lic_engine *e, int ret)
{
    if (e->cfg.backend != LIC_BACKEND_AUTO)
        return ret;
    lic_log(&e->cfg.logger, LIC_LOG_WARN, "CUDA backend failed (%s): transforms run on the CPU from now on",
            lic_strerror(ret));
    lic_gpu_transforms_free(&e->gpu);
    e->stats.backend = "cpu";
    return LIC_OK;
}

int lic_engine_analysis(lic_engine *e, const float *gain, float **z_out)
{
    if (e->gpu) { /* z (N x ph/64 x pw/64) fits in fbuf[1] */
        *z_out = e->fbuf[1];
        int ret = lic_gpu_analysis(e->gpu, e->fbuf[0], e->ph, e->pw, gain, e->y, e->fbuf[1]);
        if (ret == LIC_OK || (ret = gpu_failed(e, ret)) < 0)
            return ret;
    }
    const lic_model_data *md = e->md;
    float slope = (float)md->arch.relu_slope_q8 / 256.0f;
    lic_tensor cur = tensor(3, e->ph, e->pw, e->fbuf[0]);
    int ret, which = 1;
    for (int i = 0; i < 4; i++) {
        float *dst = i == 3 ? e->y : e->fbuf[which];
        lic_tensor out = conv_out(&md->g_a[i], cur.h, cur.w, dst);
        if ((ret = lic_conv2d(e->xf, &md->g_a[i], &cur, &out)) < 0)
            return ret;
        if (i < 3 && (ret = lic_gdn(e->xf, &md->g_a_gdn[i], &out)) < 0)
            return ret;
        cur = out;
        which ^= 1;
    }
    size_t hw = (size_t)cur.h * cur.w;
    for (int c = 0; c < cur.c; c++)
        for (size_t p = 0; p < hw; p++)
            cur.data[c * hw + p] *= gain[c];

    which = 0;
    for (int i = 0; i < 3; i++) {
        lic_tensor out = conv_out(&md->h_a[i], cur.h, cur.w, e->fbuf[which]);
        if ((ret = lic_conv2d(e->xf, &md->h_a[i], &cur, &out)) < 0)
            return ret;
        if (i < 2)
            lic_leaky_relu(e->xf, &out, slope);
        cur = out;
        which ^= 1;
    }
    *z_out = cur.data;
    return LIC_OK;
}

int lic_engine_synthesis(lic_engine *e, float **out_data)
{
    if (e->gpu) {
        *out_data = e->fbuf[0];
        int ret = lic_gpu_synthesis(e->gpu, e->y, e->lh, e->lw, e->fbuf[0]);
        if (ret == LIC_OK || (ret = gpu_failed(e, ret)) < 0)
            return ret;
    }
    const lic_model_data *md = e->md;
    lic_tensor cur = tensor(md->arch.M, e->lh, e->lw, e->y);
    int ret;
    for (int i = 0; i < 4; i++) {
        const lic_conv_layer *L = &md->g_s[i];
        lic_tensor out;
        if (md->arch.gs_up == LIC_GS_UP_SUBPEL) {
            lic_tensor wide = conv_out(L, cur.h, cur.w, e->fbuf[0]);
            if ((ret = lic_conv2d(e->xf, L, &cur, &wide)) < 0)
                return ret;
            out = tensor(wide.c / 4, wide.h * 2, wide.w * 2, e->fbuf[1]);
            if ((ret = lic_pixel_shuffle(e->xf, &wide, 2, &out)) < 0)
                return ret;
        } else {
            out = conv_out(L, cur.h, cur.w, e->fbuf[i & 1]);
            if ((ret = lic_conv2d(e->xf, L, &cur, &out)) < 0)
                return ret;
        }
        if (i < 3 && (ret = lic_gdn(e->xf, &md->g_s_igdn[i], &out)) < 0)
            return ret;
        cur = out;
    }
    *out_data = cur.data;
    return LIC_OK;
}

/* ---- the integer probability path ---- */

static lic_itensor itensor(int c, int h, int w, int32_t *data)
{
    lic_itensor t = {c, h, w, data};
    return t;
}

/* round(v * 2^frac) as int64, saturated far outside any useful range; NaN becomes 0. */
static int64_t to_fixed(double v, int frac)
{
    double s = v * (double)(1 << frac);
    if (!(s == s))
        return 0;
    if (s > 1e12)
        s = 1e12;
    if (s < -1e12)
        s = -1e12;
    return (int64_t)llround(s);
}

static int code_z(lic_engine *e, lic_latent_coder *io)
{
    const lic_model_data *md = e->md;
    const lic_factorized_prior *zp = &md->z_prior;
    int zh = e->lh / 4, zw = e->lw / 4;
    size_t zhw = (size_t)zh * zw;
    for (int c = 0; c < md->arch.N; c++) {
        for (size_t p = 0; p < zhw; p++) {
            int32_t s;
            if (io->encode) {
                s = lic_factorized_quantize(zp, c, to_fixed(io->z[c * zhw + p], zp->frac_bits));
                int ret = lic_symbol_writer_put(io->zw, &zp->cdf, c, s);
                if (ret < 0)
                    return ret;
            } else {
                s = lic_symbol_clamp(lic_symbol_reader_get(io->zr, &zp->cdf, c));
            }
            e->zhat[c * zhw + p] = lic_factorized_reconstruct(zp, c, s);
            e->stats.symbols_hash = lic_fnv1a64_mix32(e->stats.symbols_hash, s);
        }
    }
    e->stats.n_symbols += (uint64_t)md->arch.N * zhw;
    return LIC_OK;
}

static int hyper_synthesis(lic_engine *e)
{
    const lic_model_data *md = e->md;
    int zh = e->lh / 4, zw = e->lw / 4;
    lic_itensor in = itensor(md->arch.N, zh, zw, e->zhat);
    lic_itensor t0 = itensor(md->h_s[0].cout, zh * 2, zw * 2, e->hs_tmp[0]);
    lic_itensor t1 = itensor(md->h_s[1].cout, e->lh, e->lw, e->hs_tmp[1]);
    lic_itensor out = itensor(md->h_s[2].cout, e->lh, e->lw, e->ep_in);
    int ret;
    if ((ret = lic_iconv2d_kernel(e->pool, &md->h_s[0], &in, &t0, e->ikernel)) < 0 ||
        (ret = lic_iconv2d_kernel(e->pool, &md->h_s[1], &t0, &t1, e->ikernel)) < 0 ||
        (ret = lic_iconv2d_kernel(e->pool, &md->h_s[2], &t1, &out, e->ikernel)) < 0)
        return ret;
    return LIC_OK;
}

/* Runs ep_k over ep_in (channels [H | C | S]) into e->params. */
static int run_params(lic_engine *e, const lic_group_model *G, int n_in)
{
    lic_itensor in = itensor(n_in, e->lh, e->lw, e->ep_in);
    lic_itensor t0 = itensor(G->ep[0].cout, e->lh, e->lw, e->ep_tmp[0]);
    lic_itensor t1 = itensor(G->ep[1].cout, e->lh, e->lw, e->ep_tmp[1]);
    lic_itensor out = itensor(G->ep[2].cout, e->lh, e->lw, e->params);
    int ret;
    if ((ret = lic_iconv2d_kernel(e->pool, &G->ep[0], &in, &t0, e->ikernel)) < 0 ||
        (ret = lic_iconv2d_kernel(e->pool, &G->ep[1], &t0, &t1, e->ikernel)) < 0 ||
        (ret = lic_iconv2d_kernel(e->pool, &G->ep[2], &t1, &out, e->ikernel)) < 0)
        return ret;
    return LIC_OK;
}

/* Codes one checkerboard pass of group G: positions with (x + y) % 2 == pass. */
static int code_pass(lic_engine *e, lic_latent_coder *io, const lic_group_model *G, int pass)
{
    const lic_model_data *md = e->md;
    const lic_gaussian_conditional *gc = &md->y_gc;
    int yf = md->arch.yctx_frac_bits, sh = 8 - yf;
    size_t hw = (size_t)e->lh * e->lw;
    for (int c = 0; c < G->size; c++) {
        size_t plane = (size_t)(G->c0 + c) * hw;
        const int32_t *mean = e->params + (size_t)c * hw;
        const int32_t *scale = e->params + (size_t)(G->size + c) * hw;
        for (int y = 0; y < e->lh; y++) {
            for (int x = (y + pass) & 1; x < e->lw; x += 2) {
                size_t p = (size_t)y * e->lw + x;
                int32_t mu = mean[p];
                int idx = lic_gaussian_scale_index(gc, scale[p]);
                int32_t s;
                if (io->encode) {
                    s = lic_gaussian_quantize(to_fixed(e->y[plane + p], LIC_GAUSSIAN_FRAC_BITS), mu);
                    int ret = lic_symbol_writer_put(io->yw, &gc->cdf, idx, s);
                    if (ret < 0)
                        return ret;
                } else {
                    s = lic_symbol_clamp(lic_symbol_reader_get(io->yr, &gc->cdf, idx));
                }
                int32_t v = lic_gaussian_reconstruct(s, mu);
                int32_t ctx = lic_clamp_i64(lic_round_shr(v, sh), INT16_MIN, INT16_MAX);
                e->yq[plane + p] = v;
                e->yctx[plane + p] = ctx;
                if (pass == 0)
                    e->anchors[(size_t)c * hw + p] = ctx;
                e->stats.symbols_hash = lic_fnv1a64_mix32(e->stats.symbols_hash, s);
                e->stats.params_hash = lic_fnv1a64_mix32(lic_fnv1a64_mix32(e->stats.params_hash, mu), idx);
            }
        }
    }
    return LIC_OK;
}

/* When decoding, a stream that has run past its end stops the work at once, so the time spent on a
 * corrupt or truncated file is bounded by its size rather than by the image size it claims. */
static int stream_ok(const lic_latent_coder *io)
{
    if (io->encode)
        return LIC_OK;
    if (lic_symbol_reader_status(io->zr) < 0 || (io->yr && lic_symbol_reader_status(io->yr) < 0))
        return LIC_EBITSTREAM;
    return LIC_OK;
}

static int code_group(lic_engine *e, lic_latent_coder *io, const lic_group_model *G, int k)
{
    const struct lic_model_arch *a = &e->md->arch;
    size_t hw = (size_t)e->lh * e->lw;
    int ret, n_in = a->C_h + a->C_sp;
    int32_t *spatial = e->ep_in + (size_t)a->C_h * hw;
    if (k > 0) {
        lic_itensor prev = itensor(G->c0, e->lh, e->lw, e->yctx);
        lic_itensor t0 = itensor(a->C_cc, e->lh, e->lw, e->cc_tmp);
        lic_itensor ctx = itensor(a->C_cc, e->lh, e->lw, spatial);
        if ((ret = lic_iconv2d_kernel(e->pool, &G->cc[0], &prev, &t0, e->ikernel)) < 0 ||
            (ret = lic_iconv2d_kernel(e->pool, &G->cc[1], &t0, &ctx, e->ikernel)) < 0)
            return ret;
        spatial += (size_t)a->C_cc * hw;
        n_in += a->C_cc;
    }
    memset(e->anchors, 0, (size_t)G->size * hw * sizeof(int32_t));
    lic_itensor anchors = itensor(G->size, e->lh, e->lw, e->anchors);
    lic_itensor sp = itensor(a->C_sp, e->lh, e->lw, spatial);
    for (int pass = 0; pass < 2; pass++) {
        if ((ret = lic_iconv2d_kernel(e->pool, &G->sp, &anchors, &sp, e->ikernel)) < 0 || (ret = run_params(e, G, n_in)) < 0 ||
            (ret = code_pass(e, io, G, pass)) < 0 || (ret = stream_ok(io)) < 0)
            return ret;
    }
    e->stats.n_symbols += (uint64_t)G->size * hw;
    return LIC_OK;
}

int lic_engine_code_latents(lic_engine *e, lic_latent_coder *io)
{
    e->stats.symbols_hash = e->stats.params_hash = LIC_FNV64_BASIS;
    e->stats.n_symbols = 0;
    double t0 = lic_now();
    int ret;
    if ((ret = code_z(e, io)) < 0 || (ret = stream_ok(io)) < 0 || (ret = hyper_synthesis(e)) < 0)
        return ret;
    double t1 = lic_now();
    for (int k = 0; k < e->md->arch.n_groups; k++)
        if ((ret = code_group(e, io, &e->md->groups[k], k)) < 0)
            return ret;
    e->stats.t_hyper += t1 - t0;
    e->stats.t_entropy += lic_now() - t1;
    return LIC_OK;
}
