/* Tiled transforms (codec/tiles.h): encoding and decoding over small tiles give the same bitstream,
 * symbols, parameters and reconstruction (the float output of g_s, compared bit for bit) as the whole
 * image in one piece, on sizes with partial tiles; and the tile working memory does not grow with the
 * image, measured through the allocator hooks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/engine.h"
#include "lic/codec.h"
#include "tests/test_support.h"

#define TINY_MODEL "testdata/models/tiny.licw"


/* lic_config.entropy_tile of the runs (0: the library's choice); the memory tests set it. */
static uint32_t g_entropy_tile;

static lic_config config(uint32_t tile, lic_test_peak_counter *c)
{
    lic_config cfg;
    assert_int_equal(lic_config_init(&cfg), 0);
    cfg.n_threads = 2;
    cfg.backend = LIC_BACKEND_CPU;
    cfg.tile_side = tile;
    cfg.entropy_tile = g_entropy_tile;
    if (c) {
        cfg.allocator.opaque = c;
        cfg.allocator.alloc = lic_test_peak_alloc;
        cfg.allocator.free = lic_test_peak_free;
    }
    return cfg;
}

/* A deterministic image with detail everywhere, so every tile's symbols matter. */
static lic_image make_image(uint32_t w, uint32_t h, lic_pixfmt fmt, uint8_t *px)
{
    const size_t ch = fmt == LIC_PIXFMT_GRAY8 ? 1 : 3;
    uint32_t s = 12345u + w * 31u + h;
    for (size_t i = 0; i < (size_t)w * h * ch; i++) {
        s = s * 1103515245u + 12345u;
        size_t p = i / ch;
        px[i] = (uint8_t)(((p % w) * 7 + (p / w) * 3 + (i % ch) * 50) / 2 + ((s >> 16) & 31));
    }
    lic_image img = {w, h, fmt, px, (ptrdiff_t)(w * ch)};
    return img;
}

/* Row callbacks over a whole image, checking the order the library promises (0, 1, ... once each) and
 * failing on request at row fail_at. */
typedef struct rows {
    lic_image img;
    uint32_t next;
    uint32_t fail_at; /* UINT32_MAX: never */
    int fail_code;
} rows;

static int read_row(void *user, uint32_t y, uint8_t *row)
{
    rows *r = user;
    assert_int_equal(y, r->next);
    assert_true(y < r->img.height);
    r->next++;
    if (y == r->fail_at)
        return r->fail_code;
    memcpy(row, r->img.data + (ptrdiff_t)y * r->img.stride, (size_t)(r->img.stride));
    return 0;
}

static int write_row(void *user, uint32_t y, const uint8_t *row)
{
    rows *r = user;
    assert_int_equal(y, r->next);
    assert_true(y < r->img.height);
    r->next++;
    if (y == r->fail_at)
        return r->fail_code;
    memcpy(r->img.data + (ptrdiff_t)y * r->img.stride, row, (size_t)(r->img.stride));
    return 0;
}

typedef struct coded {
    uint8_t *bits;
    size_t n;
    lic_stats enc, dec;
    uint8_t *pixels; /* the decoded image, width * height * channels */
    size_t pixel_bytes;
    size_t enc_peak, dec_peak;
    uint64_t tile_bytes;  /* the decoder's tile buffers and band rings */
    uint64_t whole_bytes; /* the decoder's whole buffers (latents) */
} coded;

/* Encodes and decodes img with tiles of `tile`, through lic_encode / lic_decode or (streaming = 1) the
 * row callbacks, measuring the library's peak memory of each. */
