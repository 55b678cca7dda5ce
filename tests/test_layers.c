/* Tests of the float layers (transforms/layers.h): the C reference against hand-computed values, every
 * built fast kernel table against the reference on random data, bit-identical fast results for 1, 2
 * and 3 threads, scratch reuse, argument validation, and the band form (lic_conv2d_rows, lic_gdn_rows):
 * band by band, from buffers holding only the rows needed, the whole-tensor call's bits. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/test_support.h"
#include "transforms/cpu/xf_cpu.h"
#include "transforms/layers.h"
#include "transforms/threadpool.h"

/* ---- helpers --------------------------------------------------------------------------------- */

typedef struct counting {
    int n_alloc;
} counting;

static void *t_alloc(void *opaque, size_t size, size_t align)
{
    if (opaque)
        ((counting *)opaque)->n_alloc++;
    size = (size + align - 1) / align * align;
    return aligned_alloc(align, size ? size : align);
}

static void t_free(void *opaque, void *p)
{
    (void)opaque;
    free(p);
}

static const lic_allocator counting_alloc = {NULL, t_alloc, t_free};

static uint32_t rng_state = 12345;

static float frand(void) /* uniform in [-1, 1) */
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xFFFFFF) / (float)(1 << 23) - 1.0f;
}

static float *rand_buf(size_t n)
{
    float *p = malloc(n * sizeof(float) + 64);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = frand();
    return p;
}

static lic_tensor tensor_new(int c, int h, int w)
{
    lic_tensor t = {c, h, w, calloc(lic_tensor_count(c, h, w) + 16, sizeof(float))};
    assert_non_null(t.data);
    return t;
}

static int out_side(const lic_conv_layer *L, int in)
{
    return L->transposed ? in * L->stride : lic_conv_out_size(in, L->stride);
}

/* max|a-b| <= 1e-4 * (1 + max|ref|) */
static void assert_close(const float *ref, const float *got, size_t n)
{
    float maxref = 0.0f, maxdiff = 0.0f;
    for (size_t i = 0; i < n; i++) {
        assert_true(isfinite(got[i]));
        maxref = fabsf(ref[i]) > maxref ? fabsf(ref[i]) : maxref;
        float d = fabsf(ref[i] - got[i]);
        maxdiff = d > maxdiff ? d : maxdiff;
    }
    if (!(maxdiff <= 1e-4f * (1.0f + maxref)))
        fail_msg("max diff %g, max |ref| %g", (double)maxdiff, (double)maxref);
}

/* The fast kernels this run tests against the reference (main: --kernel; "c" tests the reference
 * alone), and the feature mask that makes a FAST context pick exactly them. */
static const char *run_kernel = "c";
static unsigned run_mask = 0;

/* The fast kernel table of this run: 0 or 1 of them. */
static int fast_tables(lic_xf_kernels *tabs)
{
    if (!strcmp(run_kernel, "avx512"))
        return lic_xf_kernels_init_avx512(&tabs[0]) == LIC_OK;
    if (!strcmp(run_kernel, "avx2"))
        return lic_xf_kernels_init_avx2(&tabs[0]) == LIC_OK;
    return 0;
}

static lic_xf_ctx *ctx_new(enum lic_kernel_path path, lic_threadpool *pool)
{
    lic_xf_ctx *ctx = NULL;
    assert_int_equal(lic_xf_ctx_create_masked(&ctx, path, run_mask, pool, &counting_alloc), 0);
    return ctx;
}

/* ---- hand-computed reference cases ------------------------------------------------------------ */

static void test_ref_conv_hand(void **state)
{
    (void)state;
    lic_xf_ctx *ctx = ctx_new(LIC_KERNELS_REFERENCE, NULL);
    float in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[9], b = 0.5f, out[9];
    for (int i = 0; i < 9; i++)
        w[i] = 1.0f;
    lic_conv_layer L = {1, 1, 3, 1, 0, w, &b};
    lic_tensor ti = {1, 3, 3, in}, to = {1, 3, 3, out};
    assert_int_equal(lic_conv2d(ctx, &L, &ti, &to), 0);
    /* zero padding: corner sums 4 inputs, edge 6, centre all 9 */
    assert_float_equal(out[0], 1 + 2 + 4 + 5 + 0.5f, 0);
    assert_float_equal(out[1], 1 + 2 + 3 + 4 + 5 + 6 + 0.5f, 0);
    assert_float_equal(out[4], 45.5f, 0);
    assert_float_equal(out[8], 5 + 6 + 8 + 9 + 0.5f, 0);
    /* stride 2: 3x3 -> 2x2, outputs centred on input (0,0), (0,2), (2,0), (2,2) */
    L.stride = 2;
    to.h = to.w = 2;
    assert_int_equal(lic_conv2d(ctx, &L, &ti, &to), 0);
    assert_float_equal(out[0], 12.5f, 0);
    assert_float_equal(out[1], 2 + 3 + 5 + 6 + 0.5f, 0);
    assert_float_equal(out[2], 4 + 5 + 7 + 8 + 0.5f, 0);
    assert_float_equal(out[3], 28.5f, 0);
    /* asymmetric weight, no bias: out(1,1) = sum w[ky][kx] * in[ky][kx] */
    for (int i = 0; i < 9; i++)
        w[i] = (float)(i + 1);
    L.stride = 1;
    L.bias = NULL;
    to.h = to.w = 3;
    assert_int_equal(lic_conv2d(ctx, &L, &ti, &to), 0);
    assert_float_equal(out[4], 1 + 4 + 9 + 16 + 25 + 36 + 49 + 64 + 81, 0);
    /* out(0,0): taps (1..2, 1..2) see in(0..1, 0..1) */
    assert_float_equal(out[0], 5 * 1 + 6 * 2 + 8 * 4 + 9 * 5, 0);
    lic_xf_ctx_free(&ctx);
    assert_null(ctx);
}

