/* Entropy coding by tile of the latent (codec/entropy_tiles.h, docs/FORMAT.md §3.2): multi-tile round
 * trips on odd sizes, gray and RGB; the same bytes and hashes for 1, 2 and 3 threads; the decoder's
 * y-hat' equal to the encoder's; one tile written as tile_log2 0; a damaged tile stream refused; the
 * configuration checked; and the probability path's memory bounded by the tile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/backend.h"
#include "codec/container.h"
#include "codec/engine.h"
#include "lic/codec.h"
#include "tests/test_support.h"

#define TINY_MODEL "testdata/models/tiny.licw"

static const char *g_hp1_model; /* argv[1]: a tiny lic-hp1 model */

static lic_config config(uint32_t entropy_tile, int threads)
{
    lic_config cfg;
    assert_int_equal(lic_config_init(&cfg), 0);
    cfg.n_threads = threads;
    cfg.backend = LIC_BACKEND_CPU;
    cfg.entropy_tile = entropy_tile;
    return cfg;
}

/* A deterministic image with detail everywhere, so that every tile has symbols that matter. */
static lic_image make_image(uint32_t w, uint32_t h, lic_pixfmt fmt)
{
    const int ch = fmt == LIC_PIXFMT_GRAY8 ? 1 : 3;
    uint8_t *px = malloc((size_t)w * h * ch);
    assert_non_null(px);
    uint32_t s = 777u + w * 131u + h;
    for (size_t i = 0; i < (size_t)w * h * ch; i++) {
        s = s * 1103515245u + 12345u;
        const size_t p = i / ch;
        px[i] = (uint8_t)(((p % w) * 5 + (p / w) * 9 + (i % ch) * 70) / 3 + ((s >> 16) & 63));
    }
    lic_image img = {w, h, fmt, px, (ptrdiff_t)w * ch};
    return img;
}

typedef struct coded {
    uint8_t *bits;
    size_t n;
    lic_stats st;
    int32_t *yq; /* the engine's y-hat' after the call */
    size_t yq_count;
} coded;

static void keep_yq(const lic_engine *e, coded *r)
{
    r->yq_count = (size_t)e->md->arch.M * e->lh * e->lw;
    r->yq = malloc(r->yq_count * sizeof(int32_t));
    assert_non_null(r->yq);
    memcpy(r->yq, e->yq, r->yq_count * sizeof(int32_t));
}

/* After encoding, every position of y-hat' (1/256 units) is y' quantized around its mean: within half
 * a step of y' * 256. A tile that wrote its values to the wrong place, or not at all, fails this. */
static void check_quantized(const lic_engine *e)
{
    size_t far = 0;
    for (size_t i = 0; i < (size_t)e->md->arch.M * e->lh * e->lw; i++) {
        const double d = (double)e->yq[i] - (double)e->y[i] * 256.0;
        far += d > 128.5 || d < -128.5; /* half a step, plus half a unit of rounding y' * 256 */
    }
    assert_int_equal(far, 0);
}

static void encode(lic_model *m, const lic_image *img, uint32_t entropy_tile, int threads, coded *r)
{
    memset(r, 0, sizeof(*r));
    lic_config cfg = config(entropy_tile, threads);
    lic_encoder *enc = NULL;
    assert_int_equal(lic_encoder_open(&enc, m, &cfg), 0);
    assert_int_equal(lic_encode(enc, img, 60, &r->bits, &r->n), 0);
    assert_int_equal(lic_encoder_get_stats(enc, &r->st), 0);
    keep_yq((const lic_engine *)enc, r); /* a context starts with its engine */
    check_quantized((const lic_engine *)enc);
    lic_encoder_close(&enc);
}

