/* Bit-flip and truncation sweep (robustness issue): over bitstreams of several images, models and
 * qualities.
 *
 * Version 2 (what the encoder writes): every truncation of the file, one byte appended, and EVERY
 * single-bit flip of the whole file must be a clean LIC_EBITSTREAM: the CRCs and format checks leave
 * no byte whose damage decodes to a picture.
 *
 * Version 1 (legacy, no checksums; the same payloads rewrapped): every truncation point, every
 * table-consistent truncation of each stream, and every single-bit flip in the header and in each
 * stream must yield either a clean error code or an image of the declared size: damage reaches the
 * entropy decoder, which must stay safe. Run under ASan/UBSan by scripts/test_sanitize.sh.
 *
 *   test_sweep            the ctest run: every case fully for the header, the small cases fully for
 *                         the streams, every 11th bit of the larger streams (a few seconds in Release)
 *   test_sweep --full     every bit of every stream of every case
 *
 * A multi-tile file (docs/FORMAT.md §3.2: one y stream per tile) gets the version-2 sweep, and, since it
 * has no version-1 form, its tiles' streams are damaged inside valid CRCs instead: every truncation of
 * each tile's stream and single-bit flips in it, rewritten as a valid version-2 file, decoded on two
 * threads (tiles in parallel), must give a clean LIC_EBITSTREAM or an image of the declared size.
 *
 * One decoder serves the whole sweep, so workspace reuse across the sizes that header flips produce is
 * exercised too: after every header mutation the original stream must still decode to the reference
 * pixels. The counts by result code are printed (docs/SECURITY.md quotes them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/container.h"
#include "lic/codec.h"
#include "tests/lic_edit.h"

static int g_full;

enum { R_OK, R_BITSTREAM, R_MISMATCH, R_LIMIT, R_COUNT };
static const char *const k_result_names[R_COUNT] = {"image", "LIC_EBITSTREAM", "LIC_EMODEL_MISMATCH", "LIC_ELIMIT"};

typedef struct tally {
    unsigned long n[R_COUNT];
} tally;

typedef struct sweep_case {
    const char *model;
    uint32_t w, h;
    lic_pixfmt fmt;
    int quality;
    int full_streams; /* sweep every stream bit even without --full */
    uint32_t entropy_tile; /* lic_config.entropy_tile: 0 the default (one tile at these sizes) */
} sweep_case;

static const sweep_case k_cases[] = {
    {"testdata/models/tiny.licw", 17, 33, LIC_PIXFMT_RGB8, 90, 1, 0},
    {"testdata/models/tiny.licw", 40, 24, LIC_PIXFMT_GRAY8, 10, 1, 0},
    {"testdata/models/tiny.licw", 8, 8, LIC_PIXFMT_RGB8, 1, 1, 0},
    {"testdata/models/tiny_deconv.licw", 70, 65, LIC_PIXFMT_RGB8, 100, 0, 0},
    {"testdata/models/tiny.licw", 200, 100, LIC_PIXFMT_RGB8, 50, 0, 0},
    {"testdata/models/tiny.licw", 300, 140, LIC_PIXFMT_RGB8, 50, 0, 128}, /* 3 x 2 tiles */
};

