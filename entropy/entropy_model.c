/* lic entropy: validation of the entropy models read from a model file (entropy/entropy_model.h).
 * The per-symbol functions are inline in the header. */
#include "entropy/entropy_model.h"

int lic_factorized_prior_validate(const lic_factorized_prior *p, int channels, int *bad)
{
    *bad = -1;
    if (p->cdf.n_cdfs != channels || !p->median || p->frac_bits < 0 || p->frac_bits > 8)
        return LIC_EMODEL;
    for (int i = 0; i < channels; i++) {
        if (p->median[i] < INT16_MIN || p->median[i] > INT16_MAX) {
            *bad = i;
            return LIC_EMODEL;
        }
    }
    return 0;
}

int lic_gaussian_conditional_validate(const lic_gaussian_conditional *g, int *bad)
{
    *bad = -1;
    if (g->cdf.n_cdfs < 2 || !g->thresholds) /* a threshold needs two levels around it */
        return LIC_EMODEL;
    for (int i = 1; i < g->cdf.n_cdfs - 1; i++) {
        if (g->thresholds[i] <= g->thresholds[i - 1]) {
            *bad = i;
            return LIC_EMODEL;
        }
    }
    return 0;
}
