/* lic codec: the probability path over tiles of the latent (codec/entropy_tiles.h). */
#include "codec/entropy_tiles.h"

#include <stdatomic.h>
#include <string.h>

#include "codec/backend.h"
#include "codec/engine.h"
#include "entropy/entropy_model.h"
#include "util/fixed.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/mem.h"

/* The library's tile side when lic_config.entropy_tile is 0, in pixels: 128 latent positions. The
 * smallest side whose tile edges cost under 0.5 % of the rate on large images (0.23 % on a 24 MP
 * mosaic; 1024 pixels: 0.63 %; docs/FORMAT.md §3.2), and a 24 MP image still has 6 tiles. */
#define ETILE_DEFAULT_PIXELS 2048

/* Bytes the symbol writer holds per buffered symbol (16-byte entries, doubled while growing, plus its
 * output): the same allowance the engine's estimate always used. */
#define WRITER_BYTES_PER_SYMBOL 40

static void grow(uint64_t *units, const lic_view *v)
{
    if (v->c && lic_view_units(v) > units[v->buf])
        units[v->buf] = lic_view_units(v);
}

static int in_chain(const lic_tile_chain *c, int i)
{
    return i >= c->first && i < c->first + c->count;
}

/* Whole units of the float transforms' views: every op's views when they run untiled, the chains'
 * ends (and the ops outside chains) when they run tiled, but for the image ends the tiles read from
 * and write to the caller's pixels (lic_tile_plan.pixels_in / pixels_out). */
static void transform_units(const lic_engine *e, lic_op_range r, int tiled, uint64_t *units)
{
    const lic_model_data *md = e->md;
    for (int i = r.first; i < r.first + r.count; i++) {
        const lic_op *op = &md->ops[i];
        int c = -1;
        for (int k = 0; tiled && k < e->tiles.n_chains; k++)
            if (in_chain(&e->tiles.chain[k], i))
                c = k;
        if (c >= 0) {
            if (c != e->tiles.pixels_in)
                grow(units, &e->tiles.chain[c].src);
            if (c != e->tiles.pixels_out)
                grow(units, &e->tiles.chain[c].dst);
            continue;
        }
        if (op->kind != LIC_OP_IZERO)
            grow(units, &op->in);
        grow(units, &op->out);
    }
}

static int is_int_op_at_latent(const lic_op *op)
{
    if (op->kind == LIC_OP_IZERO)
        return op->out.scale == 4;
    return op->kind == LIC_OP_ICONV && op->in.scale == 4 && op->out.scale == 4;
}

