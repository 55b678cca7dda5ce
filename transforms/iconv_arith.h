/* lic transforms: the per-element arithmetic of the integer conv layers (transforms/ilayers.h) that is
 * not a sum: input saturation and the finish (rounding shift, integer leaky ReLU, clamp). Every CPU
 * kernel (transforms/cpu/) and the CUDA kernels (gpu/int_kernels.h) call these same functions, marked
 * LIC_HOST_DEVICE (util/hostdev.h), so the device compiles this code rather than a copy of it. Plain C
 * that also compiles as CUDA C++: nothing here may use C-only constructs. */
#ifndef LIC_TRANSFORMS_ICONV_ARITH_H
#define LIC_TRANSFORMS_ICONV_ARITH_H

#include <stdint.h>

#include "util/fixed.h"
#include "util/hostdev.h"

/* Inputs are documented to be in int16 range; anything outside is saturated to it, in every kernel,
 * so out-of-contract inputs give deterministic results and never overflow. */
LIC_HOST_DEVICE static inline int32_t lic_iconv_sat16(int32_t x)
{
    return x < -32768 ? -32768 : x > 32767 ? 32767 : x;
}

/* The per-element tail of the contract: rounding shift, integer leaky ReLU, clamp to out_bits.
 * No overflow: |acc| < 2^49 (lic_iconv_validate), so acc + 2^61 and v * 255 stay below 2^63. */
LIC_HOST_DEVICE static inline int32_t lic_iconv_finish(int64_t acc, int shift, int relu, int slope_q8, int out_bits)
{
    int64_t v = lic_round_shr(acc, shift);
    const int64_t leak = lic_round_shr(v * slope_q8, 8);
    /* Select by mask, not by branch: the sign of v is data-dependent and would mispredict. */
    const int64_t take = -(int64_t)(relu & (v < 0));
    v = (leak & take) | (v & ~take);
    const int64_t hi = ((int64_t)1 << (out_bits - 1)) - 1;
    return (int32_t)lic_clamp_i64(v, -hi - 1, hi);
}

#endif /* LIC_TRANSFORMS_ICONV_ARITH_H */
