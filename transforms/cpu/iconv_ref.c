/* lic transforms: reference kernel of the integer conv layers (plain C, the ground truth).
 *
 * For one output channel and a run of up to RUN positions of one output row, the int64 sums start at
 * the bias and every (input channel, tap) adds weight * input over the run; then lic_iconv_finish.
 * Inputs are saturated to int16 as they are read (see lic_iconv_sat16). */
#include <stddef.h>
#include <stdint.h>

#include "transforms/cpu/iconv.h"

#define RUN 256 /* output positions summed at once: the int64 sums stay on the stack (2 KiB) */

/* out[o][oy][x0..x0+n) of a conv: input column of output x for tap kx is x*s + kx - k/2. */
static void conv_run(const lic_iconv_call *c, int o, int oy, int x0, int n, int64_t *acc)
{
    const lic_iconv_layer *L = c->L;
    const int k = L->k, s = L->stride, r = k / 2;
    for (int j = 0; j < n; j++)
        acc[j] = L->bias[o];
    for (int i = 0; i < L->cin; i++) {
        for (int ky = 0; ky < k; ky++) {
            int iy = oy * s + ky - r;
            if (iy < 0 || iy >= c->ih)
                continue;
            const int32_t *row = c->in + ((size_t)i * (size_t)c->ih + (size_t)iy) * (size_t)c->iw;
            const int16_t *wrow = L->weight + (((size_t)o * (size_t)L->cin + (size_t)i) * (size_t)k + (size_t)ky) * (size_t)k;
            for (int kx = 0; kx < k; kx++) {
                int64_t w = wrow[kx];
                for (int j = 0; j < n; j++) {
                    int64_t ix = (int64_t)(x0 + j) * s + kx - r;
                    if (ix >= 0 && ix < c->iw)
                        acc[j] += w * lic_iconv_sat16(row[ix]);
                }
            }
        }
    }
}

/* out[o][oy][x0..x0+n) of a transposed conv: in[i][y][x] reaches output (y*s + ky - k/2, x*s + kx - k/2),
 * so output (oy, ox) gathers input (y, x) = ((oy + k/2 - ky) / s, (ox + k/2 - kx) / s) where those
 * divide exactly and land inside the input. */
static void tconv_run(const lic_iconv_call *c, int o, int oy, int x0, int n, int64_t *acc)
{
    const lic_iconv_layer *L = c->L;
    const int k = L->k, s = L->stride, r = k / 2;
    for (int j = 0; j < n; j++)
        acc[j] = L->bias[o];
    for (int i = 0; i < L->cin; i++) {
        for (int ky = 0; ky < k; ky++) {
            int ty = oy + r - ky;
            if (ty < 0 || ty % s != 0 || ty / s >= c->ih)
                continue;
            const int32_t *row = c->in + ((size_t)i * (size_t)c->ih + (size_t)(ty / s)) * (size_t)c->iw;
            const int16_t *wrow = L->weight + (((size_t)i * (size_t)L->cout + (size_t)o) * (size_t)k + (size_t)ky) * (size_t)k;
            for (int kx = 0; kx < k; kx++) {
                int64_t w = wrow[kx];
                for (int j = 0; j < n; j++) {
                    int64_t tx = (int64_t)(x0 + j) + r - kx;
                    if (tx >= 0 && tx % s == 0 && tx / s < c->iw)
                        acc[j] += w * lic_iconv_sat16(row[tx / s]);
                }
            }
        }
    }
}

int lic_iconv_ref_tasks(const lic_iconv_call *c)
{
    return c->L->cout;
}

/* Task o: output channel o. */
void lic_iconv_ref_task(const lic_iconv_call *c, int o)
{
    const lic_iconv_layer *L = c->L;
    int64_t acc[RUN];
    int32_t *plane = c->out + (size_t)o * (size_t)c->oh * (size_t)c->ow;
    for (int oy = 0; oy < c->oh; oy++) {
        for (int x0 = 0; x0 < c->ow; x0 += RUN) {
            int n = c->ow - x0 < RUN ? c->ow - x0 : RUN;
            if (L->transposed)
                tconv_run(c, o, oy, x0, n, acc);
            else
                conv_run(c, o, oy, x0, n, acc);
            int32_t *dst = plane + (size_t)oy * (size_t)c->ow + (size_t)x0;
            for (int j = 0; j < n; j++)
                dst[j] = lic_iconv_finish(acc[j], L->shift[o], L->relu, L->relu_slope_q8, L->out_bits);
        }
    }
}
