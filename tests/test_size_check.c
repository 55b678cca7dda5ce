/* Tests of lic_encoder_check_size, lic_decoder_check_size and lic_check_magic: the checks the CLIs
 * make before reading pixels or decoding must name the limit that lic_encode/lic_decode would hit,
 * with the same estimate, and a file must be told from a .lic by its magic alone. Uses
 * testdata/models/tiny.licw; run from the repository root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <lic/codec.h>

#define MODEL "testdata/models/tiny.licw"

static lic_model *load(const lic_config *cfg)
{
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_file(&m, MODEL, cfg), 0);
    return m;
}

static void test_limits_named(void **state)
{
    (void)state;
    lic_config cfg;
    assert_int_equal(lic_config_init(&cfg), 0);
    cfg.n_threads = 1;
    cfg.max_side = 100;
    cfg.max_pixels = 1000;
    lic_model *m = load(&cfg);
    lic_encoder *e;
    lic_decoder *d;
    assert_int_equal(lic_encoder_open(&e, m, &cfg), 0);
    assert_int_equal(lic_decoder_open(&d, m, &cfg), 0);
    lic_size_check c;

    assert_int_equal(lic_encoder_check_size(e, 10, 10, &c), 0);
    assert_int_equal(c.exceeded, LIC_LIMIT_NONE);
    assert_true(c.memory > 0);
    assert_int_equal(c.limit, 0);

    assert_int_equal(lic_encoder_check_size(e, 101, 1, &c), LIC_ELIMIT);
    assert_int_equal(c.exceeded, LIC_LIMIT_SIDE);
    assert_int_equal(c.value, 101);
    assert_int_equal(c.limit, 100);
    assert_int_equal(c.memory, 0);
    assert_int_equal(lic_decoder_check_size(d, 1, 101, &c), LIC_ELIMIT);
    assert_int_equal(c.exceeded, LIC_LIMIT_SIDE);

    assert_int_equal(lic_encoder_check_size(e, 100, 10, &c), 0); /* exactly at the pixel limit */
    assert_int_equal(lic_encoder_check_size(e, 100, 11, &c), LIC_ELIMIT);
    assert_int_equal(c.exceeded, LIC_LIMIT_PIXELS);
    assert_int_equal(c.value, 1100);
    assert_int_equal(c.limit, 1000);

    assert_int_equal(lic_encoder_check_size(e, 0, 10, &c), LIC_EINVAL);
    assert_int_equal(lic_encoder_check_size(NULL, 10, 10, &c), LIC_EINVAL);
    assert_int_equal(lic_decoder_check_size(d, 10, 10, NULL), LIC_EINVAL);
    lic_decoder_close(&d);
    lic_encoder_close(&e);

    /* The library's own bound stands behind a larger max_side. */
    cfg.max_side = UINT32_MAX;
    cfg.max_pixels = UINT64_MAX;
    cfg.max_memory = 0;
    assert_int_equal(lic_encoder_open(&e, m, &cfg), 0);
    assert_int_equal(lic_encoder_check_size(e, (1u << 20) + 1, 1, &c), LIC_ELIMIT);
    assert_int_equal(c.exceeded, LIC_LIMIT_SIDE);
    assert_int_equal(c.limit, 1u << 20);
    lic_encoder_close(&e);
    lic_model_release(&m);
}

/* The memory estimate decides exactly as lic_encode and lic_decode do: refused one byte below it,
 * accepted at it. */
static void test_memory_matches_codec(void **state)
{
    (void)state;
    enum { W = 96, H = 80 };
    uint8_t *px = malloc(W * H * 3);
    for (int i = 0; i < W * H * 3; i++)
        px[i] = (uint8_t)(i * 7);
    lic_image img = {W, H, LIC_PIXFMT_RGB8, px, W * 3};
    lic_config cfg;
    lic_config_init(&cfg);
    cfg.n_threads = 1;
    lic_model *m = load(&cfg);
    lic_encoder *e;
    assert_int_equal(lic_encoder_open(&e, m, &cfg), 0);
    lic_size_check c;
    assert_int_equal(lic_encoder_check_size(e, W, H, &c), 0);
    const uint64_t need = c.memory;
    assert_true(need > 1000);
    uint8_t *bits = NULL;
    size_t n = 0;
    assert_int_equal(lic_encode(e, &img, 50, &bits, &n), 0);
    lic_encoder_close(&e);

    cfg.max_memory = need - 1;
    assert_int_equal(lic_encoder_open(&e, m, &cfg), 0);
    assert_int_equal(lic_encoder_check_size(e, W, H, &c), LIC_ELIMIT);
    assert_int_equal(c.exceeded, LIC_LIMIT_MEMORY);
    assert_int_equal(c.value, need);
    assert_int_equal(c.memory, need);
    assert_int_equal(c.limit, need - 1);
    uint8_t *b2 = NULL;
    size_t n2 = 0;
    assert_int_equal(lic_encode(e, &img, 50, &b2, &n2), LIC_ELIMIT);
    lic_encoder_close(&e);
    /* The decoder plans the synthesis instead of the analysis: its own estimate, with the same rules. */
    lic_decoder *d;
    cfg.max_memory = 0;
    assert_int_equal(lic_decoder_open(&d, m, &cfg), 0);
    assert_int_equal(lic_decoder_check_size(d, W, H, &c), 0);
    const uint64_t need_d = c.memory;
    lic_decoder_close(&d);
    cfg.max_memory = need_d - 1;
    assert_int_equal(lic_decoder_open(&d, m, &cfg), 0);
    assert_int_equal(lic_decoder_check_size(d, W, H, &c), LIC_ELIMIT);
    assert_int_equal(c.exceeded, LIC_LIMIT_MEMORY);
    assert_int_equal(c.value, need_d);
    lic_image out = {0};
    assert_int_equal(lic_decode(d, bits, n, &out), LIC_ELIMIT);
    lic_decoder_close(&d);

    cfg.max_memory = need_d;
    assert_int_equal(lic_decoder_open(&d, m, &cfg), 0);
    assert_int_equal(lic_decoder_check_size(d, W, H, &c), 0);
    assert_int_equal(lic_decode(d, bits, n, &out), 0);
    lic_image_free(&out);
    lic_decoder_close(&d);
    lic_free(bits);
    lic_model_release(&m);
    free(px);
}

static void test_magic(void **state)
{
    (void)state;
    const uint8_t lic[] = {0x89, 'L', 'I', 'C', 1, 0, 75, 2};
    const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    assert_int_equal(lic_check_magic(lic, sizeof(lic)), 0);
    assert_int_equal(lic_check_magic(lic, 4), 0);
    assert_int_equal(lic_check_magic(lic, 3), LIC_EBITSTREAM);
    assert_int_equal(lic_check_magic(png, sizeof(png)), LIC_EBITSTREAM);
    assert_int_equal(lic_check_magic(NULL, 0), LIC_EBITSTREAM);
    assert_int_equal(lic_check_magic(NULL, 8), LIC_EINVAL);
    /* A .lic with a damaged header is still a .lic by its magic; lic_peek_info refuses it. */
    lic_stream_info si;
    assert_int_equal(lic_peek_info(lic, sizeof(lic), &si), LIC_EBITSTREAM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_named),
        cmocka_unit_test(test_memory_matches_codec),
        cmocka_unit_test(test_magic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
