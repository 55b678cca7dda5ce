/* lic codec: the batch scheduler (codec/batch.h). K workers, each a single-threaded encoder or decoder
 * with its own workspace, claim the items of a call one by one from a shared counter, so a slow image
 * never holds the others back and results land in the caller's array at their own index. Nothing an
 * item computes depends on which worker runs it: every worker has the same model and config, and the
 * engine gives identical results for every thread count and tile size (docs/ARCHITECTURE.md §3-4). */
#include "codec/batch.h"

#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "gpu/gpu.h"
#include "util/log.h"
#include "util/mem.h"

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (n < LIC_BATCH_MAX_DEPTH ? (int)n : LIC_BATCH_MAX_DEPTH) : 1;
}

/* Whether the configured backend may put the transforms on a GPU: then one worker tries it. */
static int may_use_gpu(const lic_config *c)
{
    return c->backend == LIC_BACKEND_CUDA || (c->backend == LIC_BACKEND_AUTO && lic_gpu_device_count() > 0);
}

int lic_batch_core_init(lic_batch_core *b, const lic_batch_ops *ops, lic_model *m, const lic_config *cfg,
                        int depth)
{
    if (!m || depth < 0 || depth > LIC_BATCH_MAX_DEPTH)
        return LIC_EINVAL;
    int ret = lic_config_check(cfg);
    if (ret < 0)
        return ret;
    b->ops = ops;
    if (cfg)
        b->cfg = *cfg;
    else
        lic_config_init(&b->cfg);
    lic_mem_resolve(&b->cfg.allocator, cfg ? &cfg->allocator : NULL);
    b->model = lic_model_retain(m);

    const int threads = b->cfg.n_threads > 0 ? b->cfg.n_threads : online_cpus();
    if (depth == 0)
        depth = threads < LIC_BATCH_MAX_DEPTH ? threads : LIC_BATCH_MAX_DEPTH;
    /* A GPU context runs images one at a time for now, with every thread for its CPU stages. */
    void *gpu_ctx = NULL;
    if (may_use_gpu(&b->cfg)) {
        if ((ret = ops->open(&gpu_ctx, m, &b->cfg)) < 0)
            return ret;
        if (strcmp(ops->backend(gpu_ctx), "cuda") == 0)
            depth = 1;
        else
            ops->close(&gpu_ctx); /* AUTO found no way onto the GPU: the CPU batch below */
    }
    if (!gpu_ctx) {
        b->cfg.backend = LIC_BACKEND_CPU;
        b->cfg.n_threads = threads / depth > 1 ? threads / depth : 1;
    }
    b->depth = depth;
    b->workers = lic_mem_alloc_array(&b->cfg.allocator, (size_t)depth, sizeof(*b->workers));
    if (!b->workers) {
        ops->close(&gpu_ctx);
        return LIC_ENOMEM;
    }
    memset(b->workers, 0, (size_t)depth * sizeof(*b->workers));
    b->workers[0].ctx = gpu_ctx;
    if ((!gpu_ctx && (ret = ops->open(&b->workers[0].ctx, m, &b->cfg)) < 0) ||
        (ret = lic_threadpool_create(&b->pool, depth, &b->cfg.allocator)) < 0)
        return ret;
    const int each = gpu_ctx ? threads : b->cfg.n_threads;
    lic_log(&b->cfg.logger, LIC_LOG_INFO, "batch: up to %d image%s at a time, %d thread%s each, transforms on the %s",
            depth, depth == 1 ? "" : "s", each, each == 1 ? "" : "s", gpu_ctx ? "GPU" : "CPU");
    return LIC_OK;
}

