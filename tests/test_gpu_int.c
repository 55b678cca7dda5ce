/* Tests of the integer GPU kernels of the probability path (gpu/int_kernels.h, docs/GPU.md §8).
 *
 * Without arguments the kernels run in their host emulation (gpu/int_emul.c: the device's grid, blocks,
 * threads and arithmetic, on the CPU); with --device they run on CUDA device 0 (exit LIC_TEST_SKIP
 * without one). Either way every result must equal the CPU's bit for bit:
 *   - the integer conv against lic_iconv2d (reference and best CPU kernel) on random layers, extreme
 *     operands (int16 min/max, full int32 biases, shifts 1 and 62), worst-case accumulations and
 *     awkward shapes (k 1/3/5, stride 1/2, transposed, channel counts off multiples of 4..32, 1x1 and
 *     odd planes), also with grids of 1 and 2 blocks per plane (the threads' stride loop);
 *   - the checkerboard pass (scale index, symbol, y-hat, context value) against entropy/entropy_model.h
 *     and an independent linear threshold count;
 *   - the shipped model on a real photo: the encoder runs its schedule with every integer op through a
 *     test backend that computes it with the kernels and with the CPU reference and compares the
 *     tensors; each coding pass's indexes, y-hat and context values are recomputed by the pass kernel
 *     and compared with the engine's; the stream equals the CPU-only encoder's and decodes (also
 *     through the kernels) to the same symbols;
 *   - the LIC_GPU_INT switch, and with a device the codec's use of it: CUDA decoders and encoders with
 *     the integer convs on the GPU exchange streams with the CPU ones, symbols and parameters equal. */
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

#include "apps/image_io.h"
#include "codec/backend.h"
#include "codec/engine.h"
#include "gpu/gpu.h"
#include "gpu/int_host.h"
#include "lic/codec.h"
#include "transforms/cpu/iconv.h"

#define PHOTO "testdata/images/768x512.png"

static int use_device; /* --device: the kernels on CUDA device 0 instead of the emulation */

/* ---- the kernels under test -------------------------------------------------------------------- */

static int run_iconv(const lic_iconv_layer *L, const lic_itensor *in, lic_itensor *out, unsigned max_blocks)
{
    if (use_device)
        return lic_gpu_iconv_run(0, L, in, out, NULL); /* the device's own grid (LIC_GPU_INT_MAX_BLOCKS) */
    return lic_gpu_emul_iconv(L, in, out, max_blocks);
}

static int run_ypass(const lic_gpu_ypass_args *a, unsigned max_blocks)
{
    if (use_device)
        return lic_gpu_ypass_run(0, a, NULL);
    return lic_gpu_emul_ypass(a, max_blocks);
}

/* ---- random layers --------------------------------------------------------------------------------- */

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint32_t rnd(void) /* xorshift64* */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static int rnd_range(int lo, int hi) /* inclusive */
{
    return (int)(lo + (int64_t)(rnd() % (uint32_t)((int64_t)hi - lo + 1))); /* spans up to 2^32 - 1 */
}

/* mode 0: uniform int16; 1: mostly the extremes (int16 min/max, +-1, 0, byte edges); 2: beyond int16
 * (the kernels saturate inputs as the CPU does) */
static int32_t rnd_value(int mode)
{
    static const int32_t ext[] = {-32768, 32767, -32767, -32768, 32767, 0, 1, -1, 255, 256, -256, -129};
    if (mode == 1 && rnd() % 4 != 0)
        return ext[rnd() % (sizeof(ext) / sizeof(ext[0]))];
    if (mode == 2 && rnd() % 2)
        return rnd() % 3 == 0 ? INT32_MIN : rnd() % 2 ? INT32_MAX : (int32_t)rnd();
    return rnd_range(-32768, 32767);
}

typedef struct tlayer {
    lic_iconv_layer L;
    int16_t *w;
    int32_t *b, *sh;
} tlayer;

