/* Tests of the .lic container (docs/FORMAT.md §2, §3): every chunk rule of version 2 on files built
 * chunk by chunk here (each rule broken once, with valid CRCs, so only that rule can refuse it), the
 * writer against the reader, lic_peek_info on both versions, the version-1 reader, metadata through
 * the public API (encode, decode, limits, ownership), and the golden streams: the version-2 goldens
 * hold exactly the symbol payloads of the version-1 goldens made from the same inputs and decode to
 * the same pixels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/container.h"
#include "codec/le_bytes.h"
#include "lic/codec.h"
#include "tests/lic_edit.h"
#include "tests/test_support.h"
#include "util/crc32c.h"

#define TINY_MODEL "testdata/models/tiny.licw"

/* ---- a file builder: chunks appended one by one ---- */

typedef struct fbuf {
    uint8_t d[4096];
    size_t n;
} fbuf;

static void start(fbuf *f)
{
    static const uint8_t sig[5] = {0x89, 'L', 'I', 'C', 2};
    memcpy(f->d, sig, 5);
    f->n = 5;
}

static void chunk(fbuf *f, const char *type, const void *data, size_t len)
{
    assert_true(f->n + 12 + len <= sizeof(f->d));
    lic_le_wr32(f->d + f->n, (uint32_t)len);
    memcpy(f->d + f->n + 4, type, 4);
    if (len && data) /* (data NULL only with len 0; said twice for gcc's -Wnonnull after inlining) */
        memcpy(f->d + f->n + 8, data, len);
    lic_le_wr32(f->d + f->n + 8 + len, lic_crc32c(0, f->d + f->n + 4, 4 + len));
    f->n += 12 + len;
}

typedef struct head_fields {
    uint64_t fp;
    uint32_t w, h;
    uint8_t fmt, q, depth, tile_log2, reserved;
} head_fields;

static const head_fields k_head = {0x1122334455667788ull, 17, 33, 0, 90, 8, 0, 0};

static void head(fbuf *f, const head_fields *hf)
{
    uint8_t d[24] = {0};
    lic_le_wr64(d, hf->fp);
    lic_le_wr32(d + 8, hf->w);
    lic_le_wr32(d + 12, hf->h);
    d[16] = hf->fmt, d[17] = hf->q, d[18] = hf->depth, d[19] = hf->tile_log2, d[23] = hf->reserved;
    chunk(f, "HEAD", d, 24);
}

static const uint8_t k_z[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
static const uint8_t k_y[] = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};

static void ytil(fbuf *f, uint32_t index, const uint8_t *y, size_t n)
{
    uint8_t d[2048];
    assert_true(n <= sizeof d - 4);
    lic_le_wr32(d, index);
    memcpy(d + 4, y, n);
    chunk(f, "YTIL", d, 4 + n);
}

/* HEAD, [extra before ZSYM], ZSYM, YTIL 0, LEND. */
static void valid_file(fbuf *f)
{
    start(f);
    head(f, &k_head);
    chunk(f, "ZSYM", k_z, sizeof k_z);
    ytil(f, 0, k_y, sizeof k_y);
    chunk(f, "LEND", NULL, 0);
}

static int parse(const fbuf *f)
{
    lic_container c;
    return lic_container_parse(&c, f->d, f->n);
}

/* ---- tests ---- */

