/* lic codec: tiled execution of op lists on the CPU (codec/tiles.h). */
#include "codec/tiles.h"

#include <string.h>

#include "codec/backend.h"
#include "codec/bands.h"
#include "codec/engine.h"

/* Ops whose output element depends on a bounded window of their input: all but IZERO. */
static int tileable(const lic_op *op)
{
    return op->kind != LIC_OP_IZERO;
}

/* The views the engine's callers read or write whole: a chain ends at them. */
static int kept_views(const lic_model_data *md, lic_view *out)
{
    const lic_view io[] = {md->io.x, md->io.y, md->io.z, md->io.x_out, md->io.zhat, md->io.yq, md->io.yctx};
    memcpy(out, io, sizeof io);
    return (int)(sizeof io / sizeof io[0]);
}

static void grow(uint64_t *u, const lic_view *v, int smax)
{
    uint64_t n = (uint64_t)(v->c0 + v->c) << (2 * (smax - v->scale));
    if (n > u[v->buf])
        u[v->buf] = n;
}

static void grow_whole(lic_tile_plan *p, const lic_view *v)
{
    if (v->c && lic_view_units(v) > p->whole_units[v->buf])
        p->whole_units[v->buf] = lic_view_units(v);
}

/* The chain from op i: ops that each read the view the one before wrote (or work in place on it),
 * ending before `end` or after the in-place ops that follow a kept view. Returns its op count. */
static int chain_from(const lic_model_data *md, int i, int end, lic_tile_chain *c)
{
    const lic_op *ops = md->ops;
    lic_view kept[8], cur;
    const int j = i + lic_op_chain(ops, i, end, kept, kept_views(md, kept), &cur);
    memset(c, 0, sizeof(*c));
    c->first = i;
    c->count = j - i;
    c->src = ops[i].in;
    c->dst = cur;
    int smax = c->src.scale, halo = 0;
    for (int k = i; k < j; k++)
        if (ops[k].out.scale > smax)
            smax = ops[k].out.scale;
    for (int k = i; k < j; k++) {
        halo = lic_op_spread(&ops[k], halo);
        grow(c->units, &ops[k].in, smax);
        grow(c->units, &ops[k].out, smax);
    }
    /* halo is in elements of dst's scale; a unit holds 2^(smax - dst.scale) of them. */
    const int per_unit = 1 << (smax - cur.scale);
    c->smax = smax;
    c->halo = (halo + per_unit - 1) / per_unit;
    return c->count;
}

/* Cuts range r into chains (ops that cannot be tiled stay whole) and grows the whole units. The chains
 * of the analysis and synthesis run band by band where their ops allow (the hyper-synthesis chain is
 * also cut into the entropy tiles' regions, codec/entropy_tiles.c, so it stays in tiles). */
static int cut(const lic_model_data *md, lic_op_range r, int bands, lic_tile_plan *p)
{
    const int end = r.first + r.count;
    for (int i = r.first; i < end;) {
        const lic_op *op = &md->ops[i];
        if (!tileable(op) || lic_op_in_place(op)) {
            grow_whole(p, &op->out);
            i++;
            continue;
        }
        if (p->n_chains == LIC_TILE_MAX_CHAINS)
            return LIC_EMODEL;
        lic_tile_chain *c = &p->chain[p->n_chains++];
        i += chain_from(md, i, end, c);
        c->banded = bands && lic_band_chain_ok(md, c);
    }
    return LIC_OK;
}

static int in_chain(const lic_tile_plan *p, int i)
{
    for (int k = 0; k < p->n_chains; k++)
        if (i >= p->chain[k].first && i < p->chain[k].first + p->chain[k].count)
            return 1;
    return 0;
}

/* The one chain whose source (out = 0) or destination (out = 1) is the image view v, when no op outside
 * it reads or writes v: its tiles can then take the pixels from the caller's image, or give them to
 * it, instead of a whole float image. Returns its index or -1. */
static int pixel_chain(const lic_model_data *md, const lic_tile_plan *p, const lic_view *v, int out)
{
    int found = -1;
    for (int k = 0; k < p->n_chains; k++)
        if (lic_view_eq(out ? &p->chain[k].dst : &p->chain[k].src, v))
            found = found < 0 ? k : -2;
    if (found < 0)
        return -1;
    const lic_tile_chain *c = &p->chain[found];
    for (int i = 0; i < md->n_ops; i++) {
        if (i >= c->first && i < c->first + c->count)
            continue;
        const lic_op *op = &md->ops[i];
        if ((op->kind != LIC_OP_IZERO && lic_view_eq(&op->in, v)) || lic_view_eq(&op->out, v))
            return -1;
    }
    return found;
}