static void tlayer_make(tlayer *t, int cin, int cout, int k, int s, int tr, int wmode)
{
    memset(t, 0, sizeof(*t));
    size_t nw = (size_t)cin * cout * k * k;
    t->w = malloc(nw * sizeof(int16_t));
    t->b = malloc((size_t)cout * sizeof(int32_t));
    t->sh = malloc((size_t)cout * sizeof(int32_t));
    assert_true(t->w && t->b && t->sh);
    for (size_t i = 0; i < nw; i++)
        t->w[i] = (int16_t)(wmode == 1 ? rnd_value(1) : rnd_range(-32768, 32767));
    for (int o = 0; o < cout; o++) {
        int64_t bv = (int64_t)rnd() - 2147483648LL;
        t->b[o] = (int32_t)(bv / ((int64_t)1 << (rnd() % 32)));
        int r = rnd() % 8;
        t->sh[o] = r == 0 ? 1 : r == 1 ? 62 : r == 2 ? rnd_range(30, 40) : rnd_range(8, 24);
    }
    t->L = (lic_iconv_layer){cin, cout, k, s, tr, (int)(rnd() % 2), rnd() % 3 ? rnd_range(0, 255) : 0,
                             rnd() % 2 ? 16 : 24, t->w, t->b, t->sh};
}

static void tlayer_free(tlayer *t)
{
    free(t->w), free(t->b), free(t->sh);
}

static lic_itensor itensor_new(int c, int h, int w)
{
    lic_itensor t = {c, h, w, calloc((size_t)c * h * w, sizeof(int32_t))};
    assert_non_null(t.data);
    return t;
}

static void out_shape(const lic_iconv_layer *L, int ih, int iw, int *oh, int *ow)
{
    *oh = L->transposed ? ih * L->stride : lic_conv_out_size(ih, L->stride);
    *ow = L->transposed ? iw * L->stride : lic_conv_out_size(iw, L->stride);
}

/* The kernel (at each grid cap) against the CPU reference kernel and the best CPU kernel. */
static void check_layer(const lic_iconv_layer *L, const lic_itensor *in, const char *what, int idx)
{
    static const unsigned caps[3] = {LIC_GPU_INT_MAX_BLOCKS, 1, 2};
    int oh, ow;
    out_shape(L, in->h, in->w, &oh, &ow);
    const size_t bytes = sizeof(int32_t) * (size_t)L->cout * oh * ow;
    lic_itensor want = itensor_new(L->cout, oh, ow), best = itensor_new(L->cout, oh, ow);
    assert_int_equal(lic_iconv2d_kernel(NULL, L, in, &want, LIC_ICONV_KERNEL_REF), 0);
    assert_int_equal(lic_iconv2d_kernel(NULL, L, in, &best, LIC_ICONV_KERNEL_BEST), 0);
    assert_memory_equal(best.data, want.data, bytes);
    for (int c = 0; c < (use_device ? 1 : 3); c++) {
        /* OB planes of guard after the output: a thread must not write past the last channel */
        lic_itensor got = itensor_new(L->cout + LIC_GPU_INT_OB, oh, ow);
        got.c = L->cout;
        const size_t guard = sizeof(int32_t) * (size_t)LIC_GPU_INT_OB * oh * ow;
        memset(got.data, 0x5a, bytes + guard); /* every element must be written, no guard byte */
        assert_int_equal(run_iconv(L, in, &got, caps[c]), 0);
        for (size_t g = 0; g < guard; g++)
            assert_int_equal(((const uint8_t *)got.data)[bytes + g], 0x5a);
        if (memcmp(got.data, want.data, bytes) != 0) {
            print_error("%s case %d (cap %u): cin %d cout %d k %d s %d tr %d in %dx%d differs\n", what, idx, caps[c],
                        L->cin, L->cout, L->k, L->stride, L->transposed, in->h, in->w);
            assert_memory_equal(got.data, want.data, bytes);
        }
        free(got.data);
    }
    free(want.data), free(best.data);
}

static void run_random(int n_cases, int wmode, int xmode, int max_c, const char *what)
{
    static const int ks[3] = {1, 3, 5};
    for (int c = 0; c < n_cases; c++) {
        int k = ks[rnd() % 3], s = rnd_range(1, 2), tr = rnd() % 2;
        int cin = rnd() % 5 == 0 ? rnd_range(1, 3) : rnd_range(1, max_c);
        int cout = rnd() % 4 == 0 ? rnd_range(1, 3) : rnd_range(1, 37);
        if (c % 17 == 0 && k == 1)
            cin = rnd_range(257, 600);
        /* 1x1, odd and even planes; a plane over 256 positions needs more than one block */
        int h = rnd() % 6 == 0 ? 1 : rnd_range(1, tr ? 9 : 19);
        int w = rnd() % 6 == 0 ? 1 : rnd_range(1, tr ? 11 : 37);
        tlayer t;
        tlayer_make(&t, cin, cout, k, s, tr, wmode);
        lic_itensor in = itensor_new(cin, h, w);
        for (int i = 0; i < cin * h * w; i++)
            in.data[i] = rnd_value(xmode);
        check_layer(&t.L, &in, what, c);
        free(in.data);
        tlayer_free(&t);
    }
}

