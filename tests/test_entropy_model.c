/* Tests of the integer entropy models (entropy/entropy_model.h): the scale index against a linear
 * count of thresholds, the Gaussian and factorized quantizers against the rounding they promise
 * (nearest, halves up, clamped to the symbol limit), reconstruction as the inverse on the symbol grid,
 * the int16 saturation of z-hat, and the validation of models read from a file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "entropy/entropy_model.h"

/* A table shell: only n_cdfs matters to the functions under test. */
static lic_gaussian_conditional gc_with(const int32_t *thr, int n_thr)
{
    lic_gaussian_conditional g = {{NULL, NULL, NULL, n_thr + 1, 0}, thr};
    return g;
}

static void test_scale_index(void **state)
{
    (void)state;
    const int32_t thr[] = {-5, 0, 3, 100, 101, 4000, 70000};
    for (int n = 1; n <= 7; n++) {
        lic_gaussian_conditional g = gc_with(thr, n);
        for (int32_t s = -10; s < 70010; s += (s < 200 ? 1 : 97)) {
            int want = 0;
            while (want < n && thr[want] < s) /* thresholds strictly below the scale */
                want++;
            assert_int_equal(lic_gaussian_scale_index(&g, s), want);
        }
        assert_int_equal(lic_gaussian_scale_index(&g, INT32_MIN), 0);
        assert_int_equal(lic_gaussian_scale_index(&g, INT32_MAX), n);
    }
}

static void test_gaussian_quantize(void **state)
{
    (void)state;
    const int32_t means[] = {0, 1, -1, 128, -128, 255, 8388607, -8388607};
    for (size_t m = 0; m < sizeof means / sizeof means[0]; m++) {
        int32_t mu = means[m];
        for (int64_t d = -1000; d <= 1000; d++) {
            int32_t s = lic_gaussian_quantize(mu + d, mu);
            /* nearest integer to d / 256, halves towards +infinity */
            int64_t want = d >= -128 ? (d + 128) / 256 : -((-d - 128 + 255) / 256);
            assert_int_equal(s, want);
            int32_t v = lic_gaussian_reconstruct(s, mu);
            assert_true(v - (mu + d) <= 128 && v - (mu + d) > -128); /* within half a step, halves up */
            assert_int_equal(lic_gaussian_quantize(v, mu), s);        /* the grid is a fixed point */
        }
    }
    /* Far outside: clamped to the limit, and the reconstruction stays exact in int32. */
    assert_int_equal(lic_gaussian_quantize((int64_t)1 << 40, 0), LIC_SYMBOL_LIMIT);
    assert_int_equal(lic_gaussian_quantize(-((int64_t)1 << 40), 0), -LIC_SYMBOL_LIMIT);
    assert_int_equal(lic_gaussian_reconstruct(LIC_SYMBOL_LIMIT, 8388607), 256 * LIC_SYMBOL_LIMIT + 8388607);
    assert_int_equal(lic_gaussian_reconstruct(-LIC_SYMBOL_LIMIT, -8388607), -256 * LIC_SYMBOL_LIMIT - 8388607);
    assert_int_equal(lic_symbol_clamp(INT64_MIN / 2), -LIC_SYMBOL_LIMIT);
}

static void test_factorized(void **state)
{
    (void)state;
    const int32_t median[3] = {0, -37, 32767};
    for (int fb = 0; fb <= 8; fb++) {
        lic_factorized_prior p = {{NULL, NULL, NULL, 3, 0}, median, fb};
        const int64_t unit = (int64_t)1 << fb;
        for (int c = 0; c < 3; c++) {
            for (int64_t d = -4 * unit - 3; d <= 4 * unit + 3; d++) {
                int32_t s = lic_factorized_quantize(&p, c, median[c] + d);
                int64_t lo = (int64_t)s * unit - unit / 2, hi = lo + unit; /* [lo, hi) rounds to s */
                if (fb == 0)
                    lo = hi = s;
                assert_true(fb == 0 ? d == s : (d >= lo && d < hi));
                int32_t z = lic_factorized_reconstruct(&p, c, s);
                int64_t exact = (int64_t)s * unit + median[c];
                assert_int_equal(z, exact > INT16_MAX ? INT16_MAX : exact < INT16_MIN ? INT16_MIN : exact);
            }
        }
        /* A corrupt stream's extreme symbol saturates z-hat instead of overflowing. */
        assert_int_equal(lic_factorized_reconstruct(&p, 0, LIC_SYMBOL_LIMIT), INT16_MAX);
        assert_int_equal(lic_factorized_reconstruct(&p, 0, -LIC_SYMBOL_LIMIT), INT16_MIN);
    }
}

static void test_validate(void **state)
{
    (void)state;
    int bad;
    const int32_t med_ok[2] = {-32768, 32767}, med_bad[2] = {0, 32768};
    lic_factorized_prior p = {{NULL, NULL, NULL, 2, 0}, med_ok, 4};
    assert_int_equal(lic_factorized_prior_validate(&p, 2, &bad), 0);
    assert_int_equal(lic_factorized_prior_validate(&p, 3, &bad), LIC_EMODEL);
    assert_int_equal(bad, -1);
    p.median = med_bad;
    assert_int_equal(lic_factorized_prior_validate(&p, 2, &bad), LIC_EMODEL);
    assert_int_equal(bad, 1);

    const int32_t asc[3] = {1, 2, 9}, flat[3] = {1, 5, 5};
    lic_gaussian_conditional g = gc_with(asc, 3);
    assert_int_equal(lic_gaussian_conditional_validate(&g, &bad), 0);
    g = gc_with(flat, 3);
    assert_int_equal(lic_gaussian_conditional_validate(&g, &bad), LIC_EMODEL);
    assert_int_equal(bad, 2);
    g = gc_with(asc, 0); /* one row: no threshold */
    assert_int_equal(lic_gaussian_conditional_validate(&g, &bad), LIC_EMODEL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scale_index),
        cmocka_unit_test(test_gaussian_quantize),
        cmocka_unit_test(test_factorized),
        cmocka_unit_test(test_validate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