static void decode(lic_model *m, const uint8_t *bits, size_t n, int threads, lic_image *out, coded *r)
{
    memset(r, 0, sizeof(*r));
    lic_config cfg = config(0, threads);
    lic_decoder *dec = NULL;
    assert_int_equal(lic_decoder_open(&dec, m, &cfg), 0);
    assert_int_equal(lic_decode(dec, bits, n, out), 0);
    assert_int_equal(lic_decoder_get_stats(dec, &r->st), 0);
    keep_yq((const lic_engine *)dec, r);
    lic_decoder_close(&dec);
}

static void free_coded(coded *r)
{
    lic_free(r->bits);
    free(r->yq);
}

static void same_stats(const lic_stats *a, const lic_stats *b)
{
    assert_true(a->symbols_hash == b->symbols_hash);
    assert_true(a->params_hash == b->params_hash);
    assert_int_equal(a->n_symbols, b->n_symbols);
}

/* Encodes w x h with 128-pixel tiles (tile_log2 3) on 1, 2 and 3 threads and decodes on 1 and 2:
 * identical bytes and hashes, the tiling the size implies in the header, and the decoders' y-hat'
 * and pixels equal to each other and y-hat' to the encoder's. */
static void round_trip(lic_model *m, uint32_t w, uint32_t h, lic_pixfmt fmt, uint64_t tiles)
{
    lic_image img = make_image(w, h, fmt);
    coded enc[3];
    for (int t = 0; t < 3; t++) {
        encode(m, &img, 128, t + 1, &enc[t]);
        if (t) {
            assert_int_equal(enc[t].n, enc[0].n);
            assert_memory_equal(enc[t].bits, enc[0].bits, enc[0].n);
            same_stats(&enc[t].st, &enc[0].st);
        }
    }
    lic_container c;
    assert_int_equal(lic_container_parse(&c, enc[0].bits, enc[0].n), 0);
    assert_int_equal(c.n_tiles, tiles);
    assert_int_equal(c.tile_log2, tiles > 1 ? 3 : 0); /* one tile is always written as tile_log2 0 */

    lic_image out[2];
    for (int t = 0; t < 2; t++) {
        coded dec;
        decode(m, enc[0].bits, enc[0].n, t + 1, &out[t], &dec);
        same_stats(&dec.st, &enc[0].st);
        assert_int_equal(dec.yq_count, enc[0].yq_count);
        assert_memory_equal(dec.yq, enc[0].yq, dec.yq_count * sizeof(int32_t));
        assert_int_equal(out[t].width, w);
        assert_int_equal(out[t].height, h);
        assert_int_equal(out[t].fmt, fmt);
        free_coded(&dec);
    }
    assert_memory_equal(out[0].data, out[1].data, (size_t)out[0].stride * h);

    /* One tile over the same latent codes the same number of symbols; with several tiles the
     * streams differ, since the tiles' context networks do not see across the edges. */
    coded whole;
    encode(m, &img, LIC_TILE_WHOLE, 2, &whole);
    assert_int_equal(whole.st.n_symbols, enc[0].st.n_symbols);
    assert_int_equal(lic_container_parse(&c, whole.bits, whole.n), 0);
    assert_int_equal(c.tile_log2, 0);
    if (tiles == 1)
        assert_memory_equal(whole.bits, enc[0].bits, enc[0].n);
    else
        assert_false(whole.n == enc[0].n && !memcmp(whole.bits, enc[0].bits, whole.n));
    print_message("%5ux%-4u %s: %3llu tiles, %6zu bytes (one tile: %6zu)\n", w, h,
                  fmt == LIC_PIXFMT_GRAY8 ? "gray" : "RGB ", (unsigned long long)tiles, enc[0].n, whole.n);
    free_coded(&whole);
    for (int t = 0; t < 3; t++)
        free_coded(&enc[t]);
    lic_image_free(&out[0]);
    lic_image_free(&out[1]);
    free(img.data);
}

