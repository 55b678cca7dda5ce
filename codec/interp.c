/* lic codec: the interpreter of op lists (codec/backend.h). */
#include "codec/backend.h"
#include "codec/bands.h"
#include "codec/engine.h"
#include "util/log.h"

/* An accelerator failure in the middle of an image: under AUTO the engine drops it for good and the
 * caller reruns the range on the CPU (inputs are host buffers the accelerator only read); with CUDA
 * asked for explicitly the error is returned. */
static int accel_failed(lic_engine *e, int ret)
{
    if (e->cfg.backend != LIC_BACKEND_AUTO)
        return ret;
    lic_log(&e->cfg.logger, LIC_LOG_WARN, "CUDA backend failed (%s): transforms run on the CPU from now on",
            lic_strerror(ret));
    lic_backend_cuda_close(e);
    e->stats.backend = "cpu";
    return LIC_OK;
}

/* On the CPU, a tiled workspace runs the chains that start in the range over tiles (codec/tiles.h). */
static int run_on_cpu(lic_engine *e, lic_op_range r, const float *gain)
{
    const int end = r.first + r.count;
    for (int i = r.first; i < end;) {
        const lic_tile_chain *c = e->tiled ? lic_tile_chain_at(&e->tiles, i) : NULL;
        int ret;
        if (c && c->first + c->count <= end) {
            ret = c->banded ? lic_band_run(e, c, gain) : lic_tile_run(e, c, gain);
            i += c->count;
        } else {
            ret = lic_backend_cpu.run_op(e, &e->md->ops[i], gain);
            i++;
        }
        if (ret < 0)
            return ret;
    }
    return LIC_OK;
}

int lic_interp_run(lic_engine *e, lic_op_range r, const float *gain)
{
    const lic_backend *acc = e->accel;
    if (!acc || r.count == 0)
        return run_on_cpu(e, r, gain);
    int ret = acc->run_range ? acc->run_range(e, r, gain) : LIC_EUNSUPPORTED;
    if (ret == LIC_EUNSUPPORTED) { /* op by op, each where it can run */
        ret = LIC_OK;
        for (int i = r.first; ret == LIC_OK && i < r.first + r.count; i++) {
            const lic_op *op = &e->md->ops[i];
            const lic_backend *be = acc->supports_op(e, op) ? acc : &lic_backend_cpu;
            if ((ret = be->run_op(e, op, gain)) < 0 && be == &lic_backend_cpu)
                return ret; /* a CPU failure is not the accelerator's */
        }
    }
    if (ret == LIC_OK || (ret = accel_failed(e, ret)) < 0)
        return ret;
    return run_on_cpu(e, r, gain);
}
