/* lic gpu: the CUDA/cuDNN backend of the float transforms (docs/GPU.md).
 *
 * Host code in C against the C APIs of the CUDA runtime and cuDNN; the kernels are in gpu_kernels.cu.
 * Convolutions are cuDNN forward convolutions; transposed convolutions are cuDNN backward-data
 * convolutions with the same weights (PyTorch's ConvTranspose2d layout [cin][cout][k][k] is exactly
 * the filter [K = cin][C = cout] of the forward conv whose data gradient it is). Bias, GDN/IGDN,
 * leaky ReLU, gains, pixel shuffle and tile crops are our kernels.
 *
 * Life cycle: weights go to the device once, at creation. The first image of a padded size plans the
 * device memory (gpu_plan.c: tile grid, buffers), picks a cuDNN algorithm for every layer and window
 * shape (cuDNN heuristics, deterministic algorithms first, workspace capped), and allocates everything;
 * later images of that size reuse it all. Every layer output goes into the activation buffer that the
 * plan's walk assigns it, and its size is checked against the plan before each layer. */
#include <string.h>

#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "gpu/cuda/exec.h"
#include "gpu/cuda/gpu_kernels.h"
#include "gpu/cuda/int_backend.h"
#include "gpu/gpu.h"
#include "util/log.h"
#include "util/mem.h"

#define MIN_CC_MAJOR 8          /* the build targets sm_80 and sm_90 */
#define ALGO_CACHE 256          /* (layer, input shape) pairs: <= 16 window shapes x 8 layers + h_a */
#define WS_CAP_MIN (64ull << 20)
#define WS_CAP_MAX (1ull << 30)

typedef struct dconv {
    int cin, cout, k, stride, transposed;
    void *w;  /* device weights, storage type */
    float *b; /* device bias, NULL if none */
    cudnnFilterDescriptor_t fd;
    cudnnConvolutionDescriptor_t cd;
} dconv;

typedef struct dgdn {
    int c, inverse;
    float *beta, *gamma; /* device */
} dgdn;

typedef struct algo_slot {
    const dconv *d;
    int h, w;
    int algo; /* cudnnConvolutionFwdAlgo_t or cudnnConvolutionBwdDataAlgo_t */
    cudnnMathType_t math;
    size_t ws;
} algo_slot;

struct lic_gpu_transforms {
    const lic_allocator *alloc;
    const lic_logger *log;
    int device;
    enum lic_gpu_precision prec;
    int dtype, es;            /* LIC_CUDA_F32 / F16 and its size in bytes */
    int analysis, synthesis;  /* halves uploaded */
    uint64_t max_memory;
    int force_tile;
    float slope;
    cudaStream_t stream;
    cudnnHandle_t dnn;
    cudnnTensorDescriptor_t td_in, td_out;
    dconv g_a[4], h_a[3], g_s[4];
    dgdn g_a_gdn[3], g_s_igdn[3];
    float *gain;              /* device [M] */
    int M, Nz;
    /* Layer shapes (no weights) for the planner. */
    lic_conv_layer shp_ga[4], shp_ha[3], shp_gs[4];
    lic_gdn_layer shp_gan[3], shp_gsn[3];
    lic_gpu_model shape;
    /* Per padded size: plan.ph == 0 means nothing is planned. */
    lic_gpu_plan plan;
    void *act[3], *y;
    float *staging;
    void *ws;
    size_t ws_size, ws_cap;
    algo_slot algos[ALGO_CACHE];
    int n_algos;
    /* The integer kernels (opt-in, options.integer): created at the first lic_gpu_iconv. */
    int integer;
    lic_gpu_int *intk;
    /* The op-list executor (lic_gpu_transforms_create_ops); NULL in a fixed-layer context. */
    lic_gpu_exec *ex;
};

/* ---- errors and logging ------------------------------------------------------------------------ */

static int cu_fail(const lic_logger *lg, int e, const char *what)
{
    lic_log(lg, LIC_LOG_ERROR, "cuda: %s: %s", what, cudaGetErrorString((cudaError_t)e));
    (void)cudaGetLastError(); /* clear a non-sticky error so later calls are not blamed for it */
    return e == cudaErrorMemoryAllocation ? LIC_ENOMEM : LIC_EBACKEND;
}

static int dnn_fail(const lic_logger *lg, cudnnStatus_t s, const char *what)
{
    lic_log(lg, LIC_LOG_ERROR, "cudnn: %s: %s", what, cudnnGetErrorString(s));
    return s == CUDNN_STATUS_ALLOC_FAILED ? LIC_ENOMEM : LIC_EBACKEND;
}

#define CU(ctx, expr, what)                                                                                          \
    do {                                                                                                             \
        int e_ = (int)(expr);                                                                                        \
        if (e_ != 0)                                                                                                 \
            return cu_fail((ctx)->log, e_, what);                                                                    \
    } while (0)
#define DNN(ctx, expr, what)                                                                                         \
    do {                                                                                                             \
        cudnnStatus_t s_ = (expr);                                                                                   \
        if (s_ != CUDNN_STATUS_SUCCESS)                                                                              \
            return dnn_fail((ctx)->log, s_, what);                                                                   \
    } while (0)
#define TRY(expr)                                                                                                    \
    do {                                                                                                             \
        int r_ = (expr);                                                                                             \
        if (r_ < 0)                                                                                                  \
            return r_;                                                                                               \
    } while (0)

/* ---- devices ----------------------------------------------------------------------------------- */

int lic_gpu_built_in(void)
{
    return 1;
}

static int device_usable(int i)
{
    int major = 0;
    return cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, i) == cudaSuccess &&
           major >= MIN_CC_MAJOR;
}

int lic_gpu_device_count(void)
{
    /* No driver (cudaErrorInsufficientDriver), a stub libcuda (cudaErrorStubLibrary), no GPU
     * (cudaErrorNoDevice): all mean "no device", silently. */
    int n = 0, usable = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess)
        n = 0;
    for (int i = 0; i < n; i++)
        usable += device_usable(i);
    (void)cudaGetLastError();
    return usable;
}

/* ---- layers on the device ---------------------------------------------------------------------- */

