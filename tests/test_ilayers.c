/* Tests of the integer conv layers (transforms/ilayers.h): hand-computed cases, random layers against
 * an independent naive implementation, thread-count and kernel independence (byte-identical),
 * saturation of out-of-range inputs, and rejection of bad layers and shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tests/test_support.h"

#include "transforms/cpu/iconv.h"
#include "transforms/cpu/xf_cpu.h"
#include "transforms/ilayers.h"

/* ---- helpers ------------------------------------------------------------------------------------ */


static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void) /* xorshift64* */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static int rnd_range(int lo, int hi) /* inclusive */
{
    return lo + (int)(rnd() % (uint32_t)(hi - lo + 1));
}

/* Values: 0 uniform int16, 1 small (|v| <= 300), 2 extremes-heavy (±32767, -32768, ±1, 0, ±255/256). */
static int32_t rnd_value(int mode)
{
    static const int32_t ext[] = { -32768, 32767, -32767, -32768, 32767, 0, 1, -1, 255, 256, -256, -129 };
    if (mode == 1)
        return rnd_range(-300, 300);
    if (mode == 2 && rnd() % 4 != 0)
        return ext[rnd() % (sizeof(ext) / sizeof(ext[0]))];
    return rnd_range(-32768, 32767);
}

typedef struct tlayer {
    lic_iconv_layer L;
    int16_t *w;
    int32_t *b, *sh;
} tlayer;

static void tlayer_make(tlayer *t, int cin, int cout, int k, int s, int tr, int vmode)
{
    memset(t, 0, sizeof(*t));
    size_t nw = (size_t)cin * cout * k * k;
    t->w = malloc(nw * sizeof(int16_t));
    t->b = malloc((size_t)cout * sizeof(int32_t));
    t->sh = malloc((size_t)cout * sizeof(int32_t));
    assert_non_null(t->w);
    assert_non_null(t->b);
    assert_non_null(t->sh);
    for (size_t i = 0; i < nw; i++)
        t->w[i] = (int16_t)rnd_value(vmode);
    for (int o = 0; o < cout; o++) {
        int64_t bv = (int64_t)rnd() - 2147483648LL; /* full int32 range, then a random magnitude */
        t->b[o] = (int32_t)(bv / ((int64_t)1 << (rnd() % 32)));
        int r = rnd() % 8;
        t->sh[o] = r == 0 ? 1 : r == 1 ? 62 : r == 2 ? rnd_range(30, 40) : rnd_range(8, 24);
    }
    t->L.cin = cin;
    t->L.cout = cout;
    t->L.k = k;
    t->L.stride = s;
    t->L.transposed = tr;
    t->L.relu = rnd() % 2;
    t->L.relu_slope_q8 = rnd() % 3 == 0 ? 0 : rnd_range(0, 255);
    t->L.out_bits = rnd() % 2 ? 16 : 24;
    t->L.weight = t->w;
    t->L.bias = t->b;
    t->L.shift = t->sh;
}

static void tlayer_free(tlayer *t)
{
    free(t->w);
    free(t->b);
    free(t->sh);
}

static lic_itensor itensor_new(int c, int h, int w)
{
    lic_itensor t = { c, h, w, calloc((size_t)c * h * w, sizeof(int32_t)) };
    assert_non_null(t.data);
    return t;
}

static void out_shape(const lic_iconv_layer *L, int ih, int iw, int *oh, int *ow)
{
    *oh = L->transposed ? ih * L->stride : (ih + L->stride - 1) / L->stride;
    *ow = L->transposed ? iw * L->stride : (iw + L->stride - 1) / L->stride;
}

/* ---- independent naive implementation ----------------------------------------------------------- */

/* floor(a / 2^s) by exact division of a non-negative remainder (no shifts of negative values). */
static int64_t naive_floordiv(int64_t a, int s)
{
    int64_t d = (int64_t)1 << s;
    int64_t m = ((a % d) + d) % d;
    return (a - m) / d;
}

static int32_t naive_finish(int64_t acc, const lic_iconv_layer *L, int o)
{
    int64_t v = naive_floordiv(acc + ((int64_t)1 << (L->shift[o] - 1)), L->shift[o]);
    if (L->relu && v < 0)
        v = naive_floordiv(v * L->relu_slope_q8 + 128, 8);
    int64_t lim = (int64_t)1 << (L->out_bits - 1);
    if (v > lim - 1)
        v = lim - 1;
    if (v < -lim)
        v = -lim;
    return (int32_t)v;
}

static int32_t sat16(int32_t v)
{
    return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}