static void run(lic_model *m, const lic_image *img, uint32_t tile, int streaming, coded *r)
{
    memset(r, 0, sizeof(*r));
    lic_test_peak_counter c = {0, 0};
    lic_config cfg = config(tile, &c);
    lic_encoder *enc = NULL;
    assert_int_equal(lic_encoder_open(&enc, m, &cfg), 0);
    c.peak = c.live;
    size_t base = c.live;
    if (streaming) {
        rows in = {*img, 0, UINT32_MAX, 0};
        assert_int_equal(lic_encode_rows(enc, img->width, img->height, img->fmt, read_row, &in, 50, NULL,
                                         &r->bits, &r->n),
                         0);
        assert_int_equal(in.next, img->height);
    } else {
        assert_int_equal(lic_encode(enc, img, 50, &r->bits, &r->n), 0);
    }
    r->enc_peak = c.peak - base;
    assert_int_equal(lic_encoder_get_stats(enc, &r->enc), 0);
    lic_encoder_close(&enc);

    lic_decoder *dec = NULL;
    assert_int_equal(lic_decoder_open(&dec, m, &cfg), 0);
    c.peak = c.live;
    base = c.live;
    const size_t ch = img->fmt == LIC_PIXFMT_GRAY8 ? 1 : 3;
    r->pixel_bytes = (size_t)img->width * img->height * ch;
    r->pixels = malloc(r->pixel_bytes);
    assert_non_null(r->pixels);
    if (streaming) {
        rows out = {{img->width, img->height, img->fmt, r->pixels, (ptrdiff_t)(img->width * ch)}, 0, UINT32_MAX, 0};
        assert_int_equal(lic_decode_rows(dec, r->bits, r->n, write_row, &out, NULL), 0);
        assert_int_equal(out.next, img->height);
        r->dec_peak = c.peak - base;
    } else {
        lic_image dimg;
        assert_int_equal(lic_decode(dec, r->bits, r->n, &dimg), 0);
        r->dec_peak = c.peak - base;
        assert_int_equal(dimg.fmt, img->fmt);
        for (uint32_t y = 0; y < img->height; y++)
            memcpy(r->pixels + y * img->width * ch, dimg.data + (ptrdiff_t)y * dimg.stride, img->width * ch);
        lic_image_free(&dimg);
    }
    assert_int_equal(lic_decoder_get_stats(dec, &r->dec), 0);
    /* A decoder's context starts with its engine (lic_engine_open). */
    const lic_engine *e = (const lic_engine *)dec;
    assert_int_equal(e->tiled, tile != LIC_TILE_WHOLE);
    /* Tiled, the transforms read and write the caller's pixels: no whole float image exists. */
    if (e->tiled) {
        assert_null(e->x);
        assert_true(e->tiles.pixels_in >= 0 && e->tiles.pixels_out >= 0);
    }
    for (int i = 0; i < e->md->n_bufs; i++)
        r->tile_bytes += e->tbuf_cap[i] * 4, r->whole_bytes += e->buf_cap[i] * 4;
    r->tile_bytes += e->band_cap * 4;
    lic_decoder_close(&dec);
    /* The stream was allocated through the counting allocator, whose state lives in this frame:
     * keep a plain copy and release the library's buffer while `c` is still alive. */
    uint8_t *copy = malloc(r->n);
    assert_non_null(copy);
    memcpy(copy, r->bits, r->n);
    lic_free(r->bits);
    r->bits = copy;
}

static void free_coded(coded *r)
{
    free(r->bits);
    free(r->pixels);
}

static void assert_same(const coded *a, const coded *b)
{
    assert_int_equal(a->n, b->n);
    assert_memory_equal(a->bits, b->bits, b->n);
    assert_int_equal(a->enc.symbols_hash, b->enc.symbols_hash);
    assert_int_equal(a->enc.params_hash, b->enc.params_hash);
    assert_int_equal(a->dec.symbols_hash, b->dec.symbols_hash);
    assert_int_equal(a->dec.params_hash, b->dec.params_hash);
    assert_int_equal(a->pixel_bytes, b->pixel_bytes);
    assert_memory_equal(a->pixels, b->pixels, b->pixel_bytes);
}

/* Tiled and whole, whole-image API and row callbacks, give identical bytes, symbols, parameters and
 * decoded pixels. */
