/* The batch API (lic_encode_batch / lic_decode_batch, lic/codec.h):
 *
 *  - every item equals the one-image call: the same bytes, statistics, pixels and return code, for a
 *    mix of sizes, formats and qualities, at depth 1, 2 and 3, with the tiny and the shipped model;
 *  - per-item errors (bad fields, over a limit, corrupt, truncated, from another model, non-zero
 *    reserved bytes) come back at their index with the code of the one-image call, the others succeed,
 *    and the call returns the first failure in input order;
 *  - max_memory caps the whole batch: with a cap of two images' estimates, three workers never hold
 *    more than two images' memory (the allocator's peak), also after a call that left a worker with a
 *    larger workspace;
 *  - allocation failures, at every allocation of an open and of a call, give LIC_ENOMEM (the open) or
 *    per-item LIC_ENOMEM next to correct results (the call), leak nothing, and leave the batch usable.
 *
 * Several threads run inside the library here: scripts/test_sanitize.sh runs this test under TSan.
 *
 *   test_batch [--quick]   --quick: skip the allocation-failure sweep (for slow sanitizer builds) */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lic/codec.h"
#include "tests/test_support.h"

#define TINY_MODEL "testdata/models/tiny.licw"
#define TINY_DECONV_MODEL "testdata/models/tiny_deconv.licw"

/* ---- the counting allocator (tests/test_support.h) ---- */

static lic_config config(int threads, lic_test_counter *c)
{
    lic_config cfg;
    assert_int_equal(lic_config_init(&cfg), 0);
    cfg.n_threads = threads;
    cfg.backend = LIC_BACKEND_CPU;
    if (c) {
        cfg.allocator.opaque = c;
        cfg.allocator.alloc = lic_test_count_alloc;
        cfg.allocator.free = lic_test_count_free;
    }
    return cfg;
}

/* ---- test data ---- */

static lic_image make_image(uint32_t w, uint32_t h, lic_pixfmt fmt, uint32_t seed)
{
    int ch = fmt == LIC_PIXFMT_GRAY8 ? 1 : 3;
    lic_image img = {w, h, fmt, malloc((size_t)w * h * ch), (ptrdiff_t)w * ch};
    assert_non_null(img.data);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w * (uint32_t)ch; x++) {
            seed = seed * 1664525u + 1013904223u;
            img.data[(size_t)y * img.stride + x] = (uint8_t)((x * 5 + y * 3) / 2 + (seed >> 29) * 8);
        }
    return img;
}

static lic_model *load(const char *path)
{
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_file(&m, path, NULL), 0);
    return m;
}

/* The mix every equality test uses: sizes that are one pixel, not multiples of 64, gray and RGB. */
#define N_MIX 8
static const struct {
    uint32_t w, h;
    lic_pixfmt fmt;
    int q;
} MIX[N_MIX] = {
    {1, 1, LIC_PIXFMT_RGB8, 50},      {65, 63, LIC_PIXFMT_RGB8, 75},   {65, 63, LIC_PIXFMT_GRAY8, 20},
    {17, 33, LIC_PIXFMT_GRAY8, 100},  {130, 70, LIC_PIXFMT_RGB8, 1},   {1, 1, LIC_PIXFMT_GRAY8, 90},
    {64, 64, LIC_PIXFMT_RGB8, 35},    {200, 9, LIC_PIXFMT_RGB8, 60},
};

/* The one-image reference of an encode item. */
typedef struct reference {
    int status;
    uint8_t *bits;
    size_t n;
    lic_stats st;
} reference;

static reference encode_one(lic_encoder *e, const lic_image *img, int q)
{
    reference r = {0};
    r.status = lic_encode(e, img, q, &r.bits, &r.n);
    if (r.status == 0)
        assert_int_equal(lic_encoder_get_stats(e, &r.st), 0);
    return r;
}

