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

static int shapes_ok(const lic_op *op)
{
    const lic_view *in = &op->in, *out = &op->out;
    switch (op->kind) {
    case LIC_OP_CONV:
        return op->conv && !lic_view_eq(in, out) && in->buf != out->buf && in->c == op->conv->cin &&
               out->c == op->conv->cout &&
               layer_scale(in->scale, op->conv->stride, op->conv->transposed) == out->scale;
    case LIC_OP_GDN:
        return op->gdn && lic_view_eq(in, out) && in->c == op->gdn->c;
    case LIC_OP_LEAKY_RELU:
        return lic_view_eq(in, out) && op->slope_q8 >= 0 && op->slope_q8 <= 255;
    case LIC_OP_PIXEL_SHUFFLE:
        return in->buf != out->buf && in->c == 4 * out->c && out->scale == in->scale - 1;
    case LIC_OP_GAIN:
        return lic_view_eq(in, out);
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

int lic_op_spread(const lic_op *op, int wrong)
{
    int k, s, tr;
    if (op->kind == LIC_OP_CONV)
        k = op->conv->k, s = op->conv->stride, tr = op->conv->transposed;
    else if (op->kind == LIC_OP_ICONV)
        k = op->iconv->k, s = op->iconv->stride, tr = op->iconv->transposed;
    else
        return op->kind == LIC_OP_PIXEL_SHUFFLE ? 2 * wrong : wrong;
    const int p = k / 2;
    return tr ? s * wrong + p : (wrong + p + s - 1) / s;
}

static int is_kept(const lic_view *v, const lic_view *kept, int n_kept)
{
    for (int i = 0; i < n_kept; i++)
        if (lic_view_eq(v, &kept[i]))
            return 1;
    return 0;
}

int lic_op_chain(const lic_op *ops, int i, int end, const lic_view *kept, int n_kept, lic_view *dst)
{
    lic_view cur = ops[i].out;
    int j = i + 1;
    for (; j < end && ops[j].kind != LIC_OP_IZERO && lic_view_eq(&ops[j].in, &cur); j++) {
        if (!lic_op_in_place(&ops[j]) && is_kept(&cur, kept, n_kept))
            break;
        cur = ops[j].out;
    }
    *dst = cur;
    return j - i;
}
