/* lic gpu: the integer kernels on the device — buffers, layer uploads, copies in and out
 * (gpu/cuda/int_backend.h), and the standalone runners the device tests use (gpu/int_host.h).
 *
 * Per-op design (codec/backend.h): the engine's buffers are host memory, so each call copies its input
 * view to the device, runs the kernel and copies the output back. Correct and simple, not fast: the
 * copies cost more than the integer convolutions of a Kodak image, which is why the path is opt-in
 * (docs/GPU.md §8) until the probability path keeps its tensors on the device. */
#include <string.h>

#include <cuda_runtime_api.h>

#include "gpu/cuda/int_backend.h"
#include "gpu/cuda/int_launch.h"
#include "gpu/gpu.h"
#include "util/log.h"
#include "util/mem.h"

#define INT_LAYERS 64 /* uploaded layers kept; a model has at most 64 integer convs (codec/model.h) */

typedef struct int_layer {
    const lic_iconv_layer *key;
    int16_t *w;
    int32_t *b, *sh;
} int_layer;

struct lic_gpu_int {
    const lic_allocator *alloc;
    const lic_logger *log;
    cudaStream_t stream;
    int32_t *in, *out;   /* device buffers, in_cap and out_cap int32 elements */
    size_t in_cap, out_cap;
    int n_layers;
    int_layer layers[INT_LAYERS];
};

static int cu_fail(const lic_logger *lg, cudaError_t e, const char *what)
{
    lic_log(lg, LIC_LOG_ERROR, "cuda: integer kernels: %s: %s", what, cudaGetErrorString(e));
    (void)cudaGetLastError(); /* a non-sticky error must not be blamed on later calls */
    return e == cudaErrorMemoryAllocation ? LIC_ENOMEM : LIC_EBACKEND;
}

#define CU(s, expr, what)                                                                                            \
    do {                                                                                                             \
        cudaError_t e_ = (expr);                                                                                     \
        if (e_ != cudaSuccess)                                                                                       \
            return cu_fail((s)->log, e_, what);                                                                      \
    } while (0)

int lic_gpu_int_create(lic_gpu_int **out, cudaStream_t stream, const lic_allocator *alloc, const lic_logger *log)
{
    *out = lic_mem_zalloc(alloc, sizeof(**out));
    if (!*out)
        return LIC_ENOMEM;
    (*out)->alloc = alloc;
    (*out)->log = log;
    (*out)->stream = stream;
    return LIC_OK;
}

static void free_layers(lic_gpu_int *s)
{
    for (int i = 0; i < s->n_layers; i++) {
        cudaFree(s->layers[i].w);
        cudaFree(s->layers[i].b);
        cudaFree(s->layers[i].sh);
    }
    memset(s->layers, 0, sizeof(s->layers));
    s->n_layers = 0;
}

void lic_gpu_int_free(lic_gpu_int **ps)
{
    if (!ps || !*ps)
        return;
    lic_gpu_int *s = *ps;
    free_layers(s);
    cudaFree(s->in);
    cudaFree(s->out);
    (void)cudaGetLastError();
    lic_mem_free(s->alloc, s);
    *ps = NULL;
}

/* Makes *buf hold n int32 elements (contents not kept). */
static int grow(lic_gpu_int *s, int32_t **buf, size_t *cap, size_t n)
{
    if (n <= *cap)
        return LIC_OK;
    cudaFree(*buf);
    *buf = NULL;
    *cap = 0;
    CU(s, cudaMalloc((void **)buf, n * sizeof(int32_t)), "buffer");
    *cap = n;
    return LIC_OK;
}

static int upload(lic_gpu_int *s, void **dst, const void *src, size_t bytes)
{
    CU(s, cudaMalloc(dst, bytes), "layer");
    CU(s, cudaMemcpy(*dst, src, bytes, cudaMemcpyHostToDevice), "layer upload");
    return LIC_OK;
}