int lic_etiles_init(lic_engine *e)
{
    const lic_model_data *md = e->md;
    lic_etiles *et = &e->et;
    et->hyper_step = et->hyper_chain = -1;
    const char *why = NULL;
    if (md->n_steps < 1 || md->steps[0].kind != LIC_STEP_CODE_Z)
        why = "the schedule does not start with z";
    for (int s = 1; !why && s < md->n_steps; s++) {
        const lic_code_step *st = &md->steps[s];
        if (st->kind == LIC_STEP_CODE_Z) {
            why = "z is coded twice";
        } else if (st->kind == LIC_STEP_RUN && st->hyper) {
            if (et->hyper_step >= 0) {
                why = "two hyper-synthesis steps";
                break;
            }
            et->hyper_step = s;
            for (int k = 0; k < e->tiles.n_chains; k++)
                if (e->tiles.chain[k].first == st->ops.first && e->tiles.chain[k].count == st->ops.count)
                    et->hyper_chain = k;
            const lic_tile_chain *c = et->hyper_chain >= 0 ? &e->tiles.chain[et->hyper_chain] : NULL;
            if (!c || !lic_view_eq(&c->src, &md->io.zhat) || c->dst.scale != 4 || c->smax != md->io.zhat.scale)
                why = "the hyper-synthesis is not one chain from z-hat to the latent";
            for (int i = st->ops.first; !why && i < st->ops.first + st->ops.count; i++)
                if (md->ops[i].kind != LIC_OP_ICONV)
                    why = "the hyper-synthesis has a float op";
            if (!why)
                grow(et->tile_units, &c->dst);
        } else {
            for (int i = st->ops.first; !why && i < st->ops.first + st->ops.count; i++) {
                const lic_op *op = &md->ops[i];
                if (!is_int_op_at_latent(op))
                    why = "a context op is not an integer op at the latent's scale";
                if (op->kind != LIC_OP_IZERO)
                    grow(et->tile_units, &op->in);
                grow(et->tile_units, &op->out);
            }
            if (st->kind == LIC_STEP_CODE_Y) {
                if (st->params.scale != 4 || (st->anchors.c && st->anchors.scale != 4))
                    why = "a coding step's views are not at the latent's scale";
                grow(et->tile_units, &st->params);
                grow(et->tile_units, &st->anchors);
            }
        }
    }
    if (why) {
        lic_log(&e->cfg.logger, LIC_LOG_ERROR, "model: the probability path cannot run by tile: %s", why);
        return LIC_EMODEL;
    }
    grow(et->tile_units, &md->io.yctx);
    /* With several tiles, what stays whole: the transforms' ends and the io views but the context
     * copy of y-hat, which lives in the tiles. */
    const lic_view *io[] = {&md->io.y, &md->io.z, &md->io.zhat, &md->io.yq};
    for (int t = 0; t < 2; t++) {
        transform_units(e, md->analysis, t, et->whole_units[t]);
        transform_units(e, md->synthesis, t, et->whole_units[t]);
        for (size_t i = 0; i < sizeof io / sizeof io[0]; i++)
            grow(et->whole_units[t], io[i]);
        if (!t || e->tiles.pixels_in < 0)
            grow(et->whole_units[t], &md->io.x);
        if (!t || e->tiles.pixels_out < 0)
            grow(et->whole_units[t], &md->io.x_out);
    }
    return LIC_OK;
}

static void free_results(lic_engine *e)
{
    lic_etiles *et = &e->et;
    for (uint64_t k = 0; et->res && k < et->res_cap; k++) {
        lic_mem_free(&e->cfg.allocator, et->res[k].bytes);
        et->res[k].bytes = NULL;
        et->res[k].size = 0;
    }
}

static void free_workspaces(lic_engine *e)
{
    lic_etiles *et = &e->et;
    for (int w = 0; et->ws && w < et->n_ws; w++) {
        lic_etile_ws *ws = &et->ws[w];
        for (int i = 0; i < LIC_MAX_BUFS; i++) {
            lic_mem_free(&e->cfg.allocator, ws->buf[i]);
            lic_mem_free(&e->cfg.allocator, ws->hbuf[i]);
        }
        lic_symbol_writer_free(&ws->w);
    }
    lic_mem_free(&e->cfg.allocator, et->ws);
    et->ws = NULL;
    et->n_ws = 0;
}

void lic_etiles_release(lic_engine *e)
{
    free_results(e);
    lic_mem_free(&e->cfg.allocator, e->et.res);
    e->et.res = NULL;
    e->et.res_cap = 0;
    free_workspaces(e);
}

uint64_t lic_etiles_count(int lh, int lw, int log2)
{
    if (log2 == 0)
        return 1;
    const uint64_t t = (uint64_t)1 << log2;
    return (((uint64_t)lh + t - 1) / t) * (((uint64_t)lw + t - 1) / t);
}

int lic_etiles_log2_for(uint32_t entropy_tile, int lh, int lw)
{
    if (entropy_tile == LIC_TILE_WHOLE)
        return 0;
    uint32_t px = entropy_tile ? entropy_tile : ETILE_DEFAULT_PIXELS;
    int log2 = 0;
    while ((1u << (log2 + 4)) < px)
        log2++;
    const int t = 1 << log2;
    return lh <= t && lw <= t ? 0 : log2;
}

int lic_etiles_workers(const lic_engine *e, uint64_t n)
{
    const int threads = lic_threadpool_size(e->pool);
    return n < (uint64_t)threads ? (int)n : threads;
}

/* The hyper-synthesis region of a tile along one side, in units of the chain (z positions): the
 * tile's units plus a halo each side, cut at the image. */
static void hyper_region(const lic_tile_chain *c, int t0, int tn, int g, int *a0, int *a1)
{
    *a0 = t0 > c->halo ? t0 - c->halo : 0;
    *a1 = t0 + tn + c->halo < g ? t0 + tn + c->halo : g;
}