static void test_round_trips_tiny(void **state)
{
    (void)state;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_file(&m, TINY_MODEL, NULL), 0);
    round_trip(m, 1, 1, LIC_PIXFMT_RGB8, 1);
    round_trip(m, 65, 63, LIC_PIXFMT_RGB8, 1);      /* latent 8 x 8: exactly one tile */
    round_trip(m, 129, 129, LIC_PIXFMT_RGB8, 4);    /* latent 12 x 12: one tile plus one unit each way */
    round_trip(m, 129, 17, LIC_PIXFMT_GRAY8, 2);
    round_trip(m, 4097, 17, LIC_PIXFMT_RGB8, 33);   /* latent 260 x 4 */
    round_trip(m, 17, 300, LIC_PIXFMT_GRAY8, 3);    /* latent 4 x 20 */
    lic_model_release(&m);
}

static void test_round_trips_other_models(void **state)
{
    (void)state;
    lic_model *m = NULL;
    if (g_hp1_model) {
        assert_int_equal(lic_model_load_file(&m, g_hp1_model, NULL), 0);
        round_trip(m, 129, 129, LIC_PIXFMT_RGB8, 4);
        lic_model_release(&m);
    }
    assert_int_equal(lic_model_load_default(&m, NULL), 0);
    round_trip(m, 200, 130, LIC_PIXFMT_RGB8, 4);
    lic_model_release(&m);
}

/* A tile whose stream is cut to its first 8 bytes (rewritten with valid CRCs) is refused as damaged,
 * whatever the thread count, and nothing leaks or crashes. */
static void test_damaged_tile(void **state)
{
    (void)state;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_file(&m, TINY_MODEL, NULL), 0);
    lic_image img = make_image(300, 200, LIC_PIXFMT_RGB8);
    coded enc;
    encode(m, &img, 128, 2, &enc);
    lic_container c;
    assert_int_equal(lic_container_parse(&c, enc.bits, enc.n), 0);
    assert_true(c.n_tiles == 6);
    lic_span tiles[6];
    lic_container_tiles(&c, tiles);
    for (uint64_t bad = 0; bad < c.n_tiles; bad += 5) {
        lic_span cut[6];
        memcpy(cut, tiles, sizeof cut);
        assert_true(cut[bad].size > 8);
        cut[bad].size = 8;
        lic_container_content cc = {.info = c.info, .source_bit_depth = 8, .z = c.stream_data[0],
                                    .z_size = c.stream_size[0], .tile_log2 = c.tile_log2, .n_tiles = c.n_tiles,
                                    .tiles = cut};
        size_t n = lic_container_v2_size(&cc);
        uint8_t *file = malloc(n);
        assert_non_null(file);
        lic_container_v2_write(file, &cc);
        for (int threads = 1; threads <= 2; threads++) {
            lic_config cfg = config(0, threads);
            lic_decoder *dec = NULL;
            lic_image out;
            assert_int_equal(lic_decoder_open(&dec, m, &cfg), 0);
            assert_int_equal(lic_decode(dec, file, n, &out), LIC_EBITSTREAM);
            assert_null(out.data);
            lic_decoder_close(&dec);
        }
        free(file);
    }
    free_coded(&enc);
    free(img.data);
    lic_model_release(&m);
}

/* The hyper-synthesis window a tile computes from z-hat with a halo equals that window of the whole
 * computation (FORMAT.md §3.2: "tiled h_s gives the same bits"). With one thread the last tile's
 * frame is left in worker 0's workspace after an encode. */