static void check_fmt(lic_model *m, uint32_t w, uint32_t h, uint32_t tile, lic_pixfmt fmt)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    assert_non_null(px);
    lic_image img = make_image(w, h, fmt, px);
    coded whole, tiled, tiled_rows, whole_rows;
    run(m, &img, LIC_TILE_WHOLE, 0, &whole);
    run(m, &img, tile, 0, &tiled);
    run(m, &img, tile, 1, &tiled_rows);
    run(m, &img, LIC_TILE_WHOLE, 1, &whole_rows);
    print_message("%5ux%-5u %s tile %4u: %zu bytes, %llu symbols, tile buffers %llu B\n", w, h,
                  fmt == LIC_PIXFMT_GRAY8 ? "gray" : "rgb ", tile, whole.n,
                  (unsigned long long)whole.enc.n_symbols, (unsigned long long)tiled.tile_bytes);
    assert_same(&tiled, &whole);
    assert_same(&tiled_rows, &whole);
    assert_same(&whole_rows, &whole);
    free_coded(&whole);
    free_coded(&tiled);
    free_coded(&tiled_rows);
    free_coded(&whole_rows);
    free(px);
}

static void check_equal(lic_model *m, uint32_t w, uint32_t h, uint32_t tile)
{
    check_fmt(m, w, h, tile, LIC_PIXFMT_RGB8);
}

static void test_tiled_equals_whole_tiny(void **state)
{
    (void)state;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_file(&m, TINY_MODEL, NULL), 0);
    /* 65 = one 64-pixel tile plus one pixel; 4097 = 64 tiles plus one. */
    static const uint32_t sizes[][2] = {{1, 1}, {65, 63}, {63, 65}, {4097, 17}, {17, 4097}, {129, 200}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        check_equal(m, sizes[i][0], sizes[i][1], 64);
    check_fmt(m, 1, 1, 64, LIC_PIXFMT_GRAY8);
    check_fmt(m, 65, 63, 64, LIC_PIXFMT_GRAY8);
    check_fmt(m, 4097, 17, 64, LIC_PIXFMT_GRAY8);
    check_equal(m, 300, 257, 128);
    check_equal(m, 300, 257, 100); /* rounded down to 64 */
    lic_model_release(&m);
}

/* The models named on the command line: other upsampling in g_s, other architectures. */
static int g_argc;
static char **g_argv;

static void test_tiled_equals_whole_other_models(void **state)
{
    (void)state;
    for (int i = 1; i < g_argc; i++) {
        lic_model *m = NULL;
        assert_int_equal(lic_model_load_file(&m, g_argv[i], NULL), 0);
        print_message("%s\n", g_argv[i]);
        check_equal(m, 65, 63, 64);
        check_equal(m, 4097, 17, 64);
        lic_model_release(&m);
    }
}

static void test_tiled_equals_whole_default(void **state)
{
    (void)state;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_default(&m, NULL), 0);
    check_equal(m, 65, 63, 64);
    check_equal(m, 193, 70, 64);
    lic_model_release(&m);
}

/* With a fixed tile the tile buffers and the bands' rings (which grow with the width only) are the same
 * size for a 4x taller image, while the whole run's peak grows with it; the tiled peak grows only by
 * what stays whole (image, latents, symbols). */
static void test_memory_bounded_by_tile(void **state)
{
    (void)state;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_default(&m, NULL), 0);
    const uint32_t width = 512, small = 512, large = 2048;
    uint8_t *px = malloc((size_t)width * large * 3);
    assert_non_null(px);
    coded r[2][2]; /* [small, large][whole, tiled] */
    for (int s = 0; s < 2; s++) {
        uint32_t side = s ? large : small;
        lic_image img = make_image(width, side, LIC_PIXFMT_RGB8, px);
        run(m, &img, LIC_TILE_WHOLE, 0, &r[s][0]);
        run(m, &img, 64, 0, &r[s][1]);
        /* The estimate the cap uses covers the measured peak, tiled too. */
        lic_config cfg = config(64, NULL);
        lic_decoder *dec = NULL;
        assert_int_equal(lic_decoder_open(&dec, m, &cfg), 0);
        lic_size_check chk;
        assert_int_equal(lic_decoder_check_size(dec, width, side, &chk), 0);
        lic_decoder_close(&dec);
        print_message("%4ux%-4u whole: encode peak %9zu B, decode %9zu B; tile 64: encode %9zu B, decode "
                      "%9zu B (estimate %9llu B), tile buffers %llu B\n",
                      width, side, r[s][0].enc_peak, r[s][0].dec_peak, r[s][1].enc_peak, r[s][1].dec_peak,
                      (unsigned long long)chk.memory, (unsigned long long)r[s][1].tile_bytes);
        assert_true(r[s][1].dec_peak <= chk.memory);
    }
    assert_int_equal(r[1][1].tile_bytes, r[0][1].tile_bytes);
    for (int dec = 0; dec < 2; dec++) {
        size_t w0 = dec ? r[0][0].dec_peak : r[0][0].enc_peak, w1 = dec ? r[1][0].dec_peak : r[1][0].enc_peak;
        size_t t0 = dec ? r[0][1].dec_peak : r[0][1].enc_peak, t1 = dec ? r[1][1].dec_peak : r[1][1].enc_peak;
        assert_true(t1 > t0 && w1 > w0);
        assert_true(t1 - t0 < (w1 - w0) / 2);
        assert_true(t1 < w1);
    }
    for (int s = 0; s < 2; s++)
        for (int t = 0; t < 2; t++)
            free_coded(&r[s][t]);
    free(px);
    lic_model_release(&m);
}