/* The largest tile side and region side (in chain units) along a latent side of n positions. */
static int region_max(const lic_tile_chain *c, int n, int side)
{
    const int per = 1 << (c->smax - 4), g = n / per, t = (side < n ? side : n) / per;
    return t + 2 * c->halo < g ? t + 2 * c->halo : g;
}

uint64_t lic_etiles_worker_bytes(const lic_engine *e, int lh, int lw, int log2, int encode)
{
    const lic_etiles *et = &e->et;
    const lic_model_data *md = e->md;
    const int side = 1 << log2, th = side < lh ? side : lh, tw = side < lw ? side : lw;
    const uint64_t blocks = (uint64_t)(th / 4) * (uint64_t)(tw / 4); /* 64 x 64 pixel blocks */
    uint64_t bytes = 0;
    for (int b = 0; b < md->n_bufs; b++)
        bytes += et->tile_units[b] * blocks * 4;
    if (et->hyper_chain >= 0) {
        const lic_tile_chain *c = &e->tiles.chain[et->hyper_chain];
        const uint64_t rh = (uint64_t)region_max(c, lh, side), rw = (uint64_t)region_max(c, lw, side);
        for (int b = 0; b < md->n_bufs; b++)
            bytes += c->units[b] * rh * rw * 4;
    }
    if (encode)
        bytes += WRITER_BYTES_PER_SYMBOL * (uint64_t)md->io.yq.c * (uint64_t)th * (uint64_t)tw;
    return bytes;
}

static int grow_ptr(lic_engine *e, void **p, uint64_t *cap, uint64_t count)
{
    if (count <= *cap)
        return LIC_OK;
    lic_mem_free(&e->cfg.allocator, *p);
    *cap = 0;
    size_t bytes;
    if (count > SIZE_MAX || lic_size_mul((size_t)count, 4, &bytes) < 0 ||
        !(*p = lic_mem_alloc(&e->cfg.allocator, bytes)))
        return LIC_ENOMEM;
    *cap = count;
    return LIC_OK;
}

int lic_etiles_prepare(lic_engine *e, int log2, int workers)
{
    lic_etiles *et = &e->et;
    const lic_model_data *md = e->md;
    free_results(e);
    et->log2 = log2;
    et->n = lic_etiles_count(e->lh, e->lw, log2);
    et->side = log2 ? 1 << log2 : (e->lh > e->lw ? e->lh : e->lw);
    et->ny = (e->lh + et->side - 1) / et->side;
    et->nx = (e->lw + et->side - 1) / et->side;
    if (et->n == 1)
        return LIC_OK;
    if (et->n > et->res_cap) {
        lic_mem_free(&e->cfg.allocator, et->res);
        et->res_cap = 0;
        if (et->n > SIZE_MAX || !(et->res = lic_mem_alloc_array(&e->cfg.allocator, (size_t)et->n, sizeof(*et->res))))
            return LIC_ENOMEM;
        memset(et->res, 0, (size_t)et->n * sizeof(*et->res));
        et->res_cap = et->n;
    }
    const int most = lic_etiles_workers(e, et->n);
    const int n_ws = workers < 1 ? 1 : workers > most ? most : workers;
    et->workers = n_ws;
    if (n_ws > et->n_ws) {
        free_workspaces(e);
        if (!(et->ws = lic_mem_alloc_array(&e->cfg.allocator, (size_t)n_ws, sizeof(*et->ws))))
            return LIC_ENOMEM;
        memset(et->ws, 0, (size_t)n_ws * sizeof(*et->ws));
        et->n_ws = n_ws;
    }
    const int th = et->side < e->lh ? et->side : e->lh, tw = et->side < e->lw ? et->side : e->lw;
    const uint64_t blocks = (uint64_t)(th / 4) * (uint64_t)(tw / 4);
    const lic_tile_chain *c = et->hyper_chain >= 0 ? &e->tiles.chain[et->hyper_chain] : NULL;
    const uint64_t rh = c ? (uint64_t)region_max(c, e->lh, et->side) : 0;
    const uint64_t rw = c ? (uint64_t)region_max(c, e->lw, et->side) : 0;
    for (int w = 0; w < n_ws; w++) {
        lic_etile_ws *ws = &et->ws[w];
        for (int b = 0; b < md->n_bufs; b++)
            if (grow_ptr(e, &ws->buf[b], &ws->cap[b], et->tile_units[b] * blocks) < 0 ||
                (c && grow_ptr(e, &ws->hbuf[b], &ws->hcap[b], c->units[b] * rh * rw) < 0))
                return LIC_ENOMEM;
        if (!ws->w) {
            int ret = lic_symbol_writer_create(&ws->w, &e->cfg.allocator);
            if (ret < 0)
                return ret;
        }
    }
    return LIC_OK;
}

