/* lic codec: shared encoder/decoder machinery — workspace planning, the float transforms, and the
 * integer probability path (docs/FORMAT.md §1.3). Encoder and decoder run the same
 * lic_engine_code_latents so that the means and scale indexes they compute cannot diverge. */
#include "codec/engine.h"

#include "codec/backend.h"
#include "codec/bands.h"

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

/* Fills a zeroed engine. On failure the caller runs engine_release, which copes with partial state. */
static int engine_init(lic_engine *e, lic_model *m, const lic_config *cfg)
{
    if (cfg)
        e->cfg = *cfg;
    else
        lic_config_init(&e->cfg);
    lic_mem_resolve(&e->cfg.allocator, cfg ? &cfg->allocator : NULL);

    int ret;
    if ((ret = lic_threadpool_create(&e->pool, e->cfg.n_threads, &e->cfg.allocator)) < 0 ||
        (ret = lic_xf_ctx_create_masked(&e->xf, LIC_KERNELS_FAST, e->cfg.cpu_features, e->pool,
                                        &e->cfg.allocator)) < 0)
        return ret;
    lic_xf_ctx_keep_packed(e->xf); /* the model's layers outlive the context; bands run each many times */
    e->ikernel = lic_iconv_kernel_for(e->cfg.cpu_features);
    lic_model_retain(m);
    e->model = m;
    e->md = &m->data;
    e->stats.backend = "cpu";
    if ((ret = lic_tile_plan_build(e->md, &e->tiles)) < 0 || (ret = lic_etiles_init(e)) < 0)
        return ret;
    return lic_backend_cuda_open(e);
}

static void free_workspace(lic_engine *e)
{
    for (int i = 0; i < LIC_MAX_BUFS; i++) {
        if (e->buf[i])
            lic_backend_cpu.free(e, e->buf[i]);
        e->buf[i] = NULL;
        e->buf_cap[i] = 0;
        if (e->tbuf[i])
            lic_backend_cpu.free(e, e->tbuf[i]);
        e->tbuf[i] = NULL;
        e->tbuf_cap[i] = 0;
    }
    lic_mem_free(&e->cfg.allocator, e->band);
    e->band = NULL;
    e->band_cap = 0;
}

static void engine_release(lic_engine *e)
{
    free_workspace(e);
    lic_etiles_release(e);
    lic_backend_cuda_close(e);
    lic_xf_ctx_free(&e->xf);
    lic_threadpool_free(&e->pool);
    if (e->model)
        lic_model_release(&e->model);
    e->model = NULL;
}