static cudnnDataType_t dnn_dtype(const lic_gpu_transforms *ctx)
{
    return ctx->dtype == LIC_CUDA_F16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
}

static cudnnMathType_t dnn_math(const lic_gpu_transforms *ctx)
{
    switch (ctx->prec) {
    case LIC_GPU_FP32_STRICT:
        return CUDNN_FMA_MATH;
    case LIC_GPU_FP16:
        return CUDNN_TENSOR_OP_MATH;
    default:
        return CUDNN_DEFAULT_MATH; /* TF32 tensor cores allowed on sm_80+ */
    }
}

/* Copies n floats to a new device buffer of the storage type. */
static int upload_floats(lic_gpu_transforms *ctx, const float *host, size_t n, int dtype, void **out)
{
    *out = NULL;
    if (dtype == LIC_CUDA_F32) {
        CU(ctx, cudaMalloc(out, n * sizeof(float)), "weights");
        CU(ctx, cudaMemcpy(*out, host, n * sizeof(float), cudaMemcpyHostToDevice), "weights");
        return LIC_OK;
    }
    if (n > 0x7fffffff)
        return LIC_EINVAL;
    float *tmp = NULL;
    CU(ctx, cudaMalloc((void **)&tmp, n * sizeof(float)), "weights");
    int e = cudaMalloc(out, n * 2);
    if (!e)
        e = cudaMemcpy(tmp, host, n * sizeof(float), cudaMemcpyHostToDevice);
    if (!e)
        e = lic_cuda_window(ctx->stream, LIC_CUDA_F32, tmp, 1, (int)n, 0, 0, LIC_CUDA_F16, *out, 1, (int)n, 0, 0, 1, 1,
                            (int)n);
    if (!e)
        e = cudaStreamSynchronize(ctx->stream);
    cudaFree(tmp);
    return e ? cu_fail(ctx->log, e, "weights to half") : LIC_OK;
}

static int upload_conv(lic_gpu_transforms *ctx, dconv *d, const lic_conv_layer *L)
{
    d->cin = L->cin, d->cout = L->cout, d->k = L->k, d->stride = L->stride, d->transposed = L->transposed;
    if (!L->weight)
        return LIC_EINVAL;
    TRY(upload_floats(ctx, L->weight, (size_t)L->cin * L->cout * L->k * L->k, ctx->dtype, &d->w));
    if (L->bias)
        TRY(upload_floats(ctx, L->bias, (size_t)L->cout, LIC_CUDA_F32, (void **)&d->b));
    DNN(ctx, cudnnCreateFilterDescriptor(&d->fd), "filter descriptor");
    /* A transposed conv is the data gradient of the forward conv with K = cin outputs, C = cout inputs. */
    DNN(ctx,
        cudnnSetFilter4dDescriptor(d->fd, dnn_dtype(ctx), CUDNN_TENSOR_NCHW, L->transposed ? L->cin : L->cout,
                                   L->transposed ? L->cout : L->cin, L->k, L->k),
        "filter descriptor");
    DNN(ctx, cudnnCreateConvolutionDescriptor(&d->cd), "conv descriptor");
    /* Padding k/2 on both sides; for the transposed conv, cuDNN's data gradient of a 2h x 2w input
     * has the h x w shape of its output, so asking for 2h x 2w gives PyTorch's output_padding = 1. */
    DNN(ctx,
        cudnnSetConvolution2dDescriptor(d->cd, L->k / 2, L->k / 2, L->stride, L->stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                        CUDNN_DATA_FLOAT),
        "conv descriptor");
    DNN(ctx, cudnnSetConvolutionMathType(d->cd, dnn_math(ctx)), "conv math type");
    return LIC_OK;
}

static int upload_gdn(lic_gpu_transforms *ctx, dgdn *d, const lic_gdn_layer *L)
{
    if (!L->beta || !L->gamma || L->c < 1 || L->c > LIC_CUDA_GDN_MAX_C)
        return LIC_EINVAL;
    d->c = L->c, d->inverse = L->inverse;
    TRY(upload_floats(ctx, L->beta, (size_t)L->c, LIC_CUDA_F32, (void **)&d->beta));
    TRY(upload_floats(ctx, L->gamma, (size_t)L->c * L->c, LIC_CUDA_F32, (void **)&d->gamma));
    CU(ctx, lic_cuda_gdn_setup(L->c), "GDN shared memory");
    return LIC_OK;
}

static void free_conv(dconv *d)
{
    if (d->fd)
        cudnnDestroyFilterDescriptor(d->fd);
    if (d->cd)
        cudnnDestroyConvolutionDescriptor(d->cd);
    cudaFree(d->w);
    cudaFree(d->b);
    memset(d, 0, sizeof(*d));
}

static void free_gdn(dgdn *d)
{
    cudaFree(d->beta);
    cudaFree(d->gamma);
    memset(d, 0, sizeof(*d));
}

static int out_side(const dconv *d, int in)
{
    return d->transposed ? in * d->stride : lic_conv_out_size(in, d->stride);
}

