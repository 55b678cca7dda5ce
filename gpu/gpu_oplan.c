/* lic gpu: the plan of the op-list executor (gpu/gpu.h, docs/GPU.md §9) — chains, activation slots,
 * halo, tile grid and device bytes, computed from a model's op lists alone.
 *
 * Pure host code, compiled with or without CUDA, so that CI tests it. The chains are those of the CPU
 * tiler (lic_op_chain, lic_op_spread in transforms/oplist.h); the grid and the memory accounting are
 * those of the fixed-layer plan (gpu_plan.c), so that for the lic-ctx1 transforms both plans agree
 * field for field (tests/test_gpu.c checks it) and the fixed one can go once the executor has run on
 * a device. gpu/cuda/exec.c puts every tensor in the slot this file assigns and checks its size. */
#include <string.h>

#include "gpu/gpu.h"

#define TILE_ALIGN 64               /* core tiles: whole units of the coarsest scale (1/64) */
#define DNN_MAX_ELEMS 0x7fffffffull /* cuDNN's legacy API takes no tensor of 2^31 elements or more */

static int op_supported(const lic_op *op)
{
    switch (op->kind) {
    case LIC_OP_CONV:
        return op->conv && op->conv->k >= 1 && op->conv->k <= 15 && op->conv->k % 2 == 1 && op->conv->cin >= 1 &&
               op->conv->cout >= 1 && (op->conv->stride == 1 || op->conv->stride == 2);
    case LIC_OP_GDN:
        return op->gdn && op->gdn->c >= 1 && op->gdn->c <= LIC_GPU_GDN_MAX_C;
    case LIC_OP_LEAKY_RELU:
    case LIC_OP_GAIN:
        return 1;
    case LIC_OP_PIXEL_SHUFFLE:
        return op->in.c == 4 * op->out.c;
    default:
        return 0; /* the integer ops belong to the probability path */
    }
}

static int in_place(const lic_op *op)
{
    return lic_view_eq(&op->in, &op->out);
}

/* Slots of one chain's tensors: outputs alternate between slots 0 and 1 (a tiled chain's source is
 * copied into slot 0 first; a source read from a whole device buffer is in no slot), in-place ops keep
 * their tensor's slot, and the input of a pixel shuffle gets slot 2, so that the shuffle neither reads
 * and writes one slot nor breaks the alternation of the layers around it. */
static void assign_slots(const lic_gpu_graph *g, const lic_gpu_chain *c, lic_gpu_oplan *p)
{
    const int end = c->first + c->count;
    int pp = c->tiled || c->src_from < 0 ? 0 : 1, cur = pp;
    for (int k = c->first; k < end; k++) {
        const lic_op *op = &g->ops[k];
        if (in_place(op)) {
            p->slot[k] = (signed char)cur;
        } else if (k + 1 < end && g->ops[k + 1].kind == LIC_OP_PIXEL_SHUFFLE) {
            p->slot[k] = 2;
        } else {
            pp = 1 - pp;
            p->slot[k] = (signed char)pp;
        }
        cur = p->slot[k];
    }
}

/* Writes of the chains before `upto` in range r to buffer b (any view of it). */
static int written_before(const lic_gpu_graph *g, const lic_gpu_oplan *p, int upto, int r, int b)
{
    for (int i = 0; i < upto; i++) {
        const lic_gpu_chain *c = &p->chain[i];
        for (int k = c->first; c->range == r && k < c->first + c->count; k++)
            if (g->ops[k].out.buf == b)
                return 1;
    }
    return 0;
}

static int is_kept(const lic_gpu_graph *g, const lic_view *v)
{
    for (int i = 0; i < g->n_kept; i++)
        if (lic_view_eq(v, &g->kept[i]))
            return 1;
    return 0;
}

/* Cuts range r into chains; each must start with an op that is not in place (its source is then a
 * whole view: the host's or an earlier chain's). */
static int cut(const lic_gpu_graph *g, int r, lic_gpu_oplan *p)
{
    const int first = g->range[r].first, end = first + g->range[r].count;
    const int chain0 = p->n_chains;
    for (int i = first; i < end;) {
        const lic_op *op = &g->ops[i];
        if (!op_supported(op) || in_place(op) || p->n_chains == LIC_GPU_MAX_CHAINS)
            return LIC_EUNSUPPORTED;
        lic_gpu_chain *c = &p->chain[p->n_chains];
        memset(c, 0, sizeof(*c));
        c->range = r, c->first = i, c->src = op->in, c->src_from = -1;
        c->count = lic_op_chain(g->ops, i, end, g->kept, g->n_kept, &c->dst);
        for (int k = i; k < i + c->count; k++) {
            if (!op_supported(&g->ops[k]))
                return LIC_EUNSUPPORTED;
            if (g->ops[k].in.scale < LIC_GPU_WHOLE_SCALE || g->ops[k].out.scale < LIC_GPU_WHOLE_SCALE)
                c->tiled = 1;
        }
        for (int k = chain0; k < p->n_chains; k++)
            if (lic_view_eq(&p->chain[k].dst, &c->src))
                c->src_from = k;
        /* A host source must not be a buffer this range has already written on the device only. */
        if (c->src_from < 0 && written_before(g, p, p->n_chains, r, c->src.buf))
            return LIC_EUNSUPPORTED;
        if (c->src_from >= 0)
            p->chain[c->src_from].dst_dev = 1;
        p->n_chains++;
        i += c->count;
    }
    for (int k = chain0; k < p->n_chains; k++)
        p->chain[k].dst_host = is_kept(g, &p->chain[k].dst) || !p->chain[k].dst_dev;
    return LIC_OK;
}