static void test_ref_tconv_hand(void **state)
{
    (void)state;
    lic_xf_ctx *ctx = ctx_new(LIC_KERNELS_REFERENCE, NULL);
    /* out[oy][ox] = sum in[iy][ix] * w[oy - 2 iy + 1][ox - 2 ix + 1]  (k=3, s=2, padding 1) */
    float in[4] = {1, 2, 3, 4}, w[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, out[16];
    lic_conv_layer L = {1, 1, 3, 2, 1, w, NULL};
    lic_tensor ti = {1, 2, 2, in}, to = {1, 4, 4, out};
    assert_int_equal(lic_conv2d(ctx, &L, &ti, &to), 0);
    assert_float_equal(out[0], 5, 0);              /* 1*w11 */
    assert_float_equal(out[1], 1 * 6 + 2 * 4, 0);  /* 1*w12 + 2*w10 */
    assert_float_equal(out[5], 1 * 9 + 2 * 7 + 3 * 3 + 4 * 1, 0);
    assert_float_equal(out[10], 4 * 5, 0);         /* (2,2): only in(1,1) with w11 */
    assert_float_equal(out[15], 4 * 9, 0);         /* (3,3): in(1,1) with w22 (output_padding row) */
    assert_float_equal(out[12], 3 * 8, 0);         /* (3,0): in(1,0) with w21 */
    lic_xf_ctx_free(&ctx);
}

static void test_ref_gdn_hand(void **state)
{
    (void)state;
    lic_xf_ctx *ctx = ctx_new(LIC_KERNELS_REFERENCE, NULL);
    float beta[2] = {1, 1}, gamma[4] = {1, 0.5f, 0, 2};
    float x[2] = {1, 2};
    lic_gdn_layer L = {2, 0, beta, gamma};
    lic_tensor t = {2, 1, 1, x};
    /* norm0 = 1 + 1*1 + 0.5*4 = 4, norm1 = 1 + 0 + 2*4 = 9 */
    assert_int_equal(lic_gdn(ctx, &L, &t), 0);
    assert_float_equal(x[0], 0.5f, 1e-7);
    assert_float_equal(x[1], 2.0f / 3.0f, 1e-7);
    x[0] = 1, x[1] = 2;
    L.inverse = 1;
    assert_int_equal(lic_gdn(ctx, &L, &t), 0);
    assert_float_equal(x[0], 2.0f, 1e-7);
    assert_float_equal(x[1], 6.0f, 1e-7);
    lic_xf_ctx_free(&ctx);
}

static void test_relu_shuffle_hand(void **state)
{
    (void)state;
    lic_xf_ctx *ctx = ctx_new(LIC_KERNELS_FAST, NULL);
    float v[4] = {-2, 3, 0, -0.5f};
    lic_tensor t = {1, 2, 2, v};
    lic_leaky_relu(ctx, &t, 0.1f);
    assert_float_equal(v[0], -0.2f, 1e-7);
    assert_float_equal(v[1], 3, 0);
    assert_float_equal(v[2], 0, 0);
    assert_float_equal(v[3], -0.05f, 1e-7);

    /* 8 planes of 1x2 -> 2 planes of 2x4: out[c][i][x*2+j] = in[c*4 + i*2 + j][0][x] */
    float in[16], out[16];
    for (int i = 0; i < 16; i++)
        in[i] = (float)i;
    lic_tensor ti = {8, 1, 2, in}, to = {2, 2, 4, out};
    assert_int_equal(lic_pixel_shuffle(ctx, &ti, 2, &to), 0);
    const float want[16] = {0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15};
    for (int i = 0; i < 16; i++)
        assert_float_equal(out[i], want[i], 0);
    lic_xf_ctx_free(&ctx);
}

/* PyTorch's PixelShuffle: out[c][y*r+i][x*r+j] = in[c*r*r + i*r + j][y][x], for r = 1..3, split over
 * a 2-thread pool. */
static void test_pixel_shuffle_formula(void **state)
{
    (void)state;
    lic_threadpool *tp = NULL;
    assert_int_equal(lic_threadpool_create(&tp, 2, &counting_alloc), 0);
    lic_xf_ctx *ctx = ctx_new(LIC_KERNELS_FAST, tp);
    for (int r = 1; r <= 3; r++) {
        const int c = 3, h = 5, w = 7;
        lic_tensor in = tensor_new(c * r * r, h, w), out = tensor_new(c, h * r, w * r);
        for (size_t i = 0; i < lic_tensor_count(in.c, h, w); i++)
            in.data[i] = (float)i;
        assert_int_equal(lic_pixel_shuffle(ctx, &in, r, &out), 0);
        for (int cc = 0; cc < c; cc++)
            for (int y = 0; y < h; y++)
                for (int i = 0; i < r; i++)
                    for (int x = 0; x < w; x++)
                        for (int j = 0; j < r; j++)
                            assert_float_equal(out.data[((size_t)cc * h * r + y * r + i) * w * r + x * r + j],
                                               in.data[(((size_t)cc * r * r + i * r + j) * h + y) * w + x], 0);
        out.h++; /* wrong output shape */
        assert_int_equal(lic_pixel_shuffle(ctx, &in, r, &out), LIC_EINVAL);
        free(in.data), free(out.data);
    }
    lic_xf_ctx_free(&ctx);
    lic_threadpool_free(&tp);
}

/* ---- fast path against the reference ---------------------------------------------------------- */

/* Runs layer L on a random hin x win input with the reference and with every fast table; compares. */
static void check_conv(int cin, int cout, int k, int s, int transposed, int hin, int win, int with_bias)
{
    float *w = rand_buf((size_t)cin * cout * k * k);
    float *b = rand_buf((size_t)cout);
    lic_conv_layer L = {cin, cout, k, s, transposed, w, with_bias ? b : NULL};
    lic_tensor in = tensor_new(cin, hin, win);
    for (size_t i = 0; i < lic_tensor_count(cin, hin, win); i++)
        in.data[i] = frand();
    const int ho = out_side(&L, hin), wo = out_side(&L, win);
    lic_tensor ref = tensor_new(cout, ho, wo), got = tensor_new(cout, ho, wo);
    const size_t n = lic_tensor_count(cout, ho, wo);

    lic_xf_ctx *rc = ctx_new(LIC_KERNELS_REFERENCE, NULL);
    assert_int_equal(lic_conv2d(rc, &L, &in, &ref), 0);
    lic_xf_ctx_free(&rc);

    lic_xf_kernels tabs[2];
    const int nt = fast_tables(tabs);
    lic_xf_ctx *fc = ctx_new(LIC_KERNELS_FAST, NULL);
    for (int t = 0; t < nt; t++) {
        fc->kern = tabs[t];
        for (size_t i = 0; i < n; i++)
            got.data[i] = NAN; /* every element must be written */
        assert_int_equal(lic_conv2d(fc, &L, &in, &got), 0);
        assert_close(ref.data, got.data, n);
    }
    lic_xf_ctx_free(&fc);
    free(w), free(b), free(in.data), free(ref.data), free(got.data);
}

static void test_conv_fast_vs_ref(void **state)
{
    (void)state;
    static const int sizes[][2] = {{1, 1}, {1, 4}, {2, 3}, {5, 7}, {9, 13}, {16, 51}, {3, 100}};
    static const int chans[][2] = {{1, 1}, {3, 5}, {4, 17}, {19, 9}};
    for (int k = 1; k <= 5; k += 2)
        for (int s = 1; s <= 2; s++)
            for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++)
                for (size_t ci = 0; ci < sizeof(chans) / sizeof(chans[0]); ci++)
                    check_conv(chans[ci][0], chans[ci][1], k, s, 0, sizes[si][0], sizes[si][1], (int)(ci & 1));
    /* model-like: 3 -> 24 stride 2 (the first layer), and wide reductions (several channel blocks) */
    check_conv(3, 24, 5, 2, 0, 21, 34, 1);
    check_conv(40, 33, 5, 2, 0, 11, 19, 1);
    check_conv(64, 16, 3, 1, 0, 8, 30, 1);
    check_conv(3, 8, 4, 2, 0, 9, 9, 1); /* even kernel */
}

