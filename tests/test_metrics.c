/* Tests of apps/metrics: PSNR and MS-SSIM on hand cases and against an independent reference.
 *
 * The reference numbers below were computed once with PyTorch in float64 (Debian python3-torch), by
 * the script that follows, which re-implements pytorch-msssim's algorithm with torch's own conv2d and
 * avg_pool2d (so the odd-size padding rule between scales comes from torch, not from our C code).
 * The sizes make scales of odd length on both axes (170 -> 85 -> 43, 161 -> 81 -> 41 -> 21 -> 11).
 * Run: /usr/bin/python3 ref.py
 *
 *   import torch, torch.nn.functional as F, math
 *   torch.set_default_dtype(torch.float64)
 *   def img(W, H, C, which):
 *       a = torch.zeros(1, C, H, W)
 *       for y in range(H):
 *           for x in range(W):
 *               for c in range(C):
 *                   base = (x * 3 + y * 2 + c * 40) % 256
 *                   tex = ((x * 2654435761 + y * 40503 + c * 97) & 0xffffffff) >> 27
 *                   v = (base + tex) & 255
 *                   if which == 'b':
 *                       n = (((x * 40503 + y * 2654435761 + c * 31) & 0xffffffff) >> 28) - 8
 *                       v = min(255, max(0, v + n))
 *                   elif which == 'q':
 *                       v = (v & 0xE0) + 16
 *                   a[0, c, y, x] = v
 *       return a
 *   def filt(X):
 *       C = X.shape[1]
 *       k = torch.arange(11.) - 5
 *       g = torch.exp(-k**2 / (2 * 1.5**2)); g = g / g.sum()
 *       X = F.conv2d(X, g.view(1, 1, 1, 11).repeat(C, 1, 1, 1), groups=C)
 *       return F.conv2d(X, g.view(1, 1, 11, 1).repeat(C, 1, 1, 1), groups=C)
 *   def ssim(X, Y):
 *       C1, C2 = (0.01 * 255)**2, (0.03 * 255)**2
 *       mx, my = filt(X), filt(Y)
 *       sxx = filt(X * X) - mx**2; syy = filt(Y * Y) - my**2; sxy = filt(X * Y) - mx * my
 *       cs = (2 * sxy + C2) / (sxx + syy + C2)
 *       s = ((2 * mx * my + C1) / (mx**2 + my**2 + C1)) * cs
 *       return s.flatten(2).mean(-1), cs.flatten(2).mean(-1)
 *   def ms_ssim(X, Y):
 *       w = torch.tensor([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])
 *       mcs = []
 *       for i in range(5):
 *           s, cs = ssim(X, Y)
 *           if i < 4:
 *               mcs.append(F.relu(cs))
 *               pad = [d % 2 for d in X.shape[2:]]
 *               X = F.avg_pool2d(X, 2, padding=pad); Y = F.avg_pool2d(Y, 2, padding=pad)
 *       v = torch.stack(mcs + [F.relu(s)], 0)
 *       return torch.prod(v ** w.view(-1, 1, 1), 0).mean().item()
 *   for (W, H, C, k) in [(180, 170, 3, 'b'), (161, 200, 1, 'b'), (200, 176, 3, 'q')]:
 *       a, b = img(W, H, C, 'a'), img(W, H, C, k)
 *       mse = ((a - b)**2).mean().item()
 *       print(W, H, C, 'mse %.12g psnr %.12f msssim %.12f' % (mse, 10 * math.log10(255**2 / mse), ms_ssim(a, b)))
 *
 * Output:
 *   180 170 3 mse 21.1821132898 psnr 34.871110743931 msssim 0.993083719311
 *   161 200 1 mse 21.3001242236 psnr 34.846982245903 msssim 0.993148627490
 *   200 176 3 mse 85.5000662879 psnr 28.811139094327 msssim 0.973827458239
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "apps/metrics.h"

/* The test pattern of the script above; `pad` extra bytes at the end of each row test strides. */
static uint8_t *make(uint32_t w, uint32_t h, int ch, char which, size_t pad, ptrdiff_t *stride)
{
    *stride = (ptrdiff_t)((size_t)w * (size_t)ch + pad);
    uint8_t *p = malloc((size_t)*stride * h);
    assert_non_null(p);
    memset(p, 0xA5, (size_t)*stride * h); /* padding bytes must not be read */
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (int c = 0; c < ch; c++) {
                uint32_t base = (x * 3 + y * 2 + (uint32_t)c * 40) % 256;
                uint32_t tex = (x * 2654435761u + y * 40503u + (uint32_t)c * 97u) >> 27;
                int v = (int)((base + tex) & 255);
                if (which == 'b') {
                    int n = (int)((x * 40503u + y * 2654435761u + (uint32_t)c * 31u) >> 28) - 8;
                    v += n;
                    v = v < 0 ? 0 : v > 255 ? 255 : v;
                } else if (which == 'q') {
                    v = (v & 0xE0) + 16;
                }
                p[(ptrdiff_t)y * *stride + (ptrdiff_t)x * ch + c] = (uint8_t)v;
            }
    return p;
}

typedef struct ref_case {
    uint32_t w, h;
    int ch;
    char which;
    double mse, psnr, msssim;
} ref_case;

static const ref_case REF[] = {
    {180, 170, 3, 'b', 21.1821132898, 34.871110743931, 0.993083719311},
    {161, 200, 1, 'b', 21.3001242236, 34.846982245903, 0.993148627490},
    {200, 176, 3, 'q', 85.5000662879, 28.811139094327, 0.973827458239},
};