static void assert_same_stats(const lic_stats *a, const lic_stats *b)
{
    assert_true(a->symbols_hash == b->symbols_hash);
    assert_true(a->params_hash == b->params_hash);
    assert_true(a->n_symbols == b->n_symbols);
    assert_int_equal(a->stream_bytes[0], b->stream_bytes[0]);
    assert_int_equal(a->stream_bytes[1], b->stream_bytes[1]);
}

static void assert_same_image(const lic_image *a, const lic_image *b)
{
    assert_int_equal(a->width, b->width);
    assert_int_equal(a->height, b->height);
    assert_int_equal(a->fmt, b->fmt);
    int ch = a->fmt == LIC_PIXFMT_GRAY8 ? 1 : 3;
    for (uint32_t y = 0; y < a->height; y++)
        assert_memory_equal(a->data + (ptrdiff_t)y * a->stride, b->data + (ptrdiff_t)y * b->stride,
                            (size_t)a->width * ch);
}

/* ---- batch == single ---- */

/* Encodes and decodes the mix through batches of depth 1..3 (and one of the default depth) and
 * compares every item with the one-image calls of an encoder and decoder with 2 threads. */
static void check_equal_to_single(lic_model *m)
{
    lic_image img[N_MIX];
    reference ref[N_MIX];
    lic_image ref_px[N_MIX];
    lic_stats ref_dst[N_MIX];
    lic_config one = config(2, NULL);
    lic_encoder *e;
    lic_decoder *d;
    assert_int_equal(lic_encoder_open(&e, m, &one), 0);
    assert_int_equal(lic_decoder_open(&d, m, &one), 0);
    for (int i = 0; i < N_MIX; i++) {
        img[i] = make_image(MIX[i].w, MIX[i].h, MIX[i].fmt, 17u * (uint32_t)i + 1);
        ref[i] = encode_one(e, &img[i], MIX[i].q);
        assert_int_equal(ref[i].status, 0);
        assert_int_equal(lic_decode(d, ref[i].bits, ref[i].n, &ref_px[i]), 0);
        assert_int_equal(lic_decoder_get_stats(d, &ref_dst[i]), 0);
    }

    for (int depth = 0; depth <= 3; depth++) {
        lic_config cfg = config(depth == 0 ? 3 : 2, NULL);
        lic_batch_encoder *be;
        lic_batch_decoder *bd;
        assert_int_equal(lic_batch_encoder_open(&be, m, &cfg, depth), 0);
        assert_int_equal(lic_batch_decoder_open(&bd, m, &cfg, depth), 0);
        /* depth 0: the configured thread count */
        assert_int_equal(lic_batch_encoder_depth(be), depth ? depth : 3);
        assert_int_equal(lic_batch_decoder_depth(bd), depth ? depth : 3);
        /* Twice on the same batch: the second call reuses (and regrows) the workers' workspaces. */
        for (int round = 0; round < 2; round++) {
            lic_batch_encode_item ei[N_MIX];
            memset(ei, 0, sizeof(ei));
            for (int i = 0; i < N_MIX; i++) {
                int j = round ? N_MIX - 1 - i : i; /* the second round in the reverse order */
                ei[i].image = &img[j];
                ei[i].quality = MIX[j].q;
                ei[i].status = 12345; /* outputs are written whatever they held */
            }
            assert_int_equal(lic_encode_batch(be, ei, N_MIX), 0);
            lic_batch_decode_item di[N_MIX];
            memset(di, 0, sizeof(di));
            for (int i = 0; i < N_MIX; i++) {
                int j = round ? N_MIX - 1 - i : i;
                assert_int_equal(ei[i].status, 0);
                assert_int_equal(ei[i].size, ref[j].n);
                assert_memory_equal(ei[i].data, ref[j].bits, ref[j].n);
                assert_same_stats(&ei[i].stats, &ref[j].st);
                assert_string_equal(ei[i].stats.backend, "cpu");
                di[i].data = ei[i].data;
                di[i].size = ei[i].size;
            }
            assert_int_equal(lic_decode_batch(bd, di, N_MIX), 0);
            for (int i = 0; i < N_MIX; i++) {
                int j = round ? N_MIX - 1 - i : i;
                assert_int_equal(di[i].status, 0);
                assert_same_image(&di[i].image, &ref_px[j]);
                assert_same_stats(&di[i].stats, &ref_dst[j]);
                assert_null(di[i].meta.icc);
                lic_image_free(&di[i].image);
                lic_free(ei[i].data);
            }
        }
        lic_batch_decoder_close(&bd);
        lic_batch_encoder_close(&be);
        assert_null(bd);
        assert_null(be);
    }
    for (int i = 0; i < N_MIX; i++) {
        lic_free(ref[i].bits);
        lic_image_free(&ref_px[i]);
        free(img[i].data);
    }
    lic_decoder_close(&d);
    lic_encoder_close(&e);
}