static void test_tconv_fast_vs_ref(void **state)
{
    (void)state;
    static const int sizes[][2] = {{1, 1}, {2, 3}, {5, 7}, {8, 13}, {3, 40}};
    static const int chans[][2] = {{1, 1}, {5, 3}, {17, 19}};
    for (int k = 3; k <= 5; k += 2)
        for (int s = 1; s <= 2; s++)
            for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++)
                for (size_t ci = 0; ci < sizeof(chans) / sizeof(chans[0]); ci++)
                    check_conv(chans[ci][0], chans[ci][1], k, s, 1, sizes[si][0], sizes[si][1], (int)(ci & 1));
    check_conv(48, 3, 5, 2, 1, 6, 9, 1);  /* the last layer of g_s: 3 output channels */
    check_conv(4, 6, 1, 2, 1, 3, 4, 1);   /* k < s: phases no tap reaches hold the bias */
    check_conv(6, 5, 4, 2, 1, 4, 5, 1);   /* even kernel */
    check_conv(5, 7, 3, 3, 1, 4, 3, 1);   /* stride 3 */
}

/* Random GDN parameters of c channels: beta in [0.5, 1.5), gamma in [0, 0.1). The caller frees both. */
static void gdn_params(int c, float **beta, float **gamma)
{
    *beta = malloc(sizeof(float) * c), *gamma = malloc(sizeof(float) * c * c);
    assert_non_null(*beta), assert_non_null(*gamma);
    for (int i = 0; i < c; i++)
        (*beta)[i] = 0.5f + 0.5f * (frand() + 1.0f);
    for (int i = 0; i < c * c; i++)
        (*gamma)[i] = 0.05f * (frand() + 1.0f);
}

static void check_gdn(int c, int h, int w, int inverse)
{
    float *beta, *gamma;
    gdn_params(c, &beta, &gamma);
    lic_gdn_layer L = {c, inverse, beta, gamma};
    lic_tensor ref = tensor_new(c, h, w), got = tensor_new(c, h, w);
    const size_t n = lic_tensor_count(c, h, w);
    for (size_t i = 0; i < n; i++)
        ref.data[i] = 2.0f * frand();
    lic_xf_ctx *rc = ctx_new(LIC_KERNELS_REFERENCE, NULL), *fc = ctx_new(LIC_KERNELS_FAST, NULL);
    lic_xf_kernels tabs[2];
    const int nt = fast_tables(tabs);
    float *x0 = malloc(sizeof(float) * n);
    assert_non_null(x0);
    memcpy(x0, ref.data, sizeof(float) * n);
    assert_int_equal(lic_gdn(rc, &L, &ref), 0);
    for (int t = 0; t < nt; t++) {
        fc->kern = tabs[t];
        memcpy(got.data, x0, sizeof(float) * n);
        assert_int_equal(lic_gdn(fc, &L, &got), 0);
        assert_close(ref.data, got.data, n);
    }
    lic_xf_ctx_free(&rc);
    lic_xf_ctx_free(&fc);
    free(beta), free(gamma), free(ref.data), free(got.data), free(x0);
}

static void test_gdn_fast_vs_ref(void **state)
{
    (void)state;
    check_gdn(1, 1, 1, 0);
    check_gdn(3, 5, 7, 0);
    check_gdn(3, 5, 7, 1);
    check_gdn(17, 9, 11, 0);
    check_gdn(17, 9, 11, 1);
    check_gdn(128, 6, 9, 0);
    check_gdn(40, 33, 41, 1); /* more pixels than one column chunk */
}

/* ---- determinism across thread counts -------------------------------------------------------- */

static void run_threads(const lic_conv_layer *L, const lic_gdn_layer *G, const lic_tensor *in, lic_tensor *out)
{
    const size_t n = lic_tensor_count(out->c, out->h, out->w);
    float *first = malloc(sizeof(float) * n);
    assert_non_null(first);
    for (int nth = 1; nth <= 3; nth++) {
        lic_threadpool *tp = NULL;
        assert_int_equal(lic_threadpool_create(&tp, nth, &counting_alloc), 0);
        lic_xf_ctx *ctx = ctx_new(LIC_KERNELS_FAST, tp);
        if (G) {
            memcpy(out->data, in->data, sizeof(float) * n);
            assert_int_equal(lic_gdn(ctx, G, out), 0);
        } else {
            assert_int_equal(lic_conv2d(ctx, L, in, out), 0);
        }
        if (nth == 1)
            memcpy(first, out->data, sizeof(float) * n);
        else
            assert_memory_equal(first, out->data, sizeof(float) * n);
        lic_xf_ctx_free(&ctx);
        lic_threadpool_free(&tp);
    }
    free(first);
}