int lic_gpu_oplan_build(const lic_gpu_graph *g, lic_gpu_oplan *p)
{
    if (!p)
        return LIC_EINVAL;
    memset(p, 0, sizeof(*p));
    memset(p->slot, -1, sizeof p->slot);
    if (!g || !g->ops || g->n_ops < 1 || g->n_ops > LIC_GPU_MAX_OPS || g->n_bufs < 1 ||
        g->n_bufs > LIC_GPU_MAX_BUFS || g->n_kept < 0 || (g->n_kept && !g->kept))
        return LIC_EINVAL;
    for (int r = 0; r < 2; r++)
        if (g->range[r].first < 0 || g->range[r].count < 0 || g->range[r].count > g->n_ops - g->range[r].first)
            return LIC_EINVAL;
    for (int i = 0; i < g->n_ops; i++) /* lic_op_check'ed lists; what the executor indexes, again */
        if (g->ops[i].in.buf < 0 || g->ops[i].in.buf >= g->n_bufs || g->ops[i].out.buf < 0 ||
            g->ops[i].out.buf >= g->n_bufs)
            return LIC_EINVAL;
    for (int r = 0; r < 2; r++) {
        int ret = cut(g, r, p);
        if (ret < 0)
            return ret;
    }
    /* The halo: for each tiled chain, how far zeros at a cut edge reach into its output (in output
     * elements, then pixels), rounded up to whole units of the coarsest scale of all tiled chains, with
     * one unit of margin; one halo for all, as the fixed-layer plan has. */
    int smax = 0;
    for (int k = 0; k < p->n_chains; k++)
        for (int i = p->chain[k].first; p->chain[k].tiled && i < p->chain[k].first + p->chain[k].count; i++)
            if (g->ops[i].out.scale > smax)
                smax = g->ops[i].out.scale;
    p->unit = 1 << smax;
    int units = 0;
    for (int k = 0; k < p->n_chains; k++) {
        const lic_gpu_chain *c = &p->chain[k];
        if (!c->tiled)
            continue;
        int wrong = 0;
        for (int i = c->first; i < c->first + c->count; i++)
            wrong = lic_op_spread(&g->ops[i], wrong);
        const int px = wrong << c->dst.scale, u = (px + p->unit - 1) / p->unit;
        units = u > units ? u : units;
    }
    p->halo = p->unit * (units + 1);
    for (int k = 0; k < p->n_chains; k++)
        assign_slots(g, &p->chain[k], p);
    return LIC_OK;
}

static uint64_t view_count(const lic_view *v, int h, int w)
{
    return (uint64_t)v->c * (uint64_t)(h >> v->scale) * (uint64_t)(w >> v->scale);
}

static void upd(uint64_t *m, uint64_t n)
{
    if (n > *m)
        *m = n;
}

/* The grid of a tile side, then every buffer over the largest window (buffer sizes grow with each
 * side, so it bounds every other window). */