/* ---- coding one tile ---- */

/* A tile being coded: its place in the latent, its frame, its stream and its hashes. */
typedef struct tile_coder {
    lic_engine *e;
    const lic_frame *f;     /* the tile's buffers (the engine's whole ones for one tile) */
    int y0, x0, h, w;       /* latent positions */
    lic_symbol_writer *yw;  /* encode */
    lic_symbol_reader *yr;  /* decode */
    uint64_t symbols_hash, params_hash, n;
} tile_coder;

/* Codes one checkerboard pass of a step's channels over the tile: positions with (x + y) % 2 == pass
 * in tile coordinates (tiles start at even positions, so also in image coordinates). Means and scales
 * come from the tile's frame; y' (encode) and y-hat' live in the engine's whole buffers. */
static int code_y(tile_coder *tc, const lic_code_step *st)
{
    lic_engine *e = tc->e;
    const lic_model_data *md = e->md;
    const lic_gaussian_conditional *gc = &md->y_gc;
    const int yf = md->arch.yctx_frac_bits, sh = LIC_GAUSSIAN_FRAC_BITS - yf, encode = tc->yw != NULL;
    const size_t hw = (size_t)tc->h * tc->w, whw = (size_t)e->lh * e->lw;
    const int32_t *params = lic_frame_data(tc->f, &st->params);
    int32_t *anchors = st->anchors.c ? lic_frame_data(tc->f, &st->anchors) : NULL;
    int32_t *yctx = lic_frame_data(tc->f, &md->io.yctx);
    uint64_t hs = tc->symbols_hash, hp = tc->params_hash, n = 0;
    for (int c = 0; c < st->c; c++) {
        const size_t plane = (size_t)(st->c0 + c) * hw, wplane = (size_t)(st->c0 + c) * whw;
        const int32_t *mean = params + (size_t)c * hw;
        const int32_t *scale = params + (size_t)(st->c + c) * hw;
        for (int y = 0; y < tc->h; y++) {
            const size_t wrow = wplane + (size_t)(tc->y0 + y) * e->lw + (size_t)tc->x0;
            for (int x = (y + st->pass) & 1; x < tc->w; x += 2) {
                const size_t p = (size_t)y * tc->w + x;
                const int32_t mu = mean[p];
                const int idx = lic_gaussian_scale_index(gc, scale[p]);
                int32_t s;
                if (encode) {
                    s = lic_gaussian_quantize(lic_engine_to_fixed(e->y[wrow + x], LIC_GAUSSIAN_FRAC_BITS), mu);
                    int ret = lic_symbol_writer_put(tc->yw, &gc->cdf, idx, s);
                    if (ret < 0)
                        return ret;
                } else {
                    s = lic_symbol_clamp(lic_symbol_reader_get(tc->yr, &gc->cdf, idx));
                }
                const int32_t v = lic_gaussian_reconstruct(s, mu);
                const int32_t ctx = lic_clamp_i64(lic_round_shr(v, sh), INT16_MIN, INT16_MAX);
                e->yq[wrow + x] = v;
                yctx[plane + p] = ctx;
                if (anchors)
                    anchors[(size_t)c * hw + p] = ctx;
                hs = lic_fnv1a64_mix32(hs, s);
                hp = lic_fnv1a64_mix32(lic_fnv1a64_mix32(hp, mu), idx);
                n++;
            }
        }
    }
    tc->symbols_hash = hs;
    tc->params_hash = hp;
    tc->n += n;
    return LIC_OK;
}