static void test_equal_to_single_tiny(void **state)
{
    (void)state;
    lic_model *m = load(TINY_MODEL);
    check_equal_to_single(m);
    lic_model_release(&m);
}

static void test_equal_to_single_default(void **state)
{
    (void)state;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_default(&m, NULL), 0);
    check_equal_to_single(m);
    lic_model_release(&m);
}

/* Metadata goes in and comes out per item, as with the one-image calls. */
static void test_metadata(void **state)
{
    (void)state;
    lic_model *m = load(TINY_MODEL);
    lic_config cfg = config(2, NULL);
    lic_image img = make_image(20, 10, LIC_PIXFMT_RGB8, 3);
    static const uint8_t icc[] = {1, 2, 3, 4, 5}, exif[] = {'I', 'I', '*', 0, 9};
    lic_metadata meta = {0};
    meta.icc = (uint8_t *)icc;
    meta.icc_size = sizeof(icc);
    meta.exif = (uint8_t *)exif;
    meta.exif_size = sizeof(exif);
    meta.source_bit_depth = 16;

    lic_encoder *e;
    assert_int_equal(lic_encoder_open(&e, m, &cfg), 0);
    uint8_t *ref;
    size_t n;
    assert_int_equal(lic_encode_with_metadata(e, &img, 40, &meta, &ref, &n), 0);

    lic_batch_encoder *be;
    lic_batch_decoder *bd;
    assert_int_equal(lic_batch_encoder_open(&be, m, &cfg, 2), 0);
    assert_int_equal(lic_batch_decoder_open(&bd, m, &cfg, 2), 0);
    lic_batch_encode_item ei[2] = {{.image = &img, .quality = 40, .meta = &meta}, {.image = &img, .quality = 40}};
    assert_int_equal(lic_encode_batch(be, ei, 2), 0);
    assert_int_equal(ei[0].size, n);
    assert_memory_equal(ei[0].data, ref, n);
    assert_true(ei[1].size < n); /* no metadata */

    lic_batch_decode_item di[3] = {{.data = ei[0].data, .size = ei[0].size, .want_metadata = 1},
                                   {.data = ei[0].data, .size = ei[0].size},
                                   {.data = ei[1].data, .size = ei[1].size, .want_metadata = 1}};
    assert_int_equal(lic_decode_batch(bd, di, 3), 0);
    assert_int_equal(di[0].meta.icc_size, sizeof(icc));
    assert_memory_equal(di[0].meta.icc, icc, sizeof(icc));
    assert_int_equal(di[0].meta.exif_size, sizeof(exif));
    assert_memory_equal(di[0].meta.exif, exif, sizeof(exif));
    assert_int_equal(di[0].meta.source_bit_depth, 16);
    assert_null(di[1].meta.icc); /* not wanted */
    assert_null(di[2].meta.icc); /* none in the file */
    assert_int_equal(di[2].meta.source_bit_depth, 8);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(di[i].status, 0);
        lic_image_free(&di[i].image);
        lic_metadata_free(&di[i].meta);
    }
    lic_free(ei[0].data);
    lic_free(ei[1].data);
    lic_free(ref);
    lic_batch_decoder_close(&bd);
    lic_batch_encoder_close(&be);
    lic_encoder_close(&e);
    free(img.data);
    lic_model_release(&m);
}

