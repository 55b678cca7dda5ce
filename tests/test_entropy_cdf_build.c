/* Tests of tools/cdf_build.c: pmf quantization (exact sum, rounding, zero-frequency repair,
 * rejection of bad input), Gaussian rows (layout, validity, closeness to the true distribution) and
 * the scale table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "entropy/symbol_coder.h"
#include "tools/cdf_build.h"

static int row_valid(const int32_t *cdf, int len, int32_t offset)
{
    int32_t length = len;
    lic_cdf_table t = { cdf, &length, &offset, 1, len };
    return lic_cdf_table_validate(&t) == 0;
}

static void test_pmf_rejects(void **state)
{
    (void)state;
    double pmf[4] = { 0.1, 0.2, 0.3, 0.4 };
    int32_t cdf[6];
    assert_int_equal(lic_cdf_from_pmf(NULL, 4, 0.0, cdf), -1);
    assert_int_equal(lic_cdf_from_pmf(pmf, 4, 0.0, NULL), -1);
    assert_int_equal(lic_cdf_from_pmf(pmf, 0, 0.0, cdf), -1);
    assert_int_equal(lic_cdf_from_pmf(pmf, -1, 0.0, cdf), -1);
    assert_int_equal(lic_cdf_from_pmf(pmf, 4, -0.1, cdf), -1);
    assert_int_equal(lic_cdf_from_pmf(pmf, 4, NAN, cdf), -1);
    assert_int_equal(lic_cdf_from_pmf(pmf, 4, INFINITY, cdf), -1);
    pmf[2] = -1e-300;
    assert_int_equal(lic_cdf_from_pmf(pmf, 4, 0.0, cdf), -1);
    pmf[2] = NAN;
    assert_int_equal(lic_cdf_from_pmf(pmf, 4, 0.0, cdf), -1);
    pmf[2] = INFINITY;
    assert_int_equal(lic_cdf_from_pmf(pmf, 4, 0.0, cdf), -1);
    pmf[2] = 1e308; /* finite values whose sum is not */
    pmf[3] = 1e308;
    assert_int_equal(lic_cdf_from_pmf(pmf, 4, 0.0, cdf), -1);
    /* n + 1 > 65536 symbols cannot all get a count. */
    double *big = calloc(65536, sizeof(double));
    int32_t *bcdf = calloc(65538, sizeof(int32_t));
    assert_non_null(big);
    assert_non_null(bcdf);
    assert_int_equal(lic_cdf_from_pmf(big, 65536, 1.0, bcdf), -1);
    /* ... but 65536 symbols can: a one-hot pmf ends with every count 1. */
    big[123] = 1.0;
    assert_int_equal(lic_cdf_from_pmf(big, 65535, 0.0, bcdf), 0);
    for (int i = 0; i <= 65536; i++)
        assert_int_equal(bcdf[i], i);
    free(big);
    free(bcdf);
}

