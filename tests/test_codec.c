/* Tests of the codec pipeline through the public API, with the tiny test models in testdata/models:
 * round trips at odd sizes, decoder symbols equal to the encoder's, thread-count invariance, header
 * parsing, model mismatch, limits, corrupt and truncated streams, API misuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lic/codec.h"
#include "tests/lic_edit.h"

#define TINY_MODEL "testdata/models/tiny.licw"
#define TINY_DECONV_MODEL "testdata/models/tiny_deconv.licw"

/* A deterministic photo-like test image: gradients, an edge and some texture. */
static lic_image make_image(uint32_t w, uint32_t h, lic_pixfmt fmt, uint32_t seed)
{
    int ch = fmt == LIC_PIXFMT_GRAY8 ? 1 : 3;
    lic_image img = {w, h, fmt, malloc((size_t)w * h * ch), (ptrdiff_t)w * ch};
    assert_non_null(img.data);
    uint32_t s = seed * 2654435761u + 1;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (int c = 0; c < ch; c++) {
                s = s * 1664525u + 1013904223u;
                int v = (int)((x * 255) / (w + 1) + (y * 97) / (h + 1)) / 2 + (x > w / 2 ? 60 : 0) +
                        (int)(s >> 28) - 8 + c * 20;
                img.data[(size_t)y * img.stride + (size_t)x * ch + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    return img;
}

static lic_model *load(const char *path)
{
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_file(&m, path, NULL), 0);
    return m;
}

static lic_config config_threads(int n)
{
    lic_config cfg;
    assert_int_equal(lic_config_init(&cfg), 0);
    cfg.n_threads = n;
    return cfg;
}

/* Encodes and decodes one image; checks size, format, that the decoder saw exactly the encoder's
 * symbols and parameters, and returns the PSNR-free pixel match count for sanity. */
static void roundtrip(lic_model *m, uint32_t w, uint32_t h, lic_pixfmt fmt, int q, int threads)
{
    lic_config cfg = config_threads(threads);
    lic_encoder *enc = NULL;
    lic_decoder *dec = NULL;
    assert_int_equal(lic_encoder_open(&enc, m, &cfg), 0);
    assert_int_equal(lic_decoder_open(&dec, m, &cfg), 0);
    lic_image img = make_image(w, h, fmt, w * 31 + h);
    uint8_t *bits = NULL;
    size_t n = 0;
    assert_int_equal(lic_encode(enc, &img, q, &bits, &n), 0);
    assert_non_null(bits);

    lic_stream_info info;
    assert_int_equal(lic_peek_info(bits, n, &info), 0);
    assert_int_equal(info.width, w);
    assert_int_equal(info.height, h);
    assert_int_equal(info.fmt, fmt);
    assert_int_equal(info.quality, q);

    lic_image out;
    assert_int_equal(lic_decode(dec, bits, n, &out), 0);
    assert_int_equal(out.width, w);
    assert_int_equal(out.height, h);
    assert_int_equal(out.fmt, fmt);
    assert_non_null(out.data);

    lic_stats es, ds;
    assert_int_equal(lic_encoder_get_stats(enc, &es), 0);
    assert_int_equal(lic_decoder_get_stats(dec, &ds), 0);
    assert_true(es.n_symbols > 0);
    assert_int_equal(es.n_symbols, ds.n_symbols);
    assert_true(es.symbols_hash == ds.symbols_hash);
    assert_true(es.params_hash == ds.params_hash);

    lic_image_free(&out);
    assert_null(out.data);
    lic_free(bits);
    free(img.data);
    lic_decoder_close(&dec);
    lic_encoder_close(&enc);
    assert_null(enc);
}

static void test_roundtrip_sizes(void **state)
{
    (void)state;
    lic_model *m = load(TINY_MODEL);
    roundtrip(m, 1, 1, LIC_PIXFMT_RGB8, 50, 1);
    roundtrip(m, 17, 33, LIC_PIXFMT_RGB8, 10, 2);
    roundtrip(m, 17, 33, LIC_PIXFMT_GRAY8, 90, 2);
    roundtrip(m, 65, 64, LIC_PIXFMT_RGB8, 100, 3);
    roundtrip(m, 768, 512, LIC_PIXFMT_RGB8, 75, 2);
    lic_model_release(&m);
    assert_null(m);
}

static void test_roundtrip_deconv_model(void **state)
{
    (void)state;
    lic_model *m = load(TINY_DECONV_MODEL);
    roundtrip(m, 17, 33, LIC_PIXFMT_RGB8, 1, 2);
    roundtrip(m, 130, 70, LIC_PIXFMT_RGB8, 60, 2);
    lic_model_release(&m);
}

static void encode_with(lic_model *m, const lic_image *img, int q, int threads, uint8_t **bits, size_t *n,
                        lic_stats *st)
{
    lic_config cfg = config_threads(threads);
    lic_encoder *enc = NULL;
    assert_int_equal(lic_encoder_open(&enc, m, &cfg), 0);
    assert_int_equal(lic_encode(enc, img, q, bits, n), 0);
    assert_int_equal(lic_encoder_get_stats(enc, st), 0);
    lic_encoder_close(&enc);
}

/* The same image encoded with 1, 2 and 3 threads gives the same bytes; decoding with any thread
 * count gives the same pixels. */
static void test_thread_invariance(void **state)
{
    (void)state;
    lic_model *m = load(TINY_MODEL);
    lic_image img = make_image(200, 136, LIC_PIXFMT_RGB8, 7);
    uint8_t *ref = NULL;
    size_t ref_n = 0;
    lic_stats ref_st;
    encode_with(m, &img, 60, 1, &ref, &ref_n, &ref_st);
    uint8_t *ref_px = NULL;
    for (int t = 1; t <= 3; t++) {
        uint8_t *bits;
        size_t n;
        lic_stats st;
        encode_with(m, &img, 60, t, &bits, &n, &st);
        assert_int_equal(n, ref_n);
        assert_memory_equal(bits, ref, n);
        assert_true(st.params_hash == ref_st.params_hash);
        lic_free(bits);

        lic_config cfg = config_threads(t);
        lic_decoder *dec = NULL;
        lic_image out;
        assert_int_equal(lic_decoder_open(&dec, m, &cfg), 0);
        assert_int_equal(lic_decode(dec, ref, ref_n, &out), 0);
        size_t bytes = (size_t)out.stride * out.height;
        if (!ref_px) {
            ref_px = malloc(bytes);
            memcpy(ref_px, out.data, bytes);
        } else {
            assert_memory_equal(out.data, ref_px, bytes);
        }
        lic_image_free(&out);
        lic_decoder_close(&dec);
    }
    free(ref_px);
    lic_free(ref);
    free(img.data);
    lic_model_release(&m);
}

/* One decoder, several images of different sizes in a row: workspace reuse must not leak state. */
static void test_context_reuse(void **state)
{
    (void)state;
    lic_model *m = load(TINY_MODEL);
    lic_encoder *enc = NULL;
    lic_decoder *dec = NULL;
    assert_int_equal(lic_encoder_open(&enc, m, NULL), 0);
    assert_int_equal(lic_decoder_open(&dec, m, NULL), 0);
    lic_model_release(&m); /* the contexts keep the model alive */
    const uint32_t sizes[][2] = {{128, 128}, {40, 20}, {128, 128}, {300, 90}};
    uint64_t first_hash = 0;
    for (int i = 0; i < 4; i++) {
        lic_image img = make_image(sizes[i][0], sizes[i][1], LIC_PIXFMT_RGB8, 3);
        uint8_t *bits;
        size_t n;
        lic_image out;
        lic_stats st, es;
        assert_int_equal(lic_encode(enc, &img, 40, &bits, &n), 0);
        assert_int_equal(lic_decode(dec, bits, n, &out), 0);
        assert_int_equal(lic_decoder_get_stats(dec, &st), 0);
        assert_int_equal(lic_encoder_get_stats(enc, &es), 0);
        assert_true(es.symbols_hash == st.symbols_hash);
        assert_true(es.params_hash == st.params_hash);
        if (i == 0)
            first_hash = st.symbols_hash;
        if (i == 2)
            assert_true(st.symbols_hash == first_hash);
        lic_image_free(&out);
        lic_free(bits);
        free(img.data);
    }
    lic_encoder_close(&enc);
    lic_decoder_close(&dec);
}

static void encode_small(lic_model *m, uint8_t **bits, size_t *n)
{
    lic_image img = make_image(48, 40, LIC_PIXFMT_RGB8, 11);
    lic_stats st;
    encode_with(m, &img, 70, 1, bits, n, &st);
    free(img.data);
}

static void test_model_mismatch(void **state)
{
    (void)state;
    lic_model *a = load(TINY_MODEL), *b = load(TINY_DECONV_MODEL);
    lic_model_info ia, ib;
    assert_int_equal(lic_model_get_info(a, &ia), 0);
    assert_int_equal(lic_model_get_info(b, &ib), 0);
    assert_true(ia.fingerprint != ib.fingerprint);
    uint8_t *bits;
    size_t n;
    encode_small(a, &bits, &n);
    lic_stream_info info;
    assert_int_equal(lic_peek_info(bits, n, &info), 0);
    assert_true(info.model_fingerprint == ia.fingerprint);
    lic_decoder *dec = NULL;
    lic_image out;
    assert_int_equal(lic_decoder_open(&dec, b, NULL), 0);
    assert_int_equal(lic_decode(dec, bits, n, &out), LIC_EMODEL_MISMATCH);
    assert_null(out.data);
    lic_decoder_close(&dec);
    lic_free(bits);
    lic_model_release(&a);
    lic_model_release(&b);
}

/* Every truncation and every single-bit flip of a small stream either fails cleanly or decodes to an
 * image of the declared size. */
static void test_corrupt_streams(void **state)
{
    (void)state;
    lic_model *m = load(TINY_MODEL);
    uint8_t *bits2, *bits;
    size_t n2, n = 0;
    encode_small(m, &bits2, &n2);
    /* The version-1 reader (no CRCs): damage reaches the entropy decoder (test_sweep covers v2). */
    assert_non_null(bits = lic_test_to_v1(bits2, n2, &n));
    lic_free(bits2);
    lic_decoder *dec = NULL;
    assert_int_equal(lic_decoder_open(&dec, m, NULL), 0);
    uint8_t *copy = malloc(n);
    int errors = 0, images = 0;
    for (size_t len = 0; len < n; len++) {
        memcpy(copy, bits, len);
        lic_image out;
        int ret = lic_decode(dec, copy, len, &out);
        assert_true(ret == LIC_EBITSTREAM || ret == 0);
        if (ret == 0) {
            lic_image_free(&out);
            images++;
        } else {
            errors++;
        }
    }
    /* Truncation changes the stream table's sum, so every strict prefix is refused. */
    assert_int_equal(errors, (int)n);
    /* Shorten the y payload while keeping the table consistent: the entropy decoder itself must run
     * out of data cleanly. Header 24 bytes + 2 table entries of 5; y is the second stream. */
    uint32_t ylen = (uint32_t)bits[30] | (uint32_t)bits[31] << 8 | (uint32_t)bits[32] << 16 | (uint32_t)bits[33] << 24;
    for (uint32_t cut = 1; cut <= ylen; cut++) {
        memcpy(copy, bits, n - cut);
        uint32_t l = ylen - cut;
        for (int i = 0; i < 4; i++)
            copy[30 + i] = (uint8_t)(l >> (8 * i));
        lic_image out;
        int ret = lic_decode(dec, copy, n - cut, &out);
        assert_true(ret == LIC_EBITSTREAM || ret == 0);
        if (ret == 0)
            lic_image_free(&out);
        if (cut >= 8) /* without the rANS state words nothing can decode */
            assert_int_equal(ret, LIC_EBITSTREAM);
    }
    size_t flips = n * 8 < 4000 ? n * 8 : 4000;
    for (size_t i = 0; i < flips; i++) {
        size_t bit = (i * 7919) % (n * 8);
        memcpy(copy, bits, n);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        lic_image out;
        lic_stream_info info;
        int ret = lic_decode(dec, copy, n, &out);
        if (ret == 0) {
            assert_int_equal(lic_peek_info(copy, n, &info), 0);
            assert_int_equal(out.width, info.width);
            assert_int_equal(out.height, info.height);
            lic_image_free(&out);
            images++;
        } else {
            assert_true(ret == LIC_EBITSTREAM || ret == LIC_EMODEL_MISMATCH || ret == LIC_ELIMIT);
            errors++;
        }
    }
    print_message("corrupt version-1 streams: %d errors, %d images of the declared size\n", errors, images);
    free(copy);
    lic_decoder_close(&dec);
    free(bits);
    lic_model_release(&m);
}

/* A tiny stream that claims 65535 x 65535 pixels is refused before any allocation. */
static void test_limits(void **state)
{
    (void)state;
    lic_model *m = load(TINY_MODEL);
    uint8_t *bits;
    size_t n;
    encode_small(m, &bits, &n);
    lic_test_set_size(bits, 65535, 65535);
    lic_decoder *dec = NULL;
    lic_image out;
    assert_int_equal(lic_decoder_open(&dec, m, NULL), 0);
    assert_int_equal(lic_decode(dec, bits, n, &out), LIC_ELIMIT);
    lic_decoder_close(&dec);

    lic_config cfg = config_threads(1);
    cfg.max_side = 32;
    lic_encoder *enc = NULL;
    assert_int_equal(lic_encoder_open(&enc, m, &cfg), 0);
    lic_image img = make_image(33, 8, LIC_PIXFMT_RGB8, 1);
    uint8_t *b2;
    size_t n2;
    assert_int_equal(lic_encode(enc, &img, 50, &b2, &n2), LIC_ELIMIT);
    assert_null(b2);
    lic_encoder_close(&enc);

    cfg = config_threads(1);
    cfg.max_memory = 1 << 20;
    assert_int_equal(lic_encoder_open(&enc, m, &cfg), 0);
    free(img.data);
    img = make_image(1024, 1024, LIC_PIXFMT_RGB8, 1);
    assert_int_equal(lic_encode(enc, &img, 50, &b2, &n2), LIC_ELIMIT);
    lic_encoder_close(&enc);
    free(img.data);
    lic_free(bits);
    lic_model_release(&m);
}

static void test_api_misuse(void **state)
{
    (void)state;
    lic_config cfg;
    assert_int_equal(lic_config_init(NULL), LIC_EINVAL);
    assert_int_equal(lic_config_init_abi(&cfg, LIC_ABI_VERSION + (1u << 8)), LIC_EABI);
    assert_int_equal(lic_config_init(&cfg), 0);
    assert_int_equal(cfg.max_side, 65535);
    assert_int_equal(cfg.tile_side, 0);
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_file(&m, "does/not/exist.licw", NULL), LIC_EIO);
    assert_null(m);
    assert_int_equal(lic_model_load_memory(&m, "LICW", 4, NULL), LIC_EMODEL);
    assert_int_equal(lic_model_load_file(NULL, TINY_MODEL, NULL), LIC_EINVAL);
    m = load(TINY_MODEL);
    lic_config bad = cfg;
    bad.abi_version = 0;
    lic_encoder *enc = NULL;
    assert_int_equal(lic_encoder_open(&enc, m, &bad), LIC_EABI);
    /* CUDA works exactly when AUTO picks it (a CUDA build with a usable device); otherwise it is
     * refused cleanly. AUTO's choice is read from the stats before any encode. */
    assert_int_equal(cfg.cpu_features, LIC_CPU_ALL);
    assert_int_equal(lic_encoder_open(&enc, m, &cfg), 0);
    lic_stats st;
    assert_int_equal(lic_encoder_get_stats(enc, &st), 0);
    const int have_gpu = !strcmp(st.backend, "cuda");
    assert_true(have_gpu || !strcmp(st.backend, "cpu"));
    lic_encoder_close(&enc);
    print_message("backend AUTO chose %s: expecting --backend cuda to %s\n", st.backend,
                  have_gpu ? "work" : "be LIC_EUNSUPPORTED");
    cfg.backend = LIC_BACKEND_CUDA;
    if (have_gpu) {
        assert_int_equal(lic_encoder_open(&enc, m, &cfg), 0);
        assert_int_equal(lic_encoder_get_stats(enc, &st), 0);
        assert_string_equal(st.backend, "cuda");
        lic_encoder_close(&enc);
    } else {
        assert_int_equal(lic_encoder_open(&enc, m, &cfg), LIC_EUNSUPPORTED);
        assert_null(enc);
    }
    cfg.backend = LIC_BACKEND_AUTO;
    bad = cfg;
    bad.cpu_features = LIC_CPU_ALL + 1; /* a bit no CPU feature has */
    assert_int_equal(lic_encoder_open(&enc, m, &bad), LIC_EINVAL);
    assert_null(enc);
    bad.cpu_features = 0; /* the C kernels only: valid */
    assert_int_equal(lic_encoder_open(&enc, m, &bad), 0);
    lic_encoder_close(&enc);
    assert_int_equal(lic_encoder_open(&enc, NULL, NULL), LIC_EINVAL);
    assert_int_equal(lic_encoder_open(&enc, m, NULL), 0);
    lic_image img = make_image(8, 8, LIC_PIXFMT_RGB8, 1);
    uint8_t *bits;
    size_t n;
    assert_int_equal(lic_encode(enc, &img, 0, &bits, &n), LIC_EINVAL);
    assert_int_equal(lic_encode(enc, &img, 101, &bits, &n), LIC_EINVAL);
    img.stride = 5;
    assert_int_equal(lic_encode(enc, &img, 50, &bits, &n), LIC_EINVAL);
    assert_int_equal(lic_encode(enc, NULL, 50, &bits, &n), LIC_EINVAL);
    lic_stream_info info;
    assert_int_equal(lic_peek_info((const uint8_t *)"junk", 4, &info), LIC_EBITSTREAM);
    for (int c = 0; c >= -12; c--)
        assert_non_null(lic_strerror(c));
    assert_string_equal(lic_strerror(LIC_EMODEL_MISMATCH), "bitstream was encoded with a different model");
    free(img.data);
    lic_encoder_close(&enc);
    lic_encoder_close(&enc); /* closing twice is harmless: the pointer is NULL */
    lic_encoder_close(NULL);
    lic_model_release(&m);
    lic_model_release(NULL);
    lic_image_free(NULL);
    lic_free(NULL);
}

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    uint8_t *buf = malloc((size_t)n);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

