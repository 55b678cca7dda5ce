/* lic gpu: the op-list executor on CUDA (gpu/cuda/exec.h, docs/GPU.md §9).
 *
 * Per op: a conv (or transposed conv) is a cuDNN forward (or backward-data) convolution as in
 * backend.c, with its descriptors made once per op and its algorithm chosen once per (op, input
 * shape); GDN/IGDN, leaky ReLU, gain and pixel shuffle are the kernels of gpu_kernels.cu. A conv's bias
 * is added by the kernel of the in-place op that follows it (GDN, leaky ReLU, gain) or by the pixel
 * shuffle that reads it, else by a bias pass: the same kernel sequence as the fixed-layer path, so the
 * same results in FP32 and in FP16 (where every stored intermediate is rounded to half).
 *
 * Memory: the plan (gpu_oplan.c) gives three activation slots, one whole device buffer per chain whose
 * output a later chain of its range reads, a staging buffer for FP16 transfers and the cuDNN
 * workspace. Every tensor goes into the slot the plan assigned, and its size is checked against the
 * slot before the op runs, so a plan/executor mismatch is an error, never an overrun. */
#include <string.h>

#include "gpu/cuda/exec.h"
#include "gpu/cuda/gpu_kernels.h"
#include "util/log.h"
#include "util/mem.h"

#define ALGO_CACHE 1024 /* (op, input shape) pairs: <= 16 window shapes x the convs of the chains */
#define MAX_KEPT 16
#define WS_CAP_MIN (64ull << 20)
#define WS_CAP_MAX (1ull << 30)

#if LIC_GPU_GDN_MAX_C != LIC_CUDA_GDN_MAX_C
#error "the plan's GDN limit (gpu/gpu.h) must be the kernel's (gpu_kernels.h)"
#endif

typedef struct xconv {
    void *w;  /* device weights, storage type */
    float *b; /* device bias, NULL if none */
    cudnnFilterDescriptor_t fd;
    cudnnConvolutionDescriptor_t cd;
} xconv;

typedef struct xgdn {
    float *beta, *gamma;
} xgdn;

typedef struct xalgo {
    int op, h, w;
    int algo; /* cudnnConvolutionFwdAlgo_t or cudnnConvolutionBwdDataAlgo_t */
    cudnnMathType_t math;
    size_t ws;
} xalgo;

struct lic_gpu_exec {
    lic_gpu_exec_env env;
    int dtype, es;
    lic_gpu_graph g;
    lic_view kept[MAX_KEPT];
    lic_gpu_oplan plan; /* built at creation; plan.grid.ph == 0 until sized */
    cudnnTensorDescriptor_t td_in, td_out;
    xconv conv[LIC_GPU_MAX_OPS]; /* indexed by op; only the convs of uploaded ranges are set */
    xgdn gdn[LIC_GPU_MAX_OPS];
    float *gain;
    int gain_c;
    /* Per padded size. */
    void *slot[3];
    void *whole[LIC_GPU_MAX_CHAINS];
    float *staging;
    void *ws;
    size_t ws_size, ws_cap;
    xalgo algos[ALGO_CACHE];
    int n_algos;
};

/* ---- errors ------------------------------------------------------------------------------------- */

static int cu_fail(const lic_gpu_exec *ex, int e, const char *what)
{
    lic_log(ex->env.log, LIC_LOG_ERROR, "cuda: %s: %s", what, cudaGetErrorString((cudaError_t)e));
    (void)cudaGetLastError();
    return e == cudaErrorMemoryAllocation ? LIC_ENOMEM : LIC_EBACKEND;
}

static int dnn_fail(const lic_gpu_exec *ex, cudnnStatus_t s, const char *what)
{
    lic_log(ex->env.log, LIC_LOG_ERROR, "cudnn: %s: %s", what, cudnnGetErrorString(s));
    return s == CUDNN_STATUS_ALLOC_FAILED ? LIC_ENOMEM : LIC_EBACKEND;
}

static int plan_fail(const lic_gpu_exec *ex, const char *what)
{
    lic_log(ex->env.log, LIC_LOG_ERROR, "cuda: op list: %s", what);
    return LIC_EBACKEND;
}

#define CU(expr, what)                                                                                              \
    do {                                                                                                             \
        int e_ = (int)(expr);                                                                                        \
        if (e_ != 0)                                                                                                 \
            return cu_fail(ex, e_, what);                                                                            \
    } while (0)
#define DNN(expr, what)                                                                                             \
    do {                                                                                                             \
        cudnnStatus_t s_ = (expr);                                                                                   \
        if (s_ != CUDNN_STATUS_SUCCESS)                                                                              \
            return dnn_fail(ex, s_, what);                                                                           \
    } while (0)