static void test_iconv_random(void **state)
{
    (void)state;
    rng_state = 11;
    run_random(use_device ? 200 : 120, 0, 0, 40, "uniform");
}

static void test_iconv_extremes(void **state)
{
    (void)state;
    rng_state = 22;
    run_random(80, 1, 1, 64, "extreme");
    run_random(30, 0, 2, 20, "beyond-int16");

    /* Maximal accumulations: every product (-32768)^2 or 32767 * -32768, over 777 channels (k = 1) or
     * 40 channels of 5x5 taps, biases at the int32 limits, shifts that keep some sums inside 24 bits. */
    static const int32_t xv[3] = {-32768, 32767, -32768};
    static const int16_t wv[3] = {-32768, -32768, 32767};
    for (int v = 0; v < 3; v++) {
        for (int variant = 0; variant < 4; variant++) {
            int k = variant < 2 ? 1 : 5, tr = variant == 3, cin = k == 1 ? 777 : 40, cout = 5;
            tlayer t;
            tlayer_make(&t, cin, cout, k, 1 + (variant == 1 || variant == 3), tr, 0);
            for (size_t i = 0; i < (size_t)cin * cout * k * k; i++)
                t.w[i] = wv[v];
            for (int o = 0; o < cout; o++) {
                t.sh[o] = 20 + o;
                t.b[o] = o % 2 ? INT32_MIN : INT32_MAX;
            }
            t.L.out_bits = 24;
            t.L.relu = v == 2;
            lic_itensor in = itensor_new(cin, 7, 19);
            for (int i = 0; i < cin * 7 * 19; i++)
                in.data[i] = xv[v];
            check_layer(&t.L, &in, "worst-case", v * 4 + variant);
            free(in.data);
            tlayer_free(&t);
        }
    }
}

/* Every combination of k, stride and direction on the shapes that break tiling assumptions: channel
 * counts just off multiples of 4, 8, 16, 32, planes of 1x1, 1xN, Nx1 and odd sides. */
static void test_iconv_shapes(void **state)
{
    (void)state;
    rng_state = 33;
    static const int chans[] = {1, 3, 5, 7, 9, 15, 17, 31, 33};
    static const int sides[][2] = {{1, 1}, {1, 7}, {7, 1}, {3, 5}, {9, 9}, {2, 2}, {17, 16}};
    int idx = 0;
    for (int k = 1; k <= 5; k += 2)
        for (int s = 1; s <= 2; s++)
            for (int tr = 0; tr <= 1; tr++)
                for (size_t si = 0; si < sizeof(sides) / sizeof(sides[0]); si++) {
                    int cin = chans[rnd() % 9], cout = chans[rnd() % 9];
                    tlayer t;
                    tlayer_make(&t, cin, cout, k, s, tr, rnd() % 2);
                    lic_itensor in = itensor_new(cin, sides[si][0], sides[si][1]);
                    for (int i = 0; i < cin * sides[si][0] * sides[si][1]; i++)
                        in.data[i] = rnd_value(rnd() % 2);
                    check_layer(&t.L, &in, "shapes", idx++);
                    free(in.data);
                    tlayer_free(&t);
                }
}