static lic_image make_image(uint32_t w, uint32_t h, lic_pixfmt fmt)
{
    int ch = fmt == LIC_PIXFMT_GRAY8 ? 1 : 3;
    lic_image img = {w, h, fmt, malloc((size_t)w * h * ch), (ptrdiff_t)w * ch};
    assert_non_null(img.data);
    uint32_t s = w * 7 + h;
    for (size_t i = 0; i < (size_t)w * h * ch; i++) {
        s = s * 1664525u + 1013904223u;
        size_t x = (i / ch) % w, y = i / ch / w;
        img.data[i] = (uint8_t)((x * 200) / w + (y * 50) / h + (s >> 29));
    }
    return img;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Decodes and classifies; fails the test on anything but a clean error or an image of the size the
 * (mutated) header declares. `allowed` is a bit mask of acceptable R_* results. */
static int decode_check(lic_decoder *dec, const uint8_t *data, size_t n, unsigned allowed, tally *t)
{
    lic_image out;
    int ret = lic_decode(dec, data, n, &out);
    int r;
    switch (ret) {
    case 0: r = R_OK; break;
    case LIC_EBITSTREAM: r = R_BITSTREAM; break;
    case LIC_EMODEL_MISMATCH: r = R_MISMATCH; break;
    case LIC_ELIMIT: r = R_LIMIT; break;
    default: fail_msg("lic_decode returned %d (%s)", ret, lic_strerror(ret)); return -1;
    }
    if (!(allowed & (1u << r)))
        fail_msg("lic_decode: unexpected %s", k_result_names[r]);
    if (r == R_OK) {
        lic_stream_info info;
        assert_int_equal(lic_peek_info(data, n, &info), 0);
        assert_int_equal(out.width, info.width);
        assert_int_equal(out.height, info.height);
        assert_int_equal(out.fmt, info.fmt);
        assert_non_null(out.data);
        lic_image_free(&out);
    } else {
        assert_null(out.data);
    }
    t->n[r]++;
    return r;
}

/* The original still decodes to the reference pixels with the same (reused) decoder. */
static void check_reference(lic_decoder *dec, const uint8_t *bits, size_t n, const uint8_t *ref_px, size_t px_bytes)
{
    lic_image out;
    assert_int_equal(lic_decode(dec, bits, n, &out), 0);
    assert_memory_equal(out.data, ref_px, px_bytes);
    lic_image_free(&out);
}

static void print_tally(const char *what, const tally *t)
{
    unsigned long total = 0;
    for (int r = 0; r < R_COUNT; r++)
        total += t->n[r];
    print_message("  %-24s %7lu inputs:", what, total);
    for (int r = 0; r < R_COUNT; r++)
        if (t->n[r])
            print_message(" %s %lu", k_result_names[r], t->n[r]);
    print_message("\n");
}

static tally g_total;

static void add_tally(const tally *t)
{
    for (int r = 0; r < R_COUNT; r++)
        g_total.n[r] += t->n[r];
}

static unsigned long g_v2_flips, g_v2_cuts;

/* Version 2: every truncation, one byte appended, and every single-bit flip of the whole file is
 * LIC_EBITSTREAM; then the file still decodes. */
static void sweep_v2(lic_decoder *dec, const uint8_t *bits, size_t n, const sweep_case *c)
{
    uint8_t *copy = malloc(n + 1);
    assert_non_null(copy);
    tally t;
    memset(&t, 0, sizeof t);
    for (size_t len = 0; len <= n; len++) {
        memcpy(copy, bits, n);
        copy[n] = 0x5a;
        decode_check(dec, copy, len < n ? len : n + 1, 1u << R_BITSTREAM, &t);
    }
    g_v2_cuts += t.n[R_BITSTREAM];
    print_message("%s %ux%u %s q%d, version 2: %zu bytes\n", strrchr(c->model, '/') + 1, c->w, c->h,
                  c->fmt == LIC_PIXFMT_GRAY8 ? "gray" : "rgb", c->quality, n);
    print_tally("v2 truncations", &t);
    add_tally(&t);
    memset(&t, 0, sizeof t);
    for (size_t bit = 0; bit < n * 8; bit++) {
        memcpy(copy, bits, n);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        decode_check(dec, copy, n, 1u << R_BITSTREAM, &t);
    }
    assert_int_equal(t.n[R_BITSTREAM], n * 8);
    g_v2_flips += t.n[R_BITSTREAM];
    print_tally("v2 bit flips (all)", &t);
    add_tally(&t);
    free(copy);
}

/* A multi-tile file: each tile's stream truncated at every length and flipped bit by bit (every 11th
 * bit without --full), the file rewritten with valid CRCs, decoded with tiles in parallel. */
static void sweep_tiles(lic_model *m, const uint8_t *bits, size_t n, const sweep_case *c)
{
    lic_config cfg;
    assert_int_equal(lic_config_init(&cfg), 0);
    cfg.n_threads = 2;
    lic_decoder *dec = NULL;
    assert_int_equal(lic_decoder_open(&dec, m, &cfg), 0);
    lic_container k;
    assert_int_equal(lic_container_parse(&k, bits, n), 0);
    assert_true(k.n_tiles > 1 && k.n_tiles <= 16);
    lic_span tiles[16], mut[16];
    lic_container_tiles(&k, tiles);
    uint8_t *tile_copy = malloc(n), *file = malloc(n);
    assert_non_null(tile_copy);
    assert_non_null(file);
    lic_container_content cc = {.info = k.info, .source_bit_depth = k.source_bit_depth, .z = k.stream_data[0],
                                .z_size = k.stream_size[0], .tile_log2 = k.tile_log2, .n_tiles = k.n_tiles,
                                .tiles = mut};
    tally t;
    const unsigned stream_only = (1u << R_OK) | (1u << R_BITSTREAM);
    const size_t step = g_full || c->full_streams ? 1 : 11;
    for (uint64_t i = 0; i < k.n_tiles; i++) {
        memset(&t, 0, sizeof t);
        memcpy(mut, tiles, sizeof(lic_span) * k.n_tiles);
        for (size_t len = 0; len < tiles[i].size; len++) {
            mut[i].size = len;
            lic_container_v2_write(file, &cc);
            int r = decode_check(dec, file, lic_container_v2_size(&cc), stream_only, &t);
            if (len < 8) /* not even the rANS state */
                assert_int_equal(r, R_BITSTREAM);
        }
        memcpy(tile_copy, tiles[i].data, tiles[i].size);
        mut[i] = (lic_span){tile_copy, tiles[i].size};
        for (size_t bit = 0; bit < tiles[i].size * 8; bit += step) {
            tile_copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            lic_container_v2_write(file, &cc);
            decode_check(dec, file, n, stream_only, &t);
            tile_copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        char what[64];
        snprintf(what, sizeof what, "tile %llu cuts, flips%s", (unsigned long long)i, step > 1 ? " /11" : "");
        print_tally(what, &t);
        add_tally(&t);
    }
    free(file);
    free(tile_copy);
    lic_decoder_close(&dec);
}

static void sweep_one(const sweep_case *c)
{
    lic_config cfg;
    assert_int_equal(lic_config_init(&cfg), 0);
    cfg.n_threads = 1;
    cfg.max_pixels = (uint64_t)1 << 20; /* header flips may claim big images: keep each decode short */
    cfg.entropy_tile = c->entropy_tile;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_file(&m, c->model, &cfg), 0);
    lic_encoder *enc = NULL;
    lic_decoder *dec = NULL;
    assert_int_equal(lic_encoder_open(&enc, m, &cfg), 0);
    assert_int_equal(lic_decoder_open(&dec, m, &cfg), 0);
    lic_image img = make_image(c->w, c->h, c->fmt);
    uint8_t *bits2, *bits;
    size_t n2, n = 0;
    assert_int_equal(lic_encode(enc, &img, c->quality, &bits2, &n2), 0);
    lic_image ref2;
    assert_int_equal(lic_decode(dec, bits2, n2, &ref2), 0);
    sweep_v2(dec, bits2, n2, c);
    if (c->entropy_tile) {
        sweep_tiles(m, bits2, n2, c);
        lic_image_free(&ref2);
        lic_free(bits2);
        free(img.data);
        lic_decoder_close(&dec);
        lic_encoder_close(&enc);
        lic_model_release(&m);
        return;
    }
    /* The rest sweeps the version-1 file with the same payloads; it decodes to the same pixels. */
    assert_non_null(bits = lic_test_to_v1(bits2, n2, &n));
    lic_stream_info info;
    assert_int_equal(lic_peek_info(bits, n, &info), 0);
    lic_image ref;
    assert_int_equal(lic_decode(dec, bits, n, &ref), 0);
    size_t px_bytes = (size_t)ref.stride * ref.height;
    assert_memory_equal(ref.data, ref2.data, px_bytes);
    lic_image_free(&ref2);
    lic_free(bits2);
    uint8_t *copy = malloc(n + 1);
    assert_non_null(copy);
    print_message("%s %ux%u %s q%d, version 1: %zu bytes (header %llu)\n", strrchr(c->model, '/') + 1, c->w, c->h,
                  c->fmt == LIC_PIXFMT_GRAY8 ? "gray" : "rgb", c->quality, n,
                  (unsigned long long)info.header_size);

    const unsigned any = (1u << R_OK) | (1u << R_BITSTREAM) | (1u << R_MISMATCH) | (1u << R_LIMIT);
    const unsigned stream_only = (1u << R_OK) | (1u << R_BITSTREAM);
    tally t;

    /* 1. Every truncation of the file, and one byte appended: the stream table no longer matches. */
    memset(&t, 0, sizeof t);
    for (size_t len = 0; len <= n; len++) {
        memcpy(copy, bits, n);
        copy[n] = 0x5a;
        size_t l = len < n ? len : n + 1;
        assert_int_equal(decode_check(dec, copy, l, 1u << R_BITSTREAM, &t), R_BITSTREAM);
    }
    print_tally("file truncations", &t);
    add_tally(&t);

    /* 2. Every bit of the header and stream table. */
    memset(&t, 0, sizeof t);
    for (size_t bit = 0; bit < info.header_size * 8; bit++) {
        memcpy(copy, bits, n);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        decode_check(dec, copy, n, any, &t);
        check_reference(dec, bits, n, ref.data, px_bytes);
    }
    print_tally("header bit flips", &t);
    add_tally(&t);

    /* 3. Per stream: every table-consistent truncation, then single-bit flips. */
    size_t pos = info.header_size;
    for (uint32_t s = 0; s < info.n_streams; s++) {
        size_t entry = 24 + 5 * (size_t)s;
        uint32_t len = rd32(bits + entry + 1);
        char what[64];
        memset(&t, 0, sizeof t);
        for (uint32_t cut = 1; cut <= len; cut++) {
            /* Drop the last `cut` bytes of this stream; later streams move down. */
            size_t keep = pos + len - cut;
            memcpy(copy, bits, keep);
            memcpy(copy + keep, bits + pos + len, n - pos - len);
            wr32(copy + entry + 1, len - cut);
            int r = decode_check(dec, copy, n - cut, stream_only, &t);
            if (len - cut < 8) /* not even the rANS state: nothing can decode */
                assert_int_equal(r, R_BITSTREAM);
        }
        snprintf(what, sizeof what, "stream %u (id %u) cuts", s, bits[entry]);
        print_tally(what, &t);
        add_tally(&t);

        memset(&t, 0, sizeof t);
        size_t step = g_full || c->full_streams ? 1 : 11;
        for (size_t bit = 0; bit < (size_t)len * 8; bit += step) {
            memcpy(copy, bits, n);
            copy[pos + bit / 8] ^= (uint8_t)(1u << (bit % 8));
            decode_check(dec, copy, n, stream_only, &t);
        }
        snprintf(what, sizeof what, "stream %u (id %u) flips%s", s, bits[entry], step > 1 ? " /11" : "");
        print_tally(what, &t);
        add_tally(&t);
        pos += len;
    }
    check_reference(dec, bits, n, ref.data, px_bytes);

    free(copy);
    lic_image_free(&ref);
    free(bits);
    free(img.data);
    lic_decoder_close(&dec);
    lic_encoder_close(&enc);
    lic_model_release(&m);
}

static void test_sweep(void **state)
{
    (void)state;
    memset(&g_total, 0, sizeof g_total);
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++)
        sweep_one(&k_cases[i]);
    print_tally("total", &g_total);
    print_message("version 2: %lu single-bit flips and %lu truncations, every one LIC_EBITSTREAM\n", g_v2_flips,
                  g_v2_cuts);
    assert_true(g_total.n[R_BITSTREAM] > 0);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--full") == 0)
            g_full = 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