/* ---- per-item errors ---- */

/* Peak estimate of a width x height image on a 1-thread encoder of this config without a cap: what
 * one batch worker needs for it. */
static uint64_t estimate(lic_model *m, uint32_t w, uint32_t h)
{
    lic_config cfg = config(1, NULL);
    cfg.max_memory = 0;
    lic_encoder *e;
    lic_size_check chk;
    assert_int_equal(lic_encoder_open(&e, m, &cfg), 0);
    assert_int_equal(lic_encoder_check_size(e, w, h, &chk), 0);
    lic_encoder_close(&e);
    return chk.memory;
}

static void test_encode_errors(void **state)
{
    (void)state;
    lic_model *m = load(TINY_MODEL);
    lic_image small = make_image(65, 63, LIC_PIXFMT_RGB8, 1), gray = make_image(17, 33, LIC_PIXFMT_GRAY8, 2);
    lic_image big = make_image(600, 500, LIC_PIXFMT_RGB8, 3);
    lic_image bad_stride = small, no_data = small;
    bad_stride.stride = 10;
    no_data.data = NULL;
    /* A cap that fits three small images at once but not the big one. */
    uint64_t es = estimate(m, 65, 63), eb = estimate(m, 600, 500);
    assert_true(eb > 3 * es);
    lic_config cfg = config(3, NULL);
    cfg.max_memory = 3 * es;

    enum { N = 9 };
    lic_batch_encode_item it[N] = {
        {.image = &small, .quality = 30},      {.image = &big, .quality = 30}, /* over max_memory */
        {.image = &gray, .quality = 0},        /* quality out of range */
        {.image = &bad_stride, .quality = 30}, {.image = &no_data, .quality = 30},
        {.image = NULL, .quality = 30},        {.image = &gray, .quality = 80},
        {.image = &small, .quality = 30, .reserved = {[5] = 1}}, /* reserved bytes not zero */
        {.image = &big, .quality = 30},
    };
    lic_batch_encoder *be;
    assert_int_equal(lic_batch_encoder_open(&be, m, &cfg, 3), 0);
    assert_int_equal(lic_encode_batch(be, it, N), LIC_ELIMIT); /* the first failure, item 1 */

    lic_encoder *e;
    assert_int_equal(lic_encoder_open(&e, m, &cfg), 0);
    for (int i = 0; i < N; i++) {
        reference r = i == 7 ? (reference){.status = LIC_EINVAL} : encode_one(e, it[i].image, it[i].quality);
        assert_int_equal(it[i].status, r.status);
        assert_int_equal(it[i].size, r.n);
        if (r.status == 0) {
            assert_memory_equal(it[i].data, r.bits, r.n);
            assert_same_stats(&it[i].stats, &r.st);
        } else {
            assert_null(it[i].data);
            assert_true(it[i].stats.symbols_hash == 0 && it[i].stats.backend == NULL);
        }
        lic_free(r.bits);
        lic_free(it[i].data);
    }
    assert_int_equal(it[1].status, LIC_ELIMIT);
    assert_int_equal(it[2].status, LIC_EINVAL);
    assert_int_equal(it[0].status, 0);
    assert_int_equal(it[6].status, 0);

    /* All good: 0. Bad arguments of the call itself. */
    lic_batch_encode_item ok = {.image = &gray, .quality = 10};
    assert_int_equal(lic_encode_batch(be, &ok, 1), 0);
    lic_free(ok.data);
    assert_int_equal(lic_encode_batch(be, NULL, 0), 0);
    assert_int_equal(lic_encode_batch(be, NULL, 1), LIC_EINVAL);
    assert_int_equal(lic_encode_batch(NULL, &ok, 1), LIC_EINVAL);
    lic_batch_encoder_close(&be);
    lic_encoder_close(&e);
    free(small.data);
    free(gray.data);
    free(big.data);
    lic_model_release(&m);
}

