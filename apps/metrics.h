/* apps: image quality metrics for lic-eval — PSNR and MS-SSIM on 8-bit interleaved images.
 *
 * Conventions (the same as CompressAI's eval_model and our anchors in ../shared/anchors/):
 * - PSNR: one MSE over all samples of all channels of the image, 10*log10(255^2 / MSE); an exact
 *   match (MSE = 0) is reported as APP_PSNR_CAP dB instead of infinity.
 * - MS-SSIM: Wang, Simoncelli & Bovik 2003 as implemented by pytorch-msssim (which CompressAI uses):
 *   5 scales with weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333); 11x11 separable Gaussian window,
 *   sigma 1.5, normalised to sum 1, applied "valid" (no padding); K1 = 0.01, K2 = 0.03, data range
 *   255 (identical to range 1.0 on [0,1] data); contrast-structure means of scales 1..4 and the SSIM
 *   mean of scale 5, each clamped at 0 before the power; between scales a 2x2 average with, along an
 *   axis of odd length, one zero sample padded on each side and counted in the average (torch
 *   avg_pool2d with padding = size % 2, count_include_pad). Computed per channel in double precision
 *   on [0,255] values and averaged over channels.
 *
 * Independent of libcodec; nothing here prints or exits. */
#ifndef LIC_APPS_METRICS_H
#define LIC_APPS_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* PSNR reported for identical images. */
#define APP_PSNR_CAP 100.0

/* Status codes of app_ms_ssim. */
#define APP_METRIC_OK 0
#define APP_METRIC_EINVAL (-1) /* NULL pointers, channels not 1..4, stride too small */
#define APP_METRIC_ESMALL (-2) /* a side is too short for 5 scales of an 11x11 window (< 161) */
#define APP_METRIC_ENOMEM (-3)

/* Mean squared error over all w*h*channels samples of two interleaved 8-bit images of equal size.
 * Rows are `a_stride` / `b_stride` bytes apart. Returns a negative value on invalid arguments. */
double app_mse_u8(const uint8_t *a, ptrdiff_t a_stride, const uint8_t *b, ptrdiff_t b_stride,
                  uint32_t w, uint32_t h, int channels);

/* 10*log10(255^2 / mse) in dB; APP_PSNR_CAP when mse is 0. */
double app_psnr_from_mse(double mse);

/* PSNR of two images (app_mse_u8 + app_psnr_from_mse); negative on invalid arguments. */
double app_psnr_u8(const uint8_t *a, ptrdiff_t a_stride, const uint8_t *b, ptrdiff_t b_stride,
                   uint32_t w, uint32_t h, int channels);

/* MS-SSIM (see the conventions above) of two interleaved 8-bit images of equal size, averaged over
 * channels, into *out (in [0, 1]; 1 for identical images).
 * @return APP_METRIC_OK, APP_METRIC_EINVAL, APP_METRIC_ESMALL or APP_METRIC_ENOMEM. */
int app_ms_ssim_u8(const uint8_t *a, ptrdiff_t a_stride, const uint8_t *b, ptrdiff_t b_stride,
                   uint32_t w, uint32_t h, int channels, double *out);

#endif /* LIC_APPS_METRICS_H */
