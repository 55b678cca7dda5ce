/* lic tools: building quantized CDF tables from probabilities, offline (model generation, export
 * checks, tests). The library itself never builds a CDF: it reads integer tables from the model file. */
#ifndef LIC_TOOLS_CDF_BUILD_H
#define LIC_TOOLS_CDF_BUILD_H

#include <stdint.h>

/* Quantizes a pmf over n symbols plus an escape symbol of probability `tail` into a CDF of n + 2
 * entries (cdf[0] = 0, cdf[n+1] = 65536, strictly increasing), CompressAI's pmf_to_quantized_cdf rule:
 * round to 16 bits, renormalize, give every zero-frequency symbol one count taken from the largest.
 * Returns 0, or -1 if n + 1 > 65536 or the inputs are not finite and non-negative. */
int lic_cdf_from_pmf(const double *pmf, int n, double tail, int32_t *cdf);

/* Fills one Gaussian-conditional row for scale `scale` (> 0), CompressAI's layout: with
 * center = ceil(scale * 6.109) (tail mass 1e-9), symbols -center..center, offset = -center, length =
 * 2*center + 3 entries. cdf must hold at least that many entries. Returns the length, or -1. */
int lic_cdf_gaussian_row(double scale, int32_t *cdf, int32_t *offset);

/* CompressAI's scale table: n log-spaced levels from smin to smax (64, 0.11, 256). */
void lic_cdf_scale_table(double *scales, int n, double smin, double smax);

#endif /* LIC_TOOLS_CDF_BUILD_H */
