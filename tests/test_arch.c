/* Tests of the second architecture, lic-hp1 (lic-ctx1 without the channel context), built from a
 * tiny untrained model that lic-mkmodel writes at build time (argv[1]): the builder accepts it and
 * makes a schedule without channel-context ops, and it round-trips through the public API at a few
 * sizes and qualities with the decoder seeing exactly the encoder's symbols and parameters. Sensible
 * PSNR is not expected from random weights. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/internal.h"
#include "lic/codec.h"

static const char *g_model_path;

static lic_image make_image(uint32_t w, uint32_t h, lic_pixfmt fmt)
{
    int ch = fmt == LIC_PIXFMT_GRAY8 ? 1 : 3;
    lic_image img = {w, h, fmt, malloc((size_t)w * h * ch), (ptrdiff_t)w * ch};
    assert_non_null(img.data);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (int c = 0; c < ch; c++)
                img.data[(size_t)y * img.stride + (size_t)x * ch + c] = (uint8_t)((x * 7 + y * 3 + c * 50) & 255);
    return img;
}

static void test_schedule(void **state)
{
    (void)state;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_file(&m, g_model_path, NULL), 0);
    lic_model_info info;
    assert_int_equal(lic_model_get_info(m, &info), 0);
    assert_string_equal(info.arch, "lic-hp1");
    const lic_model_data *md = &m->data;
    /* z, h_s, then two passes per group; pass 0 only zeroes the anchors before sp and ep: no cc */
    assert_int_equal(md->n_steps, 2 + 2 * md->arch.n_groups);
    for (int i = 2; i < md->n_steps; i++) {
        const lic_code_step *st = &md->steps[i];
        assert_int_equal(st->kind, LIC_STEP_CODE_Y);
        assert_int_equal(st->ops.count, st->pass ? 4 : 5);
        const lic_op *ep0 = &md->ops[st->ops.first + st->ops.count - 3];
        assert_int_equal(ep0->iconv->cin, md->arch.C_h + md->arch.C_sp);
    }
    lic_model_release(&m);
}

static void roundtrip(lic_model *m, uint32_t w, uint32_t h, lic_pixfmt fmt, int q)
{
    lic_encoder *enc = NULL;
    lic_decoder *dec = NULL;
    assert_int_equal(lic_encoder_open(&enc, m, NULL), 0);
    assert_int_equal(lic_decoder_open(&dec, m, NULL), 0);
    lic_image img = make_image(w, h, fmt), out;
    uint8_t *bits = NULL;
    size_t n = 0;
    assert_int_equal(lic_encode(enc, &img, q, &bits, &n), 0);
    assert_int_equal(lic_decode(dec, bits, n, &out), 0);
    assert_int_equal(out.width, w);
    assert_int_equal(out.height, h);
    assert_int_equal(out.fmt, fmt);
    lic_stats es, ds;
    assert_int_equal(lic_encoder_get_stats(enc, &es), 0);
    assert_int_equal(lic_decoder_get_stats(dec, &ds), 0);
    assert_true(es.n_symbols > 0);
    assert_int_equal(es.n_symbols, ds.n_symbols);
    assert_true(es.symbols_hash == ds.symbols_hash);
    assert_true(es.params_hash == ds.params_hash);
    lic_image_free(&out);
    lic_free(bits);
    free(img.data);
    lic_decoder_close(&dec);
    lic_encoder_close(&enc);
}

static void test_roundtrip(void **state)
{
    (void)state;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_file(&m, g_model_path, NULL), 0);
    roundtrip(m, 17, 33, LIC_PIXFMT_RGB8, 60);
    roundtrip(m, 130, 70, LIC_PIXFMT_GRAY8, 5);
    roundtrip(m, 64, 64, LIC_PIXFMT_RGB8, 100);
    lic_model_release(&m);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_arch MODEL.licw (lic-mkmodel --preset tiny --arch lic-hp1)\n");
        return 2;
    }
    g_model_path = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