/* A callback's error stops the call at once and is what the call returns (a positive one as LIC_EIO);
 * no output is left; the encoder and decoder then work as before. Tiled and whole. */
static void test_row_callback_errors(void **state)
{
    (void)state;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_file(&m, TINY_MODEL, NULL), 0);
    const uint32_t w = 200, h = 150;
    uint8_t *px = malloc((size_t)w * h * 3), *back = malloc((size_t)w * h * 3);
    assert_non_null(px);
    assert_non_null(back);
    lic_image img = make_image(w, h, LIC_PIXFMT_RGB8, px);
    const uint32_t tiles[2] = {64, LIC_TILE_WHOLE};
    for (int t = 0; t < 2; t++) {
        lic_config cfg = config(tiles[t], NULL);
        lic_encoder *enc = NULL;
        lic_decoder *dec = NULL;
        assert_int_equal(lic_encoder_open(&enc, m, &cfg), 0);
        assert_int_equal(lic_decoder_open(&dec, m, &cfg), 0);
        uint8_t *bits = (uint8_t *)1;
        size_t n = 1;
        rows in = {img, 0, 70, LIC_EIO};
        assert_int_equal(lic_encode_rows(enc, w, h, img.fmt, read_row, &in, 50, NULL, &bits, &n), LIC_EIO);
        assert_null(bits);
        assert_int_equal(n, 0);
        assert_int_equal(in.next, 71); /* stopped at the failing row */
        in = (rows){img, 0, 0, 7};
        assert_int_equal(lic_encode_rows(enc, w, h, img.fmt, read_row, &in, 50, NULL, &bits, &n), LIC_EIO);
        in = (rows){img, 0, UINT32_MAX, 0};
        assert_int_equal(lic_encode_rows(enc, w, h, img.fmt, read_row, &in, 50, NULL, &bits, &n), 0);
        uint8_t *ref = NULL;
        size_t ref_n = 0;
        assert_int_equal(lic_encode(enc, &img, 50, &ref, &ref_n), 0);
        assert_int_equal(n, ref_n);
        assert_memory_equal(bits, ref, n);
        lic_free(ref);

        rows out = {{w, h, img.fmt, back, (ptrdiff_t)w * 3}, 0, 100, LIC_ENOMEM};
        lic_metadata meta;
        assert_int_equal(lic_decode_rows(dec, bits, n, write_row, &out, &meta), LIC_ENOMEM);
        assert_int_equal(out.next, 101);
        assert_null(meta.icc);
        /* A damaged stream writes no row. */
        bits[n / 2] ^= 0x40;
        out = (rows){{w, h, img.fmt, back, (ptrdiff_t)w * 3}, 0, UINT32_MAX, 0};
        assert_int_equal(lic_decode_rows(dec, bits, n, write_row, &out, NULL), LIC_EBITSTREAM);
        assert_int_equal(out.next, 0);
        bits[n / 2] ^= 0x40;
        assert_int_equal(lic_decode_rows(dec, bits, n, write_row, &out, NULL), 0);
        assert_int_equal(out.next, h);
        lic_image dimg;
        assert_int_equal(lic_decode(dec, bits, n, &dimg), 0);
        assert_memory_equal(dimg.data, back, (size_t)w * h * 3);
        lic_image_free(&dimg);
        /* Arguments. */
        assert_int_equal(lic_encode_rows(enc, w, h, img.fmt, NULL, &in, 50, NULL, &ref, &ref_n), LIC_EINVAL);
        assert_int_equal(lic_encode_rows(enc, 0, h, img.fmt, read_row, &in, 50, NULL, &ref, &ref_n), LIC_EINVAL);
        assert_int_equal(lic_decode_rows(dec, bits, n, NULL, &out, NULL), LIC_EINVAL);
        assert_null(ref);
        lic_free(bits);
        lic_encoder_close(&enc);
        lic_decoder_close(&dec);
    }
    free(px);
    free(back);
    lic_model_release(&m);
}

