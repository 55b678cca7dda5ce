/* lic entropy: the entropy models of the latents, in integers (docs/FORMAT.md §1.3).
 *
 *  - The factorized prior of the hyper-latent z: one CDF row per channel; z is held in fixed point
 *    with `frac_bits` fraction bits, and the symbol is z - median rounded to whole units.
 *  - The Gaussian conditional of y: the context model predicts a mean (1/256 units) and a scale
 *    (1/256 units) per position; the scale selects a CDF row through ascending thresholds, and the
 *    symbol is y - mean rounded to whole units.
 *
 * Everything here decides how a symbol is coded, so it is integer and exact (the determinism rule of
 * docs/ARCHITECTURE.md): the conversion of float latents to fixed point happens at the encoder, before
 * these functions. They are inline because they run once per symbol; the per-symbol ones are also
 * compiled into the GPU kernels (LIC_HOST_DEVICE, gpu/int_kernels.h). */
#ifndef LIC_ENTROPY_ENTROPY_MODEL_H
#define LIC_ENTROPY_ENTROPY_MODEL_H

#include <stdint.h>

#include "entropy/symbol_coder.h"
#include "util/fixed.h"
#include "util/hostdev.h"

/* |symbol| bound: keeps s * 256 + mean inside int32 for |mean| < 2^23 (24-bit parameter outputs) and
 * s * 2^frac_bits + median inside int64 trivially. Decoded values beyond it are clamped, so a corrupt
 * stream cannot overflow the reconstruction. */
#define LIC_SYMBOL_LIMIT (1 << 22)

/* Fraction bits of y values and Gaussian means and scales. */
#define LIC_GAUSSIAN_FRAC_BITS 8

typedef struct lic_factorized_prior {
    lic_cdf_table cdf;       /* one row per channel */
    const int32_t *median;   /* [cdf.n_cdfs], units of 2^-frac_bits, within int16 */
    int frac_bits;           /* 0..8 */
} lic_factorized_prior;

typedef struct lic_gaussian_conditional {
    lic_cdf_table cdf;           /* one row per scale level */
    const int32_t *thresholds;   /* [cdf.n_cdfs - 1], strictly ascending, 1/256 units */
} lic_gaussian_conditional;

/* Checks a prior read from a file: `channels` rows, medians within int16. The CDF table itself is
 * checked by lic_cdf_table_validate. Returns 0, or LIC_EMODEL with *bad the failing median's index
 * (-1 for a row-count mismatch). */
int lic_factorized_prior_validate(const lic_factorized_prior *p, int channels, int *bad);

/* Checks a Gaussian conditional read from a file: at least 2 rows, thresholds strictly ascending.
 * Returns 0, or LIC_EMODEL with *bad the first index that is not above its predecessor (-1 for too
 * few rows). */
int lic_gaussian_conditional_validate(const lic_gaussian_conditional *g, int *bad);

LIC_HOST_DEVICE static inline int32_t lic_symbol_clamp(int64_t s)
{
    return (int32_t)lic_clamp_i64(s, -LIC_SYMBOL_LIMIT, LIC_SYMBOL_LIMIT);
}

/* The symbol of channel c's fixed-point value zq (units of 2^-frac_bits). */
static inline int32_t lic_factorized_quantize(const lic_factorized_prior *p, int c, int64_t zq)
{
    return lic_symbol_clamp(lic_round_shr(zq - p->median[c], p->frac_bits));
}

/* z-hat of channel c from its symbol, in units of 2^-frac_bits, saturated to int16 (the input range of
 * the integer hyper-synthesis). */
static inline int32_t lic_factorized_reconstruct(const lic_factorized_prior *p, int c, int32_t s)
{
    return (int32_t)lic_clamp_i64((int64_t)s * ((int64_t)1 << p->frac_bits) + p->median[c], INT16_MIN,
                                  INT16_MAX);
}

/* The CDF row for a predicted scale, given the `levels - 1` ascending thresholds of a table of `levels`
 * rows: the number of thresholds strictly below it (scales round up to the next level, as in
 * CompressAI). Binary search: log2(levels) comparisons. LIC_HOST_DEVICE: the GPU kernels of
 * gpu/int_kernels.h call this function. */
LIC_HOST_DEVICE static inline int lic_gaussian_scale_index_of(const int32_t *thr, int levels, int32_t scale)
{
    int lo = 0, hi = levels - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (thr[mid] < scale)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The CDF row of g for a predicted scale (lic_gaussian_scale_index_of on g's thresholds). */
static inline int lic_gaussian_scale_index(const lic_gaussian_conditional *g, int32_t scale)
{
    return lic_gaussian_scale_index_of(g->thresholds, g->cdf.n_cdfs, scale);
}

/* The symbol of yq (1/256 units) under mean mu (1/256 units, |mu| < 2^23). */
LIC_HOST_DEVICE static inline int32_t lic_gaussian_quantize(int64_t yq, int32_t mu)
{
    return lic_symbol_clamp(lic_round_shr(yq - mu, LIC_GAUSSIAN_FRAC_BITS));
}

/* y-hat in 1/256 units from a symbol within LIC_SYMBOL_LIMIT and its mean: exact in int32. */
LIC_HOST_DEVICE static inline int32_t lic_gaussian_reconstruct(int32_t s, int32_t mu)
{
    return s * (1 << LIC_GAUSSIAN_FRAC_BITS) + mu;
}

#endif /* LIC_ENTROPY_ENTROPY_MODEL_H */