/* Sets td_in / td_out for the layer on an h x w input and returns the algorithm for that shape. */
static int pick_algo(lic_gpu_transforms *ctx, const dconv *d, int h, int w, const algo_slot **out)
{
    cudnnDataType_t dt = dnn_dtype(ctx);
    DNN(ctx, cudnnSetTensor4dDescriptor(ctx->td_in, CUDNN_TENSOR_NCHW, dt, 1, d->cin, h, w), "tensor descriptor");
    DNN(ctx,
        cudnnSetTensor4dDescriptor(ctx->td_out, CUDNN_TENSOR_NCHW, dt, 1, d->cout, out_side(d, h), out_side(d, w)),
        "tensor descriptor");
    for (int i = 0; i < ctx->n_algos; i++) {
        const algo_slot *a = &ctx->algos[i];
        if (a->d == d && a->h == h && a->w == w) {
            *out = a;
            return LIC_OK;
        }
    }
    if (ctx->n_algos == ALGO_CACHE) {
        lic_log(ctx->log, LIC_LOG_ERROR, "cuda: algorithm cache full");
        return LIC_EBACKEND;
    }
    /* Heuristic ranking (no benchmarking, so planning costs no device time). Deterministic algorithms
     * first so that a GPU gives the same pixels run after run; within the workspace cap; in strict FP32
     * only FMA algorithms. */
    enum { NP = 16 };
    int n = 0, algo[NP], det[NP], ok[NP];
    cudnnMathType_t math[NP];
    size_t mem[NP];
    if (!d->transposed) {
        cudnnConvolutionFwdAlgoPerf_t perf[NP];
        DNN(ctx, cudnnGetConvolutionForwardAlgorithm_v7(ctx->dnn, ctx->td_in, d->fd, d->cd, ctx->td_out, NP, &n, perf),
            "forward algorithm");
        for (int i = 0; i < n; i++) {
            algo[i] = (int)perf[i].algo, det[i] = perf[i].determinism == CUDNN_DETERMINISTIC;
            ok[i] = perf[i].status == CUDNN_STATUS_SUCCESS, math[i] = perf[i].mathType, mem[i] = perf[i].memory;
        }
    } else {
        cudnnConvolutionBwdDataAlgoPerf_t perf[NP];
        DNN(ctx,
            cudnnGetConvolutionBackwardDataAlgorithm_v7(ctx->dnn, d->fd, ctx->td_in, d->cd, ctx->td_out, NP, &n, perf),
            "backward-data algorithm");
        for (int i = 0; i < n; i++) {
            algo[i] = (int)perf[i].algo, det[i] = perf[i].determinism == CUDNN_DETERMINISTIC;
            ok[i] = perf[i].status == CUDNN_STATUS_SUCCESS, math[i] = perf[i].mathType, mem[i] = perf[i].memory;
        }
    }
    int best = -1;
    for (int pass = 0; pass < 2 && best < 0; pass++)
        for (int i = 0; i < n && best < 0; i++)
            if (ok[i] && mem[i] <= ctx->ws_cap && (pass || det[i]) &&
                (ctx->prec != LIC_GPU_FP32_STRICT ||
                 (math[i] != CUDNN_TENSOR_OP_MATH && math[i] != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)))
                best = i;
    if (best < 0) {
        lic_log(ctx->log, LIC_LOG_ERROR, "cudnn: no algorithm for a %dx%d conv on %d x %d x %d within %zu MB", d->k, d->k,
              d->cin, h, w, ctx->ws_cap >> 20);
        return LIC_EBACKEND;
    }
    algo_slot *a = &ctx->algos[ctx->n_algos++];
    a->d = d, a->h = h, a->w = w, a->algo = algo[best], a->ws = mem[best];
    /* cuDNN runs an algorithm with the descriptor's math type, which must be the one it was ranked
     * with; strict FP32 pins FMA (no TF32) whatever the ranking reported. */
    a->math = ctx->prec == LIC_GPU_FP32_STRICT ? CUDNN_FMA_MATH : math[best];
    *out = a;
    return LIC_OK;
}

/* out = conv(in) without bias (added by the kernel that follows). out_cap: elements in out. */
static int conv(lic_gpu_transforms *ctx, const dconv *d, const void *in, int h, int w, void *out, uint64_t out_cap,
                int *oh, int *ow)
{
    *oh = out_side(d, h);
    *ow = out_side(d, w);
    if ((uint64_t)d->cout * (uint64_t)*oh * (uint64_t)*ow > out_cap) {
        lic_log(ctx->log, LIC_LOG_ERROR, "cuda: layer output exceeds its planned buffer");
        return LIC_EBACKEND;
    }
    const algo_slot *a;
    TRY(pick_algo(ctx, d, h, w, &a));
    if (a->ws > ctx->ws_size) {
        lic_log(ctx->log, LIC_LOG_ERROR, "cuda: conv workspace was not planned");
        return LIC_EBACKEND;
    }
    DNN(ctx, cudnnSetConvolutionMathType(d->cd, a->math), "conv math type");
    const float one = 1.0f, zero = 0.0f; /* float scaling factors for float and half data */
    if (!d->transposed)
        DNN(ctx,
            cudnnConvolutionForward(ctx->dnn, &one, ctx->td_in, in, d->fd, d->w, d->cd,
                                    (cudnnConvolutionFwdAlgo_t)a->algo, ctx->ws, a->ws, &zero, ctx->td_out, out),
            "convolution");
    else
        DNN(ctx,
            cudnnConvolutionBackwardData(ctx->dnn, &one, d->fd, d->w, ctx->td_in, in, d->cd,
                                         (cudnnConvolutionBwdDataAlgo_t)a->algo, ctx->ws, a->ws, &zero, ctx->td_out,
                                         out),
            "transposed convolution");
    return LIC_OK;
}

/* ---- host transfers ---------------------------------------------------------------------------- */

/* Copies the window [y0, y0+h) x [x0, x0+w) of c host planes (each ph x pw floats) into c contiguous
 * device planes of h x w in the storage type. */
static int upload_window(lic_gpu_transforms *ctx, const float *host, int ph, int pw, int c, int y0, int x0, int h,
                         int w, void *dev)
{
    size_t plane = (size_t)h * w;
    float *dst = ctx->dtype == LIC_CUDA_F32 ? dev : ctx->staging;
    if (ctx->dtype != LIC_CUDA_F32 && (uint64_t)c * plane > ctx->plan.staging_count)
        return LIC_EBACKEND;
    for (int k = 0; k < c; k++)
        CU(ctx,
           cudaMemcpy2DAsync(dst + k * plane, (size_t)w * sizeof(float),
                             host + (size_t)k * ph * pw + (size_t)y0 * pw + x0, (size_t)pw * sizeof(float),
                             (size_t)w * sizeof(float), (size_t)h, cudaMemcpyHostToDevice, ctx->stream),
           "copy to device");
    if (ctx->dtype != LIC_CUDA_F32)
        CU(ctx,
           lic_cuda_window(ctx->stream, LIC_CUDA_F32, dst, h, w, 0, 0, ctx->dtype, dev, h, w, 0, 0, c, h, w),
           "to half");
    return LIC_OK;
}

/* Copies the window [sy, sy+h) x [sx, sx+w) of c device planes (dh x dw, storage type) to host planes
 * whose rows are `pitch` floats apart and planes `plane` floats apart. */
