/* apps: PSNR and MS-SSIM (conventions in metrics.h). */
#include "apps/metrics.h"

#include <math.h>
#include <stdlib.h>

#define WIN 11      /* Gaussian window side */
#define SIGMA 1.5   /* Gaussian window standard deviation, in pixels */
#define LEVELS 5

static const double MS_WEIGHTS[LEVELS] = {0.0448, 0.2856, 0.3001, 0.2363, 0.1333};

static int args_ok(const uint8_t *a, ptrdiff_t a_stride, const uint8_t *b, ptrdiff_t b_stride,
                   uint32_t w, int channels)
{
    if (!a || !b || channels < 1 || channels > 4)
        return 0;
    ptrdiff_t row = (ptrdiff_t)w * channels;
    return a_stride >= row && b_stride >= row;
}

double app_mse_u8(const uint8_t *a, ptrdiff_t a_stride, const uint8_t *b, ptrdiff_t b_stride,
                  uint32_t w, uint32_t h, int channels)
{
    if (!args_ok(a, a_stride, b, b_stride, w, channels) || w == 0 || h == 0)
        return -1.0;
    /* Exact integer sum: at most 255^2 * 2^28 pixels * 4 channels < 2^47. */
    uint64_t sse = 0;
    size_t row = (size_t)w * (size_t)channels;
    for (uint32_t y = 0; y < h; y++) {
        const uint8_t *pa = a + (ptrdiff_t)y * a_stride, *pb = b + (ptrdiff_t)y * b_stride;
        for (size_t i = 0; i < row; i++) {
            int d = (int)pa[i] - (int)pb[i];
            sse += (uint64_t)(d * d);
        }
    }
    return (double)sse / ((double)row * (double)h);
}

double app_psnr_from_mse(double mse)
{
    if (mse <= 0.0)
        return APP_PSNR_CAP;
    double p = 10.0 * log10(255.0 * 255.0 / mse);
    return p > APP_PSNR_CAP ? APP_PSNR_CAP : p;
}

double app_psnr_u8(const uint8_t *a, ptrdiff_t a_stride, const uint8_t *b, ptrdiff_t b_stride,
                   uint32_t w, uint32_t h, int channels)
{
    double mse = app_mse_u8(a, a_stride, b, b_stride, w, h, channels);
    return mse < 0.0 ? mse : app_psnr_from_mse(mse);
}

/* ---- MS-SSIM ---------------------------------------------------------------------------------- */

/* Working memory for one channel: the two planes at the current scale, room for the next scale, and
 * a ring of WIN horizontally filtered rows for each of the 5 moments (x, y, x^2, y^2, xy), so the
 * vertical pass never needs whole filtered planes. */
typedef struct ssim_work {
    double *x, *y;   /* current scale, w * h */
    double *x2, *y2; /* next scale, ceil(w/2) * ceil(h/2) */
    double *ring;    /* 5 * WIN * (w - WIN + 1) */
    double g[WIN];
} ssim_work;

/* Mean SSIM and mean contrast-structure term of one scale ("valid" filtering). */
static void ssim_scale(ssim_work *wk, uint32_t w, uint32_t h, double *ssim_mean, double *cs_mean)
{
    const double c1 = (0.01 * 255.0) * (0.01 * 255.0);
    const double c2 = (0.03 * 255.0) * (0.03 * 255.0);
    const size_t ow = w - WIN + 1, oh = h - WIN + 1;
    double *ring[5];
    for (int q = 0; q < 5; q++)
        ring[q] = wk->ring + (size_t)q * WIN * ow;
    double ssim_sum = 0.0, cs_sum = 0.0;
    for (uint32_t r = 0; r < h; r++) {
        const double *px = wk->x + (size_t)r * w, *py = wk->y + (size_t)r * w;
        size_t slot = (size_t)(r % WIN) * ow;
        for (size_t i = 0; i < ow; i++) {
            double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
            for (int k = 0; k < WIN; k++) {
                double gx = wk->g[k] * px[i + k], vy = py[i + k];
                sx += gx;
                sy += wk->g[k] * vy;
                sxx += gx * px[i + k];
                syy += wk->g[k] * vy * vy;
                sxy += gx * vy;
            }
            ring[0][slot + i] = sx;
            ring[1][slot + i] = sy;
            ring[2][slot + i] = sxx;
            ring[3][slot + i] = syy;
            ring[4][slot + i] = sxy;
        }
        if (r + 1 < WIN)
            continue;
        /* Output row r - WIN + 1 uses filtered rows r - WIN + 1 .. r. */
        uint32_t top = r + 1 - WIN;
        for (size_t i = 0; i < ow; i++) {
            double m[5] = {0, 0, 0, 0, 0};
            for (int k = 0; k < WIN; k++) {
                size_t s = (size_t)((top + (uint32_t)k) % WIN) * ow + i;
                for (int q = 0; q < 5; q++)
                    m[q] += wk->g[k] * ring[q][s];
            }
            double mx = m[0], my = m[1];
            double vx = m[2] - mx * mx, vy = m[3] - my * my, cxy = m[4] - mx * my;
            double cs = (2.0 * cxy + c2) / (vx + vy + c2);
            cs_sum += cs;
            ssim_sum += cs * (2.0 * mx * my + c1) / (mx * mx + my * my + c1);
        }
    }
    double n = (double)ow * (double)oh;
    *ssim_mean = ssim_sum / n;
    *cs_mean = cs_sum / n;
}