static void test_threads_bit_identical(void **state)
{
    (void)state;
    struct { int cin, cout, k, s, tr, h, w; } cases[] = {
        {24, 40, 5, 2, 0, 37, 29},  /* many row blocks */
        {32, 48, 3, 1, 0, 3, 5},    /* fewer pixel blocks than threads: output channels are split */
        {16, 20, 5, 2, 1, 11, 13},  /* transposed */
        {3, 8, 5, 2, 0, 8, 1600},   /* several column chunks */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        float *w = rand_buf((size_t)cases[i].cin * cases[i].cout * cases[i].k * cases[i].k);
        float *b = rand_buf((size_t)cases[i].cout);
        lic_conv_layer L = {cases[i].cin, cases[i].cout, cases[i].k, cases[i].s, cases[i].tr, w, b};
        lic_tensor in = tensor_new(cases[i].cin, cases[i].h, cases[i].w);
        for (size_t j = 0; j < lic_tensor_count(in.c, in.h, in.w); j++)
            in.data[j] = frand();
        lic_tensor out = tensor_new(cases[i].cout, out_side(&L, in.h), out_side(&L, in.w));
        run_threads(&L, NULL, &in, &out);
        free(w), free(b), free(in.data), free(out.data);
    }
    /* GDN over a plane larger than one column chunk */
    const int c = 24;
    float *beta = rand_buf(c), *gamma = rand_buf((size_t)c * c);
    for (int i = 0; i < c; i++)
        beta[i] = 1.0f + fabsf(beta[i]);
    for (int i = 0; i < c * c; i++)
        gamma[i] = fabsf(gamma[i]) * 0.1f;
    lic_gdn_layer G = {c, 0, beta, gamma};
    lic_tensor in = tensor_new(c, 40, 50), out = tensor_new(c, 40, 50);
    for (size_t j = 0; j < lic_tensor_count(c, 40, 50); j++)
        in.data[j] = frand();
    run_threads(NULL, &G, &in, &out);
    G.inverse = 1;
    run_threads(NULL, &G, &in, &out);
    free(beta), free(gamma), free(in.data), free(out.data);
}

/* ---- scratch reuse and validation ------------------------------------------------------------- */

static void test_scratch_reuse(void **state)
{
    (void)state;
    counting cnt = {0};
    const lic_allocator a = {&cnt, t_alloc, t_free};
    lic_xf_ctx *ctx = NULL;
    assert_int_equal(lic_xf_ctx_create_masked(&ctx, LIC_KERNELS_FAST, run_mask, NULL, &a), 0);
    float *w = rand_buf(16 * 8 * 25), *w2 = rand_buf(8 * 4 * 9);
    lic_conv_layer big = {16, 8, 5, 2, 0, w, NULL}, small = {8, 4, 3, 1, 0, w2, NULL};
    lic_tensor in = tensor_new(16, 40, 40), mid = tensor_new(8, 20, 20), o2 = tensor_new(4, 20, 20);
    assert_true(lic_conv2d_scratch_size(&big, 40, 40) > 0);
    assert_int_equal(lic_conv2d(ctx, &big, &in, &mid), 0);
    const int after_first = cnt.n_alloc;
    assert_int_equal(lic_conv2d(ctx, &big, &in, &mid), 0);
    assert_int_equal(lic_conv2d(ctx, &small, &mid, &o2), 0);
    assert_int_equal(lic_conv2d(ctx, &big, &in, &mid), 0);
    assert_int_equal(cnt.n_alloc, after_first); /* no allocation once scratch is large enough */
    lic_xf_ctx_free(&ctx);
    free(w), free(w2), free(in.data), free(mid.data), free(o2.data);
}

static void test_einval(void **state)
{
    (void)state;
    lic_xf_ctx *ctx = ctx_new(LIC_KERNELS_FAST, NULL);
    float w[2 * 3 * 9] = {0}, b[3] = {0};
    lic_conv_layer L = {2, 3, 3, 2, 0, w, b};
    lic_tensor in = tensor_new(2, 5, 6), out = tensor_new(3, 3, 3), bad;
    assert_int_equal(lic_conv2d(ctx, &L, &in, &out), 0);
    bad = out, bad.h = 2; /* ceil(5/2) = 3 */
    assert_int_equal(lic_conv2d(ctx, &L, &in, &bad), LIC_EINVAL);
    bad = out, bad.c = 2;
    assert_int_equal(lic_conv2d(ctx, &L, &in, &bad), LIC_EINVAL);
    bad = in, bad.c = 3;
    assert_int_equal(lic_conv2d(ctx, &L, &bad, &out), LIC_EINVAL);
    bad = out, bad.data = NULL;
    assert_int_equal(lic_conv2d(ctx, &L, &in, &bad), LIC_EINVAL);
    assert_int_equal(lic_conv2d(ctx, NULL, &in, &out), LIC_EINVAL);
    L.transposed = 1; /* transposed: 5x6 -> 10x12, not 3x3 */
    assert_int_equal(lic_conv2d(ctx, &L, &in, &out), LIC_EINVAL);
    L.transposed = 0, L.k = 0;
    assert_int_equal(lic_conv2d(ctx, &L, &in, &out), LIC_EINVAL);

    float beta[2] = {1, 1}, gamma[4] = {0};
    lic_gdn_layer G = {3, 0, beta, gamma};
    assert_int_equal(lic_gdn(ctx, &G, &in), LIC_EINVAL); /* in has 2 channels */
    G.c = 2;
    assert_int_equal(lic_gdn(ctx, &G, &in), 0);

    lic_tensor ps = tensor_new(1, 10, 12);
    assert_int_equal(lic_pixel_shuffle(ctx, &in, 2, &ps), LIC_EINVAL); /* 2 planes, not a multiple of 4 */
    lic_xf_ctx *x = (lic_xf_ctx *)1;
    assert_int_equal(lic_xf_ctx_create(&x, LIC_KERNELS_FAST, NULL, NULL), LIC_EINVAL);
    assert_null(x);
    lic_xf_ctx_free(&ctx);
    free(in.data), free(out.data), free(ps.data);
}

/* ---- band by band (lic_conv2d_rows, lic_gdn_rows, lic_pixel_shuffle_rows) ------------------------- */

static const uint32_t nan_bits = 0x7fc0dea5u; /* a quiet NaN marking floats no call may read or write */

static float *nan_buf(size_t n)
{
    float *p = malloc(n * sizeof(float) + 64);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        memcpy(&p[i], &nan_bits, sizeof(float));
    return p;
}

/* Floats [from, to) of p all still the marker NaN. */
static void assert_untouched(const float *p, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        uint32_t u;
        memcpy(&u, &p[i], sizeof(u));
        if (u != nan_bits)
            fail_msg("float %zu outside the range was written (0x%08x)", i, (unsigned)u);
    }
}

static int irand(int n) /* uniform in [0, n) */
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (int)((rng_state >> 8) % (uint32_t)n);
}