static int download_window(lic_gpu_transforms *ctx, const void *dev, int c, int dh, int dw, int sy, int sx, int h,
                           int w, float *host, size_t pitch, size_t plane)
{
    const float *src = dev;
    size_t sp = (size_t)dh * dw;
    int spitch = dw;
    if (ctx->dtype != LIC_CUDA_F32) {
        if ((uint64_t)c * h * w > ctx->plan.staging_count)
            return LIC_EBACKEND;
        CU(ctx,
           lic_cuda_window(ctx->stream, ctx->dtype, dev, dh, dw, sy, sx, LIC_CUDA_F32, ctx->staging, h, w, 0, 0, c, h,
                           w),
           "to float");
        src = ctx->staging, sp = (size_t)h * w, spitch = w, sy = sx = 0;
    }
    for (int k = 0; k < c; k++)
        CU(ctx,
           cudaMemcpy2DAsync(host + k * plane, pitch * sizeof(float), src + k * sp + (size_t)sy * spitch + sx,
                             (size_t)spitch * sizeof(float), (size_t)w * sizeof(float), (size_t)h,
                             cudaMemcpyDeviceToHost, ctx->stream),
           "copy to host");
    return LIC_OK;
}

/* ---- per-size planning -------------------------------------------------------------------------- */

static void free_size(lic_gpu_transforms *ctx)
{
    for (int i = 0; i < 3; i++)
        cudaFree(ctx->act[i]), ctx->act[i] = NULL;
    cudaFree(ctx->y);
    cudaFree(ctx->staging);
    cudaFree(ctx->ws);
    ctx->y = NULL, ctx->staging = NULL, ctx->ws = NULL;
    ctx->ws_size = 0;
    ctx->n_algos = 0;
    memset(&ctx->plan, 0, sizeof(ctx->plan));
}

/* Picks the algorithm of every layer for every window shape of the plan; returns the largest workspace. */
static int plan_algos(lic_gpu_transforms *ctx, const lic_gpu_plan *p, size_t *ws)
{
    *ws = 0;
    const algo_slot *a;
    int n = p->tiles_y * p->tiles_x;
    for (int i = 0; i < n; i++) {
        lic_gpu_tile t;
        lic_gpu_plan_tile(p, i, &t);
        int h = t.wh, w = t.ww;
        for (int l = 0; ctx->analysis && l < 4; l++) {
            TRY(pick_algo(ctx, &ctx->g_a[l], h, w, &a));
            *ws = a->ws > *ws ? a->ws : *ws;
            h = out_side(&ctx->g_a[l], h), w = out_side(&ctx->g_a[l], w);
        }
        h = t.wh / 16, w = t.ww / 16;
        for (int l = 0; ctx->synthesis && l < 4; l++) {
            TRY(pick_algo(ctx, &ctx->g_s[l], h, w, &a));
            *ws = a->ws > *ws ? a->ws : *ws;
            h = out_side(&ctx->g_s[l], h), w = out_side(&ctx->g_s[l], w);
            if (ctx->shape.subpel)
                h *= 2, w *= 2;
        }
    }
    int h = p->ph / 16, w = p->pw / 16;
    for (int l = 0; ctx->analysis && l < 3; l++) {
        TRY(pick_algo(ctx, &ctx->h_a[l], h, w, &a));
        *ws = a->ws > *ws ? a->ws : *ws;
        h = out_side(&ctx->h_a[l], h), w = out_side(&ctx->h_a[l], w);
    }
    return LIC_OK;
}

static int alloc_size(lic_gpu_transforms *ctx, const lic_gpu_plan *p, size_t ws)
{
    for (int i = 0; i < 3; i++)
        if (p->act_count[i])
            CU(ctx, cudaMalloc(&ctx->act[i], p->act_count[i] * (size_t)ctx->es), "activations");
    CU(ctx, cudaMalloc(&ctx->y, p->y_count * (size_t)ctx->es), "latent");
    if (p->staging_count)
        CU(ctx, cudaMalloc((void **)&ctx->staging, p->staging_count * sizeof(float)), "staging");
    if (ws)
        CU(ctx, cudaMalloc(&ctx->ws, ws), "cudnn workspace");
    ctx->ws_size = ws;
    return LIC_OK;
}

static int prepare(lic_gpu_transforms *ctx, int ph, int pw)
{
    if (ctx->plan.ph == ph && ctx->plan.pw == pw)
        return LIC_OK;
    free_size(ctx);
    size_t free_b = 0, total_b = 0;
    CU(ctx, cudaMemGetInfo(&free_b, &total_b), "memory info");
    uint64_t budget = ctx->max_memory ? ctx->max_memory : (uint64_t)free_b / 10 * 8;
    /* An allocation can still fail (another process, fragmentation): halve the budget and re-plan. */
    for (int attempt = 0; attempt < 3; attempt++, budget /= 2) {
        uint64_t cap = budget / 16;
        ctx->ws_cap = (size_t)(cap < WS_CAP_MIN ? WS_CAP_MIN : cap > WS_CAP_MAX ? WS_CAP_MAX : cap);
        lic_gpu_plan p;
        int ret = lic_gpu_plan_make(&ctx->shape, ph, pw, ctx->es, budget > ctx->ws_cap ? budget - ctx->ws_cap : 0,
                                    ctx->force_tile, &p);
        if (ret < 0) {
            lic_log(ctx->log, LIC_LOG_ERROR, "cuda: a %dx%d image does not fit %llu MB of device memory", pw, ph,
                  (unsigned long long)(budget >> 20));
            return ret;
        }
        size_t ws = 0;
        ctx->n_algos = 0;
        if ((ret = plan_algos(ctx, &p, &ws)) < 0)
            return ret;
        ret = alloc_size(ctx, &p, ws);
        if (ret == LIC_OK) {
            ctx->plan = p;
            lic_log(ctx->log, LIC_LOG_DEBUG, "cuda: %dx%d in %d tile(s) of %d px, %llu MB + %zu MB workspace", pw, ph,
                  p.tiles_y * p.tiles_x, p.tile, (unsigned long long)(p.bytes >> 20), ws >> 20);
            return LIC_OK;
        }
        free_size(ctx);
        if (ret != LIC_ENOMEM || ctx->max_memory)
            return ret;
    }
    return LIC_ENOMEM;
}