static void test_hyper_window(void **state)
{
    (void)state;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_default(&m, NULL), 0);
    lic_image img = make_image(300, 200, LIC_PIXFMT_RGB8); /* latent 20 x 16: 3 x 2 tiles of 8 */
    lic_config cfg = config(128, 1);
    lic_encoder *enc = NULL;
    assert_int_equal(lic_encoder_open(&enc, m, &cfg), 0);
    uint8_t *bits;
    size_t n;
    assert_int_equal(lic_encode(enc, &img, 60, &bits, &n), 0);
    lic_engine *e = (lic_engine *)enc;
    assert_int_equal(e->et.n, 6);
    const int y0 = 8, x0 = 16, h = 8, w = 4; /* the last tile */
    const lic_code_step *run = &e->md->steps[e->et.hyper_step];
    const lic_view hv = e->md->ops[run->ops.first + run->ops.count - 1].out;
    const lic_frame tile = {e->et.ws[0].buf, 16 * h, 16 * w};
    const size_t tcount = (size_t)hv.c * h * w;
    int32_t *tiled = malloc(tcount * sizeof(int32_t));
    assert_non_null(tiled);
    memcpy(tiled, lic_frame_data(&tile, &hv), tcount * sizeof(int32_t));

    /* The whole computation on the same z-hat: the engine prepared for one tile. */
    const size_t zn = (size_t)e->md->io.zhat.c * (e->ph / 64) * (e->pw / 64);
    int32_t *zhat = malloc(zn * sizeof(int32_t));
    assert_non_null(zhat);
    memcpy(zhat, e->zhat, zn * sizeof(int32_t));
    assert_int_equal(lic_engine_prepare_tiles(e, img.width, img.height, 0), 0);
    assert_int_equal(e->et.n, 1);
    memcpy(e->zhat, zhat, zn * sizeof(int32_t));
    assert_int_equal(lic_interp_run(e, run->ops, NULL), 0);
    const int32_t *whole = lic_engine_view_data(e, &hv);
    size_t diff = 0;
    for (int c = 0; c < hv.c; c++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                diff += tiled[((size_t)c * h + y) * w + x] != whole[((size_t)c * e->lh + y0 + y) * e->lw + x0 + x];
    assert_int_equal(diff, 0);
    free(zhat);
    free(tiled);
    lic_free(bits);
    lic_encoder_close(&enc);
    free(img.data);
    lic_model_release(&m);
}

static void test_config(void **state)
{
    (void)state;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_file(&m, TINY_MODEL, NULL), 0);
    const uint32_t good[] = {0, 128, 256, 512, 1024, 2048, 4096, LIC_TILE_WHOLE};
    const uint32_t bad[] = {1, 64, 127, 129, 192, 3000, 8192, 0x80000000u};
    for (size_t i = 0; i < sizeof good / sizeof good[0] + sizeof bad / sizeof bad[0]; i++) {
        const int ok = i < sizeof good / sizeof good[0];
        lic_config cfg = config(ok ? good[i] : bad[i - sizeof good / sizeof good[0]], 1);
        lic_encoder *enc = NULL;
        assert_int_equal(lic_encoder_open(&enc, m, &cfg), ok ? 0 : LIC_EINVAL);
        lic_encoder_close(&enc);
    }
    /* The default: 2048 pixels, so a 2112-pixel-wide image (latent 132) has two tiles across. */
    lic_image img = make_image(2112, 8, LIC_PIXFMT_GRAY8);
    coded r;
    encode(m, &img, 0, 2, &r);
    lic_container c;
    assert_int_equal(lic_container_parse(&c, r.bits, r.n), 0);
    assert_int_equal(c.tile_log2, 7);
    assert_int_equal(c.n_tiles, 2);
    free_coded(&r);
    free(img.data);
    lic_model_release(&m);
}

/* Under a memory cap that two tiles in flight would exceed, the engine codes one tile at a time
 * instead of refusing: the same bytes, one workspace in use, and the estimate within the cap. */