/* Conv as a gather per output element; transposed conv as the scatter of the header's definition. */
static void naive_iconv(const lic_iconv_layer *L, const lic_itensor *in, lic_itensor *out)
{
    const int k = L->k, s = L->stride, r = k / 2, oh = out->h, ow = out->w;
    int64_t *acc = malloc((size_t)L->cout * oh * ow * sizeof(int64_t));
    assert_non_null(acc);
    for (int o = 0; o < L->cout; o++)
        for (int p = 0; p < oh * ow; p++)
            acc[(size_t)o * oh * ow + p] = L->bias[o];
    if (!L->transposed) {
        for (int o = 0; o < L->cout; o++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    int64_t a = 0;
                    for (int i = 0; i < L->cin; i++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int iy = oy * s + ky - r, ix = ox * s + kx - r;
                                if (iy < 0 || iy >= in->h || ix < 0 || ix >= in->w)
                                    continue;
                                int64_t wv = L->weight[(((size_t)o * L->cin + i) * k + ky) * k + kx];
                                a += wv * sat16(in->data[((size_t)i * in->h + iy) * in->w + ix]);
                            }
                    acc[((size_t)o * oh + oy) * ow + ox] += a;
                }
    } else {
        for (int i = 0; i < L->cin; i++)
            for (int y = 0; y < in->h; y++)
                for (int x = 0; x < in->w; x++) {
                    int64_t xv = sat16(in->data[((size_t)i * in->h + y) * in->w + x]);
                    for (int o = 0; o < L->cout; o++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int Y = y * s + ky - r, X = x * s + kx - r;
                                if (Y < 0 || Y >= oh || X < 0 || X >= ow)
                                    continue;
                                acc[((size_t)o * oh + Y) * ow + X] +=
                                    xv * L->weight[(((size_t)i * L->cout + o) * k + ky) * k + kx];
                            }
                }
    }
    for (int o = 0; o < L->cout; o++)
        for (int p = 0; p < oh * ow; p++)
            out->data[(size_t)o * oh * ow + p] = naive_finish(acc[(size_t)o * oh * ow + p], L, o);
    free(acc);
}

/* The fast kernel this run tests against the reference and the naive sums (main: --kernel); with
 * LIC_ICONV_KERNEL_REF the reference alone. */
static int run_kernel = LIC_ICONV_KERNEL_REF;

/* Whether kernel id `kern` (or LIC_ICONV_KERNEL_BEST) is part of this run. BEST belongs to the run of
 * the kernel it resolves to, so that each run tests only its own kernel and the reference. */
static int kernel_in_run(int kern)
{
    if (kern == LIC_ICONV_KERNEL_BEST)
        return lic_iconv_kernel_for(LIC_XF_FEAT_ALL) == run_kernel;
    return (kern == LIC_ICONV_KERNEL_REF || kern == run_kernel) && lic_iconv_kernel_available(kern);
}

/* ---- hand-computed cases ------------------------------------------------------------------------ */

/* Runs a one-input-channel layer on `x` (1 x h x w) with every kernel and checks `expect` (cout planes). */
static void check_hand(const lic_iconv_layer *L, const int32_t *x, int h, int w, const int32_t *expect)
{
    int oh, ow;
    out_shape(L, h, w, &oh, &ow);
    lic_itensor in = { L->cin, h, w, (int32_t *)x };
    for (int kern = LIC_ICONV_KERNEL_BEST; kern <= LIC_ICONV_KERNEL_LAST; kern++) {
        if (!kernel_in_run(kern))
            continue;
        lic_itensor out = itensor_new(L->cout, oh, ow);
        assert_int_equal(lic_iconv2d_kernel(NULL, L, &in, &out, kern), 0);
        for (int i = 0; i < L->cout * oh * ow; i++) {
            if (out.data[i] != expect[i])
                print_error("kernel %d element %d: got %d want %d\n", kern, i, out.data[i], expect[i]);
            assert_int_equal(out.data[i], expect[i]);
        }
        lic_itensor nv = itensor_new(L->cout, oh, ow);
        naive_iconv(L, &in, &nv);
        assert_memory_equal(nv.data, expect, sizeof(int32_t) * (size_t)L->cout * oh * ow);
        free(nv.data);
        free(out.data);
    }
}

static lic_iconv_layer hand_layer(int cout, int k, int s, int tr, int relu, int slope, int bits,
                                  const int16_t *w, const int32_t *b, const int32_t *sh)
{
    lic_iconv_layer L = { 1, cout, k, s, tr, relu, slope, bits, w, b, sh };
    return L;
}