static void test_valid_and_writer(void **state)
{
    (void)state;
    fbuf f;
    valid_file(&f);
    lic_container c;
    assert_int_equal(lic_container_parse(&c, f.d, f.n), 0);
    assert_int_equal(c.info.version, 2);
    assert_int_equal(c.info.width, 17);
    assert_int_equal(c.info.height, 33);
    assert_int_equal(c.info.quality, 90);
    assert_true(c.info.model_fingerprint == k_head.fp);
    assert_int_equal(c.tile_log2, 0);
    assert_int_equal(c.n_tiles, 1);
    assert_int_equal(c.source_bit_depth, 8);
    assert_int_equal(lic_container_find(&c, LIC_STREAM_Z), 0);
    assert_int_equal(lic_container_find(&c, LIC_STREAM_Y), 1);
    assert_int_equal(c.stream_size[0], sizeof k_z);
    assert_memory_equal(c.stream_data[0], k_z, sizeof k_z);
    assert_int_equal(c.stream_size[1], sizeof k_y);
    assert_memory_equal(c.stream_data[1], k_y, sizeof k_y);
    for (int i = 0; i < LIC_META_COUNT; i++)
        assert_null(c.meta[i]);

    /* The library's writer produces the same bytes as this builder, and with metadata the chunks
     * come in the order iccp, exif, xmpd, each read back. */
    lic_container_content cc = {.info = c.info, .source_bit_depth = 8, .z = k_z, .z_size = sizeof k_z,
                                .y = k_y, .y_size = sizeof k_y};
    size_t n = lic_container_v2_size(&cc);
    assert_int_equal(n, f.n);
    uint8_t out[512];
    lic_container_v2_write(out, &cc);
    assert_memory_equal(out, f.d, f.n);
    static const uint8_t icc[] = "profile", exif[] = "MM\0*exif", xmp[] = "<x:xmpmeta/>";
    cc.meta[LIC_META_ICC] = icc, cc.meta_size[LIC_META_ICC] = sizeof icc;
    cc.meta[LIC_META_EXIF] = exif, cc.meta_size[LIC_META_EXIF] = sizeof exif;
    cc.meta[LIC_META_XMP] = xmp, cc.meta_size[LIC_META_XMP] = sizeof xmp;
    cc.source_bit_depth = 16;
    n = lic_container_v2_size(&cc);
    assert_int_equal(n, f.n + 36 + sizeof icc + sizeof exif + sizeof xmp);
    lic_container_v2_write(out, &cc);
    assert_memory_equal(out + 41 + 4, "iccp", 4);
    assert_int_equal(lic_container_parse(&c, out, n), 0);
    assert_int_equal(c.source_bit_depth, 16);
    assert_int_equal(c.meta_size[LIC_META_ICC], sizeof icc);
    assert_memory_equal(c.meta[LIC_META_ICC], icc, sizeof icc);
    assert_memory_equal(c.meta[LIC_META_EXIF], exif, sizeof exif);
    assert_memory_equal(c.meta[LIC_META_XMP], xmp, sizeof xmp);

    /* Every chunk is 12 bytes plus its data: signature 5, HEAD 36, ZSYM 12, YTIL 16, LEND 12. */
    assert_int_equal(f.n - sizeof k_z - sizeof k_y, 81);
}

static void test_head_rules(void **state)
{
    (void)state;
    struct {
        const char *what;
        head_fields hf;
        int expect;
    } cases[] = {
        {"gray", {1, 1, 1, 1, 1, 8, 0, 0}, 0},
        {"16-bit source", {1, 1, 1, 0, 100, 16, 0, 0}, 0},
        {"pixel format 2", {1, 1, 1, 2, 50, 8, 0, 0}, LIC_EBITSTREAM},
        {"quality 0", {1, 1, 1, 0, 0, 8, 0, 0}, LIC_EBITSTREAM},
        {"quality 101", {1, 1, 1, 0, 101, 8, 0, 0}, LIC_EBITSTREAM},
        {"width 0", {1, 0, 1, 0, 50, 8, 0, 0}, LIC_EBITSTREAM},
        {"height 0", {1, 1, 0, 0, 50, 8, 0, 0}, LIC_EBITSTREAM},
        {"bit depth 12", {1, 1, 1, 0, 50, 12, 0, 0}, LIC_EBITSTREAM},
        {"tile_log2 1", {1, 1, 1, 0, 50, 8, 1, 0}, LIC_EBITSTREAM},
        {"tile_log2 2", {1, 1, 1, 0, 50, 8, 2, 0}, LIC_EBITSTREAM},
        {"tile_log2 9", {1, 1, 1, 0, 50, 8, 9, 0}, LIC_EBITSTREAM},
        {"reserved byte", {1, 1, 1, 0, 50, 8, 0, 7}, LIC_EBITSTREAM},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fbuf f;
        start(&f);
        head(&f, &cases[i].hf);
        chunk(&f, "ZSYM", k_z, sizeof k_z);
        ytil(&f, 0, k_y, sizeof k_y);
        chunk(&f, "LEND", NULL, 0);
        if (parse(&f) != cases[i].expect)
            fail_msg("HEAD %s: %d, expected %d", cases[i].what, parse(&f), cases[i].expect);
        lic_stream_info info;
        assert_int_equal(lic_peek_info(f.d, f.n, &info), cases[i].expect);
    }
    /* HEAD of the wrong length. */
    fbuf f;
    start(&f);
    uint8_t d[25] = {0};
    d[8] = d[12] = 1, d[17] = 50, d[18] = 8;
    chunk(&f, "HEAD", d, 25);
    chunk(&f, "ZSYM", k_z, sizeof k_z);
    ytil(&f, 0, k_y, sizeof k_y);
    chunk(&f, "LEND", NULL, 0);
    assert_int_equal(parse(&f), LIC_EBITSTREAM);
}

