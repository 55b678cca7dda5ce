/* lic transforms: checking op lists (transforms/oplist.h). */
#include "transforms/oplist.h"

/* The scale a layer of this stride maps `s` to, or -1 when it leaves 0..LIC_OP_MAX_SCALE. */
static int layer_scale(int s, int stride, int transposed)
{
    int d = stride == 1 ? 0 : stride == 2 ? 1 : 99;
    int r = transposed ? s - d : s + d;
    return d == 99 || r < 0 || r > LIC_OP_MAX_SCALE ? -1 : r;
}

static int view_ok(const lic_view *v, const lic_buf *bufs, int n_bufs, enum lic_buf_type type)
{
    return v->buf >= 0 && v->buf < n_bufs && bufs[v->buf].type == type && v->c0 >= 0 && v->c > 0 &&
           v->c <= 4096 && v->c0 <= 4096 && v->scale >= 0 && v->scale <= LIC_OP_MAX_SCALE;
}

static int same_view(const lic_view *a, const lic_view *b)
{
    return a->buf == b->buf && a->c0 == b->c0 && a->c == b->c && a->scale == b->scale;
}

static int shapes_ok(const lic_op *op)
{
    const lic_view *in = &op->in, *out = &op->out;
    switch (op->kind) {
    case LIC_OP_CONV:
        return op->conv && !same_view(in, out) && in->buf != out->buf && in->c == op->conv->cin &&
               out->c == op->conv->cout &&
               layer_scale(in->scale, op->conv->stride, op->conv->transposed) == out->scale;
    case LIC_OP_GDN:
        return op->gdn && same_view(in, out) && in->c == op->gdn->c;
    case LIC_OP_LEAKY_RELU:
        return same_view(in, out) && op->slope_q8 >= 0 && op->slope_q8 <= 255;
    case LIC_OP_PIXEL_SHUFFLE:
        return in->buf != out->buf && in->c == 4 * out->c && out->scale == in->scale - 1;
    case LIC_OP_GAIN:
        return same_view(in, out);
    case LIC_OP_ICONV:
        return op->iconv && in->buf != out->buf && in->c == op->iconv->cin && out->c == op->iconv->cout &&
               layer_scale(in->scale, op->iconv->stride, op->iconv->transposed) == out->scale;
    case LIC_OP_IZERO:
        return 1;
    default:
        return 0;
    }
}

int lic_view_reserve(const lic_view *v, lic_buf *bufs, int n_bufs, enum lic_buf_type type)
{
    if (!view_ok(v, bufs, n_bufs, type))
        return LIC_EMODEL;
    uint64_t u = lic_view_units(v);
    if (u > bufs[v->buf].units)
        bufs[v->buf].units = u;
    return 0;
}

int lic_op_check(const lic_op *op, lic_buf *bufs, int n_bufs)
{
    if ((unsigned)op->kind >= LIC_OP_KIND_COUNT)
        return LIC_EMODEL;
    const enum lic_buf_type type = op->kind >= LIC_OP_ICONV ? LIC_BUF_I32 : LIC_BUF_F32;
    if (!view_ok(&op->out, bufs, n_bufs, type) ||
        (op->kind != LIC_OP_IZERO && !view_ok(&op->in, bufs, n_bufs, type)) || !shapes_ok(op))
        return LIC_EMODEL;
    if (op->kind != LIC_OP_IZERO)
        lic_view_reserve(&op->in, bufs, n_bufs, type);
    return lic_view_reserve(&op->out, bufs, n_bufs, type);
}
