/* Tests of the float layers (transforms/layers.h): the C reference against hand-computed values, every
 * built fast kernel table against the reference on random data, bit-identical fast results for 1, 2
 * and 3 threads, scratch reuse, and argument validation. */
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

static void check_gdn(int c, int h, int w, int inverse)
{
    float *beta = malloc(sizeof(float) * c), *gamma = malloc(sizeof(float) * c * c);
    assert_non_null(beta), assert_non_null(gamma);
    for (int i = 0; i < c; i++)
        beta[i] = 0.5f + 0.5f * (frand() + 1.0f);
    for (int i = 0; i < c * c; i++)
        gamma[i] = 0.05f * (frand() + 1.0f);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