/* A valid tiled header (tile_log2 3..8) needs exactly the tile count its size implies, in order. */
static void test_tiles(void **state)
{
    (void)state;
    /* 17x33 pads to 64x64: a 4x4 latent, one 8x8 tile. 200x100 pads to 256x128: 16x8, two tiles. */
    head_fields hf = k_head;
    hf.tile_log2 = 3;
    fbuf f;
    start(&f);
    head(&f, &hf);
    chunk(&f, "ZSYM", k_z, sizeof k_z);
    ytil(&f, 0, k_y, sizeof k_y);
    chunk(&f, "LEND", NULL, 0);
    lic_container c;
    assert_int_equal(lic_container_parse(&c, f.d, f.n), 0);
    assert_int_equal(c.n_tiles, 1);
    hf.w = 200, hf.h = 100;
    for (int variant = 0; variant < 4; variant++) {
        start(&f);
        head(&f, &hf);
        chunk(&f, "ZSYM", k_z, sizeof k_z);
        ytil(&f, 0, k_y, sizeof k_y);
        if (variant == 0 || variant == 3)
            ytil(&f, 1, k_y, sizeof k_y); /* 0: right; 3: one too many */
        if (variant == 2)
            ytil(&f, 2, k_y, sizeof k_y); /* skips index 1 */
        if (variant == 3)
            ytil(&f, 2, k_y, sizeof k_y);
        chunk(&f, "LEND", NULL, 0);     /* 1: one tile missing */
        assert_int_equal(lic_container_parse(&c, f.d, f.n), variant == 0 ? 0 : LIC_EBITSTREAM);
    }
    assert_int_equal(c.n_tiles, 2);
    lic_stream_info info;
    assert_int_equal(lic_peek_info(f.d, f.n, &info), 0);
    assert_int_equal(info.n_streams, 3);
    /* tile_log2 0 with a second tile, a YTIL whose index is not 0, a YTIL too short for its index. */
    static const int k_bad[3][3] = {{0, 1, -1}, {1, -1, -1}, {-2, -1, -1}};
    for (int v = 0; v < 3; v++) {
        start(&f);
        head(&f, &k_head);
        chunk(&f, "ZSYM", k_z, sizeof k_z);
        for (int t = 0; t < 3 && k_bad[v][t] != -1; t++) {
            if (k_bad[v][t] == -2)
                chunk(&f, "YTIL", "\0\0\0", 3);
            else
                ytil(&f, (uint32_t)k_bad[v][t], k_y, sizeof k_y);
        }
        chunk(&f, "LEND", NULL, 0);
        assert_int_equal(parse(&f), LIC_EBITSTREAM);
    }
}

/* Several tiles: lic_container_tiles finds each tile's stream in order, past ancillary chunks between
 * them; the writer writes tile_log2 and one YTIL per tile, in order, and reads back the same. */