/* The kernels take exactly the calls lic_iconv2d takes. */
static void test_iconv_rejects(void **state)
{
    (void)state;
    rng_state = 44;
    tlayer t;
    tlayer_make(&t, 3, 4, 3, 2, 0, 0);
    lic_itensor in = itensor_new(3, 5, 6), out = itensor_new(4, 3, 3), bad = itensor_new(4, 3, 4);
    assert_int_equal(lic_gpu_emul_iconv(&t.L, &in, &out, LIC_GPU_INT_MAX_BLOCKS), 0);
    assert_int_equal(lic_gpu_emul_iconv(&t.L, &in, &bad, LIC_GPU_INT_MAX_BLOCKS), LIC_EINVAL);
    assert_int_equal(lic_iconv2d(NULL, &t.L, &in, &bad), LIC_EINVAL);
    assert_int_equal(lic_gpu_emul_iconv(&t.L, &in, &in, LIC_GPU_INT_MAX_BLOCKS), LIC_EINVAL);
    assert_int_equal(lic_gpu_emul_iconv(NULL, &in, &out, LIC_GPU_INT_MAX_BLOCKS), LIC_EINVAL);
    t.sh[1] = 63;
    assert_int_equal(lic_gpu_emul_iconv(&t.L, &in, &out, LIC_GPU_INT_MAX_BLOCKS), LIC_EINVAL);
    assert_int_equal(lic_iconv2d(NULL, &t.L, &in, &out), LIC_EINVAL);
    t.sh[1] = 5;
    t.L.k = 4;
    assert_int_equal(lic_gpu_emul_iconv(&t.L, &in, &out, LIC_GPU_INT_MAX_BLOCKS), LIC_EINVAL);
    t.L.k = 3;
    in.c = 2;
    assert_int_equal(lic_gpu_emul_iconv(&t.L, &in, &out, LIC_GPU_INT_MAX_BLOCKS), LIC_EINVAL);
    free(in.data), free(out.data), free(bad.data);
    tlayer_free(&t);
    /* without a device (or CUDA), the device runners refuse cleanly */
    if (!use_device && lic_gpu_device_count() == 0) {
        tlayer_make(&t, 1, 1, 1, 1, 0, 0);
        lic_itensor a = itensor_new(1, 2, 2), b = itensor_new(1, 2, 2);
        assert_int_equal(lic_gpu_iconv_run(0, &t.L, &a, &b, NULL), LIC_EUNSUPPORTED);
        free(a.data), free(b.data);
        tlayer_free(&t);
    }
}

/* The launch grid: block counts, the cap, and pass sizes counted by brute force. */
static void test_grid(void **state)
{
    (void)state;
    lic_gpu_int_grid g = lic_gpu_int_grid_for(0, 3, 8);
    assert_true(g.gx == 1 && g.gy == 3);
    g = lic_gpu_int_grid_for(257, 2, 8);
    assert_true(g.gx == 2 && g.gy == 2);
    g = lic_gpu_int_grid_for((size_t)1 << 40, 1, LIC_GPU_INT_MAX_BLOCKS);
    assert_true(g.gx == LIC_GPU_INT_MAX_BLOCKS);
    g = lic_gpu_int_grid_for(1000, 1, 0);
    assert_true(g.gx == 1);
    for (int h = 1; h <= 9; h++)
        for (int w = 1; w <= 9; w++)
            for (int pass = 0; pass <= 1; pass++) {
                size_t n = 0;
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        n += (x + y) % 2 == pass;
                assert_true(lic_gpu_ypass_count(h, w, pass) == n);
            }
}

/* ---- the checkerboard pass ------------------------------------------------------------------------ */

/* The number of thresholds strictly below scale: the definition, by a linear scan. */
static int naive_index(const int32_t *thr, int levels, int32_t scale)
{
    int n = 0;
    for (int i = 0; i < levels - 1; i++)
        n += thr[i] < scale;
    return n;
}

#define SENTINEL ((int32_t)0x5a5a5a5a)

/* Runs a pass (encode when yfix, else decode from the symbols in *sym) and checks every position: the
 * pass's against entropy/entropy_model.h and the linear count, the others untouched. */
static void check_pass(int c, int h, int w, int pass, const int32_t *params, const int32_t *thr, int levels,
                       int ctx_shift, const int64_t *yfix, const int32_t *sym_in, const int32_t *want_yq,
                       const int32_t *want_yctx)
{
    const size_t hw = (size_t)h * w, n = (size_t)c * hw;
    int32_t *sym = malloc(n * sizeof(int32_t)), *idx = malloc(n * sizeof(int32_t));
    int32_t *yq = malloc(n * sizeof(int32_t)), *yctx = malloc(n * sizeof(int32_t));
    assert_true(sym && idx && yq && yctx);
    for (size_t i = 0; i < n; i++) {
        sym[i] = yfix ? SENTINEL : sym_in[i];
        idx[i] = yq[i] = yctx[i] = SENTINEL;
    }
    lic_gpu_ypass_args a = {c, h, w, pass, params, thr, levels, ctx_shift, yfix, sym, idx, yq, yctx};
    assert_int_equal(run_ypass(&a, 2), 0);
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                const size_t p = (size_t)y * w + x, e = (size_t)ch * hw + p;
                if ((x + y) % 2 != pass) {
                    assert_true(idx[e] == SENTINEL && yq[e] == SENTINEL && yctx[e] == SENTINEL);
                    assert_true(sym[e] == (yfix ? SENTINEL : sym_in[e]));
                    continue;
                }
                const int32_t mu = params[e], scale = params[(size_t)(c + ch) * hw + p];
                const int32_t s = yfix ? lic_gaussian_quantize(yfix[e], mu) : lic_symbol_clamp(sym_in[e]);
                const int32_t v = lic_gaussian_reconstruct(s, mu);
                assert_int_equal(idx[e], naive_index(thr, levels, scale));
                if (yfix)
                    assert_int_equal(sym[e], s);
                assert_int_equal(yq[e], want_yq ? want_yq[e] : v);
                int64_t r = v; /* round to nearest, halves up, saturated to int16: computed by division */
                if (ctx_shift) {
                    const int64_t d = (int64_t)1 << ctx_shift, t = r + d / 2;
                    r = (t - (((t % d) + d) % d)) / d;
                }
                r = r < INT16_MIN ? INT16_MIN : r > INT16_MAX ? INT16_MAX : r;
                assert_int_equal(yctx[e], want_yctx ? want_yctx[e] : r);
            }
    free(sym), free(idx), free(yq), free(yctx);
}