/* A band of t's shape holding rows [row0, row0 + rows) in a NaN-filled buffer of its own: `margin`
 * floats of NaN before and after, planes rows * w + a few NaN floats apart. Rows inside [0, t->h) are
 * copied from t when t->data is non-NULL. *buf is the allocation, *total its floats. */
static lic_band band_new(const lic_tensor *t, int row0, int rows, size_t margin, float **buf, size_t *total)
{
    lic_band b = {t->c, t->h, t->w, row0, rows, (size_t)rows * t->w + (size_t)irand(5), NULL};
    *total = 2 * margin + (size_t)t->c * b.plane;
    *buf = nan_buf(*total);
    b.data = *buf + margin;
    for (int c = 0; c < t->c && t->data; c++)
        for (int y = row0 < 0 ? 0 : row0; y < row0 + rows && y < t->h; y++)
            memcpy(b.data + c * b.plane + (size_t)(y - row0) * t->w, t->data + ((size_t)c * t->h + y) * t->w,
                   sizeof(float) * t->w);
    return b;
}

/* Checks a band after a call on rows [lo, hi): those rows equal want's bit for bit, every other float
 * of the buffer (margins, plane padding, other held rows) is still the marker. */
static void assert_band_rows(const lic_band *b, const float *buf, size_t total, const lic_tensor *want, int lo,
                             int hi)
{
    const size_t w = (size_t)b->w, margin = (size_t)(b->data - buf);
    const size_t r0 = (size_t)(lo - b->row0) * w, r1 = (size_t)(hi - b->row0) * w;
    assert_untouched(buf, 0, margin + r0);
    for (int c = 0; c < b->c; c++) {
        const float *got = b->data + c * b->plane;
        assert_memory_equal(got + r0, want->data + ((size_t)c * want->h + lo) * w, sizeof(float) * (r1 - r0));
        assert_untouched(got, r1, c + 1 < b->c ? b->plane + r0 : total - margin - c * b->plane);
    }
}

/* A random split of [0, n) into ranges whose ends are multiples of `mult` (or n); mostly short ones. */
static int random_split(int n, int mult, int *ends)
{
    int k = 0, at = 0;
    while (at < n) {
        int len = irand(4) ? 1 + irand(3) : 1 + irand(n);
        at = at + len * mult > n ? n : at + len * mult;
        ends[k++] = at;
    }
    return k;
}

/* Runs layer L on a random input whole (lic_conv2d) and band by band (lic_conv2d_rows) with ctx: each
 * call's input band holds exactly the rows lic_conv2d_rows_needed names, its output band the range
 * (sometimes with a few more rows around it, which must stay untouched). */
static void check_conv_bands(lic_xf_ctx *ctx, const lic_conv_layer *L, int hin, int win)
{
    lic_tensor in = tensor_new(L->cin, hin, win);
    for (size_t i = 0; i < lic_tensor_count(in.c, hin, win); i++)
        in.data[i] = frand();
    lic_tensor whole = tensor_new(L->cout, out_side(L, hin), out_side(L, win));
    assert_int_equal(lic_conv2d(ctx, L, &in, &whole), 0);
    const lic_tensor out_shape = {whole.c, whole.h, whole.w, NULL};
    const size_t margin = (size_t)(L->k + 2) * (win > whole.w ? win : whole.w);
    int *ends = malloc(sizeof(int) * (whole.h + 1));
    assert_non_null(ends);
    for (int split = 0; split < 3; split++) {
        const int nr = random_split(whole.h, L->transposed ? L->stride : 1, ends);
        for (int r = 0, lo = 0; r < nr; lo = ends[r++]) {
            const int hi = ends[r];
            int a, b;
            lic_conv2d_rows_needed(L, hin, lo, hi, &a, &b);
            assert_true(0 <= a && a < b && b <= hin);
            float *ibuf, *obuf;
            size_t itotal, ototal;
            lic_band bi = band_new(&in, a, b - a, margin, &ibuf, &itotal);
            const int e0 = irand(3) ? 0 : irand(3), e1 = irand(3) ? 0 : irand(3);
            lic_band bo = band_new(&out_shape, lo - e0, hi - lo + e0 + e1, margin, &obuf, &ototal);
            assert_int_equal(lic_conv2d_rows(ctx, L, &bi, &bo, lo, hi), 0);
            assert_band_rows(&bo, obuf, ototal, &whole, lo, hi);
            free(ibuf), free(obuf);
        }
    }
    free(ends), free(in.data), free(whole.data);
}

/* Both kernel paths, pools of 1 and 2 threads. */
static void for_each_ctx(void (*fn)(lic_xf_ctx *ctx, void *arg), void *arg)
{
    for (int path = LIC_KERNELS_REFERENCE; path <= LIC_KERNELS_FAST; path++)
        for (int nth = 1; nth <= 2; nth++) {
            lic_threadpool *tp = NULL;
            assert_int_equal(lic_threadpool_create(&tp, nth, &counting_alloc), 0);
            lic_xf_ctx *ctx = ctx_new((enum lic_kernel_path)path, tp);
            fn(ctx, arg);
            lic_xf_ctx_free(&ctx);
            lic_threadpool_free(&tp);
        }
}

static const int band_sizes[][2] = {{1, 1}, {7, 5}, {33, 19}, {65, 40}, {2, 3}, {9, 800}};

static void conv_bands_all(lic_xf_ctx *ctx, void *arg)
{
    (void)arg;
    struct { int cin, cout, k, s, tr; } layers[] = {
        {3, 5, 3, 1, 0}, {5, 4, 3, 2, 0}, {4, 6, 5, 1, 0}, {3, 24, 5, 2, 0},
        {19, 33, 5, 2, 0},                   /* several channel blocks and mr-blocks */
        {6, 5, 4, 2, 0},                     /* even kernel */
        {5, 3, 5, 2, 1}, {17, 19, 5, 2, 1}, {4, 7, 3, 2, 1},
        {3, 4, 1, 2, 1},                     /* k < s: phases no tap reaches hold the bias */
        {5, 7, 3, 3, 1},                     /* stride 3 */
    };
    for (size_t i = 0; i < sizeof(layers) / sizeof(layers[0]); i++) {
        float *w = rand_buf((size_t)layers[i].cin * layers[i].cout * layers[i].k * layers[i].k);
        float *b = rand_buf((size_t)layers[i].cout);
        lic_conv_layer L = {layers[i].cin, layers[i].cout, layers[i].k, layers[i].s, layers[i].tr, w,
                            i & 1 ? NULL : b};
        for (size_t si = 0; si < sizeof(band_sizes) / sizeof(band_sizes[0]); si++) {
            if (band_sizes[si][1] > 100 && (layers[i].cin > 8 || layers[i].tr))
                continue; /* the wide image: small layers only */
            check_conv_bands(ctx, &L, band_sizes[si][0], band_sizes[si][1]);
        }
        free(w), free(b);
    }
}