static void test_tile_streams(void **state)
{
    (void)state;
    /* 300x100 pads to 320x128: a 20x8 latent, three 8x8 tiles across. */
    head_fields hf = k_head;
    hf.w = 300, hf.h = 100, hf.tile_log2 = 3;
    fbuf f;
    start(&f);
    head(&f, &hf);
    chunk(&f, "ZSYM", k_z, sizeof k_z);
    for (uint32_t t = 0; t < 3; t++) {
        ytil(&f, t, k_y + t, sizeof k_y - t);
        if (t == 0)
            chunk(&f, "abcd", "zz", 2); /* ancillary: skipped */
    }
    chunk(&f, "LEND", NULL, 0);
    lic_container c;
    assert_int_equal(lic_container_parse(&c, f.d, f.n), 0);
    assert_int_equal(c.n_tiles, 3);
    lic_span tiles[3];
    lic_container_tiles(&c, tiles);
    for (int t = 0; t < 3; t++) {
        assert_int_equal(tiles[t].size, sizeof k_y - t);
        assert_memory_equal(tiles[t].data, k_y + t, sizeof k_y - t);
    }
    /* The writer, from those spans: the same chunks less the ancillary one. */
    lic_container_content cc = {.info = c.info, .source_bit_depth = 8, .z = k_z, .z_size = sizeof k_z,
                                .tile_log2 = 3, .n_tiles = 3, .tiles = tiles};
    size_t n = lic_container_v2_size(&cc);
    assert_int_equal(n, f.n - 14);
    uint8_t *w = malloc(n);
    assert_non_null(w);
    lic_container_v2_write(w, &cc);
    lic_container r;
    assert_int_equal(lic_container_parse(&r, w, n), 0);
    assert_int_equal(r.tile_log2, 3);
    assert_int_equal(r.n_tiles, 3);
    lic_span back[3];
    lic_container_tiles(&r, back);
    for (int t = 0; t < 3; t++) {
        assert_int_equal(back[t].size, tiles[t].size);
        assert_memory_equal(back[t].data, tiles[t].data, tiles[t].size);
    }
    /* Written with a tile count its HEAD does not imply, the file is refused. */
    cc.n_tiles = 2;
    n = lic_container_v2_size(&cc);
    lic_container_v2_write(w, &cc);
    assert_int_equal(lic_container_parse(&r, w, n), LIC_EBITSTREAM);
    free(w);
    /* Version 1: the one tile is the y payload. */
    const uint8_t ids[2] = {LIC_STREAM_Z, LIC_STREAM_Y};
    const uint8_t *payloads[2] = {k_z, k_y};
    const size_t sizes[2] = {sizeof k_z, sizeof k_y};
    uint8_t v1[128];
    assert_true(lic_container_size(2, sizes) <= sizeof v1);
    lic_container_write(v1, &c.info, 2, ids, payloads, sizes);
    assert_int_equal(lic_container_parse(&r, v1, lic_container_size(2, sizes)), 0);
    lic_container_tiles(&r, back);
    assert_int_equal(back[0].size, sizeof k_y);
    assert_memory_equal(back[0].data, k_y, sizeof k_y);
}

/* Each order and count rule broken once, everything else valid. */
static void test_chunk_order(void **state)
{
    (void)state;
    static const uint8_t m[] = "meta";
    enum { OK = 0, BAD = LIC_EBITSTREAM, UNSUP = LIC_EUNSUPPORTED };
    struct {
        const char *seq; /* chunk letters: H HEAD, Z ZSYM, Y YTIL 0, E LEND, i iccp, x exif, m xmpd,
                          * a unknown ancillary, C unknown critical, e empty iccp, 0 LEND with data */
        int expect;
    } cases[] = {
        {"HZYE", OK},    {"HixmZYE", OK}, {"HmxiZYE", OK}, {"HaZYE", OK},   {"HZaYE", OK},
        {"HZYaE", OK},   {"ZHYE", BAD},   {"HHZYE", BAD},  {"HZYEH", BAD},  {"HZHYE", BAD},
        {"HiiZYE", BAD}, {"HxxZYE", BAD}, {"HmmZYE", BAD}, {"HZiYE", BAD},  {"HZYxE", BAD},
        {"HZZYE", BAD},  {"HYZE", BAD},   {"HZE", BAD},    {"HZY", BAD},    {"HYE", BAD},
        {"HZYEE", BAD},  {"HZYEa", BAD},  {"HeZYE", BAD},  {"HZY0", BAD},   {"H", BAD},
        {"HZYCE", UNSUP}, {"HCZYE", UNSUP}, {"CHZYE", BAD}, {"aHZYE", BAD},  {"", BAD},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fbuf f;
        start(&f);
        for (const char *p = cases[i].seq; *p; p++) {
            switch (*p) {
            case 'H': head(&f, &k_head); break;
            case 'Z': chunk(&f, "ZSYM", k_z, sizeof k_z); break;
            case 'Y': ytil(&f, 0, k_y, sizeof k_y); break;
            case 'E': chunk(&f, "LEND", NULL, 0); break;
            case '0': chunk(&f, "LEND", m, 1); break;
            case 'i': chunk(&f, "iccp", m, sizeof m); break;
            case 'e': chunk(&f, "iccp", NULL, 0); break;
            case 'x': chunk(&f, "exif", m, sizeof m); break;
            case 'm': chunk(&f, "xmpd", m, sizeof m); break;
            case 'a': chunk(&f, "taGs", m, sizeof m); break;
            case 'C': chunk(&f, "TAGS", m, sizeof m); break;
            }
        }
        int r = parse(&f);
        if (r != cases[i].expect)
            fail_msg("chunks \"%s\": %d, expected %d", cases[i].seq, r, cases[i].expect);
    }
}