static void test_reference_values(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(REF) / sizeof(REF[0]); i++) {
        const ref_case *rc = &REF[i];
        ptrdiff_t sa, sb;
        uint8_t *a = make(rc->w, rc->h, rc->ch, 'a', 0, &sa);
        uint8_t *b = make(rc->w, rc->h, rc->ch, rc->which, 7, &sb); /* different strides */
        double mse = app_mse_u8(a, sa, b, sb, rc->w, rc->h, rc->ch);
        assert_true(fabs(mse - rc->mse) < 1e-8);
        double psnr = app_psnr_u8(a, sa, b, sb, rc->w, rc->h, rc->ch);
        assert_true(fabs(psnr - rc->psnr) < 1e-9);
        double ms = -1.0;
        assert_int_equal(app_ms_ssim_u8(a, sa, b, sb, rc->w, rc->h, rc->ch, &ms), APP_METRIC_OK);
        if (fabs(ms - rc->msssim) >= 1e-9)
            fail_msg("case %zu: MS-SSIM %.12f, reference %.12f", i, ms, rc->msssim);
        /* Symmetric in its arguments. */
        double ms2 = -1.0;
        assert_int_equal(app_ms_ssim_u8(b, sb, a, sa, rc->w, rc->h, rc->ch, &ms2), APP_METRIC_OK);
        assert_true(fabs(ms - ms2) < 1e-12);
        free(a);
        free(b);
    }
}

static void test_identical(void **state)
{
    (void)state;
    ptrdiff_t s;
    uint8_t *a = make(192, 176, 3, 'a', 5, &s);
    assert_true(app_mse_u8(a, s, a, s, 192, 176, 3) == 0.0);
    assert_true(app_psnr_u8(a, s, a, s, 192, 176, 3) == APP_PSNR_CAP);
    double ms = 0.0;
    assert_int_equal(app_ms_ssim_u8(a, s, a, s, 192, 176, 3, &ms), APP_METRIC_OK);
    assert_true(fabs(ms - 1.0) < 1e-12);
    free(a);
}

static void test_offset_one_level(void **state)
{
    (void)state;
    /* Every sample off by exactly 1: MSE 1, PSNR = 20*log10(255) = 48.1308 dB. */
    enum { W = 64, H = 48 };
    static uint8_t a[W * H * 3], b[W * H * 3];
    for (size_t i = 0; i < sizeof(a); i++) {
        a[i] = (uint8_t)(i * 37 % 255);
        b[i] = (uint8_t)(a[i] + 1);
    }
    assert_true(app_mse_u8(a, W * 3, b, W * 3, W, H, 3) == 1.0);
    double p = app_psnr_u8(a, W * 3, b, W * 3, W, H, 3);
    assert_true(fabs(p - 48.130803608679) < 1e-9);
    assert_true(fabs(p - 20.0 * log10(255.0)) < 1e-12);
    assert_true(app_psnr_from_mse(0.0) == APP_PSNR_CAP);
    assert_true(fabs(app_psnr_from_mse(255.0 * 255.0)) < 1e-12);
}

static void test_degradation_is_ordered(void **state)
{
    (void)state;
    /* More distortion must score lower on both metrics. */
    ptrdiff_t sa, sb, sq;
    uint8_t *a = make(200, 176, 3, 'a', 0, &sa);
    uint8_t *b = make(200, 176, 3, 'b', 0, &sb);
    uint8_t *q = make(200, 176, 3, 'q', 0, &sq);
    double mb, mq;
    assert_int_equal(app_ms_ssim_u8(a, sa, b, sb, 200, 176, 3, &mb), APP_METRIC_OK);
    assert_int_equal(app_ms_ssim_u8(a, sa, q, sq, 200, 176, 3, &mq), APP_METRIC_OK);
    assert_true(mb > mq);
    assert_true(mb < 1.0);
    assert_true(app_psnr_u8(a, sa, b, sb, 200, 176, 3) > app_psnr_u8(a, sa, q, sq, 200, 176, 3));
    free(a);
    free(b);
    free(q);
}

static void test_errors(void **state)
{
    (void)state;
    static uint8_t a[200 * 200 * 3];
    double ms = 0.0;
    /* 161 is the shortest side that keeps an 11x11 window at scale 5; 160 is too short. */
    assert_int_equal(app_ms_ssim_u8(a, 3 * 161, a, 3 * 161, 161, 161, 3, &ms), APP_METRIC_OK);
    assert_int_equal(app_ms_ssim_u8(a, 3 * 160, a, 3 * 160, 160, 200, 3, &ms), APP_METRIC_ESMALL);
    assert_int_equal(app_ms_ssim_u8(a, 3 * 200, a, 3 * 200, 200, 160, 3, &ms), APP_METRIC_ESMALL);
    assert_int_equal(app_ms_ssim_u8(NULL, 600, a, 600, 200, 200, 3, &ms), APP_METRIC_EINVAL);
    assert_int_equal(app_ms_ssim_u8(a, 599, a, 600, 200, 200, 3, &ms), APP_METRIC_EINVAL);
    assert_int_equal(app_ms_ssim_u8(a, 600, a, 600, 200, 200, 0, &ms), APP_METRIC_EINVAL);
    assert_int_equal(app_ms_ssim_u8(a, 600, a, 600, 200, 200, 3, NULL), APP_METRIC_EINVAL);
    assert_true(app_mse_u8(a, 599, a, 600, 200, 200, 3) < 0.0);
    assert_true(app_mse_u8(a, 600, a, 600, 0, 200, 3) < 0.0);
    assert_true(app_psnr_u8(NULL, 600, a, 600, 200, 200, 3) < 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_values),
        cmocka_unit_test(test_identical),
        cmocka_unit_test(test_offset_one_level),
        cmocka_unit_test(test_degradation_is_ordered),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