static void test_conv_rows_bands(void **state)
{
    (void)state;
    for_each_ctx(conv_bands_all, NULL);
}

/* GDN / IGDN whole (lic_gdn) and band by band (lic_gdn_rows), each band holding its range (sometimes
 * with more rows, which must stay untouched). */
static void check_gdn_bands(lic_xf_ctx *ctx, int c, int h, int w, int inverse)
{
    float *beta, *gamma;
    gdn_params(c, &beta, &gamma);
    lic_gdn_layer G = {c, inverse, beta, gamma};
    lic_tensor x = tensor_new(c, h, w), whole = tensor_new(c, h, w);
    for (size_t i = 0; i < lic_tensor_count(c, h, w); i++)
        x.data[i] = whole.data[i] = 2.0f * frand();
    assert_int_equal(lic_gdn(ctx, &G, &whole), 0);
    int *ends = malloc(sizeof(int) * (h + 1));
    assert_non_null(ends);
    for (int split = 0; split < 3; split++) {
        const int nr = random_split(h, 1, ends);
        for (int r = 0, lo = 0; r < nr; lo = ends[r++]) {
            const int hi = ends[r];
            float *buf;
            size_t total;
            lic_band t = band_new(&x, lo, hi - lo, (size_t)2 * w, &buf, &total);
            const int e0 = irand(3) ? 0 : irand(3), e1 = irand(3) ? 0 : irand(3);
            if (e0 || e1) { /* the same rows inside a band holding more, the others NaN */
                free(buf);
                const lic_tensor shape = {c, h, w, NULL};
                t = band_new(&shape, lo - e0, hi - lo + e0 + e1, (size_t)2 * w, &buf, &total);
                for (int ch = 0; ch < c; ch++)
                    memcpy(t.data + ch * t.plane + (size_t)e0 * w, x.data + ((size_t)ch * h + lo) * w,
                           sizeof(float) * (size_t)(hi - lo) * w);
            }
            assert_int_equal(lic_gdn_rows(ctx, &G, &t, lo, hi), 0);
            assert_band_rows(&t, buf, total, &whole, lo, hi);
            free(buf);
        }
    }
    free(ends), free(beta), free(gamma), free(x.data), free(whole.data);
}

static void gdn_bands_all(lic_xf_ctx *ctx, void *arg)
{
    (void)arg;
    for (size_t si = 0; si < sizeof(band_sizes) / sizeof(band_sizes[0]); si++)
        for (int inverse = 0; inverse <= 1; inverse++) {
            check_gdn_bands(ctx, 3, band_sizes[si][0], band_sizes[si][1], inverse);
            check_gdn_bands(ctx, 24, band_sizes[si][0], band_sizes[si][1] > 100 ? 50 : band_sizes[si][1],
                            inverse);
        }
}

static void test_gdn_rows_bands(void **state)
{
    (void)state;
    for_each_ctx(gdn_bands_all, NULL);
}

/* Pixel shuffle by r whole (lic_pixel_shuffle) and band by band (lic_pixel_shuffle_rows): each input
 * band holds exactly rows [lo / r, hi / r), each output band its range (sometimes with more rows, which
 * must stay untouched); a range that is not whole groups of r rows, or an input row missing, is
 * refused. */
static void check_shuffle_bands(lic_xf_ctx *ctx, int cout, int r, int h, int w)
{
    lic_tensor in = tensor_new(cout * r * r, h, w), whole = tensor_new(cout, h * r, w * r);
    for (size_t i = 0; i < lic_tensor_count(in.c, h, w); i++)
        in.data[i] = frand();
    assert_int_equal(lic_pixel_shuffle(ctx, &in, r, &whole), 0);
    const lic_tensor out_shape = {whole.c, whole.h, whole.w, NULL};
    const size_t margin = (size_t)2 * whole.w;
    int *ends = malloc(sizeof(int) * (whole.h + 1));
    assert_non_null(ends);
    for (int split = 0; split < 3; split++) {
        const int nr = random_split(whole.h, r, ends);
        for (int k = 0, lo = 0; k < nr; lo = ends[k++]) {
            const int hi = ends[k];
            float *ibuf, *obuf;
            size_t itotal, ototal;
            lic_band bi = band_new(&in, lo / r, (hi - lo) / r, margin, &ibuf, &itotal);
            const int e0 = irand(3) ? 0 : irand(3), e1 = irand(3) ? 0 : irand(3);
            lic_band bo = band_new(&out_shape, lo - e0, hi - lo + e0 + e1, margin, &obuf, &ototal);
            if (r > 1 && hi - lo > 1)
                assert_int_equal(lic_pixel_shuffle_rows(ctx, &bi, r, &bo, lo + 1, hi), LIC_EINVAL);
            bi.row0++, bi.data += w; /* the same rows where they are, less the first */
            assert_int_equal(lic_pixel_shuffle_rows(ctx, &bi, r, &bo, lo, hi), LIC_EINVAL);
            bi.row0--, bi.data -= w;
            assert_int_equal(lic_pixel_shuffle_rows(ctx, &bi, r, &bo, lo, hi), 0);
            assert_band_rows(&bo, obuf, ototal, &whole, lo, hi);
            free(ibuf), free(obuf);
        }
    }
    free(ends), free(in.data), free(whole.data);
}

static void shuffle_bands_all(lic_xf_ctx *ctx, void *arg)
{
    (void)arg;
    for (size_t si = 0; si < sizeof(band_sizes) / sizeof(band_sizes[0]); si++) {
        check_shuffle_bands(ctx, 3, 2, band_sizes[si][0], band_sizes[si][1]);
        check_shuffle_bands(ctx, 2, 3, band_sizes[si][0], band_sizes[si][1] > 100 ? 50 : band_sizes[si][1]);
    }
}

static void test_pixel_shuffle_rows_bands(void **state)
{
    (void)state;
    for_each_ctx(shuffle_bands_all, NULL);
}

/* lic_conv2d_rows_needed: hand-checked cases, then against the kernels' definitions for every small
 * layer shape and range. */