void lic_batch_core_release(lic_batch_core *b)
{
    if (b->workers)
        for (int w = 0; w < b->depth; w++)
            b->ops->close(&b->workers[w].ctx);
    lic_mem_free(&b->cfg.allocator, b->workers);
    b->workers = NULL;
    lic_threadpool_free(&b->pool);
    lic_model_release(&b->model);
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Closes workers until what they may hold fits the cap: the first k will each need up to `peak` for
 * this call, and a worker keeps what it holds. The worker holding the most beyond its need goes first;
 * k * peak fits the cap, so this ends with every excess released at worst. */
static void fit_budget(lic_batch_core *b, int k, uint64_t peak, uint64_t cap)
{
    for (;;) {
        uint64_t total = 0, worst_excess = 0;
        int worst = -1;
        for (int w = 0; w < b->depth; w++) {
            uint64_t need = w < k ? peak : 0, held = b->workers[w].held;
            total = add_sat(total, held > need ? held : need);
            if (held > need && held - need > worst_excess) {
                worst_excess = held - need;
                worst = w;
            }
        }
        if (total <= cap || worst < 0)
            return;
        lic_log(&b->cfg.logger, LIC_LOG_DEBUG, "batch: worker %d releases its workspace (up to %llu MB) to keep the "
                "batch under the %llu MB cap", worst, (unsigned long long)(b->workers[worst].held >> 20),
                (unsigned long long)(cap >> 20));
        b->ops->close(&b->workers[worst].ctx);
        b->workers[worst].held = 0;
    }
}

typedef struct batch_run {
    lic_batch_core *b;
    void *items;
    size_t n;
    atomic_size_t next; /* the next item to claim */
} batch_run;

/* Task t: worker t runs items until none is left. A worker that could not be opened runs none; the
 * others take its share. */
static void run_worker(void *arg, int t)
{
    batch_run *r = arg;
    const lic_batch_ops *ops = r->b->ops;
    lic_batch_worker *w = &r->b->workers[t];
    if (!w->ctx)
        return;
    for (;;) {
        size_t i = atomic_fetch_add(&r->next, 1);
        if (i >= r->n)
            return;
        uint64_t est = ops->estimate(w->ctx, r->items, i);
        ops->run(w->ctx, r->items, i);
        if (est > w->held)
            w->held = est;
    }
}

int lic_batch_core_run(lic_batch_core *b, void *items, size_t n)
{
    if (n == 0)
        return LIC_OK;
    const lic_batch_ops *ops = b->ops;
    int ret = b->workers[0].ctx ? LIC_OK : ops->open(&b->workers[0].ctx, b->model, &b->cfg);
    if (ret < 0) {
        for (size_t i = 0; i < n; i++)
            ops->fail(items, i, ret);
        return ret;
    }
    /* The memory plan, before anything is allocated: the largest estimate decides how many images
     * may be in flight at once. */
    uint64_t peak = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t est = ops->estimate(b->workers[0].ctx, items, i);
        if (est > peak)
            peak = est;
    }
    int k = n < (size_t)b->depth ? (int)n : b->depth;
    const uint64_t cap = b->cfg.max_memory;
    if (cap && peak) {
        uint64_t fit = cap / peak; /* >= 1: each estimate passed the cap on its own */
        if (fit < (uint64_t)k)
            k = fit > 0 ? (int)fit : 1;
    }
    if (cap)
        fit_budget(b, k, peak, cap);
    int opened = 0;
    for (int w = 0; w < k; w++) {
        int r = b->workers[w].ctx ? LIC_OK : ops->open(&b->workers[w].ctx, b->model, &b->cfg);
        if (r < 0)
            ret = r;
        else
            opened++;
    }
    if (!opened) {
        for (size_t i = 0; i < n; i++)
            ops->fail(items, i, ret);
        return ret;
    }
    if (opened < k)
        lic_log(&b->cfg.logger, LIC_LOG_WARN, "batch: %d of %d workers could not be opened (%s): running %d at a time",
                k - opened, k, lic_strerror(ret), opened);

    batch_run r = {.b = b, .items = items, .n = n};
    atomic_init(&r.next, 0);
    lic_threadpool_run(b->pool, k, run_worker, &r);

    for (size_t i = 0; i < n; i++)
        if ((ret = ops->status(items, i)) < 0)
            return ret;
    return LIC_OK;
}
