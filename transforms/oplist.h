/* lic transforms: a network as data — ordered lists of layer operations over numbered buffers
 * (docs/ARCHITECTURE.md, "The network as data").
 *
 * A model builder (codec/) turns a model file into op lists; an interpreter runs them on a backend;
 * planners size buffers from them. Only the builder of an architecture knows how many layers it has.
 *
 * Shapes are functions of the padded image size (multiples of 64): every tensor is a view of
 * `c` channels starting at channel `c0` of a buffer, at `scale` (side = padded side >> scale, 0..6).
 * So an element count is c * 4^(6 - scale) per 64 x 64 block of the padded image, and a buffer's size
 * is its largest view in those units: exact for any image or tile size that is a multiple of 64. */
#ifndef LIC_TRANSFORMS_OPLIST_H
#define LIC_TRANSFORMS_OPLIST_H

#include <stdint.h>

#include "transforms/ilayers.h"
#include "transforms/layers.h"

#define LIC_OP_MAX_SCALE 6 /* 1/64: the hyper-latent */

/* Op kinds. The values are stable (they may be logged, tested and one day stored): append only. */
enum lic_op_kind {
    LIC_OP_CONV = 0,          /* float conv or transposed conv (conv); in != out */
    LIC_OP_GDN = 1,           /* float GDN / IGDN (gdn), in place */
    LIC_OP_LEAKY_RELU = 2,    /* float leaky ReLU with slope slope_q8 / 256, in place */
    LIC_OP_PIXEL_SHUFFLE = 3, /* float pixel shuffle by 2; in != out */
    LIC_OP_GAIN = 4,          /* float per-channel gain given at run time, in place */
    LIC_OP_ICONV = 5,         /* integer conv (iconv); in != out */
    LIC_OP_IZERO = 6,         /* integer buffer view set to zero */
    LIC_OP_KIND_COUNT = 7
};

enum lic_buf_type { LIC_BUF_F32 = 0, LIC_BUF_I32 = 1 };

/* c channels from channel c0 of buffer `buf`, at 1/2^scale of the padded image. */
typedef struct lic_view {
    int buf, c0, c, scale;
} lic_view;

typedef struct lic_op {
    enum lic_op_kind kind;
    const lic_conv_layer *conv;   /* LIC_OP_CONV */
    const lic_gdn_layer *gdn;     /* LIC_OP_GDN */
    const lic_iconv_layer *iconv; /* LIC_OP_ICONV */
    int slope_q8;                 /* LIC_OP_LEAKY_RELU */
    lic_view in, out;             /* in == out for in-place ops; IZERO uses out only */
} lic_op;

/* A buffer: element type and size in elements per 64 x 64 block of the padded image. */
typedef struct lic_buf {
    enum lic_buf_type type;
    uint64_t units;
} lic_buf;

/* Elements of a view's channels per 64 x 64 block; of a whole buffer for a padded size. */
static inline uint64_t lic_view_units(const lic_view *v)
{
    return (uint64_t)(v->c0 + v->c) << (2 * (LIC_OP_MAX_SCALE - v->scale));
}
static inline uint64_t lic_buf_count(const lic_buf *b, int ph, int pw)
{
    return b->units * (uint64_t)(ph / 64) * (uint64_t)(pw / 64);
}

/* Checks that an op is well formed against the buffer table (kinds, layer present, views inside the
 * buffers' types, channel counts and scales that the layer maps in to out) and grows each buffer's
 * units to hold its views. Returns 0 or LIC_EMODEL. Model builders call it for every op they emit, so
 * an interpreter can trust every list. */
int lic_op_check(const lic_op *op, lic_buf *bufs, int n_bufs);

/* Checks a view that is used outside the ops (by the caller of an interpreter, or by a coding step)
 * and grows its buffer to hold it. Returns 0 or LIC_EMODEL. */
int lic_view_reserve(const lic_view *v, lic_buf *bufs, int n_bufs, enum lic_buf_type type);

/* 1 when two views name the same channels of the same buffer at the same scale. */
static inline int lic_view_eq(const lic_view *a, const lic_view *b)
{
    return a->buf == b->buf && a->c0 == b->c0 && a->c == b->c && a->scale == b->scale;
}

/* 1 for an op that works in place (GDN, leaky ReLU, gain): it reads and writes the same view. */
static inline int lic_op_in_place(const lic_op *op)
{
    return lic_view_eq(&op->in, &op->out);
}

/* ---- chains and halos: the geometry that tiled execution on any backend is planned from -------- */

/* How many elements from a region's cut edge op's output is wrong by, given `wrong` wrong input
 * elements (inputs past the cut are zeros where the untiled run has data). A stride-s conv with
 * padding p reads inputs s*j - p .. s*j + p for output j; a stride-s transposed conv (padding p) feeds
 * output o from inputs (o + p - t) / s for taps t < k = 2p + 1; a pixel shuffle doubles positions;
 * element-wise ops keep the count. */
int lic_op_spread(const lic_op *op, int wrong);

/* The chain that starts at ops[i]: the ops that each read the view the one before wrote (or work in
 * place on it), stopping before `end`, before an IZERO, or where a view in kept[0 .. n_kept) would be
 * read by an op that is not in place (a kept view is read or written whole by someone else). Returns
 * the chain's op count (>= 1) and its last output view in *dst. */
int lic_op_chain(const lic_op *ops, int i, int end, const lic_view *kept, int n_kept, lic_view *dst);

#endif /* LIC_TRANSFORMS_OPLIST_H */