static void test_ypass_random(void **state)
{
    (void)state;
    rng_state = 55;
    for (int cs = 0; cs < 60; cs++) {
        const int c = rnd_range(1, 5), h = rnd_range(1, 23), w = rnd_range(1, 29), pass = rnd() % 2;
        const int levels = cs % 7 == 0 ? rnd_range(1, 2) : rnd_range(3, 80), ctx_shift = rnd_range(0, 8);
        const size_t hw = (size_t)h * w, n = (size_t)c * hw;
        int32_t *thr = malloc(sizeof(int32_t) * (size_t)(levels + 1));
        int32_t *params = malloc(2 * n * sizeof(int32_t)), *sym = malloc(n * sizeof(int32_t));
        int64_t *yfix = malloc(n * sizeof(int64_t));
        assert_true(thr && params && sym && yfix);
        int32_t t = rnd_range(-50, 50);
        for (int i = 0; i < levels - 1; i++)
            thr[i] = t += rnd_range(1, 4000);
        for (size_t i = 0; i < n; i++) {
            /* means over the 24-bit range, extremes included; scales on, beside and beyond thresholds */
            int r = rnd() % 6;
            params[i] = r == 0 ? -(1 << 23) : r == 1 ? (1 << 23) - 1 : rnd_range(-(1 << 23), (1 << 23) - 1);
            int32_t sc = levels > 1 ? thr[rnd() % (unsigned)(levels - 1)] + rnd_range(-1, 1) : rnd_range(-9, 9);
            params[n + i] = rnd() % 8 == 0 ? (rnd() % 2 ? INT32_MIN : INT32_MAX) : sc;
            r = rnd() % 8;
            yfix[i] = r == 0 ? (int64_t)1e12 : r == 1 ? -(int64_t)1e12 : (int64_t)rnd_range(-(1 << 30), 1 << 30);
            sym[i] = r == 2 ? INT32_MIN : r == 3 ? INT32_MAX : rnd_range(-3000, 3000);
        }
        check_pass(c, h, w, pass, params, thr, levels, ctx_shift, yfix, NULL, NULL, NULL);
        check_pass(c, h, w, pass, params, thr, levels, ctx_shift, NULL, sym, NULL, NULL);
        free(thr), free(params), free(sym), free(yfix);
    }
}

/* ---- the shipped model on a real image ------------------------------------------------------------ */

/* What the test backend saw while an engine ran its schedule. Global: backends have no user pointer. */
static struct {
    int n_iconv, n_izero, mismatches;
    int32_t *params[LIC_MAX_STEPS]; /* a copy of each CODE_Y step's params when its ops are done */
} seen;

static lic_itensor view_itensor(const lic_engine *e, const lic_view *v)
{
    lic_itensor t = {v->c, e->ph >> v->scale, e->pw >> v->scale, lic_engine_view_data(e, v)};
    return t;
}

static int check_supports(const lic_engine *e, const lic_op *op)
{
    (void)e;
    return op->kind == LIC_OP_ICONV || op->kind == LIC_OP_IZERO;
}

/* Integer ops: the kernel writes the engine's buffer, the CPU reference a scratch tensor, and they are
 * compared. At the last op of a coding step, the step's parameters are kept for the pass check. */
