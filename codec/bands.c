/* lic codec: band-by-band execution of the float chains on the CPU (codec/bands.h).
 *
 * The chain's ops k = 0 .. n-1 each read the view the one before made. A step of the run asks for the
 * destination's rows up to a target; walking the ops backwards gives the rows each op must have made
 * for that (the rows a layer reads for an output range: lic_conv2d_rows_needed); walking forwards
 * then makes exactly the missing rows of each op, from the rows it made before. A ring drops, before
 * each step, the rows no op will read or change again, so it holds those few plus the step's new
 * rows; the same walk without the arithmetic (a dry run) gives every ring's capacity. */
#include "codec/bands.h"

#include <string.h>

#include "codec/backend.h"
#include "codec/engine.h"

#define MAX_OPS 32

typedef struct ring {
    lic_view v;
    int h, w;       /* rows and columns of the whole view */
    int whole;      /* 1: the view itself in the engine's whole buffers */
    int row0, made; /* rows [row0, made) are held; made: rows its producer has finished */
    int cap;        /* rows a ring holds */
    uint64_t at;    /* its floats start here in the arena */
} ring;

typedef struct band_run {
    const lic_op *ops;
    int n;
    int in[MAX_OPS], out[MAX_OPS]; /* ring of each op's input and output */
    ring r[MAX_OPS + 1];
    int n_rings;
    int done[MAX_OPS];             /* rows of its output op k has made (in place: processed) */
    int need[MAX_OPS];             /* this step's target of each op */
    int stored;                    /* destination rows handed to the caller's pixels */
    int src_pixels, dst_pixels;
    /* what the dry run needed at most */
    int max_read[MAX_OPS];         /* input rows one call of op k read (in place: processed) */
    uint32_t max_rows;             /* rows of one pixel load or store */
} band_run;

int lic_band_chain_ok(const lic_model_data *md, const lic_tile_chain *c)
{
    if (c->count > MAX_OPS)
        return 0;
    for (int i = c->first; i < c->first + c->count; i++) {
        const lic_op *op = &md->ops[i];
        if (op->kind != LIC_OP_CONV && op->kind != LIC_OP_GDN && op->kind != LIC_OP_LEAKY_RELU &&
            op->kind != LIC_OP_GAIN && op->kind != LIC_OP_PIXEL_SHUFFLE)
            return 0;
        if (md->bufs[op->in.buf].type != LIC_BUF_F32 || md->bufs[op->out.buf].type != LIC_BUF_F32)
            return 0;
    }
    return 1;
}

static void ring_init(ring *r, const lic_view *v, int ph, int pw, int whole, int made)
{
    memset(r, 0, sizeof(*r));
    r->v = *v;
    r->h = ph >> v->scale;
    r->w = pw >> v->scale;
    r->whole = whole;
    r->made = made;
}

/* The chain's rings: the source, then each op's output unless it works in place. The source and the
 * last op's output are the whole views themselves unless the caller's pixels stand in for them. */
static void run_init(band_run *b, const lic_model_data *md, const lic_tile_plan *p, const lic_tile_chain *c,
                     int ph, int pw)
{
    memset(b, 0, sizeof(*b));
    const int k = (int)(c - p->chain);
    b->ops = md->ops + c->first;
    b->n = c->count;
    b->src_pixels = k == p->pixels_in;
    b->dst_pixels = k == p->pixels_out;
    int last = 0;
    for (int i = 0; i < b->n; i++)
        if (!lic_op_in_place(&b->ops[i]))
            last = i;
    ring_init(&b->r[0], &c->src, ph, pw, !b->src_pixels, b->src_pixels ? 0 : ph >> c->src.scale);
    b->n_rings = 1;
    for (int i = 0; i < b->n; i++) {
        b->in[i] = b->n_rings - 1;
        if (lic_op_in_place(&b->ops[i])) {
            b->out[i] = b->in[i];
            continue;
        }
        ring_init(&b->r[b->n_rings], &b->ops[i].out, ph, pw, i == last && !b->dst_pixels, 0);
        b->out[i] = b->n_rings++;
    }
}

/* Input rows [*lo, *hi) op k reads to make its output rows [from, to); empty when from == to. */
static void reads(const band_run *b, int k, int from, int to, int *lo, int *hi)
{
    const lic_op *op = &b->ops[k];
    *lo = *hi = from;
    if (from >= to)
        return;
    if (op->kind == LIC_OP_CONV)
        lic_conv2d_rows_needed(op->conv, b->r[b->in[k]].h, from, to, lo, hi);
    else if (op->kind == LIC_OP_PIXEL_SHUFFLE)
        *lo = from / 2, *hi = (to + 1) / 2;
    else
        *lo = from, *hi = to;
}

/* Output rows op k makes in groups: the stride of a transposed conv, 2 for the pixel shuffle. */
static int row_group(const lic_op *op)
{
    if (op->kind == LIC_OP_CONV && op->conv->transposed)
        return op->conv->stride;
    return op->kind == LIC_OP_PIXEL_SHUFFLE ? 2 : 1;
}

/* Sets every op's target for destination rows up to `target` (backwards: what each op's consumer
 * reads), in whole groups of rows (row_group). */