static void test_decode_errors(void **state)
{
    (void)state;
    lic_model *m = load(TINY_MODEL), *other = load(TINY_DECONV_MODEL);
    lic_image small = make_image(65, 63, LIC_PIXFMT_RGB8, 1), big = make_image(600, 500, LIC_PIXFMT_GRAY8, 3);
    lic_config free_cfg = config(2, NULL);
    free_cfg.max_memory = 0;
    lic_encoder *e, *eo;
    assert_int_equal(lic_encoder_open(&e, m, &free_cfg), 0);
    assert_int_equal(lic_encoder_open(&eo, other, &free_cfg), 0);
    reference s = encode_one(e, &small, 60), b = encode_one(e, &big, 60), o = encode_one(eo, &small, 60);
    assert_int_equal(s.status | b.status | o.status, 0);
    uint8_t *corrupt = malloc(s.n);
    assert_non_null(corrupt);
    memcpy(corrupt, s.bits, s.n);
    corrupt[s.n - 5] ^= 0x40; /* in the last chunk: its CRC fails */

    uint64_t es = estimate(m, 65, 63), eb = estimate(m, 600, 500);
    assert_true(eb > 3 * es);
    lic_config cfg = config(3, NULL);
    cfg.max_memory = 3 * es;
    enum { N = 9 };
    lic_batch_decode_item it[N] = {
        {.data = s.bits, .size = s.n},       {.data = corrupt, .size = s.n},
        {.data = s.bits, .size = s.n / 2},   /* truncated */
        {.data = b.bits, .size = b.n},       /* over max_memory */
        {.data = o.bits, .size = o.n},       /* another model */
        {.data = NULL, .size = 10},          {.data = s.bits, .size = 3},
        {.data = s.bits, .size = s.n, .reserved = {[31] = 1}},
        {.data = s.bits, .size = s.n, .want_metadata = 1},
    };
    lic_batch_decoder *bd;
    assert_int_equal(lic_batch_decoder_open(&bd, m, &cfg, 3), 0);
    assert_int_equal(lic_decode_batch(bd, it, N), LIC_EBITSTREAM); /* the first failure, item 1 */

    lic_decoder *d;
    assert_int_equal(lic_decoder_open(&d, m, &cfg), 0);
    for (int i = 0; i < N; i++) {
        lic_image ref = {0};
        int st = i == 7 ? LIC_EINVAL : lic_decode(d, it[i].data, it[i].size, &ref);
        assert_int_equal(it[i].status, st);
        if (st == 0) {
            assert_same_image(&it[i].image, &ref);
        } else {
            assert_null(it[i].image.data);
            assert_int_equal(it[i].image.width, 0);
            assert_null(it[i].stats.backend);
        }
        lic_image_free(&ref);
        lic_image_free(&it[i].image);
        lic_metadata_free(&it[i].meta);
    }
    assert_int_equal(it[0].status, 0);
    assert_int_equal(it[3].status, LIC_ELIMIT);
    assert_int_equal(it[4].status, LIC_EMODEL_MISMATCH);
    assert_int_equal(it[5].status, LIC_EINVAL);
    assert_int_equal(it[8].status, 0);
    lic_batch_decoder_close(&bd);
    lic_decoder_close(&d);
    lic_encoder_close(&e);
    lic_encoder_close(&eo);
    lic_free(s.bits);
    lic_free(b.bits);
    lic_free(o.bits);
    free(corrupt);
    free(small.data);
    free(big.data);
    lic_model_release(&m);
    lic_model_release(&other);
}