/* When decoding, a stream that has run past its end stops the work at once, so the time spent on a
 * corrupt or truncated file is bounded by its size rather than by the image size it claims. */
static int stream_ok(const tile_coder *tc)
{
    return tc->yr && lic_symbol_reader_status(tc->yr) < 0 ? LIC_EBITSTREAM : LIC_OK;
}

/* One tile: the whole image's steps, single-tile case, in the engine's buffers (as before tiles). */
static int code_whole(lic_engine *e, lic_latent_coder *io, int first_step)
{
    const lic_model_data *md = e->md;
    const lic_frame whole = {e->buf, e->ph, e->pw};
    tile_coder tc = {e, &whole, 0, 0, e->lh, e->lw, io->encode ? io->yw : NULL, io->encode ? NULL : io->yr,
                     e->stats.symbols_hash, e->stats.params_hash, 0};
    for (int s = first_step; s < md->n_steps; s++) {
        const lic_code_step *st = &md->steps[s];
        const double t0 = lic_now();
        int ret = lic_interp_run(e, st->ops, NULL);
        if (ret == LIC_OK && st->kind == LIC_STEP_CODE_Y && (ret = code_y(&tc, st)) == LIC_OK)
            ret = stream_ok(&tc);
        if (ret < 0)
            return ret;
        *(st->hyper ? &e->stats.t_hyper : &e->stats.t_entropy) += lic_now() - t0;
    }
    e->stats.symbols_hash = tc.symbols_hash;
    e->stats.params_hash = tc.params_hash;
    e->stats.n_symbols += tc.n;
    return LIC_OK;
}

/* The tile's window of the hyper-synthesis: the chain from z-hat runs on the tile's region grown by
 * the chain's halo (zero padding only where the region meets the image edge, as a whole run pads), and
 * the tile's part of its output goes into the tile's frame. */
static int hyper_tile(lic_engine *e, lic_etile_ws *ws, const tile_coder *tc, lic_threadpool *pool)
{
    const lic_tile_chain *c = &e->tiles.chain[e->et.hyper_chain];
    const int per = 1 << (c->smax - 4); /* latent positions per unit */
    const int uy = tc->y0 / per, ux = tc->x0 / per, uh = tc->h / per, uw = tc->w / per;
    int a0, a1, b0, b1;
    hyper_region(c, uy, uh, e->ph >> c->smax, &a0, &a1);
    hyper_region(c, ux, uw, e->pw >> c->smax, &b0, &b1);
    const lic_frame whole = {e->buf, e->ph, e->pw};
    const lic_frame region = {ws->hbuf, (a1 - a0) << c->smax, (b1 - b0) << c->smax};
    lic_tile_copy_units(&whole, a0, b0, &region, 0, 0, a1 - a0, b1 - b0, &c->src, c->smax);
    for (int i = c->first; i < c->first + c->count; i++) {
        int ret = lic_backend_cpu_run_int(e, &region, &e->md->ops[i], pool);
        if (ret < 0)
            return ret;
    }
    lic_tile_copy_units(&region, uy - a0, ux - b0, tc->f, 0, 0, uh, uw, &c->dst, c->smax);
    return LIC_OK;
}

typedef struct tile_job {
    lic_engine *e;
    lic_latent_coder *io;
    int first_step;
    lic_threadpool *kernel_pool; /* NULL when tiles run in parallel: kernels single-threaded */
    uint64_t z_hash;             /* every tile's symbol hash starts from the z symbols' hash */
    atomic_ullong next;
    atomic_int error;
} tile_job;