static void test_hand_pointwise(void **state)
{
    (void)state;
    static const int32_t x[4] = { 1, -1, 3, 1000 };

    /* Rounding: (acc + 1) >> 1 rounds halves up, also for negative sums (floor, not truncation).
     * w=-5: acc -5, 5, -15, -5000 -> -2 (-2.5), 3 (2.5), -7 (-7.5), -2500.
     * w=-7: acc -7, 7, -21, -7000 -> -3 (-3.5), 4 (3.5), -10 (-10.5), -3500. */
    {
        static const int16_t w[2] = { -5, -7 };
        static const int32_t b[2] = { 0, 0 }, sh[2] = { 1, 1 };
        static const int32_t want[8] = { -2, 3, -7, -2500, -3, 4, -10, -3500 };
        lic_iconv_layer L = hand_layer(2, 1, 1, 0, 0, 0, 16, w, b, sh);
        check_hand(&L, x, 1, 4, want);
    }
    /* Leaky ReLU, slope 26/256, then clamp to int16.
     * w=-200: v = -100, 100, -300, -100000 -> (v*26+128)>>8: -10 (-9.66), 100, -30 (-29.97), -10156 (-10155.75).
     * w=1, b=-1: acc 0, -2, 2, 999 -> v 0, -1, 1, 500; relu(-1) = (-26+128)>>8 = 0.
     * w=32767: v = 16384, -16383, 49151, 16383500 -> 16384, relu -1664 (-1663.4), clamp 32767, 32767. */
    {
        static const int16_t w[3] = { -200, 1, 32767 };
        static const int32_t b[3] = { 0, -1, 0 }, sh[3] = { 1, 1, 1 };
        static const int32_t want[12] = { -10, 100, -30, -10156, 0, 0, 1, 500, 16384, -1664, 32767, 32767 };
        lic_iconv_layer L = hand_layer(3, 1, 1, 0, 1, 26, 16, w, b, sh);
        check_hand(&L, x, 1, 4, want);
    }
    /* Clamp at the low end of int16: w=-32768: v = -16384, 16384, -49152 -> -32768, -16384000 -> -32768. */
    {
        static const int16_t w[1] = { -32768 };
        static const int32_t b[1] = { 0 }, sh[1] = { 1 };
        static const int32_t want[4] = { -16384, 16384, -32768, -32768 };
        lic_iconv_layer L = hand_layer(1, 1, 1, 0, 0, 0, 16, w, b, sh);
        check_hand(&L, x, 1, 4, want);
    }
    /* 24-bit outputs. w=32767, b=1000, shift 2: acc 33767, -31767, 99301, 32768000 ->
     * 8442 (8441.75), -7942 (-7941.75), 24825 (24825.25), 8192000 (8192000, above int16).
     * w=-32768, b=INT32_MIN: about -2^30 after the shift -> -2^23 everywhere.
     * w=32767, b=INT32_MAX: about 2^30 -> 2^23 - 1 everywhere. */
    {
        static const int16_t w[3] = { 32767, -32768, 32767 };
        static const int32_t b[3] = { 1000, INT32_MIN, INT32_MAX }, sh[3] = { 2, 1, 1 };
        static const int32_t want[12] = { 8442, -7942, 24825, 8192000, -8388608, -8388608, -8388608, -8388608,
                                          8388607, 8388607, 8388607, 8388607 };
        lic_iconv_layer L = hand_layer(3, 1, 1, 0, 0, 0, 24, w, b, sh);
        check_hand(&L, x, 1, 4, want);
    }
    /* ReLU slope 128 (0.5) at 24 bits: w=-1: v = 0, 1, -1, -500 -> 0, 1, (-128+128)>>8 = 0, -250 (-249.5). */
    {
        static const int16_t w[1] = { -1 };
        static const int32_t b[1] = { 0 }, sh[1] = { 1 };
        static const int32_t want[4] = { 0, 1, 0, -250 };
        lic_iconv_layer L = hand_layer(1, 1, 1, 0, 1, 128, 24, w, b, sh);
        check_hand(&L, x, 1, 4, want);
    }
    /* ReLU slope 0: every negative v becomes (0 + 128) >> 8 = 0; w=-3: v = -1 (-1.5), 2 (1.5), -4 (-4.5), -1500. */
    {
        static const int16_t w[1] = { -3 };
        static const int32_t b[1] = { 0 }, sh[1] = { 1 };
        static const int32_t want[4] = { 0, 2, 0, 0 };
        lic_iconv_layer L = hand_layer(1, 1, 1, 0, 1, 0, 16, w, b, sh);
        check_hand(&L, x, 1, 4, want);
    }
}