/* 2x2 average; along an odd axis one zero is padded on each side and counted (torch avg_pool2d,
 * padding = size % 2, count_include_pad). */
static void downsample(const double *in, uint32_t w, uint32_t h, double *out, uint32_t *ow, uint32_t *oh)
{
    uint32_t pw = w % 2, ph = h % 2;
    uint32_t w2 = (w + pw) / 2, h2 = (h + ph) / 2;
    for (uint32_t j = 0; j < h2; j++) {
        for (uint32_t i = 0; i < w2; i++) {
            double s = 0.0;
            for (uint32_t dy = 0; dy < 2; dy++) {
                int64_t yy = 2 * (int64_t)j + dy - ph;
                if (yy < 0 || yy >= h)
                    continue;
                for (uint32_t dx = 0; dx < 2; dx++) {
                    int64_t xx = 2 * (int64_t)i + dx - pw;
                    if (xx >= 0 && xx < w)
                        s += in[(size_t)yy * w + (size_t)xx];
                }
            }
            out[(size_t)j * w2 + i] = 0.25 * s;
        }
    }
    *ow = w2;
    *oh = h2;
}

static double ms_ssim_channel(ssim_work *wk, const uint8_t *a, ptrdiff_t a_stride, const uint8_t *b,
                              ptrdiff_t b_stride, uint32_t w, uint32_t h, int channels, int c)
{
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            size_t o = (size_t)x * (size_t)channels + (size_t)c;
            wk->x[(size_t)y * w + x] = a[(ptrdiff_t)y * a_stride + (ptrdiff_t)o];
            wk->y[(size_t)y * w + x] = b[(ptrdiff_t)y * b_stride + (ptrdiff_t)o];
        }
    /* Scales alternate between the full-size pair and the quarter-size pair; work on a copy so the
     * caller's pointers keep their sizes for the next channel. */
    ssim_work s = *wk;
    double val = 1.0;
    for (int l = 0; l < LEVELS; l++) {
        double ssim, cs;
        ssim_scale(&s, w, h, &ssim, &cs);
        double term = l + 1 < LEVELS ? cs : ssim;
        val *= pow(term > 0.0 ? term : 0.0, MS_WEIGHTS[l]);
        if (l + 1 < LEVELS) {
            uint32_t w2, h2;
            downsample(s.x, w, h, s.x2, &w2, &h2);
            downsample(s.y, w, h, s.y2, &w2, &h2);
            double *t = s.x;
            s.x = s.x2;
            s.x2 = t;
            t = s.y;
            s.y = s.y2;
            s.y2 = t;
            w = w2;
            h = h2;
        }
    }
    return val;
}

int app_ms_ssim_u8(const uint8_t *a, ptrdiff_t a_stride, const uint8_t *b, ptrdiff_t b_stride,
                   uint32_t w, uint32_t h, int channels, double *out)
{
    if (!out || !args_ok(a, a_stride, b, b_stride, w, channels))
        return APP_METRIC_EINVAL;
    /* Every scale must hold one whole window: side s -> ceil(s/2) four times, then >= WIN. */
    uint32_t sw = w, sh = h;
    for (int l = 0; l < LEVELS; l++) {
        if (sw < WIN || sh < WIN)
            return APP_METRIC_ESMALL;
        sw = (sw + 1) / 2;
        sh = (sh + 1) / 2;
    }
    size_t n = (size_t)w * h;
    size_t n2 = (size_t)((w + 1) / 2) * ((h + 1) / 2);
    if (n > SIZE_MAX / sizeof(double) / 4)
        return APP_METRIC_ENOMEM;
    /* Scale 1 lives in the n-sized pair, scale 2 in the n2-sized pair, and every later scale is
     * smaller than n2, so the pairs can simply alternate. */
    ssim_work wk;
    wk.x = malloc(n * sizeof(double));
    wk.y = malloc(n * sizeof(double));
    wk.x2 = malloc(n2 * sizeof(double));
    wk.y2 = malloc(n2 * sizeof(double));
    wk.ring = malloc((size_t)5 * WIN * (w - WIN + 1) * sizeof(double));
    int r = APP_METRIC_ENOMEM;
    if (wk.x && wk.y && wk.x2 && wk.y2 && wk.ring) {
        double sum = 0.0;
        for (int k = 0; k < WIN; k++) {
            double d = k - WIN / 2;
            wk.g[k] = exp(-d * d / (2.0 * SIGMA * SIGMA));
            sum += wk.g[k];
        }
        for (int k = 0; k < WIN; k++)
            wk.g[k] /= sum;
        double total = 0.0;
        for (int c = 0; c < channels; c++)
            total += ms_ssim_channel(&wk, a, a_stride, b, b_stride, w, h, channels, c);
        *out = total / channels;
        r = APP_METRIC_OK;
    }
    free(wk.x);
    free(wk.y);
    free(wk.x2);
    free(wk.y2);
    free(wk.ring);
    return r;
}