/* The device copy of layer L, uploaded at its first use. A full table starts over. */
static int layer_of(lic_gpu_int *s, const lic_iconv_layer *L, const int_layer **out)
{
    for (int i = 0; i < s->n_layers; i++)
        if (s->layers[i].key == L) {
            *out = &s->layers[i];
            return LIC_OK;
        }
    if (s->n_layers == INT_LAYERS)
        free_layers(s);
    int_layer *d = &s->layers[s->n_layers++]; /* zeroed: a failed upload leaves nothing to misuse */
    const size_t nw = (size_t)L->cin * (size_t)L->cout * (size_t)L->k * (size_t)L->k;
    int ret;
    if ((ret = upload(s, (void **)&d->w, L->weight, nw * sizeof(int16_t))) < 0 ||
        (ret = upload(s, (void **)&d->b, L->bias, (size_t)L->cout * sizeof(int32_t))) < 0 ||
        (ret = upload(s, (void **)&d->sh, L->shift, (size_t)L->cout * sizeof(int32_t))) < 0) {
        cudaFree(d->w), cudaFree(d->b), cudaFree(d->sh);
        memset(d, 0, sizeof(*d));
        s->n_layers--;
        return ret;
    }
    d->key = L;
    *out = d;
    return LIC_OK;
}

static int iconv(lic_gpu_int *s, const lic_iconv_layer *L, const lic_itensor *in, lic_itensor *out)
{
    lic_gpu_iconv_args a;
    int ret = lic_gpu_iconv_args_make(L, in, out, &a);
    if (ret < 0)
        return ret;
    const size_t n_in = lic_tensor_count(in->c, in->h, in->w), n_out = lic_tensor_count(out->c, out->h, out->w);
    const int_layer *d;
    if ((ret = layer_of(s, L, &d)) < 0 || (ret = grow(s, &s->in, &s->in_cap, n_in)) < 0 ||
        (ret = grow(s, &s->out, &s->out_cap, n_out)) < 0)
        return ret;
    CU(s, cudaMemcpyAsync(s->in, in->data, n_in * sizeof(int32_t), cudaMemcpyHostToDevice, s->stream), "input");
    a.weight = d->w, a.bias = d->b, a.shift = d->sh, a.in = s->in, a.out = s->out;
    CU(s, (cudaError_t)lic_cuda_iconv(s->stream, &a, LIC_GPU_INT_MAX_BLOCKS), "iconv launch");
    CU(s, cudaMemcpyAsync(out->data, s->out, n_out * sizeof(int32_t), cudaMemcpyDeviceToHost, s->stream), "output");
    CU(s, cudaStreamSynchronize(s->stream), "iconv");
    return LIC_OK;
}

int lic_gpu_int_iconv(lic_gpu_int *s, const lic_iconv_layer *L, const lic_itensor *in, lic_itensor *out)
{
    if (!s)
        return LIC_EINVAL;
    int ret = iconv(s, L, in, out);
    if (ret < 0)
        cudaStreamSynchronize(s->stream); /* leave no copy in flight on the caller's buffers */
    return ret;
}

/* ---- standalone runners for the device tests (gpu/int_host.h) ---------------------------------- */

/* A state on its own stream on `device`: the runners below open one per call. */
static int open_standalone(int device, const lic_logger *log, cudaStream_t *stream, lic_gpu_int *s)
{
    memset(s, 0, sizeof(*s));
    s->log = log;
    if (device < 0 || lic_gpu_device_count() <= device)
        return LIC_EUNSUPPORTED;
    CU(s, cudaSetDevice(device), "set device");
    CU(s, cudaStreamCreateWithFlags(stream, cudaStreamNonBlocking), "stream");
    s->stream = *stream;
    return LIC_OK;
}

static void close_standalone(lic_gpu_int *s)
{
    if (s->stream) {
        cudaStreamSynchronize(s->stream);
        cudaStreamDestroy(s->stream);
    }
    free_layers(s);
    cudaFree(s->in);
    cudaFree(s->out);
    (void)cudaGetLastError();
}

int lic_gpu_iconv_run(int device, const lic_iconv_layer *L, const lic_itensor *in, lic_itensor *out,
                      const lic_logger *log)
{
    lic_gpu_iconv_args a;
    if (lic_gpu_iconv_args_make(L, in, out, &a) < 0)
        return LIC_EINVAL;
    lic_gpu_int s;
    cudaStream_t stream = NULL;
    int ret = open_standalone(device, log, &stream, &s);
    if (ret == LIC_OK)
        ret = iconv(&s, L, in, out);
    close_standalone(&s);
    return ret;
}