static int check_run_op(lic_engine *e, const lic_op *op, const float *gain)
{
    (void)gain;
    const lic_model_data *md = e->md;
    if (op->kind == LIC_OP_IZERO) {
        lic_itensor t = view_itensor(e, &op->out);
        memset(t.data, 0, lic_tensor_count(t.c, t.h, t.w) * sizeof(int32_t));
        seen.n_izero++;
    } else {
        lic_itensor in = view_itensor(e, &op->in), out = view_itensor(e, &op->out);
        const size_t bytes = lic_tensor_count(out.c, out.h, out.w) * sizeof(int32_t);
        lic_itensor ref = out;
        ref.data = malloc(bytes);
        assert_non_null(ref.data);
        assert_int_equal(lic_iconv2d_kernel(NULL, op->iconv, &in, &ref, LIC_ICONV_KERNEL_REF), 0);
        memset(out.data, 0x5a, bytes);
        assert_int_equal(run_iconv(op->iconv, &in, &out, LIC_GPU_INT_MAX_BLOCKS), 0);
        if (memcmp(ref.data, out.data, bytes) != 0) {
            print_error("op %d: integer conv %d -> %d channels differs from the CPU\n", (int)(op - md->ops),
                        op->iconv->cin, op->iconv->cout);
            seen.mismatches++;
        }
        free(ref.data);
        seen.n_iconv++;
    }
    const int at = (int)(op - md->ops);
    for (int i = 0; i < md->n_steps; i++) {
        const lic_code_step *st = &md->steps[i];
        if (st->kind != LIC_STEP_CODE_Y || st->ops.count == 0 || st->ops.first + st->ops.count - 1 != at)
            continue;
        const size_t n = 2 * (size_t)st->c * (size_t)e->lh * e->lw;
        free(seen.params[i]);
        seen.params[i] = malloc(n * sizeof(int32_t));
        assert_non_null(seen.params[i]);
        memcpy(seen.params[i], lic_engine_view_data(e, &st->params), n * sizeof(int32_t));
    }
    return LIC_OK;
}

static const lic_backend check_backend = {"int-kernels", NULL, NULL, check_supports, check_run_op, NULL};

/* The engine's rounding of y' to 1/256 units (codec/engine.c, to_fixed). */
static int64_t to_fixed(double v, int frac)
{
    double s = v * (double)(1 << frac);
    if (!(s == s))
        return 0;
    s = s > 1e12 ? 1e12 : s < -1e12 ? -1e12 : s;
    return (int64_t)llround(s);
}

/* After an encode: every coding pass recomputed by the pass kernel from the kept parameters and the
 * engine's y' equals what the engine coded (its y-hat and context values); returns the passes checked. */
static int check_passes(const lic_engine *e)
{
    const lic_model_data *md = e->md;
    const size_t hw = (size_t)e->lh * e->lw;
    int checked = 0;
    for (int i = 0; i < md->n_steps; i++) {
        const lic_code_step *st = &md->steps[i];
        if (st->kind != LIC_STEP_CODE_Y || !seen.params[i])
            continue;
        const size_t n = (size_t)st->c * hw;
        int64_t *yfix = malloc(n * sizeof(int64_t));
        assert_non_null(yfix);
        for (size_t j = 0; j < n; j++)
            yfix[j] = to_fixed(e->y[(size_t)st->c0 * hw + j], LIC_GAUSSIAN_FRAC_BITS);
        check_pass(st->c, e->lh, e->lw, st->pass, seen.params[i], md->y_gc.thresholds, md->y_gc.cdf.n_cdfs,
                   LIC_GAUSSIAN_FRAC_BITS - md->arch.yctx_frac_bits, yfix, NULL, e->yq + (size_t)st->c0 * hw,
                   e->yctx + (size_t)st->c0 * hw);
        free(yfix);
        checked++;
    }
    return checked;
}

static void forget_seen(void)
{
    for (int i = 0; i < LIC_MAX_STEPS; i++)
        free(seen.params[i]);
    memset(&seen, 0, sizeof(seen));
}