/* Damage at the byte level: CRCs, lengths, types, trailing bytes, truncation. */
static void test_damage(void **state)
{
    (void)state;
    fbuf f;
    valid_file(&f);
    uint8_t copy[sizeof f.d];
    /* Every single byte changed (xor 0xFF), and every truncation, and every extra trailing byte. */
    for (size_t i = 0; i < f.n; i++) {
        memcpy(copy, f.d, f.n);
        copy[i] ^= 0xFF;
        lic_container c;
        assert_int_equal(lic_container_parse(&c, copy, f.n), LIC_EBITSTREAM);
        assert_int_equal(lic_container_parse(&c, f.d, i), LIC_EBITSTREAM);
    }
    memcpy(copy, f.d, f.n);
    copy[f.n] = 0;
    lic_container c;
    assert_int_equal(lic_container_parse(&c, copy, f.n + 1), LIC_EBITSTREAM);
    /* A non-letter type with a valid CRC; a length with the top bit set. */
    start(&f);
    head(&f, &k_head);
    chunk(&f, "ZS1M", k_z, sizeof k_z);
    assert_int_equal(parse(&f), LIC_EBITSTREAM);
    valid_file(&f);
    f.d[5 + 3] |= 0x80;
    assert_int_equal(parse(&f), LIC_EBITSTREAM);
    /* Other versions and no magic. */
    valid_file(&f);
    for (int v = 0; v < 256; v++) {
        if (v == 1 || v == 2)
            continue;
        f.d[4] = (uint8_t)v;
        assert_int_equal(parse(&f), LIC_EBITSTREAM);
    }
    f.d[4] = 2;
    f.d[0] = 0x88;
    assert_int_equal(parse(&f), LIC_EBITSTREAM);
}

static void test_metadata_limits(void **state)
{
    (void)state;
    /* A metadata chunk one byte over LIC_METADATA_MAX_ITEM is refused by the reader. */
    size_t big = LIC_METADATA_MAX_ITEM + 1;
    size_t n = 5 + 36 + 12 + big + 12 + sizeof k_z + 16 + sizeof k_y + 12;
    uint8_t *d = calloc(1, n);
    assert_non_null(d);
    lic_container_content cc = {.info = {.width = 1, .height = 1, .quality = 1}, .source_bit_depth = 8,
                                .z = k_z, .z_size = sizeof k_z, .y = k_y, .y_size = sizeof k_y};
    uint8_t *item = calloc(1, big);
    assert_non_null(item);
    cc.meta[LIC_META_XMP] = item, cc.meta_size[LIC_META_XMP] = big;
    assert_int_equal(lic_container_v2_size(&cc), n);
    lic_container_v2_write(d, &cc);
    lic_container c;
    assert_int_equal(lic_container_parse(&c, d, n), LIC_EBITSTREAM);
    cc.meta_size[LIC_META_XMP] = big - 1;
    lic_container_v2_write(d, &cc);
    assert_int_equal(lic_container_parse(&c, d, n - 1), 0);
    assert_int_equal(c.meta_size[LIC_META_XMP], big - 1);
    free(item);
    free(d);
}

/* Version 1 still parses (and lic_peek_info reads both); the v2 peek checks the HEAD CRC. */
static void test_v1_and_peek(void **state)
{
    (void)state;
    fbuf f;
    valid_file(&f);
    size_t n1;
    uint8_t *v1 = lic_test_to_v1(f.d, f.n, &n1);
    assert_non_null(v1);
    assert_int_equal(v1[4], 1);
    lic_container c;
    assert_int_equal(lic_container_parse(&c, v1, n1), 0);
    assert_int_equal(c.info.version, 1);
    assert_memory_equal(c.stream_data[1], k_y, sizeof k_y);
    lic_stream_info a, b;
    assert_int_equal(lic_peek_info(v1, n1, &a), 0);
    assert_int_equal(lic_peek_info(f.d, f.n, &b), 0);
    assert_int_equal(a.version, 1);
    assert_int_equal(b.version, 2);
    assert_int_equal(a.width, b.width);
    assert_int_equal(a.height, b.height);
    assert_int_equal(a.quality, b.quality);
    assert_true(a.model_fingerprint == b.model_fingerprint);
    assert_int_equal(b.n_streams, 2);
    assert_int_equal(b.header_size, 41);
    /* peek needs HEAD only: it reads a file cut after HEAD; a damaged HEAD is refused. */
    assert_int_equal(lic_peek_info(f.d, 41, &b), 0);
    assert_int_equal(lic_peek_info(f.d, 40, &b), LIC_EBITSTREAM);
    f.d[20] ^= 1;
    assert_int_equal(lic_peek_info(f.d, f.n, &b), LIC_EBITSTREAM);
    free(v1);
}

