/* lic transforms: AVX2 micro-kernels of the fast path (compiled with -mavx2 -mfma; only called after
 * the CPU check in xf_select.c). Fallback for CPUs without AVX-512.
 *
 * Kernel (MR, NV): MR output channels x NV*8 pixels. 16 ymm registers hold the 6x2 shape's 12
 * accumulators, 2 pixel vectors and 1 broadcast weight. Partial panels use masked loads and stores of
 * the last vector (masked loads never fault), so nothing outside the n valid columns is touched. */
#include "transforms/cpu/xf_cpu.h"

#ifdef LIC_XF_HAVE_AVX2 /* else built without its flags: the stub in xf_select.c stands in */

#include <immintrin.h>
#include <string.h>

#define MR_MAIN 6
#define NV_MAIN 2

static inline __m256i tail_mask(int n)
{
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), iota);
}

static inline __attribute__((always_inline)) void gemm_body(const int MR, const int NV, int kc, const float *a,
                                                            const float *b, const int32_t *boff, float *c,
                                                            ptrdiff_t ldc, const float *init, int n)
{
    __m256 acc[MR_MAIN][NV_MAIN];
    const __m256i ml = tail_mask(n - 8 * (NV - 1));
    if (init) {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            const __m256 v = _mm256_set1_ps(init[r]);
#pragma GCC unroll 3
            for (int j = 0; j < NV; j++)
                acc[r][j] = v;
        }
    } else {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
#pragma GCC unroll 3
            for (int j = 0; j < NV - 1; j++)
                acc[r][j] = _mm256_loadu_ps(c + r * ldc + 8 * j);
            acc[r][NV - 1] = _mm256_maskload_ps(c + r * ldc + 8 * (NV - 1), ml);
        }
    }
    for (int k = 0; k < kc; k++) {
        const float *bp = b + boff[k];
        __m256 bv[NV_MAIN];
#pragma GCC unroll 3
        for (int j = 0; j < NV - 1; j++)
            bv[j] = _mm256_loadu_ps(bp + 8 * j);
        bv[NV - 1] = _mm256_maskload_ps(bp + 8 * (NV - 1), ml);
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            const __m256 av = _mm256_broadcast_ss(a + r);
#pragma GCC unroll 3
            for (int j = 0; j < NV; j++)
                acc[r][j] = _mm256_fmadd_ps(av, bv[j], acc[r][j]);
        }
        a += MR;
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
#pragma GCC unroll 3
        for (int j = 0; j < NV - 1; j++)
            _mm256_storeu_ps(c + r * ldc + 8 * j, acc[r][j]);
        _mm256_maskstore_ps(c + r * ldc + 8 * (NV - 1), ml, acc[r][NV - 1]);
    }
}

#define DEF_GEMM(MR, NV)                                                                              \
    static void gemm_##MR##x##NV(int kc, const float *a, const float *b, const int32_t *boff, float *c, \
                                 ptrdiff_t ldc, const float *init, int n)                             \
    {                                                                                                 \
        gemm_body(MR, NV, kc, a, b, boff, c, ldc, init, n);                                           \
    }
#define DEF_GEMM_ROW(MR) DEF_GEMM(MR, 1) DEF_GEMM(MR, 2)
DEF_GEMM_ROW(1)
DEF_GEMM_ROW(2)
DEF_GEMM_ROW(3)
DEF_GEMM_ROW(4)
DEF_GEMM_ROW(5)
DEF_GEMM_ROW(6)

static void gdn_finish(float *x, const float *acc, int n, int inverse)
{
    int i = 0;
    if (inverse) {
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_sqrt_ps(_mm256_loadu_ps(acc + i))));
    } else {
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(x + i, _mm256_div_ps(_mm256_loadu_ps(x + i), _mm256_sqrt_ps(_mm256_loadu_ps(acc + i))));
    }
    for (; i < n; i++) { /* scalar tail: the same IEEE sqrt and divide */
        const __m128 s = _mm_sqrt_ss(_mm_set_ss(acc[i]));
        x[i] = inverse ? x[i] * _mm_cvtss_f32(s) : x[i] / _mm_cvtss_f32(s);
    }
}

#define ROW(MR) {gemm_##MR##x1, gemm_##MR##x2, NULL, NULL, NULL, NULL}

int lic_xf_kernels_init_avx2(lic_xf_kernels *k)
{
    static const lic_xf_gemm_fn tab[MR_MAIN][LIC_XF_NV_MAX] = {
        ROW(1), ROW(2), ROW(3), ROW(4), ROW(5), ROW(6),
    };
    memset(k, 0, sizeof(*k));
    k->name = "avx2";
    k->path = LIC_KERNELS_FAST;
    k->vec = 8;
    k->mr = MR_MAIN;
    k->nv = NV_MAIN;
    for (int r = 0; r < LIC_XF_MR_MAX; r++)
        for (int j = 0; j < LIC_XF_NV_MAX; j++)
            k->gemm[r][j] = r < MR_MAIN ? tab[r][j] : NULL;
    k->gdn_finish = gdn_finish;
    return LIC_OK;
}

#else
typedef int lic_xf_no_avx2; /* ISO C wants a non-empty file */
#endif