static void fill(lic_gpu_oplan *p, const lic_gpu_graph *g, int ph, int pw, int elem_size, int tile)
{
    lic_gpu_plan *q = &p->grid;
    memset(q, 0, sizeof(*q));
    q->ph = ph, q->pw = pw, q->tile = tile, q->elem_size = elem_size;
    q->tiles_y = (ph + tile - 1) / tile;
    q->tiles_x = (pw + tile - 1) / tile;
    q->halo = q->tiles_y * q->tiles_x > 1 ? p->halo : 0;
    const int wh = tile + 2 * q->halo < ph ? tile + 2 * q->halo : ph;
    const int ww = tile + 2 * q->halo < pw ? tile + 2 * q->halo : pw;
    uint64_t staging = 0;
    for (int k = 0; k < p->n_chains; k++) {
        const lic_gpu_chain *c = &p->chain[k];
        const int h = c->tiled ? wh : ph, w = c->tiled ? ww : pw;
        if (c->tiled || c->src_from < 0) {
            upd(&q->act_count[0], view_count(&c->src, h, w));
            if (c->src_from < 0)
                upd(&staging, view_count(&c->src, h, w));
        }
        for (int i = c->first; i < c->first + c->count; i++) {
            const lic_op *op = &g->ops[i];
            upd(&q->act_count[p->slot[i]], view_count(&op->out, h, w));
            if (op->kind == LIC_OP_CONV)
                q->weight_bytes += (uint64_t)op->conv->cin * (uint64_t)op->conv->cout *
                                       (uint64_t)(op->conv->k * op->conv->k) * (uint64_t)elem_size +
                                   4u * (uint64_t)op->conv->cout;
            else if (op->kind == LIC_OP_GDN)
                q->weight_bytes += 4u * ((uint64_t)op->gdn->c + (uint64_t)op->gdn->c * (uint64_t)op->gdn->c);
            else if (op->kind == LIC_OP_GAIN)
                q->weight_bytes += 4u * (uint64_t)op->in.c;
        }
        if (c->dst_dev)
            q->y_count += view_count(&c->dst, ph, pw);
        if (c->dst_host)
            upd(&staging, view_count(&c->dst, c->dst_dev ? ph : h, c->dst_dev ? pw : w));
    }
    /* FP16 moves host data through a float staging buffer (convert, then copy); FP32 copies directly. */
    q->staging_count = elem_size != 4 ? staging : 0;
    q->bytes = (uint64_t)elem_size * (q->act_count[0] + q->act_count[1] + q->act_count[2] + q->y_count) +
               4u * q->staging_count + q->weight_bytes;
}

/* The plan fits the budget and every tensor fits cuDNN. */
static int fits(const lic_gpu_plan *q, uint64_t budget)
{
    for (int i = 0; i < 3; i++)
        if (q->act_count[i] > DNN_MAX_ELEMS)
            return 0;
    return q->y_count <= DNN_MAX_ELEMS && q->tiles_y * q->tiles_x <= LIC_GPU_MAX_TILES && q->bytes <= budget;
}

int lic_gpu_oplan_size(lic_gpu_oplan *p, const lic_gpu_graph *g, int ph, int pw, int elem_size, uint64_t budget,
                       int force_tile)
{
    if (!p || !g)
        return LIC_EINVAL;
    memset(&p->grid, 0, sizeof(p->grid));
    if (p->n_chains < 1 || ph < 64 || pw < 64 || ph % 64 || pw % 64 || ph > (1 << 20) || pw > (1 << 20) ||
        (elem_size != 2 && elem_size != 4) || force_tile < 0 || force_tile % TILE_ALIGN)
        return LIC_EINVAL;
    if (force_tile) {
        fill(p, g, ph, pw, elem_size, force_tile);
        return fits(&p->grid, UINT64_MAX) ? LIC_OK : LIC_ELIMIT;
    }
    static const int sides[] = {8192, 6144, 4096, 3072, 2048, 1536, 1024, 768, 512, 384, 256};
    const int whole = ph > pw ? ph : pw;
    fill(p, g, ph, pw, elem_size, whole);
    if (fits(&p->grid, budget))
        return LIC_OK;
    for (size_t i = 0; i < sizeof(sides) / sizeof(sides[0]); i++) {
        if (sides[i] >= whole)
            continue;
        fill(p, g, ph, pw, elem_size, sides[i]);
        if (fits(&p->grid, budget))
            return LIC_OK;
    }
    memset(&p->grid, 0, sizeof(p->grid));
    return LIC_ELIMIT;
}

void lic_gpu_oplan_window(const lic_gpu_oplan *p, const lic_gpu_chain *c, int tile, lic_gpu_tile *t)
{
    if (c->tiled) {
        lic_gpu_plan_tile(&p->grid, tile, t);
        return;
    }
    *t = (lic_gpu_tile){0, 0, p->grid.ph, p->grid.pw, 0, 0, p->grid.ph, p->grid.pw};
}

/* Shared with the fixed-layer plan (gpu_plan.c): tile i of a grid, its core and its halo-grown window
 * clipped to the image. */
void lic_gpu_plan_tile(const lic_gpu_plan *p, int i, lic_gpu_tile *t)
{
    int ty = i / p->tiles_x, tx = i % p->tiles_x;
    t->cy = ty * p->tile;
    t->cx = tx * p->tile;
    t->ch = p->ph - t->cy < p->tile ? p->ph - t->cy : p->tile;
    t->cw = p->pw - t->cx < p->tile ? p->pw - t->cx : p->tile;
    t->wy = t->cy - p->halo > 0 ? t->cy - p->halo : 0;
    t->wx = t->cx - p->halo > 0 ? t->cx - p->halo : 0;
    int ey = t->cy + t->ch + p->halo, ex = t->cx + t->cw + p->halo;
    t->wh = (ey < p->ph ? ey : p->ph) - t->wy;
    t->ww = (ex < p->pw ? ex : p->pw) - t->wx;
}