static void test_open_errors(void **state)
{
    (void)state;
    lic_model *m = load(TINY_MODEL);
    lic_config cfg = config(2, NULL);
    lic_batch_encoder *be = (lic_batch_encoder *)&cfg;
    lic_batch_decoder *bd = (lic_batch_decoder *)&cfg;
    assert_int_equal(lic_batch_encoder_open(&be, m, &cfg, -1), LIC_EINVAL);
    assert_null(be);
    assert_int_equal(lic_batch_decoder_open(&bd, m, &cfg, LIC_BATCH_MAX_DEPTH + 1), LIC_EINVAL);
    assert_null(bd);
    assert_int_equal(lic_batch_encoder_open(&be, NULL, &cfg, 2), LIC_EINVAL);
    assert_int_equal(lic_batch_decoder_open(NULL, m, &cfg, 2), LIC_EINVAL);
    lic_config bad = cfg;
    bad.abi_version = 0;
    assert_int_equal(lic_batch_encoder_open(&be, m, &bad, 2), LIC_EABI);
    bad = cfg;
    bad.n_threads = -1;
    assert_int_equal(lic_batch_decoder_open(&bd, m, &bad, 2), LIC_EINVAL);
    /* The CUDA backend on a machine or build without a GPU: as lic_encoder_open. */
    lic_config cuda = cfg;
    cuda.backend = LIC_BACKEND_CUDA;
    lic_encoder *e = NULL;
    int single = lic_encoder_open(&e, m, &cuda);
    int batch = lic_batch_encoder_open(&be, m, &cuda, 2);
    assert_int_equal(batch, single);
    if (batch == 0) { /* a GPU is here: it runs one image at a time */
        assert_int_equal(lic_batch_encoder_depth(be), 1);
        lic_batch_encoder_close(&be);
    }
    lic_encoder_close(&e);
    /* NULL config: defaults (all cores). */
    assert_int_equal(lic_batch_decoder_open(&bd, m, NULL, 0), 0);
    assert_true(lic_batch_decoder_depth(bd) >= 1);
    lic_batch_decoder_close(&bd);
    lic_batch_decoder_close(&bd);
    lic_batch_decoder_close(NULL);
    lic_batch_encoder_close(NULL);
    assert_int_equal(lic_batch_encoder_depth(NULL), 0);
    /* The batch keeps its own model reference. */
    assert_int_equal(lic_batch_encoder_open(&be, m, &cfg, 2), 0);
    lic_model_release(&m);
    lic_image img = make_image(9, 9, LIC_PIXFMT_RGB8, 5);
    lic_batch_encode_item it = {.image = &img, .quality = 50};
    assert_int_equal(lic_encode_batch(be, &it, 1), 0);
    lic_free(it.data);
    free(img.data);
    lic_batch_encoder_close(&be);
}

/* ---- the memory cap covers the whole batch ---- */

/* Counts the log lines that say a worker released its workspace for the cap. */
static void count_releases(void *opaque, int level, const char *msg)
{
    (void)level;
    if (strstr(msg, "releases its workspace"))
        atomic_fetch_add((atomic_int *)opaque, 1);
}

/* Runs `n` copies of img through the batch and returns the allocator's peak of live bytes during the
 * call, minus the encoded outputs (which the caller owns, not the batch). */
static long batch_peak(lic_batch_encoder *be, lic_test_counter *c, const lic_image *img, int n)
{
    lic_batch_encode_item it[4];
    memset(it, 0, sizeof(it));
    for (int i = 0; i < n; i++) {
        it[i].image = img;
        it[i].quality = 50;
    }
    atomic_store(&c->peak_bytes, atomic_load(&c->live_bytes));
    assert_int_equal(lic_encode_batch(be, it, (size_t)n), 0);
    long peak = atomic_load(&c->peak_bytes);
    for (int i = 0; i < n; i++) {
        peak -= (long)it[i].size;
        lic_free(it[i].data);
    }
    return peak;
}