static void test_conv_rows_needed(void **state)
{
    (void)state;
    int a = -1, b = -1;
    lic_conv_layer L = {1, 1, 5, 2, 0, NULL, NULL};
    /* conv k5 s2: output row y reads 2y-2 .. 2y+2; rows 3, 4 read 4 .. 10 */
    lic_conv2d_rows_needed(&L, 20, 3, 5, &a, &b);
    assert_int_equal(a, 4), assert_int_equal(b, 11);
    lic_conv2d_rows_needed(&L, 20, 0, 1, &a, &b); /* -2 .. 2: top padding */
    assert_int_equal(a, 0), assert_int_equal(b, 3);
    lic_conv2d_rows_needed(&L, 20, 9, 10, &a, &b); /* 16 .. 20: bottom padding */
    assert_int_equal(a, 16), assert_int_equal(b, 20);
    lic_conv2d_rows_needed(&L, 20, 5, 5, &a, &b);
    assert_int_equal(a, b);
    /* transposed k5 s2: output row y reads (y + 2 - ky) / 2 where exact: rows 4, 5, 6, 7 read
     * {3, 2, 1}, {3, 2}, {4, 3, 2}, {4, 3} */
    L.transposed = 1;
    lic_conv2d_rows_needed(&L, 10, 4, 8, &a, &b);
    assert_int_equal(a, 1), assert_int_equal(b, 5);
    lic_conv2d_rows_needed(&L, 10, 0, 2, &a, &b); /* {1, 0, -1}, {1, 0} */
    assert_int_equal(a, 0), assert_int_equal(b, 2);
    lic_conv2d_rows_needed(&L, 10, 18, 20, &a, &b); /* {10, 9, 8}, {10, 9} */
    assert_int_equal(a, 8), assert_int_equal(b, 10);
    /* transposed k3 s2: rows 2, 3 read (y + 1 - ky) / 2, ky = 0..2: {1}, {2, 1} */
    L.k = 3;
    lic_conv2d_rows_needed(&L, 10, 2, 4, &a, &b);
    assert_int_equal(a, 1), assert_int_equal(b, 3);

    /* Brute force: the smallest range holding every row the output rows read (clamped) is named. */
    for (int tr = 0; tr <= 1; tr++)
        for (int k = 1; k <= 6; k++)
            for (int s = 1; s <= 3; s++)
                for (int in_h = 1; in_h <= 9; in_h++) {
                    L.k = k, L.stride = s, L.transposed = tr;
                    const int p = k / 2, out_h = out_side(&L, in_h);
                    for (int lo = 0; lo < out_h; lo++)
                        for (int hi = lo + 1; hi <= out_h; hi++) {
                            int read[40] = {0}, mn = in_h, mx = -1;
                            for (int y = lo; y < hi; y++)
                                for (int ky = 0; ky < k; ky++) {
                                    int iy;
                                    if (!tr)
                                        iy = y * s + ky - p;
                                    else if ((y + p - ky) % s == 0)
                                        iy = (y + p - ky) / s;
                                    else
                                        continue;
                                    if (iy < 0 || iy >= in_h)
                                        continue;
                                    read[iy] = 1;
                                    mn = iy < mn ? iy : mn;
                                    mx = iy > mx ? iy : mx;
                                }
                            lic_conv2d_rows_needed(&L, in_h, lo, hi, &a, &b);
                            if (mx < mn) { /* transposed: rows no tap reaches, or only padding */
                                assert_true(tr);
                                assert_int_equal(a, b);
                                continue;
                            }
                            assert_int_equal(a, mn);
                            assert_int_equal(b, mx + 1);
                            /* with k >= s the rows read are the whole range (k < s skips some) */
                            for (int iy = mn; iy <= mx && k >= s; iy++)
                                assert_true(read[iy]);
                        }
                }
}

