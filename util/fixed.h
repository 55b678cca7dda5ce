/* lic util: the fixed-point helpers of the integer probability path. Whatever decides how a symbol is
 * coded must give the same integers on every machine (docs/ARCHITECTURE.md, "the determinism rule"),
 * so the rounding is written once, here, with its exact meaning, and every module uses it: the integer
 * conv kernels of transforms/ and gpu/ (LIC_HOST_DEVICE: CUDA compiles these functions too), the
 * quantizers of the engine in codec/. train/lic_model.py computes
 * the same floors in Python and is checked against the C results by the conformance vectors. */
#ifndef LIC_UTIL_FIXED_H
#define LIC_UTIL_FIXED_H

#include <stdint.h>

#include "util/hostdev.h"

/* floor(v / 2^s) for 0 <= s <= 62, without shifting a negative value (implementation-defined in C):
 * with m = 0 for v >= 0 and m = -1 (all ones) for v < 0, v ^ m is v or ~v = -v - 1, both >= 0, and
 * floor(v / 2^s) = ~(~v >> s) for v < 0. Branch-free, so the sign of v costs no mispredictions in the
 * kernels' inner loops; compilers emit an arithmetic shift or a few ALU ops. */
LIC_HOST_DEVICE static inline int64_t lic_floor_shr(int64_t v, int s)
{
    const int64_t m = -(int64_t)(v < 0);
    return ((v ^ m) >> s) ^ m;
}

/* floor((v + 2^(s-1)) / 2^s) for 0 <= s <= 62: v / 2^s rounded to nearest, halves towards +infinity;
 * s = 0 returns v. The caller keeps v + 2^(s-1) within int64. */
LIC_HOST_DEVICE static inline int64_t lic_round_shr(int64_t v, int s)
{
    return lic_floor_shr(v + (((int64_t)1 << s) >> 1), s);
}

/* v clamped to [lo, hi] (lo <= hi). */
LIC_HOST_DEVICE static inline int64_t lic_clamp_i64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

#endif /* LIC_UTIL_FIXED_H */