int lic_engine_open(lic_engine **out, size_t size, lic_model *m, const lic_config *cfg, lic_engine_role role)
{
    *out = NULL;
    if (!m)
        return LIC_EINVAL;
    lic_allocator a;
    int ret = lic_config_allocator(cfg, &a);
    if (ret < 0)
        return ret;
    lic_engine *e = lic_mem_zalloc(&a, size);
    if (!e)
        return LIC_ENOMEM;
    e->role = role;
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

/* Sizes of every buffer for a padded size, in elements, and the estimated peak bytes. Computed in
 * uint64 from sides <= 2^20 and views of at most 8192 channels (lic_op_check), so nothing here can
 * overflow before the check. */
typedef struct ws_plan {
    int tiled, tile;                      /* tile side in pixels when tiled */
    int etile_log2;                       /* the probability path's tiles (codec/entropy_tiles.h) */
    int etile_workers;                    /* and how many are coded at once */
    uint64_t count[LIC_MAX_BUFS];         /* whole buffers */
    uint64_t tcount[LIC_MAX_BUFS];        /* tile buffers (tiled) */
    uint64_t band;                        /* floats of the bands' rings (tiled) */
    uint32_t pixel_rows;                  /* rows of a streaming source's or sink's ring */
    uint64_t scratch, peak;
} ws_plan;

/* The default tile side in pixels of the chains that run in tiles (the integer hyper-synthesis; the
 * float chains run in bands, codec/bands.h). Halos cost work (2 units each side), small tiles stay in
 * cache; 1024 pixels is 64 latent positions of h_s per tile. Under a memory cap the engine halves it
 * until the plan fits (down to 64). */
#define TILE_DEFAULT 1024

static size_t elem_size(const lic_buf *b)
{
    return b->type == LIC_BUF_F32 ? sizeof(float) : sizeof(int32_t);
}

static void plan_workspace(const lic_engine *e, int ph, int pw, int tile, int elog2, int workers, ws_plan *p)
{
    const lic_model_data *md = e->md;
    const int lh = ph / 16, lw = pw / 16;
    const uint64_t n_etiles = lic_etiles_count(lh, lw, elog2);
    uint64_t px = (uint64_t)ph * (uint64_t)pw, bytes = 0, scratch = 0;
    lic_scratch_parts xf = {0, 0, 0}; /* the float layers that run in bands or whole */
    const lic_op_range all = {0, md->n_ops};
    const lic_op_range transforms = e->role == LIC_ENGINE_ENCODER   ? md->analysis
                                    : e->role == LIC_ENGINE_DECODER ? md->synthesis
                                                                    : all;
    p->tiled = tile > 0;
    p->tile = tile;
    p->etile_log2 = elog2;
    p->etile_workers = workers;
    p->band = 0;
    p->pixel_rows = 1;
    if (p->tiled) {
        lic_band_need band = {0, {0, 0, 0}, 0};
        lic_tile_counts(&e->tiles, md, tile, ph, pw, p->tcount, &scratch);
        lic_band_measure(&e->tiles, md, ph, pw, transforms, &band);
        p->band = band.floats;
        bytes += band.floats * sizeof(float);
        xf = band.scratch;
        p->pixel_rows = lic_tile_pixel_rows(&e->tiles, tile, ph);
        p->pixel_rows = band.pixel_rows > p->pixel_rows ? band.pixel_rows : p->pixel_rows;
    }
    for (int i = 0; i < md->n_bufs; i++) {
        lic_buf whole = md->bufs[i];
        if (n_etiles > 1) /* the probability path's buffers are the tiles' */
            whole.units = e->et.whole_units[p->tiled][i];
        else if (p->tiled)
            whole.units = e->tiles.whole_units[i];
        if (!p->tiled)
            p->tcount[i] = 0;
        p->count[i] = lic_buf_count(&whole, ph, pw);
        bytes += (p->count[i] + p->tcount[i]) * elem_size(&md->bufs[i]);
    }
    /* The side's float layers: the context keeps each one's packed weights (lic_xf_ctx_keep_packed);
     * untiled, each also runs on the whole image, its slot growing with it (the strip of a conv, a row
     * of squares of the reference GDN). */
    uint64_t kept = 0;
    for (int i = transforms.first; i < transforms.first + transforms.count; i++) {
        const lic_op *op = &md->ops[i];
        const int h = ph >> op->in.scale, w = pw >> op->in.scale;
        lic_scratch_parts s = {0, 0, 0};
        if (op->kind == LIC_OP_CONV)
            s = lic_conv2d_scratch_parts(op->conv, h, w);
        else if (op->kind == LIC_OP_GDN)
            s = lic_gdn_scratch_parts(op->gdn, h, w);
        kept += s.packed;
        if (!p->tiled)
            xf = lic_scratch_parts_max(xf, s);
    }
    /* The context's shared block and one slot per thread, each rounded up to 64 KiB, the kept weights,
     * and the tiles' convs (lic_tile_counts: the parts together, per thread). */
    const uint64_t threads = (uint64_t)lic_threadpool_size(e->pool);
    p->scratch = scratch * threads + xf.shared + (64u << 10) + (xf.slot + (64u << 10)) * threads + kept;
    /* Symbol writers buffer their symbols (and briefly twice that while growing): about 40 bytes per
     * symbol. With one tile that is every symbol of the image; with several, the z symbols, the tiles
     * in flight (one per worker, in its workspace) and the finished tile streams, kept as bytes (1 byte
     * per y symbol: far above the rates the codec reaches). Add the decoded image lic_decode returns
     * (the _rows calls have a ring of rows instead, counted too), and 256 KB for the writers' first
     * blocks and scratch rounding. */
    const uint64_t blocks = px / 4096, zsym = lic_view_units(&md->io.zhat) * blocks;
    const uint64_t ysym = lic_view_units(&md->io.yq) * blocks;
    uint64_t coding = 40 * (ysym + zsym);
    if (n_etiles > 1)
        coding = 40 * zsym + ysym +
                 (uint64_t)workers * lic_etiles_worker_bytes(e, lh, lw, elog2, 1);
    const uint64_t ring = p->pixel_rows * 3 * (uint64_t)pw;
    p->peak = bytes + p->scratch + coding + 3 * px + ring + (256u << 10);
}

/* The tile side for the configuration: 0 (untiled) with an accelerator, which needs whole buffers, or
 * when asked; the configured side; or the default, halved under a memory cap until the plan fits.
 * Then, still above a cap, fewer entropy tiles in flight (down to one): memory for speed. */
static void plan_tiled(const lic_engine *e, int ph, int pw, int elog2, ws_plan *p)
{
    const lic_config *c = &e->cfg;
    int workers = lic_etiles_workers(e, lic_etiles_count(ph / 16, pw / 16, elog2));
    if (e->accel || c->tile_side == LIC_TILE_WHOLE) {
        plan_workspace(e, ph, pw, 0, elog2, workers, p);
    } else if (c->tile_side) {
        plan_workspace(e, ph, pw, c->tile_side < 64 ? 64 : (int)(c->tile_side < (1u << 20) ? c->tile_side & ~63u : 1u << 20),
                       elog2, workers, p);
    } else {
        int tile = TILE_DEFAULT;
        plan_workspace(e, ph, pw, tile, elog2, workers, p);
        while (c->max_memory && p->peak > c->max_memory && tile > 64)
            plan_workspace(e, ph, pw, tile /= 2, elog2, workers, p);
    }
    while (c->max_memory && p->peak > c->max_memory && workers > 1)
        plan_workspace(e, ph, pw, p->tile, elog2, --workers, p);
}

/* The limit checks of lic_engine_prepare; fills *p (the plan for the padded size) when the sides and
 * pixel count are within bounds. */
static int check_size(const lic_engine *e, uint32_t width, uint32_t height, int elog2, lic_size_check *out,
                      ws_plan *p)
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
    const int ph = (int)((height + 63) / 64 * 64), pw = (int)((width + 63) / 64 * 64);
    if (elog2 < 0)
        elog2 = lic_etiles_log2_for(c->entropy_tile, ph / 16, pw / 16);
    plan_tiled(e, ph, pw, elog2, p);
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
    return check_size(e, width, height, -1, out, &p);
}

