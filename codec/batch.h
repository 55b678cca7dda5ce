/* lic codec: the scheduler behind lic_encode_batch / lic_decode_batch — K worker contexts (encoders
 * or decoders), a thread pool that runs them side by side over an array of items, and the memory
 * budget that decides how many of them may hold a workspace at once. It knows neither images nor
 * streams: codec/batch_codec.c supplies the context type and the per-item work through
 * lic_batch_ops. */
#ifndef LIC_CODEC_BATCH_H
#define LIC_CODEC_BATCH_H

#include "codec/internal.h"
#include "transforms/threadpool.h"

/* What a worker context is and does. Every function is called on one worker from one thread at a
 * time; `items` is the caller's array. */
typedef struct lic_batch_ops {
    int (*open)(void **ctx, lic_model *m, const lic_config *cfg);
    void (*close)(void **ctx); /* safe on *ctx == NULL; sets it to NULL */
    /* Estimated peak working memory of item i on ctx (lic_*_check_size), without allocating; 0 when
     * the item will fail before its workspace is allocated (bad fields, over a limit, bad header). */
    uint64_t (*estimate)(void *ctx, const void *items, size_t i);
    /* Runs item i on ctx and fills all of its outputs, status included. */
    void (*run)(void *ctx, void *items, size_t i);
    /* Writes the failure `code` into all of item i's outputs (no context could be had for it). */
    void (*fail)(void *items, size_t i, int code);
    /* The status item i ended with. */
    int (*status)(const void *items, size_t i);
    /* "cpu" or "cuda": where the ctx runs the transforms (lic_stats.backend). */
    const char *(*backend)(void *ctx);
} lic_batch_ops;

/* One worker: a context opened lazily, and what its workspace may hold. */
typedef struct lic_batch_worker {
    void *ctx;
    uint64_t held; /* largest estimate among the items it ran since it was opened: its workspace and
                    * coder buffers only grow, so this bounds what it keeps between items */
} lic_batch_worker;

typedef struct lic_batch_core {
    const lic_batch_ops *ops;
    lic_model *model;         /* the core's own reference */
    lic_config cfg;           /* the workers' config: allocator and logger resolved, n_threads and
                               * backend those of one worker */
    int depth;                /* workers (1 on the GPU) */
    lic_batch_worker *workers;
    lic_threadpool *pool;     /* depth threads, the caller's included */
} lic_batch_core;

/* Fills *b (zeroed by the caller) for `depth` workers on model m (depth 0: the configured thread
 * count; 1..LIC_BATCH_MAX_DEPTH otherwise). Opens the first worker to check the model, the config
 * and the backend: one that runs on the GPU makes a core of depth 1 with all the configured threads.
 * On failure the caller runs lic_batch_core_release. */
int lic_batch_core_init(lic_batch_core *b, const lic_batch_ops *ops, lic_model *m, const lic_config *cfg,
                        int depth);

/* Runs items[0..n), each on one worker, as many at once as depth and max_memory allow. Returns 0 or
 * the status of the first failed item in input order. */
int lic_batch_core_run(lic_batch_core *b, void *items, size_t n);

/* Closes every worker and the pool and drops the model reference. Safe on a partly filled core. */
void lic_batch_core_release(lic_batch_core *b);

#endif /* LIC_CODEC_BATCH_H */