/* ---- with a model: metadata through the API, a one-tile tiled header, goldens ---- */

static lic_model *load_tiny(void)
{
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_file(&m, TINY_MODEL, NULL), 0);
    return m;
}

static lic_image ramp(uint32_t w, uint32_t h)
{
    lic_image img = {w, h, LIC_PIXFMT_RGB8, malloc((size_t)w * h * 3), (ptrdiff_t)w * 3};
    assert_non_null(img.data);
    for (size_t i = 0; i < (size_t)w * h * 3; i++)
        img.data[i] = (uint8_t)(i * 7 + i / 13);
    return img;
}

typedef struct log_capture {
    char last[512];
} log_capture;

static void capture(void *opaque, int level, const char *msg)
{
    (void)level;
    snprintf(((log_capture *)opaque)->last, sizeof(((log_capture *)opaque)->last), "%s", msg);
}

static void test_metadata_api(void **state)
{
    (void)state;
    lic_model *m = load_tiny();
    lic_encoder *enc = NULL;
    lic_decoder *dec = NULL;
    lic_config cfg;
    log_capture log = {{0}};
    assert_int_equal(lic_config_init(&cfg), 0);
    cfg.logger = (lic_logger){&log, capture, LIC_LOG_ERROR};
    assert_int_equal(lic_encoder_open(&enc, m, NULL), 0);
    assert_int_equal(lic_decoder_open(&dec, m, &cfg), 0);
    lic_image img = ramp(17, 9);
    uint8_t icc[300], exif[40], xmp[90];
    for (size_t i = 0; i < sizeof icc; i++)
        icc[i] = (uint8_t)(i * 31);
    memset(exif, 'e', sizeof exif);
    memset(xmp, 'x', sizeof xmp);
    lic_metadata meta = {.icc = icc, .icc_size = sizeof icc, .exif = exif, .exif_size = sizeof exif,
                         .xmp = xmp, .xmp_size = sizeof xmp, .source_bit_depth = 16};
    uint8_t *plain, *with;
    size_t n_plain, n_with;
    assert_int_equal(lic_encode(enc, &img, 60, &plain, &n_plain), 0);
    assert_int_equal(lic_encode_with_metadata(enc, &img, 60, &meta, &with, &n_with), 0);
    assert_int_equal(n_with, n_plain + 36 + sizeof icc + sizeof exif + sizeof xmp);

    /* Same symbols with and without metadata. */
    lic_container a, b;
    assert_int_equal(lic_container_parse(&a, plain, n_plain), 0);
    assert_int_equal(lic_container_parse(&b, with, n_with), 0);
    for (int s = 0; s < 2; s++) {
        assert_int_equal(a.stream_size[s], b.stream_size[s]);
        assert_memory_equal(a.stream_data[s], b.stream_data[s], a.stream_size[s]);
    }

    lic_image out, out2;
    lic_metadata got;
    memset(&got, 0x55, sizeof got); /* previous contents are ignored */
    assert_int_equal(lic_decode_with_metadata(dec, with, n_with, &out, &got), 0);
    assert_int_equal(got.icc_size, sizeof icc);
    assert_memory_equal(got.icc, icc, sizeof icc);
    assert_int_equal(got.exif_size, sizeof exif);
    assert_memory_equal(got.exif, exif, sizeof exif);
    assert_int_equal(got.xmp_size, sizeof xmp);
    assert_memory_equal(got.xmp, xmp, sizeof xmp);
    assert_int_equal(got.source_bit_depth, 16);
    assert_int_equal(lic_decode(dec, plain, n_plain, &out2), 0);
    assert_memory_equal(out.data, out2.data, (size_t)out.stride * out.height);
    lic_metadata_free(&got);
    assert_null(got.icc);
    assert_int_equal(got.icc_size, 0);
    lic_metadata_free(&got); /* twice is safe */
    lic_metadata_free(NULL);
    lic_image_free(&out);
    lic_image_free(&out2);

    /* No metadata, and a version-1 file: empty, 8-bit. */
    assert_int_equal(lic_decode_with_metadata(dec, plain, n_plain, &out, &got), 0);
    assert_null(got.icc);
    assert_null(got.exif);
    assert_null(got.xmp);
    assert_int_equal(got.source_bit_depth, 8);
    lic_image_free(&out);
    size_t n1 = 0;
    uint8_t *v1 = lic_test_to_v1(with, n_with, &n1);
    assert_int_equal(lic_decode_with_metadata(dec, v1, n1, &out, &got), 0);
    assert_null(got.icc);
    assert_int_equal(got.source_bit_depth, 8);
    lic_image_free(&out);
    free(v1);

    /* A damaged file: error, nothing to free. */
    with[n_with / 2] ^= 4;
    assert_int_equal(lic_decode_with_metadata(dec, with, n_with, &out, &got), LIC_EBITSTREAM);
    assert_null(out.data);
    assert_null(got.icc);
    assert_int_equal(got.icc_size, 0);

    /* Encoder argument checks. */
    uint8_t *bad;
    size_t nbad;
    lic_metadata e = {.icc_size = 3};
    assert_int_equal(lic_encode_with_metadata(enc, &img, 60, &e, &bad, &nbad), LIC_EINVAL);
    e = (lic_metadata){.source_bit_depth = 12};
    assert_int_equal(lic_encode_with_metadata(enc, &img, 60, &e, &bad, &nbad), LIC_EINVAL);
    e = (lic_metadata){0};
    e.reserved[3] = 1;
    assert_int_equal(lic_encode_with_metadata(enc, &img, 60, &e, &bad, &nbad), LIC_EINVAL);
    e = (lic_metadata){.xmp = xmp, .xmp_size = LIC_METADATA_MAX_ITEM + 1};
    assert_int_equal(lic_encode_with_metadata(enc, &img, 60, &e, &bad, &nbad), LIC_ELIMIT);
    assert_null(bad);
    assert_int_equal(nbad, 0);

    /* tile_log2 3 on an image whose latent is one tile: the same coding as tile_log2 0 (FORMAT.md
     * §3.2), so the same payloads decode to the same pixels. */
    lic_free(with);
    assert_int_equal(lic_container_parse(&a, plain, n_plain), 0);
    fbuf f;
    start(&f);
    head_fields hf = {a.info.model_fingerprint, 17, 9, 0, 60, 8, 3, 0};
    head(&f, &hf);
    chunk(&f, "ZSYM", a.stream_data[0], a.stream_size[0]);
    ytil(&f, 0, a.stream_data[1], a.stream_size[1]);
    chunk(&f, "LEND", NULL, 0);
    lic_image ref;
    assert_int_equal(lic_decode(dec, plain, n_plain, &ref), 0);
    assert_int_equal(lic_decode(dec, f.d, f.n, &out), 0);
    assert_memory_equal(out.data, ref.data, (size_t)17 * 9 * 3);
    lic_image_free(&out);
    lic_image_free(&ref);
    /* An unknown critical chunk: LIC_EUNSUPPORTED, logged. */
    start(&f);
    hf.tile_log2 = 0;
    head(&f, &hf);
    chunk(&f, "NEWS", "x", 1);
    assert_int_equal(lic_decode(dec, f.d, f.n, &out), LIC_EUNSUPPORTED);
    assert_non_null(strstr(log.last, "newer decoder"));

    lic_free(plain);
    free(img.data);
    lic_encoder_close(&enc);
    lic_decoder_close(&dec);
    lic_model_release(&m);
}