/* ---- context ------------------------------------------------------------------------------------ */

void lic_gpu_transforms_free(lic_gpu_transforms **pctx)
{
    if (!pctx || !*pctx)
        return;
    lic_gpu_transforms *ctx = *pctx;
    cudaSetDevice(ctx->device);
    if (ctx->stream)
        cudaStreamSynchronize(ctx->stream);
    free_size(ctx);
    lic_gpu_exec_free(&ctx->ex); /* before the cuDNN handle it borrows */
    lic_gpu_int_free(&ctx->intk);
    for (int i = 0; i < 4; i++)
        free_conv(&ctx->g_a[i]), free_conv(&ctx->g_s[i]);
    for (int i = 0; i < 3; i++)
        free_conv(&ctx->h_a[i]), free_gdn(&ctx->g_a_gdn[i]), free_gdn(&ctx->g_s_igdn[i]);
    cudaFree(ctx->gain);
    if (ctx->td_in)
        cudnnDestroyTensorDescriptor(ctx->td_in);
    if (ctx->td_out)
        cudnnDestroyTensorDescriptor(ctx->td_out);
    if (ctx->dnn)
        cudnnDestroy(ctx->dnn);
    if (ctx->stream)
        cudaStreamDestroy(ctx->stream);
    (void)cudaGetLastError();
    lic_mem_free(ctx->alloc, ctx);
    *pctx = NULL;
}

/* Stream, cuDNN handle and descriptors: what both the transforms and lic_gpu_run_op need. */
static int open_device(lic_gpu_transforms *ctx, int device, enum lic_gpu_precision prec)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || device >= n || !device_usable(device)) {
        (void)cudaGetLastError();
        lic_log(ctx->log, LIC_LOG_ERROR, "cuda: no usable CUDA device %d (compute capability 8.0 or newer)", device);
        return LIC_EUNSUPPORTED;
    }
    ctx->device = device;
    ctx->prec = prec;
    ctx->dtype = prec == LIC_GPU_FP16 ? LIC_CUDA_F16 : LIC_CUDA_F32;
    ctx->es = prec == LIC_GPU_FP16 ? 2 : 4;
    CU(ctx, cudaSetDevice(device), "set device");
    CU(ctx, cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking), "stream");
    DNN(ctx, cudnnCreate(&ctx->dnn), "create");
    DNN(ctx, cudnnSetStream(ctx->dnn, ctx->stream), "set stream");
    DNN(ctx, cudnnCreateTensorDescriptor(&ctx->td_in), "tensor descriptor");
    DNN(ctx, cudnnCreateTensorDescriptor(&ctx->td_out), "tensor descriptor");
    return LIC_OK;
}

static int create(lic_gpu_transforms *ctx, const lic_gpu_model *m, const lic_gpu_options *o)
{
    TRY(open_device(ctx, o->device, o->precision));
    for (int i = 0; i < 4; i++) {
        if (o->analysis)
            TRY(upload_conv(ctx, &ctx->g_a[i], &m->g_a[i]));
        if (o->synthesis)
            TRY(upload_conv(ctx, &ctx->g_s[i], &m->g_s[i]));
    }
    for (int i = 0; i < 3; i++) {
        if (o->analysis) {
            TRY(upload_conv(ctx, &ctx->h_a[i], &m->h_a[i]));
            TRY(upload_gdn(ctx, &ctx->g_a_gdn[i], &m->g_a_gdn[i]));
        }
        if (o->synthesis)
            TRY(upload_gdn(ctx, &ctx->g_s_igdn[i], &m->g_s_igdn[i]));
    }
    CU(ctx, cudaMalloc((void **)&ctx->gain, (size_t)ctx->M * sizeof(float)), "gain");
    return LIC_OK;
}

/* opt (NULL: the defaults) into *o, checked with the allocator. Returns 0 or LIC_EINVAL. */
static int checked_options(const lic_gpu_options *opt, const lic_allocator *alloc, lic_gpu_options *o)
{
    lic_gpu_options_init(o);
    if (opt)
        *o = *opt;
    if (!alloc || !alloc->alloc || !alloc->free || o->device < 0 || (!o->analysis && !o->synthesis) ||
        (o->precision != LIC_GPU_FP32 && o->precision != LIC_GPU_FP32_STRICT && o->precision != LIC_GPU_FP16) ||
        o->force_tile < 0 || o->force_tile % 64)
        return LIC_EINVAL;
    return LIC_OK;
}

/* A zeroed context holding the options' settings (no device state yet); NULL without memory. */
static lic_gpu_transforms *context_new(const lic_gpu_options *o, const lic_allocator *alloc)
{
    lic_gpu_transforms *ctx = lic_mem_zalloc(alloc, sizeof(*ctx));
    if (!ctx)
        return NULL;
    ctx->alloc = alloc;
    ctx->log = o->logger;
    ctx->analysis = o->analysis != 0, ctx->synthesis = o->synthesis != 0;
    ctx->max_memory = o->max_memory;
    ctx->force_tile = o->force_tile;
    ctx->integer = o->integer != 0;
    return ctx;
}