static void test_pmf_rounding(void **state)
{
    (void)state;
    /* Known answer: zeros (including the tail) take one count each from the largest. */
    const double pmf[4] = { 0.0, 1.0, 0.0, 0.5 };
    int32_t cdf[6];
    assert_int_equal(lic_cdf_from_pmf(pmf, 4, 0.0, cdf), 0);
    /* 65536 * (2/3, 1/3) = 43690.67, 21845.33 -> 43691, 21845 (largest remainder); then three
     * zero-frequency symbols take 3 counts from the 43691. */
    const int32_t want[6] = { 0, 1, 43689, 43690, 65535, 65536 };
    assert_memory_equal(cdf, want, sizeof(want));

    /* All zero: uniform. */
    const double zeros[3] = { 0, 0, 0 };
    int32_t u[5];
    assert_int_equal(lic_cdf_from_pmf(zeros, 3, 0.0, u), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(u[i], 16384 * i);

    /* Random pmfs without tiny entries: every count is within 1 of p * 65536, the sum is exact,
     * and the row is valid. Unnormalized input is normalized. */
    uint64_t s = 1;
    for (int iter = 0; iter < 200; iter++) {
        const int n = 1 + (int)(iter * 37 % 1000);
        double *p = malloc((size_t)n * sizeof(double));
        int32_t *c = malloc((size_t)(n + 2) * sizeof(int32_t));
        assert_non_null(p);
        assert_non_null(c);
        double total = 0.0;
        for (int i = 0; i < n; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            p[i] = 16777216.0 + (double)(s >> 40); /* within a factor 2: no zero counts */
            total += p[i];
        }
        const double tail = total * 0.001;
        total += tail;
        assert_int_equal(lic_cdf_from_pmf(p, n, tail, c), 0);
        assert_true(row_valid(c, n + 2, 0));
        for (int i = 0; i <= n; i++) {
            const double q = (i < n ? p[i] : tail) / total * 65536.0;
            const double fq = c[i + 1] - c[i];
            if (q >= 1.0) /* entries that did not need the zero repair */
                assert_true(fabs(fq - q) < 1.0 + 1e-9);
        }
        free(p);
        free(c);
    }
}

static void test_gaussian_rows(void **state)
{
    (void)state;
    int32_t *cdf = malloc(70000 * sizeof(int32_t));
    assert_non_null(cdf);
    int32_t off = 12345;
    assert_int_equal(lic_cdf_gaussian_row(0.0, cdf, &off), -1);
    assert_int_equal(lic_cdf_gaussian_row(-1.0, cdf, &off), -1);
    assert_int_equal(lic_cdf_gaussian_row(NAN, cdf, &off), -1);
    assert_int_equal(lic_cdf_gaussian_row(INFINITY, cdf, &off), -1);
    assert_int_equal(lic_cdf_gaussian_row(1e6, cdf, &off), -1); /* more than 65536 symbols */
    assert_int_equal(lic_cdf_gaussian_row(1.0, NULL, &off), -1);
    assert_int_equal(lic_cdf_gaussian_row(1.0, cdf, NULL), -1);
    assert_int_equal(off, 12345);

    /* Layout: center = ceil(6.109 s), offset -center, 2 center + 3 entries. */
    assert_int_equal(lic_cdf_gaussian_row(0.11, cdf, &off), 5);
    assert_int_equal(off, -1);
    assert_int_equal(lic_cdf_gaussian_row(1.0, cdf, &off), 2 * 7 + 3);
    assert_int_equal(off, -7);
    assert_int_equal(lic_cdf_gaussian_row(256.0, cdf, &off), 2 * 1564 + 3);
    assert_int_equal(off, -1564);

    double scales[64];
    lic_cdf_scale_table(scales, 64, 0.11, 256.0);
    double worst = 0.0;
    for (int k = 0; k < 64; k++) {
        const double sc = scales[k];
        const int len = lic_cdf_gaussian_row(sc, cdf, &off);
        const int center = (int)ceil(sc * 6.109);
        assert_int_equal(len, 2 * center + 3);
        assert_int_equal(off, -center);
        assert_true(len <= LIC_CDF_MAX_LENGTH);
        assert_true(row_valid(cdf, len, off));
        /* Symmetric up to one count of rounding. */
        for (int i = 0; i < center; i++) {
            const int a = cdf[i + 1] - cdf[i], b = cdf[len - 2 - i] - cdf[len - 3 - i];
            assert_true(abs(a - b) <= 1);
        }
        /* Cross-entropy of the true (discretized) Gaussian under the quantized row exceeds its
         * entropy by little. The floor is the 16-bit precision itself: at large scales hundreds of
         * far-tail symbols need one count each (~2% of the mass at s = 256, ~0.3% of the rate). */
        double h = 0.0, xh = 0.0;
        for (int i = 0; i < len - 2; i++) {
            const double kk = fabs((double)(i - center));
            const double p = 0.5 * erfc(-((0.5 - kk) / sc) / sqrt(2.0)) -
                             0.5 * erfc(-((-0.5 - kk) / sc) / sqrt(2.0));
            if (p > 0) {
                h -= p * log2(p);
                xh -= p * log2((cdf[i + 1] - cdf[i]) / 65536.0);
            }
        }
        if (getenv("LIC_TEST_VERBOSE"))
            print_message("scale %.4f: H %.6f, cross-entropy %.6f\n", sc, h, xh);
        if (h >= 1.0 && (xh - h) / h > worst)
            worst = (xh - h) / h;
        assert_true(xh - h < 0.005 * h + 1e-4);
    }
    print_message("gaussian rows: worst relative cross-entropy excess (rows with H >= 1 bit) %.5f\n", worst);
    free(cdf);
}

static void test_scale_table(void **state)
{
    (void)state;
    double s[64];
    lic_cdf_scale_table(s, 64, 0.11, 256.0);
    assert_true(s[0] == 0.11);
    assert_true(s[63] == 256.0);
    const double ratio = pow(256.0 / 0.11, 1.0 / 63.0);
    for (int i = 1; i < 64; i++)
        assert_true(fabs(s[i] / s[i - 1] - ratio) < 1e-12);
    double one = 0.0;
    lic_cdf_scale_table(&one, 1, 0.5, 9.0);
    assert_true(one == 0.5);
    lic_cdf_scale_table(NULL, 4, 0.5, 9.0); /* no crash */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pmf_rejects),
        cmocka_unit_test(test_pmf_rounding),
        cmocka_unit_test(test_gaussian_rows),
        cmocka_unit_test(test_scale_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
