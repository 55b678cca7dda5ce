/* lic codec: the CUDA backend of the interpreter — choosing it from the configuration, and the
 * adapter to the CUDA context of gpu/gpu.h, which runs the analysis (g_a, gain, h_a) and synthesis
 * (g_s) op lists whole, tiled in its own memory budget, on the engine's host buffers: as fixed layers
 * it recognises (the default), or, with LIC_GPU_OPLIST=1, as the op lists themselves (docs/GPU.md §9). Single ops: the
 * integer convs of the probability path when LIC_GPU_INT=1 (bit-exact, not measured yet: docs/GPU.md
 * §8), each copied to the device and back; every other op runs on the CPU. */
#include <string.h>

#include "codec/backend.h"
#include "codec/engine.h"
#include "util/log.h"

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

/* The model's float transforms as the op-list executor takes them; the io views are where chains end
 * (the executor copies them). */
static lic_gpu_graph graph_of(const lic_model_data *md, lic_view kept[7])
{
    const lic_view io[7] = {md->io.x, md->io.y, md->io.z, md->io.x_out, md->io.zhat, md->io.yq, md->io.yctx};
    memcpy(kept, io, sizeof io);
    lic_gpu_graph g = {md->ops, md->n_ops, md->n_bufs, {{md->analysis.first, md->analysis.count},
                                                         {md->synthesis.first, md->synthesis.count}}, kept, 7};
    return g;
}

/* Uploads the float transforms to the GPU: as op lists with LIC_GPU_OPLIST=1 (docs/GPU.md §9), else
 * as the fixed layers of the transforms it recognises. */
int lic_backend_cuda_open(lic_engine *e)
{
    int want_gpu, ret = select_backend(e, &want_gpu);
    if (ret < 0 || !want_gpu)
        return ret;
    const lic_model_data *md = e->md;
    const int oplist = lic_gpu_oplist_requested();
    lic_gpu_layers layers;
    lic_gpu_model gm;
    lic_view kept[7];
    lic_gpu_graph graph = graph_of(md, kept);
    if (oplist) {
        lic_gpu_oplan probe;
        ret = lic_gpu_oplan_build(&graph, &probe);
    } else {
        ret = lic_gpu_model_from_ops(md->ops + md->analysis.first, md->analysis.count,
                                     md->ops + md->synthesis.first, md->synthesis.count, &layers, &gm);
    }
    if (ret < 0) {
        if (e->cfg.backend == LIC_BACKEND_CUDA) {
            lic_log(&e->cfg.logger, LIC_LOG_ERROR, "the CUDA backend does not implement the transforms of '%s'",
                    md->arch.name);
            return ret;
        }
        lic_log(&e->cfg.logger, LIC_LOG_INFO, "the CUDA backend does not implement the transforms of '%s': "
                "they run on the CPU", md->arch.name);
        return LIC_OK;
    }
    lic_gpu_options o;
    lic_gpu_options_init(&o);
    o.max_memory = e->cfg.max_memory;
    o.logger = &e->cfg.logger;
    o.integer = lic_gpu_int_requested();
    ret = oplist ? lic_gpu_transforms_create_ops(&e->gpu, &graph, &o, &e->cfg.allocator)
                 : lic_gpu_transforms_create(&e->gpu, &gm, &o, &e->cfg.allocator);
    if (ret == LIC_OK) {
        e->accel = &lic_backend_cuda;
        e->stats.backend = "cuda";
        if (oplist)
            lic_log(&e->cfg.logger, LIC_LOG_INFO, "LIC_GPU_OPLIST=1: the GPU runs the transforms' op lists");
        if (o.integer)
            lic_log(&e->cfg.logger, LIC_LOG_INFO, "LIC_GPU_INT=1: integer convs of the probability path run on the GPU");
        return LIC_OK;
    }
    if (e->cfg.backend == LIC_BACKEND_CUDA)
        return ret; /* logged by gpu/ */
    lic_log(&e->cfg.logger, LIC_LOG_INFO, "CUDA backend unavailable (%s): transforms run on the CPU",
            lic_strerror(ret));
    return LIC_OK;
}

void lic_backend_cuda_close(lic_engine *e)
{
    lic_gpu_transforms_free(&e->gpu);
    e->accel = NULL;
}

/* Integer convs only: IZERO stays a host memset (the buffers are host memory), float ops run in
 * run_range or on the CPU. */
static int cuda_supports_op(const lic_engine *e, const lic_op *op)
{
    return op->kind == LIC_OP_ICONV && lic_gpu_int_enabled(e->gpu);
}

static lic_itensor view_itensor(const lic_engine *e, const lic_view *v)
{
    lic_itensor t = {v->c, e->ph >> v->scale, e->pw >> v->scale, lic_engine_view_data(e, v)};
    return t;
}

static int cuda_run_op(lic_engine *e, const lic_op *op, const float *gain)
{
    (void)gain;
    if (op->kind != LIC_OP_ICONV || !e->gpu)
        return LIC_EUNSUPPORTED;
    lic_itensor in = view_itensor(e, &op->in), out = view_itensor(e, &op->out);
    return lic_gpu_iconv(e->gpu, op->iconv, &in, &out);
}

/* The model builder keeps z apart from x and the synthesis output apart from y, so the context may
 * write its outputs while it still reads its inputs, tile by tile, and a CPU retry finds them intact. */
static int cuda_run_range(lic_engine *e, lic_op_range r, const float *gain)
{
    const lic_model_data *md = e->md;
    if (!e->gpu)
        return LIC_EUNSUPPORTED;
    if (lic_gpu_is_oplist(e->gpu)) {
        const int range = r.first == md->analysis.first && r.count == md->analysis.count     ? LIC_GPU_ANALYSIS
                          : r.first == md->synthesis.first && r.count == md->synthesis.count ? LIC_GPU_SYNTHESIS
                                                                                             : -1;
        return range < 0 || r.count == 0 ? LIC_EUNSUPPORTED
                                         : lic_gpu_run_range(e->gpu, range, e->buf, e->ph, e->pw, gain);
    }
    if (r.first == md->analysis.first && r.count == md->analysis.count && r.count > 0)
        return lic_gpu_analysis(e->gpu, e->x, e->ph, e->pw, gain, e->y, lic_engine_view_data(e, &md->io.z));
    if (r.first == md->synthesis.first && r.count == md->synthesis.count && r.count > 0)
        return lic_gpu_synthesis(e->gpu, e->y, e->lh, e->lw, lic_engine_view_data(e, &md->io.x_out));
    return LIC_EUNSUPPORTED;
}

/* Host memory: the context copies in and out of it itself. */
const lic_backend lic_backend_cuda = {"cuda", NULL, NULL, cuda_supports_op, cuda_run_op, cuda_run_range};