int lic_gpu_transforms_create(lic_gpu_transforms **out, const lic_gpu_model *m, const lic_gpu_options *opt,
                              const lic_allocator *alloc)
{
    if (!out)
        return LIC_EINVAL;
    *out = NULL;
    lic_gpu_options o;
    if (!m || checked_options(opt, alloc, &o) < 0)
        return LIC_EINVAL;
    lic_gpu_plan probe; /* validates the model's shapes */
    if (lic_gpu_plan_make(m, 64, 64, 4, UINT64_MAX, 0, &probe) < 0)
        return LIC_EINVAL;
    if (lic_gpu_device_count() == 0)
        return LIC_EUNSUPPORTED;
    lic_gpu_transforms *ctx = context_new(&o, alloc);
    if (!ctx)
        return LIC_ENOMEM;
    ctx->slope = m->relu_slope;
    ctx->M = m->g_a[3].cout;
    ctx->Nz = m->h_a[2].cout;
    for (int i = 0; i < 4; i++) {
        ctx->shp_ga[i] = m->g_a[i], ctx->shp_gs[i] = m->g_s[i];
        ctx->shp_ga[i].weight = ctx->shp_gs[i].weight = NULL;
        ctx->shp_ga[i].bias = ctx->shp_gs[i].bias = NULL;
    }
    for (int i = 0; i < 3; i++) {
        ctx->shp_ha[i] = m->h_a[i], ctx->shp_ha[i].weight = NULL, ctx->shp_ha[i].bias = NULL;
        ctx->shp_gan[i] = m->g_a_gdn[i], ctx->shp_gan[i].beta = ctx->shp_gan[i].gamma = NULL;
        ctx->shp_gsn[i] = m->g_s_igdn[i], ctx->shp_gsn[i].beta = ctx->shp_gsn[i].gamma = NULL;
    }
    ctx->shape = *m;
    ctx->shape.g_a = ctx->shp_ga, ctx->shape.h_a = ctx->shp_ha, ctx->shape.g_s = ctx->shp_gs;
    ctx->shape.g_a_gdn = ctx->shp_gan, ctx->shape.g_s_igdn = ctx->shp_gsn;
    int ret = create(ctx, m, &o);
    if (ret < 0) {
        lic_gpu_transforms_free(&ctx);
        return ret;
    }
    *out = ctx;
    return LIC_OK;
}

int lic_gpu_transforms_memory(const lic_gpu_transforms *ctx, lic_gpu_plan *plan, uint64_t *device_bytes)
{
    if (!ctx || !plan)
        return LIC_EINVAL;
    if (ctx->ex) {
        lic_gpu_exec_memory(ctx->ex, plan, device_bytes);
        return LIC_OK;
    }
    *plan = ctx->plan;
    if (device_bytes)
        *device_bytes = ctx->plan.bytes + ctx->ws_size;
    return LIC_OK;
}

/* ---- the transforms ---------------------------------------------------------------------------- */

static uint64_t cap_of(const lic_gpu_transforms *ctx, int i)
{
    return ctx->plan.act_count[i];
}

static int analysis(lic_gpu_transforms *ctx, const float *x, int ph, int pw, const float *gain, float *y_out,
                    float *z_out)
{
    const lic_gpu_plan *P = &ctx->plan;
    const int lh = ph / 16, lw = pw / 16, M = ctx->M;
    CU(ctx, cudaMemcpyAsync(ctx->gain, gain, (size_t)M * sizeof(float), cudaMemcpyHostToDevice, ctx->stream), "gain");
    for (int i = 0; i < P->tiles_y * P->tiles_x; i++) {
        lic_gpu_tile t;
        lic_gpu_plan_tile(P, i, &t);
        if (3 * (uint64_t)t.wh * t.ww > cap_of(ctx, 0))
            return LIC_EBACKEND;
        TRY(upload_window(ctx, x, ph, pw, 3, t.wy, t.wx, t.wh, t.ww, ctx->act[0]));
        int h = t.wh, w = t.ww, cur = 0;
        for (int l = 0; l < 4; l++) {
            const dconv *d = &ctx->g_a[l];
            void *dst = ctx->act[1 - cur];
            TRY(conv(ctx, d, ctx->act[cur], h, w, dst, cap_of(ctx, 1 - cur), &h, &w));
            size_t hw = (size_t)h * w;
            if (l < 3) {
                const dgdn *g = &ctx->g_a_gdn[l];
                CU(ctx, lic_cuda_gdn(ctx->stream, ctx->dtype, dst, g->c, hw, d->b, g->beta, g->gamma, g->inverse),
                   "GDN");
            } else {
                CU(ctx, lic_cuda_bias_act(ctx->stream, ctx->dtype, dst, d->cout, hw, d->b, 0, 0.0f, ctx->gain),
                   "bias and gain");
            }
            cur = 1 - cur;
        }
        /* Keep the core of the tile's y: it equals the whole-image y there (gpu_plan.c, halo). */
        CU(ctx,
           lic_cuda_window(ctx->stream, ctx->dtype, ctx->act[cur], h, w, (t.cy - t.wy) / 16, (t.cx - t.wx) / 16,
                           ctx->dtype, ctx->y, lh, lw, t.cy / 16, t.cx / 16, M, t.ch / 16, t.cw / 16),
           "latent crop");
    }
    TRY(download_window(ctx, ctx->y, M, lh, lw, 0, 0, lh, lw, y_out, (size_t)lw, (size_t)lh * lw));
    /* h_a on the whole latent: small (1/256 of the pixels), never tiled. */
    const void *src = ctx->y;
    int h = lh, w = lw;
    for (int l = 0; l < 3; l++) {
        const dconv *d = &ctx->h_a[l];
        void *dst = ctx->act[l == 1];
        TRY(conv(ctx, d, src, h, w, dst, cap_of(ctx, l == 1), &h, &w));
        CU(ctx, lic_cuda_bias_act(ctx->stream, ctx->dtype, dst, d->cout, (size_t)h * w, d->b, l < 2, ctx->slope, NULL),
           "bias and leaky ReLU");
        src = dst;
    }
    TRY(download_window(ctx, src, ctx->Nz, h, w, 0, 0, h, w, z_out, (size_t)w, (size_t)h * w));
    CU(ctx, cudaStreamSynchronize(ctx->stream), "analysis");
    return LIC_OK;
}

int lic_gpu_analysis(lic_gpu_transforms *ctx, const float *x, int ph, int pw, const float *gain, float *y_out,
                     float *z_out)
{
    if (!ctx || !x || !gain || !y_out || !z_out || ph < 64 || pw < 64 || ph % 64 || pw % 64)
        return LIC_EINVAL;
    if (!ctx->analysis || ctx->ex)
        return LIC_EUNSUPPORTED;
    CU(ctx, cudaSetDevice(ctx->device), "set device");
    TRY(prepare(ctx, ph, pw));
    int ret = analysis(ctx, x, ph, pw, gain, y_out, z_out);
    if (ret < 0)
        cudaStreamSynchronize(ctx->stream); /* leave no work in flight on buffers the caller may free */
    return ret;
}