static void test_memory_cap(void **state)
{
    (void)state;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_default(&m, NULL), 0);
    /* The shipped model's estimate bounds what its encoder allocates (tests/test_alloc_fail.c). Two
     * sizes whose padded areas differ by a third: es < eb < 2 es. */
    lic_image img = make_image(192, 128, LIC_PIXFMT_RGB8, 9), big = make_image(256, 128, LIC_PIXFMT_RGB8, 4);
    uint64_t es = estimate(m, 192, 128), eb = estimate(m, 256, 128);
    assert_true(es < eb && eb < 2 * es);
    lic_test_counter c = {0};
    atomic_int releases = 0;

    /* No cap: three images at once. */
    lic_config cfg = config(3, &c);
    cfg.max_memory = 0;
    cfg.logger = (lic_logger){&releases, count_releases, LIC_LOG_DEBUG};
    lic_batch_encoder *be;
    assert_int_equal(lic_batch_encoder_open(&be, m, &cfg, 3), 0);
    long free_peak = batch_peak(be, &c, &img, 3);
    lic_batch_encoder_close(&be);
    assert_int_equal(atomic_load(&c.live), 0);

    /* A cap below that peak which fits two small images, or one big and one small, but not two big
     * ones. */
    cfg.max_memory = es + eb - 1;
    assert_true((uint64_t)free_peak > cfg.max_memory); /* else this test proves nothing */
    assert_int_equal(lic_batch_encoder_open(&be, m, &cfg, 3), 0);
    assert_true((uint64_t)batch_peak(be, &c, &img, 3) <= cfg.max_memory);
    assert_int_equal(atomic_load(&releases), 0);
    /* Big images one at a time: the idle worker that keeps a small workspace (es + eb is over the
     * cap) is released first. Then small ones two at a time: the worker that keeps the big workspace
     * is released before the other one grows. */
    assert_true((uint64_t)batch_peak(be, &c, &big, 2) <= cfg.max_memory);
    assert_int_equal(atomic_load(&releases), 1);
    assert_true((uint64_t)batch_peak(be, &c, &img, 3) <= cfg.max_memory);
    assert_int_equal(atomic_load(&releases), 2);
    lic_batch_encoder_close(&be);
    assert_int_equal(atomic_load(&c.live), 0);
    free(img.data);
    free(big.data);
    lic_model_release(&m);
}

/* ---- allocation failures ---- */

static int g_quick;