static void test_hand_spatial(void **state)
{
    (void)state;
    static const int16_t w9[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    static const int16_t ones[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    static const int32_t b[1] = { 0 }, sh[1] = { 1 };
    /* 3x3 stride 1 on [[1,2],[3,4]] with zero padding:
     * (0,0) = 5*1+6*2+8*3+9*4 = 77, (0,1) = 4+10+21+32 = 67, (1,0) = 2+6+15+24 = 47, (1,1) = 1+4+12+20 = 37;
     * then (v+1)>>1. */
    {
        static const int32_t x[4] = { 1, 2, 3, 4 };
        static const int32_t want[4] = { 39, 34, 24, 19 };
        lic_iconv_layer L = hand_layer(1, 3, 1, 0, 0, 0, 16, w9, b, sh);
        check_hand(&L, x, 2, 2, want);
    }
    /* 3x3 stride 2, all-ones kernel, on 1..9 (3x3) -> 2x2: window sums 12, 16, 24, 28 -> 6, 8, 12, 14. */
    {
        static const int32_t x[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
        static const int32_t want[4] = { 6, 8, 12, 14 };
        lic_iconv_layer L = hand_layer(1, 3, 2, 0, 0, 0, 16, ones, b, sh);
        check_hand(&L, x, 3, 3, want);
    }
    /* Transposed 3x3 stride 2 of a single 10: out[Y][X] = 10 * w[Y+1][X+1] = 50, 60, 80, 90 -> 25, 30, 40, 45. */
    {
        static const int32_t x[1] = { 10 };
        static const int32_t want[4] = { 25, 30, 40, 45 };
        lic_iconv_layer L = hand_layer(1, 3, 2, 1, 0, 0, 16, w9, b, sh);
        check_hand(&L, x, 1, 1, want);
    }
    /* Transposed 3x3 stride 2 of [a, b] = [1, 100] (1x2) -> 2x4. Columns: X=0: w[.][1]*a; X=1: w[.][2]*a +
     * w[.][0]*b; X=2: w[.][1]*b; X=3: w[.][2]*b. Row 0 uses w[1][.], row 1 uses w[2][.]:
     * row 0: 5, 6+400, 500, 600; row 1: 8, 9+700, 800, 900 -> (v+1)>>1. */
    {
        static const int32_t x[2] = { 1, 100 };
        static const int32_t want[8] = { 3, 203, 250, 300, 4, 355, 400, 450 };
        lic_iconv_layer L = hand_layer(1, 3, 2, 1, 0, 0, 16, w9, b, sh);
        check_hand(&L, x, 1, 2, want);
    }
}

/* ---- random layers ------------------------------------------------------------------------------ */

/* Runs L on in with every kernel (NULL pool) and compares each against the naive result. */
static void check_all_kernels(const lic_iconv_layer *L, const lic_itensor *in, const char *what, int idx)
{
    int oh, ow;
    out_shape(L, in->h, in->w, &oh, &ow);
    lic_itensor want = itensor_new(L->cout, oh, ow);
    naive_iconv(L, in, &want);
    size_t bytes = sizeof(int32_t) * (size_t)L->cout * oh * ow;
    for (int kern = LIC_ICONV_KERNEL_BEST; kern <= LIC_ICONV_KERNEL_LAST; kern++) {
        if (!kernel_in_run(kern))
            continue;
        lic_itensor out = itensor_new(L->cout, oh, ow);
        memset(out.data, 0x5a, bytes); /* every element must be written */
        assert_int_equal(lic_iconv2d_kernel(NULL, L, in, &out, kern), 0);
        if (memcmp(out.data, want.data, bytes) != 0) {
            print_error("%s case %d kernel %d: cin %d cout %d k %d s %d tr %d in %dx%d differs\n", what, idx, kern,
                        L->cin, L->cout, L->k, L->stride, L->transposed, in->h, in->w);
            assert_memory_equal(out.data, want.data, bytes);
        }
        free(out.data);
    }
    free(want.data);
}

static void run_random(int n_cases, int vmode_w, int vmode_x, int max_c, const char *what)
{
    static const int ks[3] = { 1, 3, 5 };
    for (int c = 0; c < n_cases; c++) {
        int k = ks[rnd() % 3], s = rnd_range(1, 2), tr = rnd() % 2;
        int cin = rnd() % 5 == 0 ? rnd_range(1, 3) : rnd_range(1, max_c);
        int cout = rnd_range(1, 40);
        if (c % 17 == 0 && k == 1)
            cin = rnd_range(257, 600); /* several chunks of rows in the fast kernel */
        int h = rnd() % 6 == 0 ? 1 : rnd_range(1, tr ? 7 : 13);
        int w = rnd() % 6 == 0 ? 1 : rnd_range(1, tr ? 9 : 21);
        tlayer t;
        tlayer_make(&t, cin, cout, k, s, tr, vmode_w);
        lic_itensor in = itensor_new(cin, h, w);
        for (int i = 0; i < cin * h * w; i++)
            in.data[i] = rnd_value(vmode_x);
        check_all_kernels(&t.L, &in, what, c);
        free(in.data);
        tlayer_free(&t);
    }
}

static void test_random_vs_naive(void **state)
{
    (void)state;
    rng_state = 12345;
    run_random(120, 0, 0, 24, "uniform");
    run_random(60, 0, 1, 48, "small-inputs");
}

/* The kernels of this run against the naive sums with extreme weights and inputs, and the worst case
 * of the accumulators; the reference kernel's int64 sums are checked by this too (every run). */
static void test_fast_vs_ref_extremes(void **state)
{
    (void)state;
    rng_state = 777;
    run_random(150, 2, 2, 64, "extreme");

    /* Worst case for the int32 partial sums: every product is (-32768)^2 or 32767 * -32768, over many
     * chunks of 256 rows. */
    static const int32_t xv[3] = { -32768, 32767, -32768 };
    static const int16_t wv[3] = { -32768, -32768, 32767 };
    for (int v = 0; v < 3; v++) {
        for (int variant = 0; variant < 4; variant++) {
            int k = variant < 2 ? 1 : 5, tr = variant == 3, cin = k == 1 ? 777 : 40, cout = 5;
            tlayer t;
            tlayer_make(&t, cin, cout, k, 1 + (variant == 1 || variant == 3), tr, 0);
            for (size_t i = 0; i < (size_t)cin * cout * k * k; i++)
                t.w[i] = wv[v];
            for (int o = 0; o < cout; o++) {
                t.sh[o] = 20 + o; /* sums near ±2^40: keep some of them inside 24 bits */
                t.b[o] = o % 2 ? INT32_MIN : INT32_MAX;
            }
            t.L.out_bits = 24;
            t.L.relu = 0;
            lic_itensor in = itensor_new(cin, 7, 19);
            for (int i = 0; i < cin * 7 * 19; i++)
                in.data[i] = xv[v];
            check_all_kernels(&t.L, &in, "worst-case", v * 4 + variant);
            free(in.data);
            tlayer_free(&t);
        }
    }
}

/* Inputs outside int16 range are saturated: same output as the explicitly clamped input. */
static void test_saturation(void **state)
{
    (void)state;
    rng_state = 99;
    for (int c = 0; c < 20; c++) {
        tlayer t;
        tlayer_make(&t, rnd_range(1, 20), rnd_range(1, 20), c % 2 ? 3 : 1, 1 + (c % 3 == 0), c % 4 == 1, 0);
        int h = rnd_range(1, 9), w = rnd_range(1, 17), n = t.L.cin * h * w;
        lic_itensor wild = itensor_new(t.L.cin, h, w), tame = itensor_new(t.L.cin, h, w);
        for (int i = 0; i < n; i++) {
            int r = rnd() % 4;
            wild.data[i] = r == 0 ? INT32_MIN : r == 1 ? INT32_MAX : r == 2 ? (int32_t)rnd() : rnd_range(-40000, 40000);
            tame.data[i] = sat16(wild.data[i]);
        }
        int oh, ow;
        out_shape(&t.L, h, w, &oh, &ow);
        for (int kern = LIC_ICONV_KERNEL_REF; kern <= LIC_ICONV_KERNEL_LAST; kern++) {
            if (!kernel_in_run(kern))
                continue;
            lic_itensor a = itensor_new(t.L.cout, oh, ow), b = itensor_new(t.L.cout, oh, ow);
            assert_int_equal(lic_iconv2d_kernel(NULL, &t.L, &wild, &a, kern), 0);
            assert_int_equal(lic_iconv2d_kernel(NULL, &t.L, &tame, &b, kern), 0);
            assert_memory_equal(a.data, b.data, sizeof(int32_t) * (size_t)t.L.cout * oh * ow);
            free(a.data);
            free(b.data);
        }
        check_all_kernels(&t.L, &wild, "saturation", c);
        free(wild.data);
        free(tame.data);
        tlayer_free(&t);
    }
}

/* ---- thread independence ------------------------------------------------------------------------ */

static void test_threads(void **state)
{
    (void)state;
    static const int nthreads[4] = { 0, 1, 2, 4 }; /* 0: NULL pool */
    lic_threadpool *pools[4] = { NULL, NULL, NULL, NULL };
    for (int p = 1; p < 4; p++) {
        assert_int_equal(lic_threadpool_create(&pools[p], nthreads[p], &test_alloc), 0);
        assert_int_equal(lic_threadpool_size(pools[p]), nthreads[p]);
    }
    rng_state = 4242;
    struct { int cin, cout, k, s, tr, h, w; } cases[] = {
        { 96, 70, 1, 1, 0, 12, 9 }, { 33, 45, 3, 1, 0, 11, 13 }, { 20, 37, 5, 2, 0, 13, 10 },
        { 24, 35, 5, 2, 1, 6, 5 }, { 300, 19, 1, 1, 0, 1, 1 }, { 17, 64, 3, 2, 1, 4, 7 },
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        tlayer t;
        tlayer_make(&t, cases[c].cin, cases[c].cout, cases[c].k, cases[c].s, cases[c].tr, 0);
        lic_itensor in = itensor_new(t.L.cin, cases[c].h, cases[c].w);
        for (int i = 0; i < t.L.cin * cases[c].h * cases[c].w; i++)
            in.data[i] = rnd_value(0);
        int oh, ow;
        out_shape(&t.L, in.h, in.w, &oh, &ow);
        size_t bytes = sizeof(int32_t) * (size_t)t.L.cout * oh * ow;
        lic_itensor first = itensor_new(t.L.cout, oh, ow);
        naive_iconv(&t.L, &in, &first);
        for (int kern = LIC_ICONV_KERNEL_REF; kern <= LIC_ICONV_KERNEL_LAST; kern++) {
            if (!kernel_in_run(kern))
                continue;
            for (int p = 0; p < 4; p++) {
                lic_itensor out = itensor_new(t.L.cout, oh, ow);
                memset(out.data, 0xa5, bytes);
                assert_int_equal(lic_iconv2d_kernel(pools[p], &t.L, &in, &out, kern), 0);
                assert_memory_equal(out.data, first.data, bytes);
                if (kern == LIC_ICONV_KERNEL_REF) { /* the public entry too */
                    memset(out.data, 0xa5, bytes);
                    assert_int_equal(lic_iconv2d(pools[p], &t.L, &in, &out), 0);
                    assert_memory_equal(out.data, first.data, bytes);
                }
                free(out.data);
            }
        }
        free(first.data);
        free(in.data);
        tlayer_free(&t);
    }
    for (int p = 1; p < 4; p++) {
        lic_threadpool_free(&pools[p]);
        assert_null(pools[p]);
    }
}

/* ---- validation --------------------------------------------------------------------------------- */

static void test_validate(void **state)
{
    (void)state;
    int16_t w[4 * 3 * 7 * 7] = { 0 };
    int32_t b[4] = { 0, 0, 0, 0 }, sh[4] = { 1, 62, 8, 8 };
    const lic_iconv_layer good = { 3, 4, 3, 2, 0, 1, 255, 24, w, b, sh };
    lic_iconv_layer L = good;
    assert_int_equal(lic_iconv_validate(&L), 0);
    assert_int_equal(lic_iconv_validate(NULL), LIC_EMODEL);

#define BAD(field, value)                                        \
    do {                                                         \
        L = good;                                                \
        L.field = value;                                         \
        assert_int_equal(lic_iconv_validate(&L), LIC_EMODEL);    \
    } while (0)
#define OK(field, value)                                         \
    do {                                                         \
        L = good;                                                \
        L.field = value;                                         \
        assert_int_equal(lic_iconv_validate(&L), 0);             \
    } while (0)
    BAD(cin, 0);
    BAD(cin, 4097);
    BAD(cin, -1);
    BAD(cout, 0);
    BAD(cout, 4097);
    BAD(k, 0);
    BAD(k, 2); /* even kernels do not have the documented output sizes */
    BAD(k, 8);
    BAD(k, 9);
    BAD(stride, 0);
    BAD(stride, 3);
    BAD(transposed, 2);
    BAD(relu, -1);
    BAD(relu_slope_q8, -1);
    BAD(relu_slope_q8, 256);
    BAD(out_bits, 8);
    BAD(out_bits, 15);
    BAD(out_bits, 32);
    BAD(weight, NULL);
    BAD(bias, NULL);
    BAD(shift, NULL);
    OK(k, 7);
    OK(k, 1);
    OK(cin, 1);
    OK(out_bits, 16);
    OK(relu_slope_q8, 0);
    OK(transposed, 1);
#undef BAD
#undef OK
    /* each channel's shift, including the last one */
    for (int o = 0; o < 4; o++) {
        int32_t bad[4] = { 1, 62, 8, 8 };
        L = good;
        L.shift = bad;
        bad[o] = 0;
        assert_int_equal(lic_iconv_validate(&L), LIC_EMODEL);
        bad[o] = 63;
        assert_int_equal(lic_iconv_validate(&L), LIC_EMODEL);
        bad[o] = -5;
        assert_int_equal(lic_iconv_validate(&L), LIC_EMODEL);
    }
    /* the largest legal layer passes the overflow proof: 4096 * 49 * 2^30 + 2^31 + 2^61 < 2^63 */
    static int16_t big_w[1];
    static int32_t big_b[4096], big_sh[4096];
    for (int o = 0; o < 4096; o++)
        big_sh[o] = 62;
    lic_iconv_layer big = { 4096, 4096, 7, 1, 1, 1, 255, 24, big_w, big_b, big_sh };
    assert_int_equal(lic_iconv_validate(&big), 0);
}

static void test_shapes(void **state)
{
    (void)state;
    int16_t w[2 * 3 * 9] = { 0 };
    int32_t b[3] = { 0, 0, 0 }, sh[3] = { 4, 4, 4 };
    lic_iconv_layer L = { 2, 3, 3, 2, 0, 0, 0, 16, w, b, sh };
    int32_t inbuf[2 * 5 * 7] = { 0 }, outbuf[3 * 3 * 4 + 16];
    lic_itensor in = { 2, 5, 7, inbuf }, out = { 3, 3, 4, outbuf };
    assert_int_equal(lic_iconv2d(NULL, &L, &in, &out), 0);

    lic_itensor bad = out;
    bad.h = 2;
    assert_int_equal(lic_iconv2d(NULL, &L, &in, &bad), LIC_EINVAL);
    bad = out;
    bad.w = 5;
    assert_int_equal(lic_iconv2d(NULL, &L, &in, &bad), LIC_EINVAL);
    bad = out;
    bad.c = 2;
    assert_int_equal(lic_iconv2d(NULL, &L, &in, &bad), LIC_EINVAL);
    bad = out;
    bad.data = NULL;
    assert_int_equal(lic_iconv2d(NULL, &L, &in, &bad), LIC_EINVAL);
    bad = in;
    bad.c = 3;
    assert_int_equal(lic_iconv2d(NULL, &L, &bad, &out), LIC_EINVAL);
    bad = in;
    bad.h = 0;
    assert_int_equal(lic_iconv2d(NULL, &L, &bad, &out), LIC_EINVAL);
    assert_int_equal(lic_iconv2d(NULL, NULL, &in, &out), LIC_EINVAL);
    assert_int_equal(lic_iconv2d(NULL, &L, NULL, &out), LIC_EINVAL);
    assert_int_equal(lic_iconv2d(NULL, &L, &in, NULL), LIC_EINVAL);
    /* an invalid layer is EINVAL here (EMODEL from lic_iconv_validate) */
    L.out_bits = 12;
    assert_int_equal(lic_iconv2d(NULL, &L, &in, &out), LIC_EINVAL);
    L.out_bits = 16;
    /* overlapping input and output (in-place) is refused */
    lic_itensor alias = { 3, 3, 4, inbuf + 2 };
    assert_int_equal(lic_iconv2d(NULL, &L, &in, &alias), LIC_EINVAL);
    /* transposed: out = in * s */
    L.transposed = 1;
    L.cin = 2;
    L.cout = 3;
    lic_itensor tin = { 2, 2, 3, inbuf }, tout = { 3, 4, 6, NULL };
    int32_t tbuf[3 * 4 * 6];
    tout.data = tbuf;
    assert_int_equal(lic_iconv2d(NULL, &L, &tin, &tout), 0);
    tout.w = 5;
    assert_int_equal(lic_iconv2d(NULL, &L, &tin, &tout), LIC_EINVAL);
    /* an unknown kernel id */
    tout.w = 6;
    assert_int_equal(lic_iconv2d_kernel(NULL, &L, &tin, &tout, 99), LIC_EUNSUPPORTED);
}

/* ---- timing (informative, not asserted) --------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void time_layer(const char *name, int cin, int cout, int k, int s, int tr, int h, int w)
{
    tlayer t;
    rng_state = 5;
    tlayer_make(&t, cin, cout, k, s, tr, 0);
    lic_itensor in = itensor_new(cin, h, w);
    for (int i = 0; i < cin * h * w; i++)
        in.data[i] = rnd_range(-4000, 4000);
    int oh, ow;
    out_shape(&t.L, h, w, &oh, &ow);
    enum { NK = LIC_ICONV_KERNEL_LAST + 1 };
    static const char *const names[NK] = { "ref", "avx2", "avx512" };
    lic_itensor out[NK];
    double best[NK];
    const size_t bytes = sizeof(int32_t) * (size_t)cout * oh * ow;
    for (int kern = LIC_ICONV_KERNEL_REF; kern <= LIC_ICONV_KERNEL_LAST; kern++) {
        out[kern] = itensor_new(cout, oh, ow);
        best[kern] = -1.0;
        if (!kernel_in_run(kern))
            continue;
        for (int rep = 0; rep < (kern == LIC_ICONV_KERNEL_REF ? 1 : 3); rep++) {
            double t0 = now_s();
            assert_int_equal(lic_iconv2d_kernel(NULL, &t.L, &in, &out[kern], kern), 0);
            double dt = now_s() - t0;
            if (best[kern] < 0 || dt < best[kern])
                best[kern] = dt;
        }
        assert_memory_equal(out[kern].data, out[LIC_ICONV_KERNEL_REF].data, bytes);
    }
    double macs = (double)cin * cout * k * k * (tr ? (double)h * w : (double)oh * ow);
    char line[256];
    int at = snprintf(line, sizeof line, "timing %-30s", name);
    for (int kern = 0; kern < NK; kern++) {
        if (best[kern] >= 0 && at < (int)sizeof line)
            at += snprintf(line + at, sizeof line - (size_t)at, "  %s %7.3f ms (%5.1f GMAC/s)", names[kern],
                           best[kern] * 1e3, macs / best[kern] * 1e-9);
        free(out[kern].data);
    }
    print_message("%s, 1 thread\n", line);
    free(in.data);
    tlayer_free(&t);
}

static void test_timing(void **state)
{
    (void)state;
    /* the integer layers of the default model on a 768x512 image (latent 48x32, z 12x8) */
    time_layer("h_s.0 5x5 s2 T 128->128 @12x8", 128, 128, 5, 2, 1, 8, 12);
    time_layer("h_s.1 5x5 s2 T 128->192 @24x16", 128, 192, 5, 2, 1, 16, 24);
    time_layer("h_s.2 3x3 192->192 @48x32", 192, 192, 3, 1, 0, 32, 48);
    time_layer("cc 3x3 128->64 @48x32", 128, 64, 3, 1, 0, 32, 48);
    time_layer("cc 3x3 64->64 @48x32", 64, 64, 3, 1, 0, 32, 48);
    time_layer("sp 5x5 64->32 @48x32", 64, 32, 5, 1, 0, 32, 48);
    time_layer("ep.0 1x1 288->128 @48x32", 288, 128, 1, 1, 0, 32, 48);
    time_layer("ep.1 1x1 128->128 @48x32", 128, 128, 1, 1, 0, 32, 48);
    time_layer("ep.2 1x1 128->128 @48x32", 128, 128, 1, 1, 0, 32, 48);
}

/* test_ilayers [--kernel avx2|avx512]: without it the reference kernel alone; with it also that fast
 * kernel. A kernel this build or CPU lacks: LIC_TEST_SKIP, reported by ctest as skipped
 * (tests/ilayers.cmake). */
int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--kernel") && (!strcmp(argv[2], "avx2") || !strcmp(argv[2], "avx512"))) {
        run_kernel = !strcmp(argv[2], "avx2") ? LIC_ICONV_KERNEL_AVX2 : LIC_ICONV_KERNEL_AVX512;
        if (!lic_iconv_kernel_available(run_kernel)) {
            printf("test_ilayers: SKIPPED --kernel %s: not built in or this CPU lacks it\n", argv[2]);
            return LIC_TEST_SKIP;
        }
    } else if (argc != 1) {
        fprintf(stderr, "usage: test_ilayers [--kernel avx2|avx512]\n");
        return 2;
    }
    printf("test_ilayers: integer kernels tested: ref%s%s\n", run_kernel ? " and " : "",
           run_kernel ? lic_iconv_kernel_name(run_kernel) : "");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_pointwise),
        cmocka_unit_test(test_hand_spatial),
        cmocka_unit_test(test_random_vs_naive),
        cmocka_unit_test(test_fast_vs_ref_extremes),
        cmocka_unit_test(test_saturation),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_timing), /* last: left out of the reference-only run */
    };
    /* The timing lines compare a fast kernel with the reference; alone, the slow reference kernel on
     * model-sized layers would only cost seconds. */
    size_t n = sizeof(tests) / sizeof(tests[0]) - (run_kernel == LIC_ICONV_KERNEL_REF);
    return _cmocka_run_group_tests("test_ilayers", tests, n, NULL, NULL);
}