static void test_rows_einval(void **state)
{
    (void)state;
    lic_xf_ctx *ctx = ctx_new(LIC_KERNELS_FAST, NULL);
    float w[2 * 3 * 25] = {0}, b[3] = {0};
    lic_conv_layer L = {2, 3, 5, 2, 0, w, b};
    lic_tensor in = tensor_new(2, 20, 6), out = tensor_new(3, 10, 3);
    lic_band bi = {2, 20, 6, 0, 20, 20 * 6, in.data}, bo = {3, 10, 3, 0, 10, 10 * 3, out.data}, bad;
    assert_int_equal(lic_conv2d_rows(ctx, &L, &bi, &bo, 3, 5), 0);
    assert_int_equal(lic_conv2d_rows(ctx, &L, &bi, &bo, 5, 5), LIC_EINVAL);  /* lo >= hi */
    assert_int_equal(lic_conv2d_rows(ctx, &L, &bi, &bo, 5, 4), LIC_EINVAL);
    assert_int_equal(lic_conv2d_rows(ctx, &L, &bi, &bo, -1, 4), LIC_EINVAL); /* lo < 0 */
    assert_int_equal(lic_conv2d_rows(ctx, &L, &bi, &bo, 8, 11), LIC_EINVAL); /* hi > out->h */
    /* rows 3, 4 read input rows [4, 11) */
    bad = bi, bad.row0 = 4, bad.rows = 7, bad.plane = 7 * 6;
    assert_int_equal(lic_conv2d_rows(ctx, &L, &bad, &bo, 3, 5), 0);
    bad.row0 = 5, bad.rows = 6; /* row 4 not held */
    assert_int_equal(lic_conv2d_rows(ctx, &L, &bad, &bo, 3, 5), LIC_EINVAL);
    bad.row0 = 4, bad.rows = 6; /* row 10 not held */
    assert_int_equal(lic_conv2d_rows(ctx, &L, &bad, &bo, 3, 5), LIC_EINVAL);
    bad = bo, bad.row0 = 4, bad.rows = 1, bad.plane = 3; /* output row 3 not held */
    assert_int_equal(lic_conv2d_rows(ctx, &L, &bi, &bad, 3, 5), LIC_EINVAL);
    bad = bi, bad.plane = 20 * 6 - 1; /* planes overlap */
    assert_int_equal(lic_conv2d_rows(ctx, &L, &bad, &bo, 3, 5), LIC_EINVAL);
    bad = bi, bad.rows = -1;
    assert_int_equal(lic_conv2d_rows(ctx, &L, &bad, &bo, 3, 5), LIC_EINVAL);
    bad = bi, bad.plane = SIZE_MAX / 2; /* channel 1 beyond the address space */
    assert_int_equal(lic_conv2d_rows(ctx, &L, &bad, &bo, 3, 5), LIC_EINVAL);
    bad = bi, bad.data = NULL;
    assert_int_equal(lic_conv2d_rows(ctx, &L, &bad, &bo, 3, 5), LIC_EINVAL);
    bad = bo, bad.h = 9; /* ceil(20/2) = 10 */
    assert_int_equal(lic_conv2d_rows(ctx, &L, &bi, &bad, 3, 5), LIC_EINVAL);
    bad = bo, bad.c = 2;
    assert_int_equal(lic_conv2d_rows(ctx, &L, &bi, &bad, 3, 5), LIC_EINVAL);
    assert_int_equal(lic_conv2d_rows(NULL, &L, &bi, &bo, 3, 5), LIC_EINVAL);

    /* transposed k5 s2: 10 x 3 -> 20 x 6; lo and hi multiples of 2 */
    lic_conv_layer T = {3, 2, 5, 2, 1, w, b};
    lic_band ti = {3, 10, 3, 0, 10, 10 * 3, out.data}, to = {2, 20, 6, 0, 20, 20 * 6, in.data};
    assert_int_equal(lic_conv2d_rows(ctx, &T, &ti, &to, 4, 8), 0);
    assert_int_equal(lic_conv2d_rows(ctx, &T, &ti, &to, 18, 20), 0);
    assert_int_equal(lic_conv2d_rows(ctx, &T, &ti, &to, 3, 8), LIC_EINVAL);
    assert_int_equal(lic_conv2d_rows(ctx, &T, &ti, &to, 4, 7), LIC_EINVAL);
    bad = ti, bad.row0 = 1, bad.rows = 4, bad.plane = 4 * 3; /* [1, 5): exactly what rows 4 .. 7 read */
    assert_int_equal(lic_conv2d_rows(ctx, &T, &bad, &to, 4, 8), 0);
    bad.rows = 3;
    assert_int_equal(lic_conv2d_rows(ctx, &T, &bad, &to, 4, 8), LIC_EINVAL);

    /* GDN */
    float beta[2] = {1, 1}, gamma[4] = {0};
    lic_gdn_layer G = {2, 0, beta, gamma};
    assert_int_equal(lic_gdn_rows(ctx, &G, &bi, 0, 20), 0);
    assert_int_equal(lic_gdn_rows(ctx, &G, &bi, 3, 3), LIC_EINVAL);
    assert_int_equal(lic_gdn_rows(ctx, &G, &bi, 3, 21), LIC_EINVAL);
    bad = bi, bad.row0 = 4, bad.rows = 7, bad.plane = 7 * 6;
    assert_int_equal(lic_gdn_rows(ctx, &G, &bad, 4, 11), 0);
    assert_int_equal(lic_gdn_rows(ctx, &G, &bad, 3, 11), LIC_EINVAL); /* row 3 not held */
    G.c = 3;
    assert_int_equal(lic_gdn_rows(ctx, &G, &bi, 0, 20), LIC_EINVAL);
    lic_xf_ctx_free(&ctx);
    free(in.data), free(out.data);
}

static void test_path_names(void **state)
{
    (void)state;
    lic_xf_ctx *r = ctx_new(LIC_KERNELS_REFERENCE, NULL), *f = ctx_new(LIC_KERNELS_FAST, NULL);
    assert_int_equal(lic_xf_ctx_path(r), LIC_KERNELS_REFERENCE);
    assert_string_equal(lic_xf_ctx_kernel_name(r), "c");
    /* The mask of this run selects exactly the kernels under test, or the reference for none. */
    assert_int_equal(lic_xf_ctx_path(f), run_mask ? LIC_KERNELS_FAST : LIC_KERNELS_REFERENCE);
    assert_string_equal(lic_xf_ctx_kernel_name(f), run_kernel);
    /* And the default (all features) picks the best this CPU runs. */
    lic_xf_ctx *best = NULL;
    assert_int_equal(lic_xf_ctx_create(&best, LIC_KERNELS_FAST, NULL, &counting_alloc), 0);
    assert_string_equal(lic_xf_ctx_kernel_name(best), lic_xf_cpu_has_avx512() ? "avx512"
                                                      : lic_xf_cpu_has_avx2() ? "avx2" : "c");
    lic_xf_ctx_free(&best);
    lic_xf_ctx_free(&r);
    lic_xf_ctx_free(&f);
}

/* test_layers [--kernel avx2|avx512]: without it the reference kernels alone (the hand-computed
 * cases); with it also that fast kernel table against the reference. A kernel this build or CPU
 * lacks: LIC_TEST_SKIP, which ctest reports as skipped (tests/transforms.cmake). */
int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--kernel") && (!strcmp(argv[2], "avx2") || !strcmp(argv[2], "avx512"))) {
        run_kernel = argv[2];
        int avx512 = !strcmp(run_kernel, "avx512");
        if (!(avx512 ? lic_xf_cpu_has_avx512() : lic_xf_cpu_has_avx2())) {
            printf("test_layers: SKIPPED --kernel %s: not built in or this CPU lacks it\n", run_kernel);
            return LIC_TEST_SKIP;
        }
        run_mask = avx512 ? LIC_XF_FEAT_AVX512 : LIC_XF_FEAT_AVX2;
    } else if (argc != 1) {
        fprintf(stderr, "usage: test_layers [--kernel avx2|avx512]\n");
        return 2;
    }
    printf("test_layers: float kernels tested: c%s%s\n", run_mask ? " and " : "", run_mask ? run_kernel : "");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_conv_hand),
        cmocka_unit_test(test_ref_tconv_hand),
        cmocka_unit_test(test_ref_gdn_hand),
        cmocka_unit_test(test_relu_shuffle_hand),
        cmocka_unit_test(test_pixel_shuffle_formula),
        cmocka_unit_test(test_conv_fast_vs_ref),
        cmocka_unit_test(test_tconv_fast_vs_ref),
        cmocka_unit_test(test_gdn_fast_vs_ref),
        cmocka_unit_test(test_threads_bit_identical),
        cmocka_unit_test(test_scratch_reuse),
        cmocka_unit_test(test_einval),
        cmocka_unit_test(test_path_names),
        cmocka_unit_test(test_conv_rows_needed),
        cmocka_unit_test(test_conv_rows_bands),
        cmocka_unit_test(test_gdn_rows_bands),
        cmocka_unit_test(test_pixel_shuffle_rows_bands),
        cmocka_unit_test(test_rows_einval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