static void test_model_schedule(void **state)
{
    (void)state;
    app_image a;
    char msg[256];
    assert_int_equal(app_image_read(PHOTO, NULL, &a, msg, sizeof msg), 0);
    assert_int_equal(a.channels, 3);
    /* a 256 x 192 crop of the photo keeps the emulation (one position at a time) to seconds */
    lic_image img = {256, 192, LIC_PIXFMT_RGB8, a.data + 160 * a.stride + 3 * 256, a.stride};
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_default(&m, NULL), 0);
    lic_config cfg;
    assert_int_equal(lic_config_init(&cfg), 0);
    cfg.backend = LIC_BACKEND_CPU;
    lic_encoder *ref_enc = NULL, *enc = NULL;
    lic_decoder *ref_dec = NULL, *dec = NULL;
    assert_int_equal(lic_encoder_open(&ref_enc, m, &cfg), 0);
    assert_int_equal(lic_encoder_open(&enc, m, &cfg), 0);
    assert_int_equal(lic_decoder_open(&ref_dec, m, &cfg), 0);
    assert_int_equal(lic_decoder_open(&dec, m, &cfg), 0);
    /* The encoder and decoder contexts start with their engine (codec/encoder.c, codec/decoder.c). */
    lic_engine *ee = (lic_engine *)enc, *de = (lic_engine *)dec;
    ee->accel = &check_backend;
    de->accel = &check_backend;

    const lic_model_data *md = ee->md;
    int n_iconv_ops = 0, n_code_y = 0;
    for (int i = 0; i < md->n_steps; i++) {
        for (int j = 0; j < md->steps[i].ops.count; j++)
            n_iconv_ops += md->ops[md->steps[i].ops.first + j].kind == LIC_OP_ICONV;
        n_code_y += md->steps[i].kind == LIC_STEP_CODE_Y && md->steps[i].ops.count > 0;
    }
    assert_true(n_iconv_ops > 0 && n_code_y > 0);

    static const int qualities[2] = {10, 90};
    for (int qi = 0; qi < 2; qi++) {
        const int q = qualities[qi];
        uint8_t *ref_bits = NULL, *bits = NULL;
        size_t ref_n = 0, n = 0;
        assert_int_equal(lic_encode(ref_enc, &img, q, &ref_bits, &ref_n), 0);
        forget_seen();
        assert_int_equal(lic_encode(enc, &img, q, &bits, &n), 0);
        /* every integer op of the schedule went through the kernels and matched the CPU */
        assert_int_equal(seen.mismatches, 0);
        assert_int_equal(seen.n_iconv, n_iconv_ops);
        assert_int_equal(check_passes(ee), n_code_y);
        print_message("q %d: %d integer convs, %d zeroings, %d coding passes equal to the CPU\n", q, seen.n_iconv,
                      seen.n_izero, n_code_y);
        assert_true(n == ref_n);
        assert_memory_equal(bits, ref_bits, n);

        forget_seen();
        lic_image o1 = {0}, o2 = {0};
        assert_int_equal(lic_decode(ref_dec, bits, n, &o1), 0);
        assert_int_equal(lic_decode(dec, bits, n, &o2), 0);
        assert_int_equal(seen.mismatches, 0);
        assert_int_equal(seen.n_iconv, n_iconv_ops);
        lic_stats s1, s2, s3;
        assert_int_equal(lic_decoder_get_stats(ref_dec, &s1), 0);
        assert_int_equal(lic_decoder_get_stats(dec, &s2), 0);
        assert_int_equal(lic_encoder_get_stats(ref_enc, &s3), 0);
        assert_true(s1.symbols_hash == s2.symbols_hash && s1.params_hash == s2.params_hash);
        assert_true(s1.symbols_hash == s3.symbols_hash && s1.params_hash == s3.params_hash);
        assert_true(o1.height == o2.height && o1.stride == o2.stride);
        assert_memory_equal(o1.data, o2.data, (size_t)o1.height * (size_t)o1.stride);
        lic_image_free(&o1), lic_image_free(&o2);
        lic_free(bits), lic_free(ref_bits);
    }
    forget_seen();
    lic_encoder_close(&ref_enc), lic_encoder_close(&enc);
    lic_decoder_close(&ref_dec), lic_decoder_close(&dec);
    lic_model_release(&m);
    app_image_free(&a);
}

/* ---- the opt-in switch and the codec's use of it ---------------------------------------------------- */

static void test_switch(void **state)
{
    (void)state;
    const char *old = getenv("LIC_GPU_INT");
    char *saved = old ? strdup(old) : NULL;
    setenv("LIC_GPU_INT", "1", 1);
    assert_int_equal(lic_gpu_int_requested(), lic_gpu_built_in()); /* never on without CUDA */
    setenv("LIC_GPU_INT", "0", 1);
    assert_int_equal(lic_gpu_int_requested(), 0);
    setenv("LIC_GPU_INT", "yes", 1);
    assert_int_equal(lic_gpu_int_requested(), 0);
    unsetenv("LIC_GPU_INT");
    assert_int_equal(lic_gpu_int_requested(), 0);
    assert_int_equal(lic_gpu_int_enabled(NULL), 0);
    assert_true(lic_gpu_iconv(NULL, NULL, NULL, NULL) < 0);
    if (saved)
        setenv("LIC_GPU_INT", saved, 1);
    free(saved);
}

