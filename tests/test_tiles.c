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

#define TINY_MODEL "testdata/models/tiny.licw"

/* An allocator that tracks the bytes live and their peak. Each block has a 64-byte header holding its
 * size (the library asks for at most 64-byte alignment); the counts are read between calls only. */
typedef struct counter {
    size_t live, peak;
} counter;

#define HEAD 64

static void *count_alloc(void *opaque, size_t size, size_t align)
{
    counter *c = opaque;
    if (align > HEAD)
        return NULL;
    char *p = aligned_alloc(HEAD, (size + 2 * HEAD - 1) / HEAD * HEAD);
    if (!p)
        return NULL;
    memcpy(p, &size, sizeof size);
    c->live += size;
    if (c->live > c->peak)
        c->peak = c->live;
    return p + HEAD;
}

static void count_free(void *opaque, void *q)
{
    counter *c = opaque;
    if (!q)
        return;
    char *p = (char *)q - HEAD;
    size_t size;
    memcpy(&size, p, sizeof size);
    c->live -= size;
    free(p);
}

static lic_config config(uint32_t tile, counter *c)
{
    lic_config cfg;
    assert_int_equal(lic_config_init(&cfg), 0);
    cfg.n_threads = 2;
    cfg.backend = LIC_BACKEND_CPU;
    cfg.tile_side = tile;
    if (c) {
        cfg.allocator.opaque = c;
        cfg.allocator.alloc = count_alloc;
        cfg.allocator.free = count_free;
    }
    return cfg;
}

/* A deterministic image with detail everywhere, so every tile's symbols matter. */
static lic_image make_image(uint32_t w, uint32_t h, uint8_t *px)
{
    uint32_t s = 12345u + w * 31u + h;
    for (size_t i = 0; i < (size_t)w * h * 3; i++) {
        s = s * 1103515245u + 12345u;
        size_t p = i / 3;
        px[i] = (uint8_t)(((p % w) * 7 + (p / w) * 3 + (i % 3) * 50) / 2 + ((s >> 16) & 31));
    }
    lic_image img = {w, h, LIC_PIXFMT_RGB8, px, (ptrdiff_t)w * 3};
    return img;
}

typedef struct coded {
    uint8_t *bits;
    size_t n;
    lic_stats enc, dec;
    float *x_out; /* g_s's float output, 3 x ph x pw */
    size_t x_count;
    size_t enc_peak, dec_peak;
    uint64_t tile_bytes; /* the decoder's tile buffers */
} coded;

static void run(lic_model *m, const lic_image *img, uint32_t tile, coded *r)
{
    memset(r, 0, sizeof(*r));
    counter c = {0, 0};
    lic_config cfg = config(tile, &c);
    lic_encoder *enc = NULL;
    assert_int_equal(lic_encoder_open(&enc, m, &cfg), 0);
    c.peak = c.live;
    size_t base = c.live;
    assert_int_equal(lic_encode(enc, img, 50, &r->bits, &r->n), 0);
    r->enc_peak = c.peak - base;
    assert_int_equal(lic_encoder_get_stats(enc, &r->enc), 0);
    lic_encoder_close(&enc);

    lic_decoder *dec = NULL;
    assert_int_equal(lic_decoder_open(&dec, m, &cfg), 0);
    c.peak = c.live;
    base = c.live;
    lic_image out;
    assert_int_equal(lic_decode(dec, r->bits, r->n, &out), 0);
    r->dec_peak = c.peak - base;
    assert_int_equal(lic_decoder_get_stats(dec, &r->dec), 0);
    /* A decoder's context starts with its engine (lic_engine_open). */
    const lic_engine *e = (const lic_engine *)dec;
    assert_int_equal(e->tiled, tile != LIC_TILE_WHOLE);
    r->x_count = (size_t)3 * e->ph * e->pw;
    r->x_out = malloc(r->x_count * sizeof(float));
    assert_non_null(r->x_out);
    memcpy(r->x_out, lic_engine_view_data(e, &e->md->io.x_out), r->x_count * sizeof(float));
    for (int i = 0; i < e->md->n_bufs; i++)
        r->tile_bytes += e->tbuf_cap[i] * 4;
    lic_image_free(&out);
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
    free(r->x_out);
}

/* Tiled and whole give identical bytes, symbols, parameters and float reconstruction. */
static void check_equal(lic_model *m, uint32_t w, uint32_t h, uint32_t tile)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    assert_non_null(px);
    lic_image img = make_image(w, h, px);
    coded whole, tiled;
    run(m, &img, LIC_TILE_WHOLE, &whole);
    run(m, &img, tile, &tiled);
    print_message("%5ux%-5u tile %4u: %zu bytes, %llu symbols, tile buffers %llu B\n", w, h, tile, whole.n,
                  (unsigned long long)whole.enc.n_symbols, (unsigned long long)tiled.tile_bytes);
    assert_int_equal(tiled.n, whole.n);
    assert_memory_equal(tiled.bits, whole.bits, whole.n);
    assert_int_equal(tiled.enc.symbols_hash, whole.enc.symbols_hash);
    assert_int_equal(tiled.enc.params_hash, whole.enc.params_hash);
    assert_int_equal(tiled.dec.symbols_hash, whole.dec.symbols_hash);
    assert_int_equal(tiled.dec.params_hash, whole.dec.params_hash);
    assert_int_equal(tiled.x_count, whole.x_count);
    assert_memory_equal(tiled.x_out, whole.x_out, whole.x_count * sizeof(float));
    free_coded(&whole);
    free_coded(&tiled);
    free(px);
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

/* With a fixed tile the tile buffers are the same size for a 4x larger image, while the whole run's
 * peak grows with it; the tiled peak grows only by what stays whole (image, latents, symbols). */
static void test_memory_bounded_by_tile(void **state)
{
    (void)state;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_default(&m, NULL), 0);
    const uint32_t small = 384, large = 768;
    uint8_t *px = malloc((size_t)large * large * 3);
    assert_non_null(px);
    coded r[2][2]; /* [small, large][whole, tiled] */
    for (int s = 0; s < 2; s++) {
        uint32_t side = s ? large : small;
        lic_image img = make_image(side, side, px);
        run(m, &img, LIC_TILE_WHOLE, &r[s][0]);
        run(m, &img, 64, &r[s][1]);
        /* The estimate the cap uses covers the measured peak, tiled too. */
        lic_config cfg = config(64, NULL);
        lic_decoder *dec = NULL;
        assert_int_equal(lic_decoder_open(&dec, m, &cfg), 0);
        lic_size_check chk;
        assert_int_equal(lic_decoder_check_size(dec, side, side, &chk), 0);
        lic_decoder_close(&dec);
        print_message("%4ux%-4u whole: encode peak %9zu B, decode %9zu B; tile 64: encode %9zu B, decode "
                      "%9zu B (estimate %9llu B), tile buffers %llu B\n",
                      side, side, r[s][0].enc_peak, r[s][0].dec_peak, r[s][1].enc_peak, r[s][1].dec_peak,
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

int main(int argc, char **argv)
{
    g_argc = argc;
    g_argv = argv;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiled_equals_whole_tiny),
        cmocka_unit_test(test_tiled_equals_whole_other_models),
        cmocka_unit_test(test_tiled_equals_whole_default),
        cmocka_unit_test(test_memory_bounded_by_tile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