static void plan_step(band_run *b, int target)
{
    int want = target;
    for (int k = b->n - 1; k >= 0; k--) {
        const lic_op *op = &b->ops[k];
        const ring *o = &b->r[b->out[k]];
        const int g = row_group(op);
        want = (want + g - 1) / g * g;
        want = want < o->h ? want : o->h;
        b->need[k] = want > b->done[k] ? want : b->done[k];
        int lo, hi;
        reads(b, k, b->done[k], b->need[k], &lo, &hi);
        want = hi;
    }
}

/* The lowest row of ring ri any op (or the pixel store) will still read or change. */
static int keep_from(const band_run *b, int ri)
{
    const ring *r = &b->r[ri];
    int lo = r->made;
    for (int k = 0; k < b->n; k++) {
        if (b->in[k] != ri || b->done[k] >= b->r[b->out[k]].h)
            continue;
        int a, z;
        reads(b, k, b->done[k], b->done[k] + 1, &a, &z);
        if (a < z && a < lo)
            lo = a;
    }
    if (ri == b->out[b->n - 1] && b->dst_pixels && b->stored < lo)
        lo = b->stored;
    return lo;
}

static float *ring_row(const lic_engine *e, const ring *r, int ch, int row)
{
    if (r->whole) {
        const lic_frame whole = {e->buf, e->ph, e->pw};
        return (float *)lic_frame_data(&whole, &r->v) + (size_t)ch * r->h * r->w + (size_t)row * r->w;
    }
    return e->band + r->at + ((size_t)ch * r->cap + (size_t)(row - r->row0)) * r->w;
}

static lic_band ring_band(const lic_engine *e, const ring *r, int rows)
{
    lic_band t = {r->v.c, r->h, r->w, r->whole ? 0 : r->row0, r->whole ? r->h : rows,
                  r->whole ? (size_t)r->h * r->w : (size_t)r->cap * r->w, ring_row(e, r, 0, r->whole ? 0 : r->row0)};
    return t;
}

/* Moves rows [keep, made) of ring r to its top. */
static void drop_rows(const lic_engine *e, ring *r, int keep)
{
    if (r->whole || keep <= r->row0)
        return;
    const int n = r->made - keep;
    if (e && n > 0)
        for (int ch = 0; ch < r->v.c; ch++)
            memmove(e->band + r->at + (size_t)ch * r->cap * r->w, ring_row(e, r, ch, keep),
                    sizeof(float) * (size_t)n * r->w);
    r->row0 = keep;
}

/* Makes rows [from, to) of op k's output. */
static int run_op(lic_engine *e, band_run *b, int k, int from, int to, const float *gain)
{
    const lic_op *op = &b->ops[k];
    ring *in = &b->r[b->in[k]], *out = &b->r[b->out[k]];
    switch (op->kind) {
    case LIC_OP_CONV:
    case LIC_OP_PIXEL_SHUFFLE: {
        lic_band bi = ring_band(e, in, in->made - in->row0), bo = ring_band(e, out, out->cap);
        if (op->kind == LIC_OP_CONV)
            return lic_conv2d_rows(e->xf, op->conv, &bi, &bo, from, to);
        return lic_pixel_shuffle_rows(e->xf, &bi, 2, &bo, from, to);
    }
    case LIC_OP_GDN: {
        lic_band t = ring_band(e, out, out->made - out->row0);
        return lic_gdn_rows(e->xf, op->gdn, &t, from, to);
    }
    case LIC_OP_LEAKY_RELU:
        for (int ch = 0; ch < out->v.c; ch++) {
            lic_tensor t = {1, to - from, out->w, ring_row(e, out, ch, from)};
            lic_leaky_relu(e->xf, &t, (float)op->slope_q8 / 256.0f);
        }
        return LIC_OK;
    case LIC_OP_GAIN: {
        const lic_band t = ring_band(e, out, out->made - out->row0);
        lic_channel_gain(ring_row(e, out, 0, from), t.c, t.plane, (size_t)(to - from) * t.w, gain);
        return LIC_OK;
    }
    default:
        return LIC_EINVAL; /* lic_band_chain_ok admits no other kind */
    }
}

static void note_rows(band_run *b, int rows)
{
    if ((uint32_t)rows > b->max_rows)
        b->max_rows = (uint32_t)rows;
}

/* One step: destination rows up to `target`. With e == NULL a dry run: nothing is read or written,
 * every ring's cap grows to what it had to hold. */
