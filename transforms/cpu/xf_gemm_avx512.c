/* lic transforms: AVX-512 micro-kernels of the fast path (compiled with -mavx512f -mavx512bw
 * -mavx512vl -mfma; only called after the CPU check in xf_select.c).
 *
 * Kernel (MR, NV): MR output channels x NV*16 pixels, MR*NV zmm accumulators. Per reduction step it
 * loads NV pixel vectors and broadcasts MR weights: the 8x3 shape does 24 FMAs for 11 loads, which
 * keeps both FMA pipes of a Zen 4/5 core busy. Partial panels mask the last vector (masked loads never
 * fault), so no element outside the n valid columns is read or written. */
#include "transforms/cpu/xf_cpu.h"

#ifdef LIC_XF_HAVE_AVX512 /* else built without its flags: the stub in xf_select.c stands in */

#include <immintrin.h>
#include <string.h>

#define MR_MAIN 8
#define NV_MAIN 3
#define MR_NARROW 4 /* layers with at most 4 output channels (the RGB output of g_s) */
#define NV_NARROW 6 /* use 4x6 / 3x6 shapes: 18-24 FMAs per 10 loads instead of 9-12 per 6 */

static inline __attribute__((always_inline)) void gemm_body(const int MR, const int NV, int kc, const float *a,
                                                            const float *b, const int32_t *boff, float *c,
                                                            ptrdiff_t ldc, const float *init, int n)
{
    __m512 acc[MR_MAIN][NV_NARROW];
    const int nlast = n - 16 * (NV - 1);
    const __mmask16 ml = nlast >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nlast) - 1);
    if (init) {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            const __m512 v = _mm512_set1_ps(init[r]);
#pragma GCC unroll 6
            for (int j = 0; j < NV; j++)
                acc[r][j] = v;
        }
    } else {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
#pragma GCC unroll 6
            for (int j = 0; j < NV - 1; j++)
                acc[r][j] = _mm512_loadu_ps(c + r * ldc + 16 * j);
            acc[r][NV - 1] = _mm512_maskz_loadu_ps(ml, c + r * ldc + 16 * (NV - 1));
        }
    }
    for (int k = 0; k < kc; k++) {
        const float *bp = b + boff[k];
        __m512 bv[NV_NARROW];
#pragma GCC unroll 6
        for (int j = 0; j < NV - 1; j++)
            bv[j] = _mm512_loadu_ps(bp + 16 * j);
        bv[NV - 1] = _mm512_maskz_loadu_ps(ml, bp + 16 * (NV - 1));
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            const __m512 av = _mm512_set1_ps(a[r]);
#pragma GCC unroll 6
            for (int j = 0; j < NV; j++)
                acc[r][j] = _mm512_fmadd_ps(av, bv[j], acc[r][j]);
        }
        a += MR;
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
#pragma GCC unroll 6
        for (int j = 0; j < NV - 1; j++)
            _mm512_storeu_ps(c + r * ldc + 16 * j, acc[r][j]);
        _mm512_mask_storeu_ps(c + r * ldc + 16 * (NV - 1), ml, acc[r][NV - 1]);
    }
}

#define DEF_GEMM(MR, NV)                                                                              \
    static void gemm_##MR##x##NV(int kc, const float *a, const float *b, const int32_t *boff, float *c, \
                                 ptrdiff_t ldc, const float *init, int n)                             \
    {                                                                                                 \
        gemm_body(MR, NV, kc, a, b, boff, c, ldc, init, n);                                           \
    }
#define DEF_GEMM_ROW(MR) DEF_GEMM(MR, 1) DEF_GEMM(MR, 2) DEF_GEMM(MR, 3)
#define DEF_GEMM_WIDE(MR) DEF_GEMM(MR, 4) DEF_GEMM(MR, 5) DEF_GEMM(MR, 6)
DEF_GEMM_ROW(1)
DEF_GEMM_ROW(2)
DEF_GEMM_ROW(3)
DEF_GEMM_ROW(4)
DEF_GEMM_WIDE(1)
DEF_GEMM_WIDE(2)
DEF_GEMM_WIDE(3)
DEF_GEMM_WIDE(4)
DEF_GEMM_ROW(5)
DEF_GEMM_ROW(6)
DEF_GEMM_ROW(7)
DEF_GEMM_ROW(8)

static void gdn_finish(float *x, const float *acc, int n, int inverse)
{
    int i = 0;
    if (inverse) {
        for (; i + 16 <= n; i += 16)
            _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), _mm512_sqrt_ps(_mm512_loadu_ps(acc + i))));
    } else {
        for (; i + 16 <= n; i += 16)
            _mm512_storeu_ps(x + i, _mm512_div_ps(_mm512_loadu_ps(x + i), _mm512_sqrt_ps(_mm512_loadu_ps(acc + i))));
    }
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        const __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
        const __m512 s = _mm512_sqrt_ps(_mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, acc + i));
        _mm512_mask_storeu_ps(x + i, m, inverse ? _mm512_mul_ps(xv, s) : _mm512_div_ps(xv, s));
    }
}

#define ROW(MR) {gemm_##MR##x1, gemm_##MR##x2, gemm_##MR##x3, NULL, NULL, NULL}
#define ROW_WIDE(MR) {gemm_##MR##x1, gemm_##MR##x2, gemm_##MR##x3, gemm_##MR##x4, gemm_##MR##x5, gemm_##MR##x6}

int lic_xf_kernels_init_avx512(lic_xf_kernels *k)
{
    static const lic_xf_gemm_fn tab[LIC_XF_MR_MAX][LIC_XF_NV_MAX] = {
        ROW_WIDE(1), ROW_WIDE(2), ROW_WIDE(3), ROW_WIDE(4), ROW(5), ROW(6), ROW(7), ROW(8),
    };
    memset(k, 0, sizeof(*k));
    k->name = "avx512";
    k->path = LIC_KERNELS_FAST;
    k->vec = 16;
    k->mr = MR_MAIN;
    k->nv = NV_MAIN;
    k->mr_narrow = MR_NARROW;
    k->nv_narrow = NV_NARROW;
    for (int r = 0; r < LIC_XF_MR_MAX; r++)
        for (int j = 0; j < LIC_XF_NV_MAX; j++)
            k->gemm[r][j] = tab[r][j];
    k->gdn_finish = gdn_finish;
    return LIC_OK;
}

#else
typedef int lic_xf_no_avx512; /* ISO C wants a non-empty file */
#endif