/* An allocator that fails the k-th request and counts what is live, for the metadata copies. */
typedef struct fail_alloc {
    int calls, fail_at, live;
} fail_alloc;

static void *fa_alloc(void *opaque, size_t size, size_t align)
{
    fail_alloc *f = opaque;
    if (f->calls++ == f->fail_at)
        return NULL;
    void *p = lic_test_alloc(NULL, size, align);
    f->live += p != NULL;
    return p;
}

static void fa_free(void *opaque, void *p)
{
    fail_alloc *f = opaque;
    f->live -= p != NULL;
    free(p);
}

/* Every allocation of lic_decode_with_metadata failed in turn: LIC_ENOMEM, nothing left allocated,
 * nothing to free; then it succeeds with all three items. */
static void test_metadata_alloc_failures(void **state)
{
    (void)state;
    lic_model *m = load_tiny();
    lic_encoder *enc = NULL;
    assert_int_equal(lic_encoder_open(&enc, m, NULL), 0);
    lic_image img = ramp(9, 7);
    uint8_t item[50];
    memset(item, 7, sizeof item);
    lic_metadata meta = {.icc = item, .icc_size = 50, .exif = item, .exif_size = 20, .xmp = item, .xmp_size = 30};
    uint8_t *bits;
    size_t n;
    assert_int_equal(lic_encode_with_metadata(enc, &img, 40, &meta, &bits, &n), 0);
    int ok = 0, failures = 0;
    for (int k = 0; !ok && k < 200; k++) {
        fail_alloc fa = {0, k, 0};
        lic_config cfg;
        assert_int_equal(lic_config_init(&cfg), 0);
        cfg.n_threads = 1;
        cfg.allocator = (lic_allocator){&fa, fa_alloc, fa_free};
        lic_decoder *dec = NULL;
        if (lic_decoder_open(&dec, m, &cfg) != 0) {
            assert_int_equal(fa.live, 0);
            continue;
        }
        lic_image out;
        lic_metadata got;
        int r = lic_decode_with_metadata(dec, bits, n, &out, &got);
        if (r == 0) {
            assert_int_equal(got.icc_size + got.exif_size + got.xmp_size, 100);
            lic_metadata_free(&got);
            lic_image_free(&out);
            ok = 1;
        } else {
            assert_int_equal(r, LIC_ENOMEM);
            assert_null(out.data);
            assert_null(got.icc);
            assert_null(got.exif);
            assert_null(got.xmp);
            failures++;
        }
        lic_decoder_close(&dec);
        assert_int_equal(fa.live, 0);
    }
    assert_true(ok);
    assert_true(failures >= 3); /* at least the three metadata copies failed once each */
    print_message("lic_decode_with_metadata: %d allocation failures, each LIC_ENOMEM, nothing leaked\n", failures);
    lic_free(bits);
    free(img.data);
    lic_encoder_close(&enc);
    lic_model_release(&m);
}