static int int_path_logged;

static void capture_log(void *opaque, int level, const char *msg)
{
    (void)opaque, (void)level;
    if (strstr(msg, "LIC_GPU_INT=1"))
        int_path_logged = 1;
}

/* With a device: LIC_GPU_INT=1 decoders on CUDA decode a CPU stream to the CPU decoder's symbols and
 * parameters (the integer convs of the schedule through lic_gpu_iconv, as the log says), and streams of
 * a CUDA encoder with them decode on the CPU to the encoder's symbols. */
static void test_codec_opt_in(void **state)
{
    (void)state;
    app_image a;
    char msg[256];
    assert_int_equal(app_image_read(PHOTO, NULL, &a, msg, sizeof msg), 0);
    lic_image img = {a.width, a.height, LIC_PIXFMT_RGB8, a.data, a.stride};
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_default(&m, NULL), 0);
    lic_config ccfg, gcfg;
    assert_int_equal(lic_config_init(&ccfg), 0);
    assert_int_equal(lic_config_init(&gcfg), 0);
    ccfg.backend = LIC_BACKEND_CPU;
    gcfg.backend = LIC_BACKEND_CUDA;
    gcfg.logger = (lic_logger){NULL, capture_log, LIC_LOG_INFO};
    setenv("LIC_GPU_INT", "1", 1);
    int_path_logged = 0;
    lic_encoder *cenc = NULL, *genc = NULL;
    lic_decoder *cdec = NULL, *gdec = NULL;
    assert_int_equal(lic_encoder_open(&cenc, m, &ccfg), 0);
    assert_int_equal(lic_decoder_open(&cdec, m, &ccfg), 0);
    assert_int_equal(lic_encoder_open(&genc, m, &gcfg), 0);
    assert_int_equal(lic_decoder_open(&gdec, m, &gcfg), 0);
    unsetenv("LIC_GPU_INT");
    assert_true(int_path_logged);
    for (int dir = 0; dir < 2; dir++) {
        lic_encoder *enc = dir ? genc : cenc;
        lic_decoder *dec = dir ? cdec : gdec;
        uint8_t *bits = NULL;
        size_t n = 0;
        assert_int_equal(lic_encode(enc, &img, 50, &bits, &n), 0);
        lic_image out = {0};
        assert_int_equal(lic_decode(dec, bits, n, &out), 0);
        lic_stats se, sd;
        assert_int_equal(lic_encoder_get_stats(enc, &se), 0);
        assert_int_equal(lic_decoder_get_stats(dec, &sd), 0);
        assert_true(se.n_symbols == sd.n_symbols && se.symbols_hash == sd.symbols_hash &&
                    se.params_hash == sd.params_hash);
        assert_string_equal(dir ? se.backend : sd.backend, "cuda");
        lic_image_free(&out);
        lic_free(bits);
    }
    lic_encoder_close(&cenc), lic_encoder_close(&genc);
    lic_decoder_close(&cdec), lic_decoder_close(&gdec);
    lic_model_release(&m);
    app_image_free(&a);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--device") == 0) {
            use_device = 1;
        } else {
            fprintf(stderr, "usage: test_gpu_int [--device]\n");
            return 2;
        }
    }
    if (use_device && lic_gpu_device_count() == 0) {
        printf("test_gpu_int --device: skipped (%s)\n",
               lic_gpu_built_in() ? "no usable CUDA device" : "built without CUDA (LIC_CUDA)");
        return LIC_TEST_SKIP;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid),
        cmocka_unit_test(test_iconv_rejects),
        cmocka_unit_test(test_iconv_random),
        cmocka_unit_test(test_iconv_extremes),
        cmocka_unit_test(test_iconv_shapes),
        cmocka_unit_test(test_ypass_random),
        cmocka_unit_test(test_model_schedule),
        cmocka_unit_test(test_switch),
        cmocka_unit_test(test_codec_opt_in), /* last: removed below without a device */
    };
    const size_t n = sizeof(tests) / sizeof(tests[0]) - (use_device ? 0 : 1);
    return _cmocka_run_group_tests(use_device ? "test_gpu_int --device" : "test_gpu_int", tests, n, NULL, NULL);
}