static int step(lic_engine *e, band_run *b, int target, const float *gain)
{
    plan_step(b, target);
    for (int ri = 0; ri < b->n_rings; ri++)
        drop_rows(e, &b->r[ri], keep_from(b, ri));
    /* The source's rows the first op reads. */
    ring *src = &b->r[0];
    int lo, hi, ret = LIC_OK;
    reads(b, 0, b->done[0], b->need[0], &lo, &hi);
    if (!src->whole && hi > src->made) {
        note_rows(b, hi - src->made);
        if (!e && hi - src->row0 > src->cap)
            src->cap = hi - src->row0;
        if (e && (hi - src->row0 > src->cap ||
                  (ret = lic_pixels_load(e->pix_in, ring_row(e, src, 0, src->made), (size_t)src->cap * src->w,
                                         (size_t)src->w, src->made, 0, hi - src->made, src->w)) < 0))
            return ret < 0 ? ret : LIC_EINVAL;
        src->made = hi;
    }
    for (int k = 0; k < b->n; k++) {
        if (b->need[k] <= b->done[k])
            continue;
        ring *out = &b->r[b->out[k]];
        reads(b, k, b->done[k], b->need[k], &lo, &hi);
        if (hi - lo > b->max_read[k])
            b->max_read[k] = hi - lo;
        if (!out->whole && b->need[k] - out->row0 > out->cap) {
            if (e)
                return LIC_EINVAL; /* the dry run sized every ring: never reached */
            out->cap = b->need[k] - out->row0;
        }
        if (e && (ret = run_op(e, b, k, b->done[k], b->need[k], gain)) < 0)
            return ret;
        b->done[k] = b->need[k];
        if (b->in[k] != b->out[k])
            out->made = b->need[k];
    }
    /* The destination's finished rows go to the caller's pixels. */
    const int fin = b->done[b->n - 1];
    if (b->dst_pixels && fin > b->stored) {
        const ring *d = &b->r[b->out[b->n - 1]];
        note_rows(b, fin - b->stored);
        if (e && ((ret = lic_pixels_store(e->pix_out, ring_row(e, d, 0, b->stored), (size_t)d->cap * d->w,
                                          (size_t)d->w, b->stored, 0, fin - b->stored, d->w)) < 0 ||
                  (ret = lic_pixels_flush(e->pix_out, (uint32_t)fin)) < 0))
            return ret;
        b->stored = fin;
    }
    return LIC_OK;
}

/* Runs (or with e == NULL, dry-runs) the whole chain, band by band. */
static int run_all(lic_engine *e, band_run *b, const lic_tile_chain *c, const float *gain)
{
    const ring *dst = &b->r[b->out[b->n - 1]];
    const int units = LIC_BAND_ROWS >> c->smax > 0 ? LIC_BAND_ROWS >> c->smax : 1;
    const int rows = units << (c->smax - c->dst.scale);
    for (int target = rows;; target += rows) {
        int ret = step(e, b, target < dst->h ? target : dst->h, gain);
        if (ret < 0 || target >= dst->h)
            return ret;
    }
}

/* Sets up the run of chain c: its rings sized by a dry run on a copy and laid out from float 0, and
 * the dry run's maxima (max_read, max_rows). Returns the rings' floats. */
static uint64_t plan_run(band_run *b, const lic_model_data *md, const lic_tile_plan *p, const lic_tile_chain *c,
                         int ph, int pw)
{
    run_init(b, md, p, c, ph, pw);
    band_run dry = *b;
    run_all(NULL, &dry, c, NULL);
    memcpy(b->max_read, dry.max_read, sizeof(b->max_read));
    b->max_rows = dry.max_rows;
    uint64_t at = 0;
    for (int ri = 0; ri < b->n_rings; ri++) {
        ring *r = &b->r[ri];
        r->cap = dry.r[ri].cap;
        r->at = at;
        if (!r->whole)
            at += (uint64_t)r->v.c * (uint64_t)r->cap * (uint64_t)r->w;
    }
    return at;
}

void lic_band_measure(const lic_tile_plan *p, const lic_model_data *md, int ph, int pw, lic_op_range r,
                      lic_band_need *need)
{
    for (int k = 0; k < p->n_chains; k++) {
        const lic_tile_chain *c = &p->chain[k];
        if (!c->banded || c->first < r.first || c->first >= r.first + r.count)
            continue;
        band_run b;
        const uint64_t floats = plan_run(&b, md, p, c, ph, pw);
        if (floats > need->floats)
            need->floats = floats;
        if (b.max_rows > need->pixel_rows)
            need->pixel_rows = b.max_rows;
        for (int i = 0; i < b.n; i++) {
            const lic_op *op = &b.ops[i];
            const int rows = b.max_read[i], w = b.r[b.in[i]].w;
            if (op->kind == LIC_OP_CONV && rows > 0)
                need->scratch = lic_scratch_parts_max(need->scratch, lic_conv2d_scratch_parts(op->conv, rows, w));
            else if (op->kind == LIC_OP_GDN && rows > 0)
                need->scratch = lic_scratch_parts_max(need->scratch, lic_gdn_scratch_parts(op->gdn, rows, w));
        }
    }
}

int lic_band_run(lic_engine *e, const lic_tile_chain *c, const float *gain)
{
    const int k = (int)(c - e->tiles.chain);
    if ((k == e->tiles.pixels_in && !e->pix_in) || (k == e->tiles.pixels_out && !e->pix_out))
        return LIC_EINVAL; /* the whole float image it would read or write does not exist */
    band_run b;
    if (plan_run(&b, e->md, &e->tiles, c, e->ph, e->pw) > e->band_cap)
        return LIC_EINVAL; /* the workspace was planned for this size: never reached */
    return run_all(e, &b, c, gain);
}
