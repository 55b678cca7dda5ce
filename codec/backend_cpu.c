/* lic codec: the CPU backend — the engine's buffers in host memory, and every op on the float kernels
 * (lic_xf_ctx, chosen under cfg.cpu_features) and the integer kernels (e->ikernel) of transforms/. */
#include <string.h>

#include "codec/backend.h"
#include "codec/engine.h"
#include "util/mem.h"

static void *cpu_alloc(lic_engine *e, const lic_buf *b, uint64_t count)
{
    size_t es = b->type == LIC_BUF_F32 ? sizeof(float) : sizeof(int32_t), bytes;
    if (count > SIZE_MAX || lic_size_mul((size_t)count, es, &bytes) < 0)
        return NULL;
    return lic_mem_alloc(&e->cfg.allocator, bytes);
}

static void cpu_free(lic_engine *e, void *p)
{
    lic_mem_free(&e->cfg.allocator, p);
}

static int cpu_supports_op(const lic_engine *e, const lic_op *op)
{
    (void)e;
    return (unsigned)op->kind < LIC_OP_KIND_COUNT;
}

void *lic_frame_data(const lic_frame *f, const lic_view *v)
{
    size_t plane = (size_t)(f->ph >> v->scale) * (size_t)(f->pw >> v->scale);
    return (char *)f->buf[v->buf] + (size_t)v->c0 * plane * 4; /* F32 and I32 are both 4 bytes */
}

static lic_tensor ftensor(const lic_frame *f, const lic_view *v)
{
    lic_tensor t = {v->c, f->ph >> v->scale, f->pw >> v->scale, lic_frame_data(f, v)};
    return t;
}

static lic_itensor itensor(const lic_frame *f, const lic_view *v)
{
    lic_itensor t = {v->c, f->ph >> v->scale, f->pw >> v->scale, lic_frame_data(f, v)};
    return t;
}

/* Runs one op on the CPU kernels. The ops were checked when the model was built (lic_op_check). */
int lic_backend_cpu_run_in(lic_engine *e, const lic_frame *f, const lic_op *op, const float *gain)
{
    switch (op->kind) {
    case LIC_OP_CONV: {
        lic_tensor in = ftensor(f, &op->in), out = ftensor(f, &op->out);
        return lic_conv2d(e->xf, op->conv, &in, &out);
    }
    case LIC_OP_GDN: {
        lic_tensor t = ftensor(f, &op->out);
        return lic_gdn(e->xf, op->gdn, &t);
    }
    case LIC_OP_LEAKY_RELU: {
        lic_tensor t = ftensor(f, &op->out);
        lic_leaky_relu(e->xf, &t, (float)op->slope_q8 / 256.0f);
        return LIC_OK;
    }
    case LIC_OP_PIXEL_SHUFFLE: {
        lic_tensor in = ftensor(f, &op->in), out = ftensor(f, &op->out);
        return lic_pixel_shuffle(e->xf, &in, 2, &out);
    }
    case LIC_OP_GAIN: {
        lic_tensor t = ftensor(f, &op->out);
        const size_t hw = (size_t)t.h * t.w;
        lic_channel_gain(t.data, t.c, hw, hw, gain);
        return LIC_OK;
    }
    case LIC_OP_ICONV:
    case LIC_OP_IZERO:
        return lic_backend_cpu_run_int(e, f, op, e->pool);
    default:
        return LIC_EINVAL;
    }
}

int lic_backend_cpu_run_int(lic_engine *e, const lic_frame *f, const lic_op *op, lic_threadpool *pool)
{
    switch (op->kind) {
    case LIC_OP_ICONV: {
        lic_itensor in = itensor(f, &op->in), out = itensor(f, &op->out);
        return lic_iconv2d_kernel(pool, op->iconv, &in, &out, e->ikernel);
    }
    case LIC_OP_IZERO: {
        lic_itensor t = itensor(f, &op->out);
        memset(t.data, 0, lic_tensor_count(t.c, t.h, t.w) * sizeof(int32_t));
        return LIC_OK;
    }
    default:
        return LIC_EUNSUPPORTED;
    }
}

static int cpu_run_op(lic_engine *e, const lic_op *op, const float *gain)
{
    lic_frame whole = {e->buf, e->ph, e->pw};
    return lic_backend_cpu_run_in(e, &whole, op, gain);
}

const lic_backend lic_backend_cpu = {"cpu", cpu_alloc, cpu_free, cpu_supports_op, cpu_run_op, NULL};