static int code_tile(tile_job *j, lic_etile_ws *ws, uint64_t t)
{
    lic_engine *e = j->e;
    const lic_model_data *md = e->md;
    lic_etiles *et = &e->et;
    const int ty = (int)(t / (uint64_t)et->nx), tx = (int)(t % (uint64_t)et->nx);
    const int y0 = ty * et->side, x0 = tx * et->side;
    const int h = e->lh - y0 < et->side ? e->lh - y0 : et->side, w = e->lw - x0 < et->side ? e->lw - x0 : et->side;
    const lic_frame f = {ws->buf, 16 * h, 16 * w};
    lic_symbol_reader yr;
    tile_coder tc = {e, &f, y0, x0, h, w, NULL, NULL, j->z_hash, LIC_FNV64_BASIS, 0};
    if (j->io->encode) {
        lic_symbol_writer_reset(ws->w);
        tc.yw = ws->w;
    } else {
        lic_symbol_reader_init(&yr, j->io->tiles[t].data, j->io->tiles[t].size);
        tc.yr = &yr;
    }
    for (int s = j->first_step; s < md->n_steps; s++) {
        const lic_code_step *st = &md->steps[s];
        int ret = LIC_OK;
        if (s == et->hyper_step)
            ret = hyper_tile(e, ws, &tc, j->kernel_pool);
        else
            for (int i = st->ops.first; ret == LIC_OK && i < st->ops.first + st->ops.count; i++)
                ret = lic_backend_cpu_run_int(e, &f, &md->ops[i], j->kernel_pool);
        if (ret == LIC_OK && st->kind == LIC_STEP_CODE_Y && (ret = code_y(&tc, st)) == LIC_OK)
            ret = stream_ok(&tc);
        if (ret < 0)
            return ret;
        if (atomic_load(&j->error))
            return LIC_OK; /* another tile failed: the result is discarded */
    }
    lic_etile_result *r = &et->res[t];
    r->symbols_hash = tc.symbols_hash;
    r->params_hash = tc.params_hash;
    r->n_symbols = tc.n;
    if (j->io->encode) {
        const uint8_t *bytes;
        size_t size;
        int ret = lic_symbol_writer_finish(ws->w, &bytes, &size);
        if (ret < 0)
            return ret;
        /* Kept as bytes: the writer's symbol buffer is reused by the worker's next tile. */
        if (!(r->bytes = lic_mem_alloc(&e->cfg.allocator, size ? size : 1)))
            return LIC_ENOMEM;
        memcpy(r->bytes, bytes, size);
        r->size = size;
    }
    return LIC_OK;
}

/* Worker w takes tiles in turn until none is left or one failed. */
static void tile_worker(void *arg, int w)
{
    tile_job *j = arg;
    lic_etile_ws *ws = &j->e->et.ws[w];
    for (;;) {
        if (atomic_load(&j->error))
            return;
        const uint64_t t = atomic_fetch_add(&j->next, 1);
        if (t >= j->e->et.n)
            return;
        int ret = code_tile(j, ws, t);
        if (ret < 0) {
            int none = 0;
            atomic_compare_exchange_strong(&j->error, &none, ret);
            return;
        }
    }
}

/* A 64-bit value into a running hash, as two 32-bit words (low first). */
static uint64_t mix64(uint64_t h, uint64_t v)
{
    return lic_fnv1a64_mix32(lic_fnv1a64_mix32(h, (int32_t)(uint32_t)v), (int32_t)(uint32_t)(v >> 32));
}

int lic_etiles_code(lic_engine *e, lic_latent_coder *io, int first_step)
{
    lic_etiles *et = &e->et;
    if (et->n == 1)
        return code_whole(e, io, first_step);
    if (!io->encode && !io->tiles)
        return LIC_EINVAL;
    const double t0 = lic_now();
    tile_job j = {.e = e, .io = io, .first_step = first_step, .z_hash = e->stats.symbols_hash};
    j.kernel_pool = et->workers > 1 ? NULL : e->pool;
    atomic_init(&j.next, 0);
    atomic_init(&j.error, 0);
    lic_threadpool_run(e->pool, et->workers, tile_worker, &j);
    const int err = atomic_load(&j.error);
    if (err < 0)
        return err;
    /* Tile order, whatever the threads did: tile 0's hashes, then each later tile's folded in. */
    uint64_t hs = et->res[0].symbols_hash, hp = et->res[0].params_hash, n = et->res[0].n_symbols;
    for (uint64_t k = 1; k < et->n; k++) {
        hs = mix64(hs, et->res[k].symbols_hash);
        hp = mix64(hp, et->res[k].params_hash);
        n += et->res[k].n_symbols;
    }
    e->stats.symbols_hash = hs;
    e->stats.params_hash = hp;
    e->stats.n_symbols += n;
    e->stats.t_entropy += lic_now() - t0;
    return LIC_OK;
}