static int synthesis(lic_gpu_transforms *ctx, const float *yhat, int lh, int lw, float *x_out)
{
    const lic_gpu_plan *P = &ctx->plan;
    const int ph = lh * 16, pw = lw * 16, M = ctx->M;
    TRY(upload_window(ctx, yhat, lh, lw, M, 0, 0, lh, lw, ctx->y));
    for (int i = 0; i < P->tiles_y * P->tiles_x; i++) {
        lic_gpu_tile t;
        lic_gpu_plan_tile(P, i, &t);
        int h = t.wh / 16, w = t.ww / 16, cur = 0;
        if ((uint64_t)M * h * w > cap_of(ctx, 0))
            return LIC_EBACKEND;
        CU(ctx,
           lic_cuda_window(ctx->stream, ctx->dtype, ctx->y, lh, lw, t.wy / 16, t.wx / 16, ctx->dtype, ctx->act[0], h, w,
                           0, 0, M, h, w),
           "latent window");
        for (int l = 0; l < 4; l++) {
            const dconv *d = &ctx->g_s[l];
            void *dst = ctx->act[1 - cur];
            int c = d->cout;
            const float *bias = d->b;
            if (ctx->shape.subpel) {
                int oh, ow;
                TRY(conv(ctx, d, ctx->act[cur], h, w, ctx->act[2], cap_of(ctx, 2), &oh, &ow));
                c = d->cout / 4, h = 2 * oh, w = 2 * ow;
                if ((uint64_t)c * h * w > cap_of(ctx, 1 - cur))
                    return LIC_EBACKEND;
                CU(ctx, lic_cuda_shuffle2(ctx->stream, ctx->dtype, ctx->act[2], dst, c, oh, ow, bias), "pixel shuffle");
                bias = NULL; /* added by the shuffle */
            } else {
                TRY(conv(ctx, d, ctx->act[cur], h, w, dst, cap_of(ctx, 1 - cur), &h, &w));
            }
            size_t hw = (size_t)h * w;
            if (l < 3) {
                const dgdn *g = &ctx->g_s_igdn[l];
                CU(ctx, lic_cuda_gdn(ctx->stream, ctx->dtype, dst, g->c, hw, bias, g->beta, g->gamma, g->inverse),
                   "IGDN");
            } else if (bias) {
                CU(ctx, lic_cuda_bias_act(ctx->stream, ctx->dtype, dst, c, hw, bias, 0, 0.0f, NULL), "bias");
            }
            cur = 1 - cur;
        }
        TRY(download_window(ctx, ctx->act[cur], 3, h, w, t.cy - t.wy, t.cx - t.wx, t.ch, t.cw,
                            x_out + (size_t)t.cy * pw + t.cx, (size_t)pw, (size_t)ph * pw));
    }
    CU(ctx, cudaStreamSynchronize(ctx->stream), "synthesis");
    return LIC_OK;
}

int lic_gpu_synthesis(lic_gpu_transforms *ctx, const float *yhat, int lh, int lw, float *x_out)
{
    if (!ctx || !yhat || !x_out || lh < 4 || lw < 4 || lh % 4 || lw % 4 || lh > (1 << 16) || lw > (1 << 16))
        return LIC_EINVAL;
    if (!ctx->synthesis || ctx->ex)
        return LIC_EUNSUPPORTED;
    CU(ctx, cudaSetDevice(ctx->device), "set device");
    TRY(prepare(ctx, lh * 16, lw * 16));
    int ret = synthesis(ctx, yhat, lh, lw, x_out);
    if (ret < 0)
        cudaStreamSynchronize(ctx->stream);
    return ret;
}

/* ---- the op-list executor (gpu/cuda/exec.c) ----------------------------------------------------- */

int lic_gpu_transforms_create_ops(lic_gpu_transforms **out, const lic_gpu_graph *g, const lic_gpu_options *opt,
                                  const lic_allocator *alloc)
{
    if (!out)
        return LIC_EINVAL;
    *out = NULL;
    lic_gpu_options o;
    if (!g || checked_options(opt, alloc, &o) < 0)
        return LIC_EINVAL;
    lic_gpu_oplan probe; /* refuses what the executor does not run before touching a device */
    int ret = lic_gpu_oplan_build(g, &probe);
    if (ret < 0)
        return ret;
    if (lic_gpu_device_count() == 0)
        return LIC_EUNSUPPORTED;
    lic_gpu_transforms *ctx = context_new(&o, alloc);
    if (!ctx)
        return LIC_ENOMEM;
    ret = open_device(ctx, o.device, o.precision);
    if (ret == LIC_OK) {
        lic_gpu_exec_env env = {ctx->stream, ctx->dnn, o.precision, {ctx->analysis, ctx->synthesis}, o.max_memory,
                                o.force_tile, alloc, o.logger};
        ret = lic_gpu_exec_create(&ctx->ex, g, &env);
    }
    if (ret < 0) {
        lic_gpu_transforms_free(&ctx);
        return ret;
    }
    *out = ctx;
    return LIC_OK;
}

int lic_gpu_is_oplist(const lic_gpu_transforms *ctx)
{
    return ctx && ctx->ex;
}

int lic_gpu_run_range(lic_gpu_transforms *ctx, int range, void *const *host, int ph, int pw, const float *gain)
{
    if (!ctx)
        return LIC_EINVAL;
    if (!ctx->ex)
        return LIC_EUNSUPPORTED;
    CU(ctx, cudaSetDevice(ctx->device), "set device");
    return lic_gpu_exec_run(ctx->ex, range, host, ph, pw, gain);
}

/* ---- the integer ops (gpu/cuda/int_backend.c) ------------------------------------------------- */

int lic_gpu_int_enabled(const lic_gpu_transforms *ctx)
{
    return ctx && ctx->integer;
}

int lic_gpu_iconv(lic_gpu_transforms *ctx, const lic_iconv_layer *L, const lic_itensor *in, lic_itensor *out)
{
    if (!ctx)
        return LIC_EINVAL;
    if (!ctx->integer)
        return LIC_EUNSUPPORTED;
    CU(ctx, cudaSetDevice(ctx->device), "set device");
    if (!ctx->intk)
        TRY(lic_gpu_int_create(&ctx->intk, ctx->stream, ctx->alloc, ctx->log));
    return lic_gpu_int_iconv(ctx->intk, L, in, out);
}