/* Makes *buf hold `count` elements; buffers are reused while large enough, since index arithmetic
 * always uses the new size. */
static int grow_buf(lic_engine *e, const lic_buf *b, void **buf, uint64_t *cap, uint64_t count)
{
    if (count <= *cap)
        return LIC_OK;
    if (*buf)
        lic_backend_cpu.free(e, *buf);
    *buf = lic_backend_cpu.alloc(e, b, count);
    *cap = *buf ? count : 0;
    return *buf ? LIC_OK : LIC_ENOMEM;
}

int lic_engine_prepare(lic_engine *e, uint32_t width, uint32_t height)
{
    return lic_engine_prepare_tiles(e, width, height, -1);
}

int lic_engine_prepare_tiles(lic_engine *e, uint32_t width, uint32_t height, int tile_log2)
{
    const lic_config *c = &e->cfg;
    lic_size_check chk;
    ws_plan p;
    int ret = check_size(e, width, height, tile_log2, &chk, &p);
    if (ret == LIC_ELIMIT && chk.exceeded == LIC_LIMIT_MEMORY)
        lic_log(&c->logger, LIC_LOG_ERROR, "image %ux%u needs about %llu MB, above the %llu MB cap", width,
                height, (unsigned long long)(chk.value >> 20), (unsigned long long)(chk.limit >> 20));
    if (ret < 0)
        return ret;
    const int ph = (int)((height + 63) / 64 * 64), pw = (int)((width + 63) / 64 * 64);

    const lic_model_data *md = e->md;
    for (int i = 0; i < md->n_bufs; i++) {
        if (grow_buf(e, &md->bufs[i], &e->buf[i], &e->buf_cap[i], p.count[i]) < 0 ||
            grow_buf(e, &md->bufs[i], &e->tbuf[i], &e->tbuf_cap[i], p.tcount[i]) < 0) {
            free_workspace(e);
            return LIC_ENOMEM;
        }
    }
    if (p.band > e->band_cap) {
        lic_mem_free(&c->allocator, e->band);
        e->band = NULL;
        e->band_cap = 0;
        if (p.band > SIZE_MAX / sizeof(float) || !(e->band = lic_mem_alloc(&c->allocator, p.band * sizeof(float)))) {
            free_workspace(e);
            return LIC_ENOMEM;
        }
        e->band_cap = p.band;
    }
    e->tiled = p.tiled;
    e->tile = p.tile;
    e->pixel_rows = p.pixel_rows;
    e->ph = ph;
    e->pw = pw;
    e->lh = ph / 16;
    e->lw = pw / 16;
    e->x = e->tiled && e->tiles.pixels_in >= 0 ? NULL : lic_engine_view_data(e, &md->io.x);
    e->y = lic_engine_view_data(e, &md->io.y);
    e->yq = lic_engine_view_data(e, &md->io.yq);
    e->yctx = lic_engine_view_data(e, &md->io.yctx);
    e->zhat = lic_engine_view_data(e, &md->io.zhat);
    if ((ret = lic_etiles_prepare(e, p.etile_log2, p.etile_workers)) < 0) {
        free_workspace(e);
        lic_etiles_release(e);
    }
    return ret;
}