static void test_cap_fewer_workers(void **state)
{
    (void)state;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_default(&m, NULL), 0);
    lic_image img = make_image(768, 512, LIC_PIXFMT_RGB8); /* 6 x 4 tiles of 128 pixels */
    coded ref;
    encode(m, &img, 128, 2, &ref);
    lic_config cfg = config(128, 2);
    lic_encoder *enc = NULL;
    assert_int_equal(lic_encoder_open(&enc, m, &cfg), 0);
    lic_size_check chk;
    assert_int_equal(lic_encoder_check_size(enc, img.width, img.height, &chk), 0);
    const uint64_t two = chk.memory;
    lic_encoder_close(&enc);
    cfg.max_memory = two - 1;
    cfg.tile_side = 1024; /* the transforms' tile fixed: only the tiles in flight can give way */
    assert_int_equal(lic_encoder_open(&enc, m, &cfg), 0);
    assert_int_equal(lic_encoder_check_size(enc, img.width, img.height, &chk), 0);
    assert_true(chk.memory < two);
    uint8_t *bits;
    size_t n;
    assert_int_equal(lic_encode(enc, &img, 60, &bits, &n), 0);
    assert_int_equal(((const lic_engine *)enc)->et.workers, 1);
    assert_int_equal(n, ref.n);
    assert_memory_equal(bits, ref.bits, n);
    print_message("768x512, 2 threads: estimate %llu B with two tiles in flight, %llu B with one\n",
                  (unsigned long long)two, (unsigned long long)chk.memory);
    lic_free(bits);
    lic_encoder_close(&enc);
    free_coded(&ref);
    free(img.data);
    lic_model_release(&m);
}

/* ---- memory ---- */


/* Peak bytes of one encode and one decode with entropy tiles of `tile` pixels (single-threaded, so
 * the counts are exact; the float transforms in 64-pixel tiles, so that what grows with the image is
 * the probability path and what stays whole for every tiling), and the decoder's estimate. */
static void peaks(lic_model *m, const lic_image *img, uint32_t tile, size_t *enc_peak, size_t *dec_peak,
                  uint64_t *estimate)
{
    lic_test_peak_counter c = {0, 0};
    lic_config cfg = config(tile, 1);
    cfg.tile_side = 64;
    cfg.allocator = (lic_allocator){&c, lic_test_peak_alloc, lic_test_peak_free};
    lic_encoder *enc = NULL;
    assert_int_equal(lic_encoder_open(&enc, m, &cfg), 0);
    size_t base = c.peak = c.live;
    uint8_t *bits;
    size_t n;
    assert_int_equal(lic_encode(enc, img, 60, &bits, &n), 0);
    *enc_peak = c.peak - base;
    lic_encoder_close(&enc);
    lic_decoder *dec = NULL;
    assert_int_equal(lic_decoder_open(&dec, m, &cfg), 0);
    base = c.peak = c.live;
    lic_image out;
    assert_int_equal(lic_decode(dec, bits, n, &out), 0);
    *dec_peak = c.peak - base;
    lic_size_check chk;
    assert_int_equal(lic_decoder_check_size(dec, img->width, img->height, &chk), 0);
    *estimate = chk.memory;
    lic_image_free(&out);
    lic_decoder_close(&dec);
    lic_free(bits);
}

/* With 128-pixel tiles the probability path's buffers and the symbol writer hold one tile, not the
 * image: from 384x256 to 768x512 the peaks grow less than with one tile, by at least 8 bytes per
 * added pixel when decoding (the shipped model's context, parameter and anchor buffers are about
 * 16) and 24 when encoding (the symbol writer alone holds 40 bytes for each of 0.5 symbols per
 * pixel); what still grows is the pixels, y, y-hat', z and the finished streams. The estimate covers
 * every measured peak. */
static void test_memory(void **state)
{
    (void)state;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_default(&m, NULL), 0);
    size_t e[2][2], d[2][2]; /* [small, large][one tile, 128-pixel tiles] */
    for (int s = 0; s < 2; s++) {
        lic_image img = make_image(384u << s, 256u << s, LIC_PIXFMT_RGB8);
        for (int t = 0; t < 2; t++) {
            uint64_t est;
            peaks(m, &img, t ? 128 : LIC_TILE_WHOLE, &e[s][t], &d[s][t], &est);
            print_message("%4ux%-4u %-10s encode peak %9zu B, decode %9zu B, estimate %9llu B\n", img.width,
                          img.height, t ? "128 px:" : "one tile:", e[s][t], d[s][t], (unsigned long long)est);
            assert_true(e[s][t] <= est);
            assert_true(d[s][t] <= est);
        }
        free(img.data);
    }
    const size_t added = 768 * 512 - 384 * 256;
    for (int dec = 0; dec < 2; dec++) {
        size_t (*p)[2] = dec ? d : e;
        assert_true(p[1][0] > p[0][0] && p[1][1] > p[0][1]);
        assert_true((p[1][1] - p[0][1]) + (dec ? 8 : 24) * added < p[1][0] - p[0][0]);
    }
    lic_model_release(&m);
}