/* Golden bitstreams made once by lic-encode with the tiny model: whatever the machine, kernel path,
 * SIMD level or thread count, the decoder must reproduce exactly the symbols and the entropy
 * parameters (means, scale indexes) recorded when they were made — the determinism rule. */
static void test_golden_bitstreams(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        uint32_t w, h;
        uint64_t symbols_hash, params_hash;
    } golden[] = {
        {"testdata/bitstreams/tiny_17x33_q90.lic", 17, 33, 0xba36fcf523737bb1ull, 0x36db655cad938455ull},
        {"testdata/bitstreams/tiny_768x512_q50.lic", 768, 512, 0x6e16f8f92cf434daull, 0x91b4531ab93efeeaull},
        /* 24 tiles of 128 pixels (lic-encode --entropy-tile 128): FORMAT.md §3.2 */
        {"testdata/bitstreams/tiny_768x512_q50_t128.v2.lic", 768, 512, 0x9420948d5c184e12ull, 0xc0adabae3e79c983ull},
    };
    lic_model *m = load(TINY_MODEL);
    for (size_t i = 0; i < sizeof(golden) / sizeof(golden[0]); i++) {
        size_t n;
        uint8_t *bits = read_file(golden[i].path, &n);
        for (int t = 1; t <= 3; t++) {
            lic_config cfg = config_threads(t);
            lic_decoder *dec = NULL;
            lic_image out;
            lic_stats st;
            assert_int_equal(lic_decoder_open(&dec, m, &cfg), 0);
            assert_int_equal(lic_decode(dec, bits, n, &out), 0);
            assert_int_equal(out.width, golden[i].w);
            assert_int_equal(out.height, golden[i].h);
            assert_int_equal(lic_decoder_get_stats(dec, &st), 0);
            assert_true(st.symbols_hash == golden[i].symbols_hash);
            assert_true(st.params_hash == golden[i].params_hash);
            lic_image_free(&out);
            lic_decoder_close(&dec);
        }
        free(bits);
    }
    lic_model_release(&m);
}

/* The embedded default model loads and has the documented shape. */
static void test_default_model(void **state)
{
    (void)state;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_default(&m, NULL), 0);
    lic_model_info info;
    assert_int_equal(lic_model_get_info(m, &info), 0);
    assert_string_equal(info.arch, "lic-ctx1");
    assert_true(info.n_channels_y > 0 && info.n_channels_z > 0);
    lic_model_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_sizes),  cmocka_unit_test(test_roundtrip_deconv_model),
        cmocka_unit_test(test_thread_invariance), cmocka_unit_test(test_context_reuse),
        cmocka_unit_test(test_model_mismatch),   cmocka_unit_test(test_corrupt_streams),
        cmocka_unit_test(test_limits),           cmocka_unit_test(test_api_misuse),
        cmocka_unit_test(test_golden_bitstreams), cmocka_unit_test(test_default_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