/* ---- single layers (tests) ---------------------------------------------------------------------- */

static int run_op(lic_gpu_transforms *ctx, const lic_gpu_op *op, const lic_tensor *in, lic_tensor *out)
{
    size_t n_in = lic_tensor_count(in->c, in->h, in->w), n_out = lic_tensor_count(out->c, out->h, out->w);
    size_t n_max = n_in > n_out ? n_in : n_out;
    /* One staging buffer for transfers, two device tensors. The plan fields the helpers check. */
    ctx->plan.staging_count = n_max;
    ctx->plan.act_count[0] = ctx->plan.act_count[1] = n_max;
    CU(ctx, cudaMalloc((void **)&ctx->staging, n_max * sizeof(float)), "staging");
    CU(ctx, cudaMalloc(&ctx->act[0], n_max * (size_t)ctx->es), "input");
    CU(ctx, cudaMalloc(&ctx->act[1], n_max * (size_t)ctx->es), "output");
    TRY(upload_window(ctx, in->data, in->h, in->w, in->c, 0, 0, in->h, in->w, ctx->act[0]));
    void *res = ctx->act[0];
    size_t hw = (size_t)in->h * in->w;
    switch (op->kind) {
    case LIC_GPU_OP_CONV: {
        dconv *d = &ctx->g_a[0];
        TRY(upload_conv(ctx, d, op->conv));
        const algo_slot *a;
        TRY(pick_algo(ctx, d, in->h, in->w, &a));
        if (a->ws)
            CU(ctx, cudaMalloc(&ctx->ws, a->ws), "workspace");
        ctx->ws_size = a->ws;
        int oh, ow;
        TRY(conv(ctx, d, ctx->act[0], in->h, in->w, ctx->act[1], n_max, &oh, &ow));
        if (d->b)
            CU(ctx, lic_cuda_bias_act(ctx->stream, ctx->dtype, ctx->act[1], d->cout, (size_t)oh * ow, d->b, 0, 0.0f, NULL),
               "bias");
        res = ctx->act[1];
        break;
    }
    case LIC_GPU_OP_GDN: {
        dgdn *g = &ctx->g_a_gdn[0];
        TRY(upload_gdn(ctx, g, op->gdn));
        CU(ctx, lic_cuda_gdn(ctx->stream, ctx->dtype, res, g->c, hw, NULL, g->beta, g->gamma, g->inverse), "GDN");
        break;
    }
    case LIC_GPU_OP_LEAKY_RELU:
        CU(ctx, lic_cuda_bias_act(ctx->stream, ctx->dtype, res, in->c, hw, NULL, 1, op->slope, NULL), "leaky ReLU");
        break;
    case LIC_GPU_OP_PIXEL_SHUFFLE:
        CU(ctx, lic_cuda_shuffle2(ctx->stream, ctx->dtype, ctx->act[0], ctx->act[1], in->c / 4, in->h, in->w, NULL),
           "pixel shuffle");
        res = ctx->act[1];
        break;
    }
    TRY(download_window(ctx, res, out->c, out->h, out->w, 0, 0, out->h, out->w, out->data, (size_t)out->w,
                        (size_t)out->h * out->w));
    CU(ctx, cudaStreamSynchronize(ctx->stream), "op");
    return LIC_OK;
}

static int op_shapes_ok(const lic_gpu_op *op, const lic_tensor *in, const lic_tensor *out)
{
    if (!op || !in || !out || !in->data || !out->data || in->c < 1 || in->h < 1 || in->w < 1)
        return 0;
    switch (op->kind) {
    case LIC_GPU_OP_CONV: {
        const lic_conv_layer *L = op->conv;
        if (!L || !L->weight || L->k < 1 || L->k > 15 || L->stride < 1 || L->stride > 4 || in->c != L->cin ||
            out->c != L->cout)
            return 0;
        int oh = L->transposed ? in->h * L->stride : lic_conv_out_size(in->h, L->stride);
        int ow = L->transposed ? in->w * L->stride : lic_conv_out_size(in->w, L->stride);
        return out->h == oh && out->w == ow;
    }
    case LIC_GPU_OP_GDN:
        return op->gdn && op->gdn->c == in->c && out->c == in->c && out->h == in->h && out->w == in->w;
    case LIC_GPU_OP_LEAKY_RELU:
        return out->c == in->c && out->h == in->h && out->w == in->w;
    case LIC_GPU_OP_PIXEL_SHUFFLE:
        return in->c % 4 == 0 && out->c == in->c / 4 && out->h == 2 * in->h && out->w == 2 * in->w;
    }
    return 0;
}

int lic_gpu_run_op(int device, enum lic_gpu_precision precision, const lic_gpu_op *op, const lic_tensor *in,
                   lic_tensor *out, const lic_logger *logger)
{
    if (!op_shapes_ok(op, in, out) || device < 0 ||
        (precision != LIC_GPU_FP32 && precision != LIC_GPU_FP32_STRICT && precision != LIC_GPU_FP16))
        return LIC_EINVAL;
    if (lic_gpu_device_count() == 0)
        return LIC_EUNSUPPORTED;
    /* A context on the stack: no host allocation, the same helpers as the transforms. */
    lic_gpu_transforms ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.log = logger;
    ctx.ws_cap = WS_CAP_MAX;
    int ret = open_device(&ctx, device, precision);
    if (ret == LIC_OK)
        ret = run_op(&ctx, op, in, out);
    if (ctx.stream)
        cudaStreamSynchronize(ctx.stream);
    free_size(&ctx);
    free_conv(&ctx.g_a[0]);
    free_gdn(&ctx.g_a_gdn[0]);
    if (ctx.td_in)
        cudnnDestroyTensorDescriptor(ctx.td_in);
    if (ctx.td_out)
        cudnnDestroyTensorDescriptor(ctx.td_out);
    if (ctx.dnn)
        cudnnDestroy(ctx.dnn);
    if (ctx.stream)
        cudaStreamDestroy(ctx.stream);
    (void)cudaGetLastError();
    return ret;
}