/* An allocator whose allocation number `fail_at` (counting from 1) fails; counts live blocks. */
typedef struct failing {
    long n, fail_at, live;
} failing;

static void *fail_alloc(void *opaque, size_t size, size_t align)
{
    failing *f = opaque;
    if (++f->n == f->fail_at)
        return NULL;
    void *p = aligned_alloc(align < 64 ? 64 : align, (size + 63) / 64 * 64);
    f->live += p != NULL;
    return p;
}

static void fail_free(void *opaque, void *p)
{
    failing *f = opaque;
    f->live -= p != NULL;
    free(p);
}

/* Every allocation of a multi-tile encode and decode failed once in turn (one thread, so the order is
 * fixed): each failure is LIC_ENOMEM with empty outputs, nothing leaks, and the same context then
 * codes the image as one that never failed. */
static void test_alloc_failures(void **state)
{
    (void)state;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_file(&m, TINY_MODEL, NULL), 0);
    lic_image img = make_image(300, 140, LIC_PIXFMT_RGB8); /* 3 x 2 tiles of 128 pixels */
    coded ref;
    encode(m, &img, 128, 1, &ref);
    for (int dec = 0; dec < 2; dec++) {
        long failures = 0;
        for (long at = 1;; at++) {
            failing f = {0, 0, 0};
            lic_config cfg = config(128, 1);
            cfg.allocator = (lic_allocator){&f, fail_alloc, fail_free};
            lic_encoder *enc = NULL;
            lic_decoder *d = NULL;
            assert_int_equal(dec ? lic_decoder_open(&d, m, &cfg) : lic_encoder_open(&enc, m, &cfg), 0);
            f.fail_at = f.n + at;
            uint8_t *bits = NULL;
            size_t n = 0;
            lic_image out = {0};
            int ret = dec ? lic_decode(d, ref.bits, ref.n, &out) : lic_encode(enc, &img, 60, &bits, &n);
            if (ret == 0) {
                if (dec)
                    lic_image_free(&out);
                else {
                    assert_int_equal(n, ref.n);
                    assert_memory_equal(bits, ref.bits, n);
                    lic_free(bits);
                }
                lic_encoder_close(&enc);
                lic_decoder_close(&d);
                assert_int_equal(f.live, 0);
                break;
            }
            assert_int_equal(ret, LIC_ENOMEM);
            assert_null(dec ? (void *)out.data : (void *)bits);
            failures++;
            /* The context still works after the failure. */
            f.fail_at = 0;
            if (dec) {
                assert_int_equal(lic_decode(d, ref.bits, ref.n, &out), 0);
                lic_image_free(&out);
            } else {
                assert_int_equal(lic_encode(enc, &img, 60, &bits, &n), 0);
                assert_memory_equal(bits, ref.bits, ref.n);
                lic_free(bits);
            }
            lic_encoder_close(&enc);
            lic_decoder_close(&d);
            assert_int_equal(f.live, 0);
        }
        print_message("%s: %ld allocation failures, each LIC_ENOMEM, nothing leaked\n", dec ? "decode" : "encode",
                      failures);
        assert_true(failures > 5);
    }
    free_coded(&ref);
    free(img.data);
    lic_model_release(&m);
}

int main(int argc, char **argv)
{
    g_hp1_model = argc > 1 ? argv[1] : NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips_tiny),
        cmocka_unit_test(test_round_trips_other_models),
        cmocka_unit_test(test_damaged_tile),
        cmocka_unit_test(test_hyper_window),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_cap_fewer_workers),
        cmocka_unit_test(test_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