#define TRY(expr)                                                                                                    \
    do {                                                                                                             \
        int r_ = (expr);                                                                                             \
        if (r_ < 0)                                                                                                  \
            return r_;                                                                                               \
    } while (0)

/* cudaMalloc that leaves *p NULL when it fails, so that free paths never see a stale pointer. */
static int dev_alloc(lic_gpu_exec *ex, void **p, size_t bytes, const char *what)
{
    int e = (int)cudaMalloc(p, bytes);
    if (e) {
        *p = NULL;
        return cu_fail(ex, e, what);
    }
    return LIC_OK;
}

/* ---- weights ------------------------------------------------------------------------------------ */

static cudnnDataType_t dnn_dtype(const lic_gpu_exec *ex)
{
    return ex->dtype == LIC_CUDA_F16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
}

static cudnnMathType_t dnn_math(const lic_gpu_exec *ex)
{
    switch (ex->env.precision) {
    case LIC_GPU_FP32_STRICT:
        return CUDNN_FMA_MATH;
    case LIC_GPU_FP16:
        return CUDNN_TENSOR_OP_MATH;
    default:
        return CUDNN_DEFAULT_MATH;
    }
}

/* Copies n floats to a new device buffer of type dtype (half through a float buffer on the device). */
static int upload_floats(lic_gpu_exec *ex, const float *host, size_t n, int dtype, void **out)
{
    *out = NULL;
    if (dtype == LIC_CUDA_F32) {
        TRY(dev_alloc(ex, out, n * sizeof(float), "weights"));
        CU(cudaMemcpy(*out, host, n * sizeof(float), cudaMemcpyHostToDevice), "weights");
        return LIC_OK;
    }
    if (n > 0x7fffffff)
        return LIC_EINVAL;
    void *tmp = NULL;
    TRY(dev_alloc(ex, &tmp, n * sizeof(float), "weights"));
    int e = cudaMalloc(out, n * 2);
    if (e)
        *out = NULL;
    if (!e)
        e = cudaMemcpy(tmp, host, n * sizeof(float), cudaMemcpyHostToDevice);
    if (!e)
        e = lic_cuda_window(ex->env.stream, LIC_CUDA_F32, tmp, 1, (int)n, 0, 0, LIC_CUDA_F16, *out, 1, (int)n, 0, 0, 1,
                            1, (int)n);
    if (!e)
        e = cudaStreamSynchronize(ex->env.stream);
    cudaFree(tmp);
    return e ? cu_fail(ex, e, "weights to half") : LIC_OK;
}

