/* lic transforms: a small fixed-size thread pool that runs "task i of n" jobs.
 *
 * Determinism: callers split work into tasks whose outputs are disjoint and whose arithmetic does not
 * depend on which thread runs them or how many threads exist, so results are bit-identical for any
 * thread count. The pool never splits a reduction. */
#ifndef LIC_TRANSFORMS_THREADPOOL_H
#define LIC_TRANSFORMS_THREADPOOL_H

#include "lic/common.h"

typedef struct lic_threadpool lic_threadpool;

/* Work callback: process task `task` (0 <= task < n_tasks) with the caller's `arg`. */
typedef void (*lic_task_fn)(void *arg, int task);

/* Creates a pool of n_threads workers in total (the calling thread counts as one, so n_threads = 1
 * starts no thread). n_threads <= 0 means the number of online CPUs.
 * @return 0, LIC_ENOMEM, or LIC_EINVAL. */
int lic_threadpool_create(lic_threadpool **out, int n_threads, const lic_allocator *alloc);

/* Runs fn(arg, i) for every i in [0, n_tasks) and returns when all have finished. The calling thread
 * takes part. Not reentrant: one run at a time per pool. A NULL pool runs the tasks serially. */
void lic_threadpool_run(lic_threadpool *tp, int n_tasks, lic_task_fn fn, void *arg);

/* Number of threads (>= 1); 1 for a NULL pool. */
int lic_threadpool_size(const lic_threadpool *tp);

/* Stops the workers, frees the pool and sets *tp to NULL. Safe on NULL. */
void lic_threadpool_free(lic_threadpool **tp);

#endif /* LIC_TRANSFORMS_THREADPOOL_H */