/* Streaming: with the row callbacks and a fixed tile, the library holds no image-sized pixel buffer —
 * neither the float planes of the transforms (24 bytes per pixel) nor an 8-bit image (3) — so what its
 * peak gains when the image grows is the latents and the coded stream alone. */
static void test_streaming_memory_bounded(void **state)
{
    (void)state;
    lic_model *m = NULL;
    /* A model with few latent channels, so that latents and symbols cost about 1 byte per pixel and a
     * buffer of a few bytes per pixel would stand out. */
    assert_int_equal(lic_model_load_file(&m, TINY_MODEL, NULL), 0);
    const uint32_t w = 4096, h[2] = {128, 256};
    uint8_t *px = malloc((size_t)w * h[1] * 3);
    assert_non_null(px);
    coded r[2];
    for (int s = 0; s < 2; s++) {
        lic_image img = make_image(w, h[s], LIC_PIXFMT_RGB8, px);
        g_entropy_tile = 128; /* the smallest: entropy tiles as small as the transforms' */
        run(m, &img, 64, 1, &r[s]);
        g_entropy_tile = 0;
        print_message("%ux%u tile 64, rows: encode peak %zu B, decode %zu B, latents %llu B, stream %zu B\n", w,
                      h[s], r[s].enc_peak, r[s].dec_peak, (unsigned long long)r[s].whole_bytes, r[s].n);
    }
    const size_t more_px = (size_t)w * (h[1] - h[0]);
    const size_t dw = r[1].whole_bytes - r[0].whole_bytes, dn = r[1].n - r[0].n;
    const size_t dd = r[1].dec_peak - r[0].dec_peak, de = r[1].enc_peak - r[0].enc_peak;
    const size_t dsym = (size_t)(r[1].enc.n_symbols - r[0].enc.n_symbols);
    print_message("growth per added pixel: encode %.2f B, decode %.2f B; latents %.2f B, symbols %.3f, "
                  "stream %.3f B\n",
                  (double)de / more_px, (double)dd / more_px, (double)dw / more_px, (double)dsym / more_px,
                  (double)dn / more_px);
    /* With this model and entropy tiles of 128 pixels, the buffers that stay whole (the latents y and
     * y-hat', z) cost 0.8 bytes per pixel, and the coded tiles are kept as bytes until the file is
     * written: the peaks grow by that and nothing else that scales with the image. An 8-bit image held
     * by the library (3 bytes per pixel) or a float image plane (12) would break these bounds. (The
     * latents are not measured from the whole buffers, which would hold the float planes, were they
     * there.) */
    const size_t latents = more_px, margin = more_px / 4;
    print_message("bounds per added pixel: decode %.2f B, encode %.2f B\n", (double)(latents + margin) / more_px,
                  (double)(latents + 2 * dn + margin) / more_px);
    assert_true(dd < latents + margin);
    assert_true(de < latents + 2 * dn + margin);
    (void)dsym;
    (void)dw;
    for (int s = 0; s < 2; s++)
        free_coded(&r[s]);
    free(px);
    lic_model_release(&m);
}

int main(int argc, char **argv)
{
    g_argc = argc;
    g_argv = argv;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiled_equals_whole_tiny),
        cmocka_unit_test(test_tiled_equals_whole_other_models),
        cmocka_unit_test(test_tiled_equals_whole_default),
        cmocka_unit_test(test_memory_bounded_by_tile),
        cmocka_unit_test(test_streaming_memory_bounded),
        cmocka_unit_test(test_row_callback_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