static void test_alloc_failures(void **state)
{
    (void)state;
    if (g_quick)
        skip();
    lic_model *m = load(TINY_MODEL);
    lic_image img[3] = {make_image(33, 20, LIC_PIXFMT_RGB8, 1), make_image(1, 1, LIC_PIXFMT_GRAY8, 2),
                        make_image(70, 9, LIC_PIXFMT_RGB8, 3)};
    const int q[3] = {20, 50, 90};
    lic_config ref_cfg = config(1, NULL);
    lic_encoder *e;
    assert_int_equal(lic_encoder_open(&e, m, &ref_cfg), 0);
    reference ref[3];
    for (int i = 0; i < 3; i++)
        ref[i] = encode_one(e, &img[i], q[i]);
    lic_encoder_close(&e);

    lic_test_counter c = {0};
    lic_config cfg = config(2, &c);
    int opens = 0, calls = 0;
    /* The open: each of its allocations fails once. */
    for (long n = 1;; n++) {
        atomic_store(&c.calls, 0);
        atomic_store(&c.fail_at, n);
        atomic_store(&c.failed, 0);
        lic_batch_encoder *be = NULL;
        int r = lic_batch_encoder_open(&be, m, &cfg, 3);
        if (atomic_load(&c.failed) == 0) {
            assert_int_equal(r, 0);
            lic_batch_encoder_close(&be);
            break;
        }
        assert_int_equal(r, LIC_ENOMEM);
        assert_null(be);
        assert_int_equal(atomic_load(&c.live), 0);
        opens++;
    }
    /* A call on a fresh batch (which opens two more workers) and on a warm one: each allocation of
     * the call fails once; every item is then right or LIC_ENOMEM, and the next call is all right. */
    for (int warm = 0; warm < 2; warm++) {
        for (long n = 1;; n++) {
            atomic_store(&c.fail_at, 0);
            lic_batch_encoder *be = NULL;
            assert_int_equal(lic_batch_encoder_open(&be, m, &cfg, 3), 0);
            lic_batch_encode_item it[3];
            for (int round = 0; round < 1 + warm; round++) {
                memset(it, 0, sizeof(it));
                for (int i = 0; i < 3; i++) {
                    it[i].image = &img[i];
                    it[i].quality = q[i];
                }
                if (round == warm) {
                    atomic_store(&c.failed, 0);
                    atomic_store(&c.calls, 0);
                    atomic_store(&c.fail_at, n);
                }
                int r = lic_encode_batch(be, it, 3);
                atomic_store(&c.fail_at, 0);
                int first = 0;
                for (int i = 0; i < 3; i++) {
                    if (!first)
                        first = it[i].status;
                    if (it[i].status == 0) {
                        assert_int_equal(it[i].size, ref[i].n);
                        assert_memory_equal(it[i].data, ref[i].bits, ref[i].n);
                    } else {
                        assert_int_equal(it[i].status, LIC_ENOMEM);
                        assert_null(it[i].data);
                    }
                    lic_free(it[i].data);
                }
                assert_int_equal(r, first);
            }
            int done = atomic_load(&c.failed) == 0;
            /* usable after the failure */
            memset(it, 0, sizeof(it));
            for (int i = 0; i < 3; i++) {
                it[i].image = &img[i];
                it[i].quality = q[i];
            }
            assert_int_equal(lic_encode_batch(be, it, 3), 0);
            for (int i = 0; i < 3; i++) {
                assert_memory_equal(it[i].data, ref[i].bits, ref[i].n);
                lic_free(it[i].data);
            }
            lic_batch_encoder_close(&be);
            assert_int_equal(atomic_load(&c.live), 0);
            if (done)
                break;
            calls++;
        }
    }
    /* The decoder's call on a warm batch. */
    for (long n = 1;; n++) {
        lic_batch_decoder *bd = NULL;
        atomic_store(&c.fail_at, 0);
        assert_int_equal(lic_batch_decoder_open(&bd, m, &cfg, 3), 0);
        lic_batch_decode_item it[3];
        for (int round = 0; round < 2; round++) {
            memset(it, 0, sizeof(it));
            for (int i = 0; i < 3; i++) {
                it[i].data = ref[i].bits;
                it[i].size = ref[i].n;
            }
            if (round == 1) {
                atomic_store(&c.failed, 0);
                atomic_store(&c.calls, 0);
                atomic_store(&c.fail_at, n);
            }
            (void)lic_decode_batch(bd, it, 3);
            atomic_store(&c.fail_at, 0);
            for (int i = 0; i < 3; i++) {
                assert_true(it[i].status == 0 || it[i].status == LIC_ENOMEM);
                assert_true((it[i].status == 0) == (it[i].image.data != NULL));
                lic_image_free(&it[i].image);
            }
        }
        int done = atomic_load(&c.failed) == 0;
        lic_batch_decoder_close(&bd);
        assert_int_equal(atomic_load(&c.live), 0);
        if (done)
            break;
        calls++;
    }
    printf("allocation failures: %d in opens, %d in calls, each LIC_ENOMEM without a leak\n", opens, calls);
    assert_true(opens > 3 && calls > 10);
    for (int i = 0; i < 3; i++) {
        lic_free(ref[i].bits);
        free(img[i].data);
    }
    lic_model_release(&m);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            g_quick = 1;
        } else {
            fprintf(stderr, "usage: test_batch [--quick]\n");
            return 2;
        }
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_to_single_tiny), cmocka_unit_test(test_equal_to_single_default),
        cmocka_unit_test(test_metadata),             cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_decode_errors),        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_memory_cap),           cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