/* The v2 goldens are the v1 goldens' inputs encoded again: identical payloads, identical pixels. */
static void test_golden_v2(void **state)
{
    (void)state;
    static const char *const names[] = {"tiny_17x33_q90", "tiny_768x512_q50"};
    lic_model *m = load_tiny();
    lic_decoder *dec = NULL;
    assert_int_equal(lic_decoder_open(&dec, m, NULL), 0);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p1[128], p2[128];
        snprintf(p1, sizeof p1, "testdata/bitstreams/%s.lic", names[i]);
        snprintf(p2, sizeof p2, "testdata/bitstreams/%s.v2.lic", names[i]);
        size_t n1 = 0, n2 = 0;
        uint8_t *b1 = lic_test_read_file(p1, &n1), *b2 = lic_test_read_file(p2, &n2);
        if (!b1 || !b2)
            fail_msg("cannot read %s or %s (run from the repository root)", p1, p2);
        lic_container c1, c2;
        assert_int_equal(lic_container_parse(&c1, b1, n1), 0);
        assert_int_equal(lic_container_parse(&c2, b2, n2), 0);
        assert_int_equal(c1.info.version, 1);
        assert_int_equal(c2.info.version, 2);
        assert_int_equal(n2, n1 + 47); /* 81 bytes of v2 framing against 34 of v1 */
        for (int s = 0; s < 2; s++) {
            int k1 = lic_container_find(&c1, s), k2 = lic_container_find(&c2, s);
            assert_int_equal(c1.stream_size[k1], c2.stream_size[k2]);
            assert_memory_equal(c1.stream_data[k1], c2.stream_data[k2], c1.stream_size[k1]);
        }
        lic_image o1, o2;
        lic_stats s1, s2;
        assert_int_equal(lic_decode(dec, b1, n1, &o1), 0);
        assert_int_equal(lic_decoder_get_stats(dec, &s1), 0);
        assert_int_equal(lic_decode(dec, b2, n2, &o2), 0);
        assert_int_equal(lic_decoder_get_stats(dec, &s2), 0);
        assert_true(s1.symbols_hash == s2.symbols_hash);
        assert_true(s1.params_hash == s2.params_hash);
        assert_memory_equal(o1.data, o2.data, (size_t)o1.stride * o1.height);
        lic_image_free(&o1);
        lic_image_free(&o2);
        free(b1);
        free(b2);
    }
    lic_decoder_close(&dec);
    lic_model_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_and_writer), cmocka_unit_test(test_head_rules),
        cmocka_unit_test(test_tiles),            cmocka_unit_test(test_tile_streams),
        cmocka_unit_test(test_chunk_order),
        cmocka_unit_test(test_damage),           cmocka_unit_test(test_metadata_limits),
        cmocka_unit_test(test_v1_and_peek),      cmocka_unit_test(test_metadata_api),
        cmocka_unit_test(test_metadata_alloc_failures), cmocka_unit_test(test_golden_v2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