/* Device copies of a pass's arrays: 2c planes of params, c of each output, the thresholds. */
static int ypass(lic_gpu_int *s, const lic_gpu_ypass_args *h, void **mem)
{
    const size_t hw = (size_t)h->h * (size_t)h->w, n = (size_t)h->c * hw;
    const size_t thr = (size_t)(h->levels > 1 ? h->levels - 1 : 1);
    /* one allocation of int32 words: params 2n, symbols n, index n, yq n, yctx n, the thresholds, one
     * word of padding when needed to align yfix, yfix n (int64) */
    const size_t words = 8 * n + thr + 1;
    CU(s, cudaMalloc(mem, words * sizeof(int32_t)), "pass buffers");
    int32_t *base = *mem;
    lic_gpu_ypass_args d = *h;
    int32_t *params = base, *symbols = base + 2 * n, *index = base + 3 * n, *yq = base + 4 * n;
    int32_t *yctx = base + 5 * n, *thresholds = base + 6 * n;
    int64_t *yfix = (int64_t *)(base + 6 * n + thr + (thr & 1)); /* 6n is even: 8-byte aligned */
    d.params = params, d.symbols = symbols, d.index = index, d.thresholds = thresholds;
    d.yq = h->yq ? yq : NULL, d.yctx = h->yctx ? yctx : NULL;
    CU(s, cudaMemcpy(params, h->params, 2 * n * sizeof(int32_t), cudaMemcpyHostToDevice), "params");
    CU(s, cudaMemcpy(thresholds, h->thresholds, (size_t)(h->levels - 1) * sizeof(int32_t), cudaMemcpyHostToDevice),
       "thresholds");
    CU(s, cudaMemcpy(symbols, h->symbols, n * sizeof(int32_t), cudaMemcpyHostToDevice), "symbols");
    CU(s, cudaMemcpy(index, h->index, n * sizeof(int32_t), cudaMemcpyHostToDevice), "index");
    if (h->yq)
        CU(s, cudaMemcpy(yq, h->yq, n * sizeof(int32_t), cudaMemcpyHostToDevice), "yq");
    if (h->yctx)
        CU(s, cudaMemcpy(yctx, h->yctx, n * sizeof(int32_t), cudaMemcpyHostToDevice), "yctx");
    if (h->yfix) {
        d.yfix = yfix;
        CU(s, cudaMemcpy(yfix, h->yfix, n * sizeof(int64_t), cudaMemcpyHostToDevice), "y");
    }
    CU(s, (cudaError_t)lic_cuda_ypass(s->stream, &d, LIC_GPU_INT_MAX_BLOCKS), "pass launch");
    CU(s, cudaStreamSynchronize(s->stream), "pass");
    CU(s, cudaMemcpy(h->symbols, symbols, n * sizeof(int32_t), cudaMemcpyDeviceToHost), "symbols");
    CU(s, cudaMemcpy(h->index, index, n * sizeof(int32_t), cudaMemcpyDeviceToHost), "index");
    if (h->yq)
        CU(s, cudaMemcpy(h->yq, yq, n * sizeof(int32_t), cudaMemcpyDeviceToHost), "yq");
    if (h->yctx)
        CU(s, cudaMemcpy(h->yctx, yctx, n * sizeof(int32_t), cudaMemcpyDeviceToHost), "yctx");
    return LIC_OK;
}

int lic_gpu_ypass_run(int device, const lic_gpu_ypass_args *a, const lic_logger *log)
{
    if (lic_gpu_ypass_args_check(a) < 0)
        return LIC_EINVAL;
    const size_t hw = (size_t)a->h * (size_t)a->w;
    if (hw > SIZE_MAX / sizeof(int32_t) / 16 / (size_t)a->c)
        return LIC_EINVAL;
    lic_gpu_int s;
    cudaStream_t stream = NULL;
    void *mem = NULL;
    int ret = open_standalone(device, log, &stream, &s);
    if (ret == LIC_OK)
        ret = ypass(&s, a, &mem);
    close_standalone(&s);
    cudaFree(mem);
    return ret;
}