int lic_tile_plan_build(const lic_model_data *md, lic_tile_plan *p)
{
    memset(p, 0, sizeof(*p));
    int ret = cut(md, md->analysis, 1, p);
    if (ret == LIC_OK)
        ret = cut(md, md->synthesis, 1, p);
    for (int s = 0; ret == LIC_OK && s < md->n_steps; s++)
        if (md->steps[s].kind == LIC_STEP_RUN && md->steps[s].hyper)
            ret = cut(md, md->steps[s].ops, 0, p);
    if (ret < 0)
        return ret;
    p->pixels_in = pixel_chain(md, p, &md->io.x, 0);
    p->pixels_out = pixel_chain(md, p, &md->io.x_out, 1);
    for (int k = 0; k < p->n_chains; k++) {
        if (k != p->pixels_in)
            grow_whole(p, &p->chain[k].src);
        if (k != p->pixels_out)
            grow_whole(p, &p->chain[k].dst);
    }
    /* Everything outside the chains keeps the sizes the model's lists gave it. */
    for (int i = 0; i < md->n_ops; i++) {
        if (in_chain(p, i))
            continue;
        if (md->ops[i].kind != LIC_OP_IZERO)
            grow_whole(p, &md->ops[i].in);
        grow_whole(p, &md->ops[i].out);
    }
    const lic_view *io[] = {&md->io.y, &md->io.z, &md->io.zhat, &md->io.yq, &md->io.yctx};
    for (size_t i = 0; i < sizeof io / sizeof io[0]; i++)
        grow_whole(p, io[i]);
    if (p->pixels_in < 0)
        grow_whole(p, &md->io.x);
    if (p->pixels_out < 0)
        grow_whole(p, &md->io.x_out);
    for (int s = 0; s < md->n_steps; s++) {
        grow_whole(p, &md->steps[s].params);
        grow_whole(p, &md->steps[s].anchors);
    }
    return LIC_OK;
}

const lic_tile_chain *lic_tile_chain_at(const lic_tile_plan *p, int i)
{
    for (int k = 0; k < p->n_chains; k++)
        if (p->chain[k].first == i)
            return &p->chain[k];
    return NULL;
}

/* Tiles along one side: as many as a tile of `tile` pixels needs, of near-equal sizes in units. */
static int n_tiles(const lic_tile_chain *c, int tile, int side)
{
    const int g = side >> c->smax, t = tile >> c->smax;
    return (g + t - 1) / t;
}

int lic_tile_region(const lic_tile_chain *c, int tile, int side)
{
    const int g = side >> c->smax, n = n_tiles(c, tile, side);
    if (n <= 1)
        return g;
    const int r = (g + n - 1) / n + 2 * c->halo;
    return r < g ? r : g;
}

void lic_tile_counts(const lic_tile_plan *p, const lic_model_data *md, int tile, int ph, int pw,
                     uint64_t *count, uint64_t *scratch)
{
    memset(count, 0, sizeof(uint64_t) * (size_t)md->n_bufs);
    *scratch = 0;
    for (int k = 0; k < p->n_chains; k++) {
        const lic_tile_chain *c = &p->chain[k];
        if (c->banded)
            continue;
        const int rh = lic_tile_region(c, tile, ph), rw = lic_tile_region(c, tile, pw);
        for (int b = 0; b < md->n_bufs; b++)
            if (c->units[b] * (uint64_t)rh * (uint64_t)rw > count[b])
                count[b] = c->units[b] * (uint64_t)rh * (uint64_t)rw;
    }
    for (int i = 0; i < md->n_ops; i++) {
        const lic_op *op = &md->ops[i];
        if (op->kind != LIC_OP_CONV)
            continue;
        int h = ph, w = pw; /* ops outside the chains run whole */
        for (int k = 0; k < p->n_chains; k++) {
            const lic_tile_chain *c = &p->chain[k];
            if (i >= c->first && i < c->first + c->count) {
                if (c->banded)
                    h = w = 0;
                else
                    h = lic_tile_region(c, tile, ph) << c->smax, w = lic_tile_region(c, tile, pw) << c->smax;
            }
        }
        if (h == 0)
            continue;
        uint64_t s = lic_conv2d_scratch_size(op->conv, h >> op->in.scale, w >> op->in.scale);
        if (s > *scratch)
            *scratch = s;
    }
}

uint32_t lic_tile_pixel_rows(const lic_tile_plan *p, int tile, int ph)
{
    uint32_t rows = 1;
    const int k[2] = {p->pixels_in, p->pixels_out};
    for (int i = 0; i < 2; i++) {
        if (k[i] < 0 || p->chain[k[i]].banded)
            continue;
        const lic_tile_chain *c = &p->chain[k[i]];
        const uint32_t r = (uint32_t)lic_tile_region(c, tile, ph) << c->smax;
        if (r > rows)
            rows = r;
    }
    return rows;
}