void *lic_engine_view_data(const lic_engine *e, const lic_view *v)
{
    size_t plane = (size_t)(e->ph >> v->scale) * (size_t)(e->pw >> v->scale);
    size_t es = elem_size(&e->md->bufs[v->buf]);
    return (char *)e->buf[v->buf] + (size_t)v->c0 * plane * es;
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

int lic_engine_analysis(lic_engine *e, const float *gain, float **z_out)
{
    const lic_model_data *md = e->md;
    *z_out = lic_engine_view_data(e, &md->io.z);
    return lic_interp_run(e, md->analysis, gain);
}

int lic_engine_synthesis(lic_engine *e, float **out_data)
{
    const lic_model_data *md = e->md;
    *out_data = e->tiled && e->tiles.pixels_out >= 0 ? NULL : lic_engine_view_data(e, &md->io.x_out);
    return lic_interp_run(e, md->synthesis, NULL);
}

int lic_engine_analysis_pixels(lic_engine *e, lic_pixels *p, const float *gain, float **z_out)
{
    const size_t pw = (size_t)e->pw, plane = (size_t)e->ph * pw;
    for (int y = 0; e->x && y < e->ph; y++) { /* row by row: a streaming source keeps one row */
        int ret = lic_pixels_load(p, e->x + (size_t)y * pw, plane, pw, y, 0, 1, e->pw);
        if (ret < 0)
            return ret;
    }
    e->pix_in = e->x ? NULL : p;
    int ret = lic_engine_analysis(e, gain, z_out);
    e->pix_in = NULL;
    return ret;
}

int lic_engine_synthesis_pixels(lic_engine *e, lic_pixels *p)
{
    float *rgb;
    e->pix_out = p;
    int ret = lic_engine_synthesis(e, &rgb);
    e->pix_out = NULL;
    const size_t pw = (size_t)e->pw, plane = (size_t)e->ph * pw;
    for (uint32_t y = 0; ret == LIC_OK && rgb && y < p->height; y++)
        if ((ret = lic_pixels_store(p, rgb + y * pw, plane, pw, (int)y, 0, 1, e->pw)) == LIC_OK)
            ret = lic_pixels_flush(p, y + 1);
    return ret;
}

uint32_t lic_engine_pixel_rows(const lic_engine *e)
{
    return e->tiled ? e->pixel_rows : 1;
}

/* ---- the integer probability path: the coding schedule ---- */

int64_t lic_engine_to_fixed(double v, int frac)
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
    const lic_factorized_prior *zp = &e->md->z_prior;
    const lic_view *v = &e->md->io.zhat;
    size_t zhw = (size_t)(e->ph >> v->scale) * (size_t)(e->pw >> v->scale);
    for (int c = 0; c < v->c; c++) {
        for (size_t p = 0; p < zhw; p++) {
            int32_t s;
            if (io->encode) {
                s = lic_factorized_quantize(zp, c, lic_engine_to_fixed(io->z[c * zhw + p], zp->frac_bits));
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
    e->stats.n_symbols += (uint64_t)v->c * zhw;
    return LIC_OK;
}

int lic_engine_code_latents(lic_engine *e, lic_latent_coder *io)
{
    e->stats.symbols_hash = e->stats.params_hash = LIC_FNV64_BASIS;
    e->stats.n_symbols = 0;
    /* z first (lic_etiles_init checked that the schedule starts with it), then the rest by tile. */
    const lic_code_step *st = &e->md->steps[0];
    double t0 = lic_now();
    int ret = lic_interp_run(e, st->ops, NULL);
    if (ret == LIC_OK)
        ret = code_z(e, io);
    /* When decoding, a stream that has run past its end stops the work at once. */
    if (ret == LIC_OK && !io->encode && lic_symbol_reader_status(io->zr) < 0)
        ret = LIC_EBITSTREAM;
    if (ret < 0)
        return ret;
    e->stats.t_hyper += lic_now() - t0;
    return lic_etiles_code(e, io, 1);
}
