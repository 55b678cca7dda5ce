/* lic transforms: fixed-size thread pool (see threadpool.h). Workers claim task indexes from an atomic
 * counter; the caller participates and waits until every task of the run has finished. */
#include "transforms/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "util/mem.h"

#define LIC_MAX_THREADS 256

struct lic_threadpool {
    const lic_allocator *alloc;
    int n_threads;            /* including the caller */
    pthread_t *threads;       /* n_threads - 1 workers */
    int n_started;
    pthread_mutex_t lock;
    pthread_cond_t wake;      /* workers wait here for a new generation */
    pthread_cond_t done;      /* the caller waits here for the run to finish */
    unsigned generation;      /* bumped once per run */
    int stop;
    /* the current run */
    lic_task_fn fn;
    void *arg;
    int n_tasks;
    atomic_int next_task;
    int active_workers;       /* workers still inside the current run */
};

static void run_tasks(lic_threadpool *tp)
{
    for (;;) {
        int t = atomic_fetch_add(&tp->next_task, 1);
        if (t >= tp->n_tasks)
            return;
        tp->fn(tp->arg, t);
    }
}

static void *worker_main(void *p)
{
    lic_threadpool *tp = p;
    unsigned seen = 0;
    pthread_mutex_lock(&tp->lock);
    for (;;) {
        while (!tp->stop && tp->generation == seen)
            pthread_cond_wait(&tp->wake, &tp->lock);
        if (tp->stop)
            break;
        seen = tp->generation;
        pthread_mutex_unlock(&tp->lock);
        run_tasks(tp);
        pthread_mutex_lock(&tp->lock);
        if (--tp->active_workers == 0)
            pthread_cond_signal(&tp->done);
    }
    pthread_mutex_unlock(&tp->lock);
    return NULL;
}

int lic_threadpool_create(lic_threadpool **out, int n_threads, const lic_allocator *alloc)
{
    if (!out || !alloc || !alloc->alloc || !alloc->free)
        return LIC_EINVAL;
    *out = NULL;
    if (n_threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = n > 0 ? (int)n : 1;
    }
    if (n_threads > LIC_MAX_THREADS)
        n_threads = LIC_MAX_THREADS;

    lic_threadpool *tp = lic_mem_zalloc(alloc, sizeof(*tp));
    if (!tp)
        return LIC_ENOMEM;
    tp->alloc = alloc;
    tp->n_threads = n_threads;
    if (n_threads > 1) {
        tp->threads = lic_mem_alloc_array(alloc, (size_t)(n_threads - 1), sizeof(pthread_t));
        if (!tp->threads) {
            lic_mem_free(alloc, tp);
            return LIC_ENOMEM;
        }
    }
    pthread_mutex_init(&tp->lock, NULL);
    pthread_cond_init(&tp->wake, NULL);
    pthread_cond_init(&tp->done, NULL);
    for (int i = 0; i < n_threads - 1; i++) {
        if (pthread_create(&tp->threads[i], NULL, worker_main, tp) != 0)
            break; /* fewer threads than asked: still correct, only slower */
        tp->n_started++;
    }
    *out = tp;
    return LIC_OK;
}

void lic_threadpool_run(lic_threadpool *tp, int n_tasks, lic_task_fn fn, void *arg)
{
    if (n_tasks <= 0)
        return;
    if (!tp || tp->n_started == 0 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++)
            fn(arg, t);
        return;
    }
    pthread_mutex_lock(&tp->lock);
    tp->fn = fn;
    tp->arg = arg;
    tp->n_tasks = n_tasks;
    atomic_store(&tp->next_task, 0);
    tp->active_workers = tp->n_started;
    tp->generation++;
    pthread_cond_broadcast(&tp->wake);
    pthread_mutex_unlock(&tp->lock);

    run_tasks(tp);

    pthread_mutex_lock(&tp->lock);
    while (tp->active_workers > 0)
        pthread_cond_wait(&tp->done, &tp->lock);
    pthread_mutex_unlock(&tp->lock);
}

int lic_threadpool_size(const lic_threadpool *tp)
{
    return tp ? tp->n_started + 1 : 1;
}

void lic_threadpool_free(lic_threadpool **ptp)
{
    if (!ptp || !*ptp)
        return;
    lic_threadpool *tp = *ptp;
    pthread_mutex_lock(&tp->lock);
    tp->stop = 1;
    pthread_cond_broadcast(&tp->wake);
    pthread_mutex_unlock(&tp->lock);
    for (int i = 0; i < tp->n_started; i++)
        pthread_join(tp->threads[i], NULL);
    pthread_cond_destroy(&tp->done);
    pthread_cond_destroy(&tp->wake);
    pthread_mutex_destroy(&tp->lock);
    lic_mem_free(tp->alloc, tp->threads);
    lic_mem_free(tp->alloc, tp);
    *ptp = NULL;
}