static int upload_conv(lic_gpu_exec *ex, xconv *d, const lic_conv_layer *L)
{
    if (!L->weight)
        return LIC_EINVAL;
    TRY(upload_floats(ex, L->weight, (size_t)L->cin * L->cout * L->k * L->k, ex->dtype, &d->w));
    if (L->bias)
        TRY(upload_floats(ex, L->bias, (size_t)L->cout, LIC_CUDA_F32, (void **)&d->b));
    DNN(cudnnCreateFilterDescriptor(&d->fd), "filter descriptor");
    /* A transposed conv is the data gradient of the forward conv with K = cin outputs, C = cout inputs
     * (PyTorch's ConvTranspose2d layout [cin][cout][k][k]). */
    DNN(cudnnSetFilter4dDescriptor(d->fd, dnn_dtype(ex), CUDNN_TENSOR_NCHW, L->transposed ? L->cin : L->cout,
                                   L->transposed ? L->cout : L->cin, L->k, L->k),
        "filter descriptor");
    DNN(cudnnCreateConvolutionDescriptor(&d->cd), "conv descriptor");
    /* Padding k/2 both sides; a transposed conv asked for 2h x 2w gives PyTorch's output_padding = 1. */
    DNN(cudnnSetConvolution2dDescriptor(d->cd, L->k / 2, L->k / 2, L->stride, L->stride, 1, 1,
                                        CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
        "conv descriptor");
    DNN(cudnnSetConvolutionMathType(d->cd, dnn_math(ex)), "conv math type");
    return LIC_OK;
}

static int upload_gdn(lic_gpu_exec *ex, xgdn *d, const lic_gdn_layer *L)
{
    if (!L->beta || !L->gamma || L->c < 1 || L->c > LIC_CUDA_GDN_MAX_C)
        return LIC_EINVAL;
    TRY(upload_floats(ex, L->beta, (size_t)L->c, LIC_CUDA_F32, (void **)&d->beta));
    TRY(upload_floats(ex, L->gamma, (size_t)L->c * L->c, LIC_CUDA_F32, (void **)&d->gamma));
    CU(lic_cuda_gdn_setup(L->c), "GDN shared memory");
    return LIC_OK;
}

static int upload_range(lic_gpu_exec *ex, int r)
{
    const int first = ex->g.range[r].first, end = first + ex->g.range[r].count;
    for (int i = first; i < end; i++) {
        const lic_op *op = &ex->g.ops[i];
        if (op->kind == LIC_OP_CONV)
            TRY(upload_conv(ex, &ex->conv[i], op->conv));
        else if (op->kind == LIC_OP_GDN)
            TRY(upload_gdn(ex, &ex->gdn[i], op->gdn));
        else if (op->kind == LIC_OP_GAIN && op->in.c > ex->gain_c)
            ex->gain_c = op->in.c;
    }
    return LIC_OK;
}

/* ---- per-size state ------------------------------------------------------------------------------ */

static void free_size(lic_gpu_exec *ex)
{
    for (int i = 0; i < 3; i++)
        cudaFree(ex->slot[i]), ex->slot[i] = NULL;
    for (int i = 0; i < LIC_GPU_MAX_CHAINS; i++)
        cudaFree(ex->whole[i]), ex->whole[i] = NULL;
    cudaFree(ex->staging);
    cudaFree(ex->ws);
    ex->staging = NULL, ex->ws = NULL, ex->ws_size = 0, ex->n_algos = 0;
    memset(&ex->plan.grid, 0, sizeof(ex->plan.grid));
}

/* Sets td_in / td_out for conv op i on an h x w input (output oh x ow) and finds its algorithm. */
static int pick_algo(lic_gpu_exec *ex, int i, int h, int w, int oh, int ow, const xalgo **out)
{
    const lic_op *op = &ex->g.ops[i];
    const lic_conv_layer *L = op->conv;
    const xconv *d = &ex->conv[i];
    DNN(cudnnSetTensor4dDescriptor(ex->td_in, CUDNN_TENSOR_NCHW, dnn_dtype(ex), 1, L->cin, h, w), "tensor descriptor");
    DNN(cudnnSetTensor4dDescriptor(ex->td_out, CUDNN_TENSOR_NCHW, dnn_dtype(ex), 1, L->cout, oh, ow),
        "tensor descriptor");
    for (int k = 0; k < ex->n_algos; k++)
        if (ex->algos[k].op == i && ex->algos[k].h == h && ex->algos[k].w == w) {
            *out = &ex->algos[k];
            return LIC_OK;
        }
    if (ex->n_algos == ALGO_CACHE)
        return plan_fail(ex, "algorithm cache full");
    /* Heuristic ranking (no benchmarking): deterministic algorithms first, within the workspace cap,
     * FMA-only ones in strict FP32 — the fixed-layer path's choice. */
    enum { NP = 16 };
    int n = 0, algo[NP], det[NP], ok[NP];
    cudnnMathType_t math[NP];
    size_t mem[NP];
    if (!L->transposed) {
        cudnnConvolutionFwdAlgoPerf_t perf[NP];
        DNN(cudnnGetConvolutionForwardAlgorithm_v7(ex->env.dnn, ex->td_in, d->fd, d->cd, ex->td_out, NP, &n, perf),
            "forward algorithm");
        for (int k = 0; k < n && k < NP; k++) {
            algo[k] = (int)perf[k].algo, det[k] = perf[k].determinism == CUDNN_DETERMINISTIC;
            ok[k] = perf[k].status == CUDNN_STATUS_SUCCESS, math[k] = perf[k].mathType, mem[k] = perf[k].memory;
        }
    } else {
        cudnnConvolutionBwdDataAlgoPerf_t perf[NP];
        DNN(cudnnGetConvolutionBackwardDataAlgorithm_v7(ex->env.dnn, d->fd, ex->td_in, d->cd, ex->td_out, NP, &n,
                                                        perf),
            "backward-data algorithm");
        for (int k = 0; k < n && k < NP; k++) {
            algo[k] = (int)perf[k].algo, det[k] = perf[k].determinism == CUDNN_DETERMINISTIC;
            ok[k] = perf[k].status == CUDNN_STATUS_SUCCESS, math[k] = perf[k].mathType, mem[k] = perf[k].memory;
        }
    }
    if (n > NP)
        n = NP;
    const int strict = ex->env.precision == LIC_GPU_FP32_STRICT;
    int best = -1;
    for (int pass = 0; pass < 2 && best < 0; pass++)
        for (int k = 0; k < n && best < 0; k++)
            if (ok[k] && mem[k] <= ex->ws_cap && (pass || det[k]) &&
                (!strict || (math[k] != CUDNN_TENSOR_OP_MATH && math[k] != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)))
                best = k;
    if (best < 0) {
        lic_log(ex->env.log, LIC_LOG_ERROR, "cudnn: no algorithm for a %dx%d conv on %d x %d x %d within %zu MB", L->k,
                L->k, L->cin, h, w, ex->ws_cap >> 20);
        return LIC_EBACKEND;
    }
    xalgo *a = &ex->algos[ex->n_algos++];
    a->op = i, a->h = h, a->w = w, a->algo = algo[best], a->ws = mem[best];
    a->math = strict ? CUDNN_FMA_MATH : math[best];
    *out = a;
    return LIC_OK;
}

static int range_uploaded(const lic_gpu_exec *ex, int r)
{
    return ex->env.ranges[r] && ex->g.range[r].count > 0;
}

/* The algorithm of every conv of the uploaded ranges for every window of a sized plan; the largest
 * workspace. */
static int plan_algos(lic_gpu_exec *ex, size_t *ws)
{
    const lic_gpu_oplan *p = &ex->plan;
    *ws = 0;
    for (int k = 0; k < p->n_chains; k++) {
        const lic_gpu_chain *c = &p->chain[k];
        if (!range_uploaded(ex, c->range))
            continue;
        const int n = c->tiled ? p->grid.tiles_y * p->grid.tiles_x : 1;
        for (int t = 0; t < n; t++) {
            lic_gpu_tile win;
            lic_gpu_oplan_window(p, c, t, &win);
            for (int i = c->first; i < c->first + c->count; i++) {
                const lic_op *op = &ex->g.ops[i];
                if (op->kind != LIC_OP_CONV)
                    continue;
                const xalgo *a;
                TRY(pick_algo(ex, i, win.wh >> op->in.scale, win.ww >> op->in.scale, win.wh >> op->out.scale,
                              win.ww >> op->out.scale, &a));
                *ws = a->ws > *ws ? a->ws : *ws;
            }
        }
    }
    return LIC_OK;
}

static uint64_t view_count(const lic_view *v, int h, int w)
{
    return (uint64_t)v->c * (uint64_t)(h >> v->scale) * (uint64_t)(w >> v->scale);
}

static int alloc_size(lic_gpu_exec *ex, size_t ws)
{
    const lic_gpu_plan *q = &ex->plan.grid;
    for (int i = 0; i < 3; i++)
        if (q->act_count[i])
            TRY(dev_alloc(ex, &ex->slot[i], q->act_count[i] * (size_t)ex->es, "activations"));
    for (int k = 0; k < ex->plan.n_chains; k++)
        if (ex->plan.chain[k].dst_dev)
            TRY(dev_alloc(ex, &ex->whole[k], view_count(&ex->plan.chain[k].dst, q->ph, q->pw) * (size_t)ex->es,
                          "whole tensor"));
    if (q->staging_count)
        TRY(dev_alloc(ex, (void **)&ex->staging, q->staging_count * sizeof(float), "staging"));
    if (ws)
        TRY(dev_alloc(ex, &ex->ws, ws, "cudnn workspace"));
    ex->ws_size = ws;
    return LIC_OK;
}

/* Plans, picks algorithms and allocates for a padded size, unless it is the current one. */
static int prepare(lic_gpu_exec *ex, int ph, int pw)
{
    if (ex->plan.grid.ph == ph && ex->plan.grid.pw == pw)
        return LIC_OK;
    free_size(ex);
    size_t free_b = 0, total_b = 0;
    CU(cudaMemGetInfo(&free_b, &total_b), "memory info");
    uint64_t budget = ex->env.max_memory ? ex->env.max_memory : (uint64_t)free_b / 10 * 8;
    /* An allocation can still fail (another process, fragmentation): halve the budget and re-plan. */
    for (int attempt = 0; attempt < 3; attempt++, budget /= 2) {
        uint64_t cap = budget / 16;
        ex->ws_cap = (size_t)(cap < WS_CAP_MIN ? WS_CAP_MIN : cap > WS_CAP_MAX ? WS_CAP_MAX : cap);
        int ret = lic_gpu_oplan_size(&ex->plan, &ex->g, ph, pw, ex->es, budget > ex->ws_cap ? budget - ex->ws_cap : 0,
                                     ex->env.force_tile);
        if (ret < 0) {
            lic_log(ex->env.log, LIC_LOG_ERROR, "cuda: a %dx%d image does not fit %llu MB of device memory", pw, ph,
                    (unsigned long long)(budget >> 20));
            free_size(ex);
            return ret;
        }
        size_t ws = 0;
        ex->n_algos = 0;
        if ((ret = plan_algos(ex, &ws)) == LIC_OK)
            ret = alloc_size(ex, ws);
        if (ret == LIC_OK) {
            lic_log(ex->env.log, LIC_LOG_DEBUG,
                    "cuda: op list: %dx%d in %d tile(s) of %d px, %llu MB + %zu MB workspace", pw, ph,
                    ex->plan.grid.tiles_y * ex->plan.grid.tiles_x, ex->plan.grid.tile,
                    (unsigned long long)(ex->plan.grid.bytes >> 20), ws >> 20);
            return LIC_OK;
        }
        free_size(ex);
        if (ret != LIC_ENOMEM || ex->env.max_memory)
            return ret;
    }
    return LIC_ENOMEM;
}

/* ---- host transfers ------------------------------------------------------------------------------ */

/* c host planes of ph x pw floats, window [y0, y0+h) x [x0, x0+w), into c contiguous device planes of
 * h x w in the storage type. */
static int upload_window(lic_gpu_exec *ex, const float *host, int ph, int pw, int c, int y0, int x0, int h, int w,
                         void *dev)
{
    const size_t plane = (size_t)h * w;
    float *dst = ex->dtype == LIC_CUDA_F32 ? dev : ex->staging;
    if (ex->dtype != LIC_CUDA_F32 && (uint64_t)c * plane > ex->plan.grid.staging_count)
        return plan_fail(ex, "upload larger than the staging buffer");
    for (int k = 0; k < c; k++)
        CU(cudaMemcpy2DAsync(dst + k * plane, (size_t)w * sizeof(float),
                             host + (size_t)k * ph * pw + (size_t)y0 * pw + x0, (size_t)pw * sizeof(float),
                             (size_t)w * sizeof(float), (size_t)h, cudaMemcpyHostToDevice, ex->env.stream),
           "copy to device");
    if (ex->dtype != LIC_CUDA_F32)
        CU(lic_cuda_window(ex->env.stream, LIC_CUDA_F32, dst, h, w, 0, 0, ex->dtype, dev, h, w, 0, 0, c, h, w),
           "to half");
    return LIC_OK;
}

/* Window [sy, sy+h) x [sx, sx+w) of c device planes (dh x dw, storage type) to host planes whose rows
 * are `pitch` floats apart and planes `plane` floats apart. */
static int download_window(lic_gpu_exec *ex, const void *dev, int c, int dh, int dw, int sy, int sx, int h, int w,
                           float *host, size_t pitch, size_t plane)
{
    const float *src = dev;
    size_t sp = (size_t)dh * dw;
    int spitch = dw;
    if (ex->dtype != LIC_CUDA_F32) {
        if ((uint64_t)c * h * w > ex->plan.grid.staging_count)
            return plan_fail(ex, "download larger than the staging buffer");
        CU(lic_cuda_window(ex->env.stream, ex->dtype, dev, dh, dw, sy, sx, LIC_CUDA_F32, ex->staging, h, w, 0, 0, c, h,
                           w),
           "to float");
        src = ex->staging, sp = (size_t)h * w, spitch = w, sy = sx = 0;
    }
    for (int k = 0; k < c; k++)
        CU(cudaMemcpy2DAsync(host + k * plane, pitch * sizeof(float), src + k * sp + (size_t)sy * spitch + sx,
                             (size_t)spitch * sizeof(float), (size_t)w * sizeof(float), (size_t)h,
                             cudaMemcpyDeviceToHost, ex->env.stream),
           "copy to host");
    return LIC_OK;
}

/* The host data of view v in a ph x pw frame. */
static float *host_view(void *const *host, const lic_view *v, int ph, int pw)
{
    return (float *)host[v->buf] + (size_t)v->c0 * (size_t)(ph >> v->scale) * (size_t)(pw >> v->scale);
}

/* ---- ops ----------------------------------------------------------------------------------------- */

/* Device tensor of op output `v` in slot s for an H x W (pixels) window, its size checked. */
static int slot_for(lic_gpu_exec *ex, int s, const lic_view *v, int H, int W, void **out)
{
    if (s < 0 || s > 2 || !ex->slot[s] || view_count(v, H, W) > ex->plan.grid.act_count[s])
        return plan_fail(ex, "a tensor exceeds its planned slot");
    *out = ex->slot[s];
    return LIC_OK;
}

static int run_conv(lic_gpu_exec *ex, int i, const void *in, void *out, int H, int W)
{
    const lic_op *op = &ex->g.ops[i];
    const xconv *d = &ex->conv[i];
    const int h = H >> op->in.scale, w = W >> op->in.scale;
    const xalgo *a;
    TRY(pick_algo(ex, i, h, w, H >> op->out.scale, W >> op->out.scale, &a));
    if (a->ws > ex->ws_size)
        return plan_fail(ex, "conv workspace was not planned");
    DNN(cudnnSetConvolutionMathType(d->cd, a->math), "conv math type");
    const float one = 1.0f, zero = 0.0f; /* float scaling factors for float and half data */
    if (!op->conv->transposed)
        DNN(cudnnConvolutionForward(ex->env.dnn, &one, ex->td_in, in, d->fd, d->w, d->cd,
                                    (cudnnConvolutionFwdAlgo_t)a->algo, ex->ws, a->ws, &zero, ex->td_out, out),
            "convolution");
    else
        DNN(cudnnConvolutionBackwardData(ex->env.dnn, &one, d->fd, d->w, ex->td_in, in, d->cd,
                                         (cudnnConvolutionBwdDataAlgo_t)a->algo, ex->ws, a->ws, &zero, ex->td_out, out),
            "transposed convolution");
    return LIC_OK;
}

static float slope_of(const lic_op *op)
{
    return (float)op->slope_q8 / 256.0f;
}

/* Runs ops [first, end) of a chain on an H x W window whose source tensor is `cur`; returns the
 * device tensor that holds the chain's output in *res. */
static int run_ops(lic_gpu_exec *ex, int first, int end, void *cur, int H, int W, void **res)
{
    const lic_op *ops = ex->g.ops;
    cudaStream_t s = ex->env.stream;
    for (int i = first; i < end; i++) {
        const lic_op *op = &ops[i];
        const size_t hw_in = (size_t)(H >> op->in.scale) * (size_t)(W >> op->in.scale);
        const size_t hw_out = (size_t)(H >> op->out.scale) * (size_t)(W >> op->out.scale);
        const lic_op *next = i + 1 < end && lic_view_eq(&ops[i + 1].in, &op->out) ? &ops[i + 1] : NULL;
        switch (op->kind) {
        case LIC_OP_CONV: {
            void *out;
            TRY(slot_for(ex, ex->plan.slot[i], &op->out, H, W, &out));
            TRY(run_conv(ex, i, cur, out, H, W));
            const float *bias = ex->conv[i].b;
            const int c = op->out.c;
            cur = out;
            /* The bias goes with the op that follows when that op can take it. */
            if (next && next->kind == LIC_OP_GDN && lic_view_eq(&next->in, &next->out)) {
                const xgdn *g = &ex->gdn[i + 1];
                CU(lic_cuda_gdn(s, ex->dtype, out, c, hw_out, bias, g->beta, g->gamma, next->gdn->inverse), "GDN");
                i++;
            } else if (next && next->kind == LIC_OP_LEAKY_RELU && lic_view_eq(&next->in, &next->out)) {
                CU(lic_cuda_bias_act(s, ex->dtype, out, c, hw_out, bias, 1, slope_of(next), NULL), "bias, leaky ReLU");
                i++;
            } else if (next && next->kind == LIC_OP_GAIN && lic_view_eq(&next->in, &next->out)) {
                CU(lic_cuda_bias_act(s, ex->dtype, out, c, hw_out, bias, 0, 0.0f, ex->gain), "bias and gain");
                i++;
            } else if (next && next->kind == LIC_OP_PIXEL_SHUFFLE) {
                void *sh;
                TRY(slot_for(ex, ex->plan.slot[i + 1], &next->out, H, W, &sh));
                CU(lic_cuda_shuffle2(s, ex->dtype, out, sh, next->out.c, H >> op->out.scale, W >> op->out.scale, bias),
                   "pixel shuffle");
                cur = sh;
                i++;
            } else if (bias) {
                CU(lic_cuda_bias_act(s, ex->dtype, out, c, hw_out, bias, 0, 0.0f, NULL), "bias");
            }
            break;
        }
        case LIC_OP_GDN: {
            const xgdn *g = &ex->gdn[i];
            CU(lic_cuda_gdn(s, ex->dtype, cur, op->in.c, hw_in, NULL, g->beta, g->gamma, op->gdn->inverse), "GDN");
            break;
        }
        case LIC_OP_LEAKY_RELU:
            CU(lic_cuda_bias_act(s, ex->dtype, cur, op->in.c, hw_in, NULL, 1, slope_of(op), NULL), "leaky ReLU");
            break;
        case LIC_OP_GAIN:
            CU(lic_cuda_bias_act(s, ex->dtype, cur, op->in.c, hw_in, NULL, 0, 0.0f, ex->gain), "gain");
            break;
        case LIC_OP_PIXEL_SHUFFLE: {
            void *out;
            TRY(slot_for(ex, ex->plan.slot[i], &op->out, H, W, &out));
            CU(lic_cuda_shuffle2(s, ex->dtype, cur, out, op->out.c, H >> op->in.scale, W >> op->in.scale, NULL),
               "pixel shuffle");
            cur = out;
            break;
        }
        default:
            return plan_fail(ex, "an op kind the plan does not admit"); /* lic_gpu_oplan_build refuses them */
        }
    }
    *res = cur;
    return LIC_OK;
}

/* ---- chains -------------------------------------------------------------------------------------- */

/* Tile t of chain k: its source window into slot 0 (or read in place from a whole device buffer), the
 * ops, its core out to the chain's whole device buffer and/or the host. */
static int run_tile(lic_gpu_exec *ex, int k, int t, void *const *host)
{
    const lic_gpu_oplan *p = &ex->plan;
    const lic_gpu_chain *c = &p->chain[k];
    const int ph = p->grid.ph, pw = p->grid.pw;
    lic_gpu_tile win;
    lic_gpu_oplan_window(p, c, t, &win);
    const int H = win.wh, W = win.ww;
    const lic_view *sv = &c->src, *dv = &c->dst;
    const int ss = sv->scale, ds = dv->scale;
    void *cur;
    if (c->tiled || c->src_from < 0) {
        TRY(slot_for(ex, 0, sv, H, W, &cur));
        if (c->src_from < 0)
            TRY(upload_window(ex, host_view(host, sv, ph, pw), ph >> ss, pw >> ss, sv->c, win.wy >> ss, win.wx >> ss,
                              H >> ss, W >> ss, cur));
        else
            CU(lic_cuda_window(ex->env.stream, ex->dtype, ex->whole[c->src_from], ph >> ss, pw >> ss, win.wy >> ss,
                               win.wx >> ss, ex->dtype, cur, H >> ss, W >> ss, 0, 0, sv->c, H >> ss, W >> ss),
               "source window");
    } else {
        cur = ex->whole[c->src_from];
    }
    void *res = NULL;
    TRY(run_ops(ex, c->first, c->first + c->count, cur, H, W, &res));
    const int sy = (win.cy - win.wy) >> ds, sx = (win.cx - win.wx) >> ds, ch = win.ch >> ds, cw = win.cw >> ds;
    if (c->dst_dev)
        CU(lic_cuda_window(ex->env.stream, ex->dtype, res, H >> ds, W >> ds, sy, sx, ex->dtype, ex->whole[k], ph >> ds,
                           pw >> ds, win.cy >> ds, win.cx >> ds, dv->c, ch, cw),
           "core to the whole tensor");
    else if (c->dst_host)
        TRY(download_window(ex, res, dv->c, H >> ds, W >> ds, sy, sx, ch, cw,
                            host_view(host, dv, ph, pw) + (size_t)(win.cy >> ds) * (size_t)(pw >> ds) + (win.cx >> ds),
                            (size_t)(pw >> ds), (size_t)(ph >> ds) * (size_t)(pw >> ds)));
    return LIC_OK;
}

static int run_range(lic_gpu_exec *ex, int r, void *const *host, const float *gain)
{
    const lic_gpu_oplan *p = &ex->plan;
    const int ph = p->grid.ph, pw = p->grid.pw;
    int gain_c = 0; /* the widest GAIN of this range: how many gains the caller passes */
    for (int k = 0; k < p->n_chains; k++) {
        const lic_gpu_chain *c = &p->chain[k];
        if (c->range != r)
            continue;
        for (int i = c->first; i < c->first + c->count; i++)
            if (ex->g.ops[i].kind == LIC_OP_GAIN && ex->g.ops[i].in.c > gain_c)
                gain_c = ex->g.ops[i].in.c;
        if ((c->src_from < 0 && !host[c->src.buf]) || (c->dst_host && !host[c->dst.buf]))
            return LIC_EINVAL;
    }
    if (gain_c && (!gain || gain_c > ex->gain_c))
        return LIC_EINVAL;
    if (gain_c)
        CU(cudaMemcpyAsync(ex->gain, gain, (size_t)gain_c * sizeof(float), cudaMemcpyHostToDevice, ex->env.stream),
           "gain");
    for (int k = 0; k < p->n_chains; k++) {
        const lic_gpu_chain *c = &p->chain[k];
        if (c->range != r)
            continue;
        const int n = c->tiled ? p->grid.tiles_y * p->grid.tiles_x : 1;
        for (int t = 0; t < n; t++)
            TRY(run_tile(ex, k, t, host));
        if (c->dst_dev && c->dst_host) {
            const lic_view *dv = &c->dst;
            const int h = ph >> dv->scale, w = pw >> dv->scale;
            TRY(download_window(ex, ex->whole[k], dv->c, h, w, 0, 0, h, w, host_view(host, dv, ph, pw), (size_t)w,
                                (size_t)h * w));
        }
    }
    CU(cudaStreamSynchronize(ex->env.stream), "op list");
    return LIC_OK;
}

int lic_gpu_exec_run(lic_gpu_exec *ex, int range, void *const *host, int ph, int pw, const float *gain)
{
    if (!ex || !host || (range != LIC_GPU_ANALYSIS && range != LIC_GPU_SYNTHESIS) || ph < 64 || pw < 64 || ph % 64 ||
        pw % 64)
        return LIC_EINVAL;
    if (!range_uploaded(ex, range))
        return LIC_EUNSUPPORTED;
    TRY(prepare(ex, ph, pw));
    const int ret = run_range(ex, range, host, gain);
    if (ret < 0)
        cudaStreamSynchronize(ex->env.stream); /* leave no work in flight on buffers the caller may free */
    return ret;
}

/* ---- life cycle ---------------------------------------------------------------------------------- */

void lic_gpu_exec_free(lic_gpu_exec **pex)
{
    if (!pex || !*pex)
        return;
    lic_gpu_exec *ex = *pex;
    free_size(ex);
    for (int i = 0; i < LIC_GPU_MAX_OPS; i++) {
        xconv *d = &ex->conv[i];
        if (d->fd)
            cudnnDestroyFilterDescriptor(d->fd);
        if (d->cd)
            cudnnDestroyConvolutionDescriptor(d->cd);
        cudaFree(d->w);
        cudaFree(d->b);
        cudaFree(ex->gdn[i].beta);
        cudaFree(ex->gdn[i].gamma);
    }
    cudaFree(ex->gain);
    if (ex->td_in)
        cudnnDestroyTensorDescriptor(ex->td_in);
    if (ex->td_out)
        cudnnDestroyTensorDescriptor(ex->td_out);
    (void)cudaGetLastError();
    lic_mem_free(ex->env.alloc, ex);
    *pex = NULL;
}

static int create(lic_gpu_exec *ex)
{
    DNN(cudnnCreateTensorDescriptor(&ex->td_in), "tensor descriptor");
    DNN(cudnnCreateTensorDescriptor(&ex->td_out), "tensor descriptor");
    for (int r = 0; r < 2; r++)
        if (range_uploaded(ex, r))
            TRY(upload_range(ex, r));
    if (ex->gain_c)
        TRY(dev_alloc(ex, (void **)&ex->gain, (size_t)ex->gain_c * sizeof(float), "gain"));
    return LIC_OK;
}

int lic_gpu_exec_create(lic_gpu_exec **out, const lic_gpu_graph *g, const lic_gpu_exec_env *env)
{
    if (!out)
        return LIC_EINVAL;
    *out = NULL;
    if (!g || !env || !env->alloc || g->n_kept < 0 || g->n_kept > MAX_KEPT || (g->n_kept && !g->kept))
        return LIC_EINVAL;
    lic_gpu_oplan plan;
    int ret = lic_gpu_oplan_build(g, &plan);
    if (ret < 0)
        return ret;
    lic_gpu_exec *ex = lic_mem_zalloc(env->alloc, sizeof(*ex));
    if (!ex)
        return LIC_ENOMEM;
    ex->env = *env;
    ex->dtype = env->precision == LIC_GPU_FP16 ? LIC_CUDA_F16 : LIC_CUDA_F32;
    ex->es = env->precision == LIC_GPU_FP16 ? 2 : 4;
    ex->g = *g;
    if (g->n_kept)
        memcpy(ex->kept, g->kept, sizeof(lic_view) * (size_t)g->n_kept);
    ex->g.kept = ex->kept;
    ex->plan = plan;
    if ((ret = create(ex)) < 0) {
        lic_gpu_exec_free(&ex);
        return ret;
    }
    *out = ex;
    return LIC_OK;
}

void lic_gpu_exec_memory(const lic_gpu_exec *ex, lic_gpu_plan *plan, uint64_t *device_bytes)
{
    *plan = ex->plan.grid;
    if (device_bytes)
        *device_bytes = ex->plan.grid.bytes + ex->ws_size;
}