void lic_tile_copy_units(const lic_frame *from, int fy, int fx, const lic_frame *to, int ty, int tx, int h,
                       int w, const lic_view *v, int smax)
{
    const int d = smax - v->scale, rows = h << d;
    const size_t fw = (size_t)(from->pw >> v->scale), tw = (size_t)(to->pw >> v->scale);
    const size_t fplane = (size_t)(from->ph >> v->scale) * fw, tplane = (size_t)(to->ph >> v->scale) * tw;
    const size_t row_bytes = ((size_t)w << d) * 4; /* F32 and I32 are both 4 bytes */
    const char *fb = (const char *)from->buf[v->buf];
    char *tb = (char *)to->buf[v->buf];
    for (int c = v->c0; c < v->c0 + v->c; c++)
        for (int y = 0; y < rows; y++) {
            const size_t fo = (size_t)c * fplane + ((size_t)(fy << d) + (size_t)y) * fw + ((size_t)fx << d);
            const size_t to_ = (size_t)c * tplane + ((size_t)(ty << d) + (size_t)y) * tw + ((size_t)tx << d);
            memcpy(tb + 4 * to_, fb + 4 * fo, row_bytes);
        }
}

/* The float planes of image view v (3 channels, scale 0) in frame f, from unit (uy, ux) on. */
static float *frame_pixels(const lic_frame *f, const lic_view *v, int uy, int ux, int smax)
{
    const size_t plane = (size_t)f->ph * (size_t)f->pw;
    return (float *)f->buf[v->buf] + (size_t)v->c0 * plane + ((size_t)uy << smax) * (size_t)f->pw +
           ((size_t)ux << smax);
}

int lic_tile_run(lic_engine *e, const lic_tile_chain *c, const float *gain)
{
    const lic_frame whole = {e->buf, e->ph, e->pw};
    const int k = (int)(c - e->tiles.chain), s = c->smax;
    lic_pixels *in = k == e->tiles.pixels_in ? e->pix_in : NULL;
    lic_pixels *out = k == e->tiles.pixels_out ? e->pix_out : NULL;
    if ((k == e->tiles.pixels_in && !in) || (k == e->tiles.pixels_out && !out))
        return LIC_EINVAL; /* the whole float image it would read or write does not exist */
    const int gh = e->ph >> s, gw = e->pw >> s;
    const int ny = n_tiles(c, e->tile, e->ph), nx = n_tiles(c, e->tile, e->pw);
    int ret;
    for (int ty = 0; ty < ny; ty++) {
        const int y0 = (int)((int64_t)ty * gh / ny), y1 = (int)((int64_t)(ty + 1) * gh / ny);
        const int a0 = ny > 1 && y0 > c->halo ? y0 - c->halo : 0;
        const int a1 = ny > 1 && y1 + c->halo < gh ? y1 + c->halo : gh;
        for (int tx = 0; tx < nx; tx++) {
            const int x0 = (int)((int64_t)tx * gw / nx), x1 = (int)((int64_t)(tx + 1) * gw / nx);
            const int b0 = nx > 1 && x0 > c->halo ? x0 - c->halo : 0;
            const int b1 = nx > 1 && x1 + c->halo < gw ? x1 + c->halo : gw;
            const lic_frame f = {e->tbuf, (a1 - a0) << s, (b1 - b0) << s};
            const size_t plane = (size_t)f.ph * (size_t)f.pw;
            if (in)
                ret = lic_pixels_load(in, frame_pixels(&f, &c->src, 0, 0, s), plane, (size_t)f.pw, a0 << s,
                                      b0 << s, f.ph, f.pw);
            else
                lic_tile_copy_units(&whole, a0, b0, &f, 0, 0, a1 - a0, b1 - b0, &c->src, s), ret = LIC_OK;
            for (int i = c->first; ret == LIC_OK && i < c->first + c->count; i++)
                ret = lic_backend_cpu_run_in(e, &f, &e->md->ops[i], gain);
            if (ret < 0)
                return ret;
            if (out) {
                ret = lic_pixels_store(out, frame_pixels(&f, &c->dst, y0 - a0, x0 - b0, s), plane,
                                       (size_t)f.pw, y0 << s, x0 << s, (y1 - y0) << s, (x1 - x0) << s);
                if (ret < 0)
                    return ret;
            } else {
                lic_tile_copy_units(&f, y0 - a0, x0 - b0, &whole, y0, x0, y1 - y0, x1 - x0, &c->dst, s);
            }
        }
        /* The row of tiles is complete: its image rows can go to a streaming writer. */
        if (out && (ret = lic_pixels_flush(out, (uint32_t)y1 << s)) < 0)
            return ret;
    }
    return LIC_OK;
}
