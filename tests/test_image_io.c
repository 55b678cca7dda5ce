/* Tests of apps/image_io: every input format and variant decodes to the right size and values,
 * truncated and corrupted files fail cleanly, alpha is refused unless dropped, limits are enforced
 * before allocation, and the writers round-trip. Run from the repository root (testdata/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jpeglib.h>
#include <png.h>

#include "apps/image_formats.h"
#include "apps/image_io.h"

#define IMG_DIR "testdata/images/"

static uint8_t px(const app_image *img, uint32_t x, uint32_t y, int c)
{
    return img->data[(ptrdiff_t)y * img->stride + (ptrdiff_t)x * img->channels + c];
}

static uint8_t *load(const char *path, size_t *n)
{
    uint8_t *buf = NULL;
    char msg[256];
    int r = app_read_file(path, 0, &buf, n, msg, sizeof(msg));
    if (r)
        fail_msg("cannot read %s: %s", path, msg);
    return buf;
}

/* ---- in-memory encoders (test fixtures) ------------------------------------------------------- */

typedef struct membuf {
    uint8_t *p;
    size_t n, cap;
} membuf;

static void membuf_write(png_structp png, png_bytep data, size_t len)
{
    membuf *m = png_get_io_ptr(png);
    if (m->n + len > m->cap) {
        m->cap = (m->n + len) * 2;
        m->p = realloc(m->p, m->cap);
        assert_non_null(m->p);
    }
    memcpy(m->p + m->n, data, len);
    m->n += len;
}

static void membuf_flush(png_structp png)
{
    (void)png;
}

typedef struct png_spec {
    uint32_t w, h;
    int depth, ctype, interlace;
    const uint8_t *pixels; /* packed rows, rowbytes each */
    size_t rowbytes;
    const png_color *plte;
    int nplte;
    const uint8_t *trns_alpha; /* palette tRNS */
    int ntrns;
    const png_color_16 *trns_color; /* gray/RGB tRNS */
} png_spec;

static uint8_t *make_png(const png_spec *s, size_t *size)
{
    membuf m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_non_null(info);
    if (setjmp(png_jmpbuf(png)))
        fail_msg("libpng could not write the fixture");
    png_set_write_fn(png, &m, membuf_write, membuf_flush);
    png_set_IHDR(png, info, s->w, s->h, s->depth, s->ctype, s->interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (s->plte)
        png_set_PLTE(png, info, s->plte, s->nplte);
    if (s->trns_alpha || s->trns_color)
        png_set_tRNS(png, info, s->trns_alpha, s->ntrns, s->trns_color);
    png_write_info(png, info);
    int passes = png_set_interlace_handling(png);
    for (int p = 0; p < passes; p++)
        for (uint32_t y = 0; y < s->h; y++)
            png_write_row(png, s->pixels + y * s->rowbytes);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *size = m.n;
    return m.p;
}

/* quality < 0: default quality, progressive scans. */
static uint8_t *make_jpeg(uint32_t w, uint32_t h, int comps, J_COLOR_SPACE cs, const uint8_t *pixels,
                          int quality, size_t *size)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    unsigned char *out = NULL;
    unsigned long n = 0;
    jpeg_mem_dest(&c, &out, &n);
    c.image_width = w;
    c.image_height = h;
    c.input_components = comps;
    c.in_color_space = cs;
    jpeg_set_defaults(&c);
    if (quality < 0)
        jpeg_simple_progression(&c);
    else
        jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < h) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)c.next_scanline * w * comps);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *size = n;
    return out;
}

static int decode(const uint8_t *d, size_t n, const app_read_opts *o, app_image *img)
{
    char msg[256];
    return app_image_decode(d, n, o, img, msg, sizeof(msg));
}

/* ---- detection ------------------------------------------------------------------------------- */

static void test_detect(void **state)
{
    (void)state;
    const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0};
    const uint8_t jpg[] = {0xFF, 0xD8, 0xFF, 0xE0};
    assert_int_equal(app_image_detect(png, sizeof(png)), APP_FMT_PNG);
    assert_int_equal(app_image_detect(png, 7), APP_FMT_UNKNOWN);
    assert_int_equal(app_image_detect(jpg, sizeof(jpg)), APP_FMT_JPEG);
    assert_int_equal(app_image_detect((const uint8_t *)"P6\n1 1\n255\n", 11), APP_FMT_PNM);
    assert_int_equal(app_image_detect((const uint8_t *)"P5 1 1 255 ", 11), APP_FMT_PNM);
    assert_int_equal(app_image_detect((const uint8_t *)"P3\n1 1\n255\n", 11), APP_FMT_PNM);
    assert_int_equal(app_image_detect((const uint8_t *)"P2 1 1 255 ", 11), APP_FMT_PNM);
    assert_int_equal(app_image_detect((const uint8_t *)"P4\n1 1\n", 7), APP_FMT_UNKNOWN); /* bitmaps: not read */
    assert_int_equal(app_image_detect((const uint8_t *)"P1\n1 1\n", 7), APP_FMT_UNKNOWN);
    assert_int_equal(app_image_detect((const uint8_t *)"P7\n", 3), APP_FMT_UNKNOWN);
    assert_int_equal(app_image_detect((const uint8_t *)"P6x", 3), APP_FMT_UNKNOWN);
    assert_int_equal(app_image_detect((const uint8_t *)"GIF89a", 6), APP_FMT_UNKNOWN);

    app_image img;
    assert_int_equal(decode((const uint8_t *)"GIF89a", 6, NULL, &img), APP_IMG_ECORRUPT);
    assert_int_equal(decode((const uint8_t *)"", 0, NULL, &img), APP_IMG_ECORRUPT);
    assert_null(img.data);
}

/* ---- the committed test images ------------------------------------------------------------------ */

static void expect_file(const char *name, uint32_t w, uint32_t h, int ch)
{
    char path[256], msg[256];
    snprintf(path, sizeof(path), IMG_DIR "%s", name);
    app_image img;
    int r = app_image_read(path, NULL, &img, msg, sizeof(msg));
    if (r)
        fail_msg("%s: %s", name, msg);
    assert_int_equal(img.width, w);
    assert_int_equal(img.height, h);
    assert_int_equal(img.channels, ch);
    assert_true(img.stride >= (ptrdiff_t)w * ch);
    app_image_free(&img);
    assert_null(img.data);
}

static void test_testdata_sizes(void **state)
{
    (void)state;
    expect_file("1x1.png", 1, 1, 3);
    expect_file("17x33.png", 17, 33, 3);
    expect_file("gray_17x33.png", 17, 33, 1);
    expect_file("768x512.png", 768, 512, 3);
    expect_file("16bit_9x7.png", 9, 7, 3);
    expect_file("small.jpg", 32, 24, 3);
    expect_file("small.ppm", 23, 19, 3);
    expect_file("small.pgm", 23, 19, 1);

    app_image img;
    char msg[256];
    assert_int_equal(app_image_read(IMG_DIR "1x1.png", NULL, &img, msg, sizeof(msg)), 0);
    assert_int_equal(px(&img, 0, 0, 0), 200);
    assert_int_equal(px(&img, 0, 0, 1), 100);
    assert_int_equal(px(&img, 0, 0, 2), 50);
    app_image_free(&img);
}

/* 16bit_9x7.png holds v = (x*7283 + y*9521 + c*21841 + x*y*131) mod 65536 (scripts/make_testdata.py),
 * with pixel (0,0) = (0, 65535, 128) and (1,0) = (257, 32896, 33025). */
static void test_16bit_png_file(void **state)
{
    (void)state;
    app_image img;
    char msg[256];
    assert_int_equal(app_image_read(IMG_DIR "16bit_9x7.png", NULL, &img, msg, sizeof(msg)), 0);
    for (uint32_t y = 0; y < 7; y++)
        for (uint32_t x = 0; x < 9; x++)
            for (int c = 0; c < 3; c++) {
                unsigned v = (x * 7283u + y * 9521u + (unsigned)c * 21841u + x * y * 131u) % 65536u;
                if (y == 0 && x == 0)
                    v = (unsigned[]){0, 65535, 128}[c];
                if (y == 0 && x == 1)
                    v = (unsigned[]){257, 32896, 33025}[c];
                assert_int_equal(px(&img, x, y, c), (v * 255 + 32767) / 65535);
            }
    /* The rounding at the edges: 0->0, 65535->255, 128->0, 257->1, 32896->128 (exact), 33025->129. */
    assert_int_equal(px(&img, 0, 0, 1), 255);
    assert_int_equal(px(&img, 1, 0, 0), 1);
    assert_int_equal(px(&img, 1, 0, 1), 128);
    assert_int_equal(px(&img, 1, 0, 2), 129);
    app_image_free(&img);
}

static void test_alpha_png_file(void **state)
{
    (void)state;
    app_image img;
    char msg[256] = "";
    assert_int_equal(app_image_read(IMG_DIR "rgba_8x8.png", NULL, &img, msg, sizeof(msg)), APP_IMG_EALPHA);
    assert_non_null(strstr(msg, "alpha"));
    assert_null(img.data);
    app_read_opts o = {0, 0, 0, 1};
    assert_int_equal(app_image_read(IMG_DIR "rgba_8x8.png", &o, &img, msg, sizeof(msg)), 0);
    assert_int_equal(img.channels, 3);
    for (uint32_t y = 0; y < 8; y++)
        for (uint32_t x = 0; x < 8; x++) { /* the color ramp of make_testdata.py, alpha gone */
            assert_int_equal(px(&img, x, y, 0), x * 32);
            assert_int_equal(px(&img, x, y, 1), y * 32);
            assert_int_equal(px(&img, x, y, 2), 255 - x * 16);
        }
    app_image_free(&img);
}

/* ---- PNG variants built with libpng ------------------------------------------------------------- */

static void test_png_gray_depths(void **state)
{
    (void)state;
    /* 1-, 2-, 4-bit gray expand to the full 8-bit range; 16-bit rounds. */
    const uint8_t row1[1] = {0xA0};       /* 1 0 1 0 ... (4 px) */
    const uint8_t row2[1] = {0x1B};       /* 0 1 2 3 */
    const uint8_t row4[2] = {0x0F, 0x58}; /* 0 15 5 8 */
    const struct {
        int depth;
        const uint8_t *row;
        size_t rb;
        uint8_t want[4];
    } cases[] = {
        {1, row1, 1, {255, 0, 255, 0}},
        {2, row2, 1, {0, 85, 170, 255}},
        {4, row4, 2, {0, 255, 85, 136}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        png_spec s = {4, 1, cases[i].depth, PNG_COLOR_TYPE_GRAY, 0, cases[i].row, cases[i].rb, NULL, 0, NULL, 0, NULL};
        size_t n;
        uint8_t *f = make_png(&s, &n);
        app_image img;
        assert_int_equal(decode(f, n, NULL, &img), 0);
        assert_int_equal(img.channels, 1);
        for (uint32_t x = 0; x < 4; x++)
            assert_int_equal(px(&img, x, 0, 0), cases[i].want[x]);
        app_image_free(&img);
        free(f);
    }
    /* 16-bit gray, big-endian samples 0, 128, 32896, 33025, 65535. */
    const uint8_t row16[10] = {0, 0, 0, 128, 0x80, 0x80, 0x81, 0x01, 0xFF, 0xFF};
    png_spec s = {5, 1, 16, PNG_COLOR_TYPE_GRAY, 0, row16, 10, NULL, 0, NULL, 0, NULL};
    size_t n;
    uint8_t *f = make_png(&s, &n);
    app_image img;
    assert_int_equal(decode(f, n, NULL, &img), 0);
    const uint8_t want[5] = {0, 0, 128, 129, 255};
    for (uint32_t x = 0; x < 5; x++)
        assert_int_equal(px(&img, x, 0, 0), want[x]);
    app_image_free(&img);
    free(f);
}

static void test_png_palette_and_trns(void **state)
{
    (void)state;
    const png_color plte[3] = {{10, 20, 30}, {200, 100, 0}, {1, 2, 3}};
    const uint8_t idx[6] = {0, 1, 2, 2, 1, 0}; /* 3x2, 8-bit indexes */
    png_spec s = {3, 2, 8, PNG_COLOR_TYPE_PALETTE, 0, idx, 3, plte, 3, NULL, 0, NULL};
    size_t n;
    uint8_t *f = make_png(&s, &n);
    app_image img;
    assert_int_equal(decode(f, n, NULL, &img), 0);
    assert_int_equal(img.channels, 3);
    for (uint32_t i = 0; i < 6; i++) {
        const png_color *c = &plte[idx[i]];
        assert_int_equal(px(&img, i % 3, i / 3, 0), c->red);
        assert_int_equal(px(&img, i % 3, i / 3, 1), c->green);
        assert_int_equal(px(&img, i % 3, i / 3, 2), c->blue);
    }
    app_image_free(&img);
    free(f);

    /* A palette with transparency is alpha: refused, or dropped on request. */
    const uint8_t trns[2] = {255, 0};
    s.trns_alpha = trns;
    s.ntrns = 2;
    f = make_png(&s, &n);
    assert_int_equal(decode(f, n, NULL, &img), APP_IMG_EALPHA);
    app_read_opts drop = {0, 0, 0, 1};
    assert_int_equal(decode(f, n, &drop, &img), 0);
    assert_int_equal(px(&img, 1, 0, 0), 200);
    app_image_free(&img);
    free(f);

    /* tRNS on a gray image (a transparent color key) is alpha too. */
    const uint8_t g[2] = {7, 9};
    png_color_16 key = {0, 0, 0, 0, 7};
    png_spec sg = {2, 1, 8, PNG_COLOR_TYPE_GRAY, 0, g, 2, NULL, 0, NULL, 0, &key};
    f = make_png(&sg, &n);
    assert_int_equal(decode(f, n, NULL, &img), APP_IMG_EALPHA);
    assert_int_equal(decode(f, n, &drop, &img), 0);
    assert_int_equal(img.channels, 1);
    assert_int_equal(px(&img, 0, 0, 0), 7);
    assert_int_equal(px(&img, 1, 0, 0), 9);
    app_image_free(&img);
    free(f);
}

static void test_png_gray_alpha_16bit_rgba_interlaced(void **state)
{
    (void)state;
    app_read_opts drop = {0, 0, 0, 1};
    app_image img;
    size_t n;
    /* Gray + alpha, 8-bit: gray out when dropped. */
    const uint8_t ga[4] = {100, 0, 50, 255};
    png_spec s = {2, 1, 8, PNG_COLOR_TYPE_GRAY_ALPHA, 0, ga, 4, NULL, 0, NULL, 0, NULL};
    uint8_t *f = make_png(&s, &n);
    assert_int_equal(decode(f, n, NULL, &img), APP_IMG_EALPHA);
    assert_int_equal(decode(f, n, &drop, &img), 0);
    assert_int_equal(img.channels, 1);
    assert_int_equal(px(&img, 0, 0, 0), 100);
    assert_int_equal(px(&img, 1, 0, 0), 50);
    app_image_free(&img);
    free(f);

    /* RGBA 16-bit: alpha dropped, colors rounded. */
    const uint8_t rgba16[8] = {0xFF, 0xFF, 0x80, 0x80, 0x00, 0x80, 0x12, 0x34};
    png_spec s16 = {1, 1, 16, PNG_COLOR_TYPE_RGB_ALPHA, 0, rgba16, 8, NULL, 0, NULL, 0, NULL};
    f = make_png(&s16, &n);
    assert_int_equal(decode(f, n, NULL, &img), APP_IMG_EALPHA);
    assert_int_equal(decode(f, n, &drop, &img), 0);
    assert_int_equal(img.channels, 3);
    assert_int_equal(px(&img, 0, 0, 0), 255);
    assert_int_equal(px(&img, 0, 0, 1), 128);
    assert_int_equal(px(&img, 0, 0, 2), 0);
    app_image_free(&img);
    free(f);

    /* Adam7-interlaced RGB 13x11 decodes to the same pixels as the rows it was written from. */
    enum { W = 13, H = 11 };
    uint8_t rgb[W * H * 3];
    for (size_t i = 0; i < sizeof(rgb); i++)
        rgb[i] = (uint8_t)(i * 37 + (i >> 3));
    png_spec si = {W, H, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, rgb, W * 3, NULL, 0, NULL, 0, NULL};
    f = make_png(&si, &n);
    assert_int_equal(decode(f, n, NULL, &img), 0);
    assert_int_equal(img.width, W);
    assert_int_equal(img.height, H);
    for (uint32_t y = 0; y < H; y++)
        assert_memory_equal(img.data + y * img.stride, rgb + y * W * 3, W * 3);
    app_image_free(&img);
    free(f);
}

/* ---- row by row -------------------------------------------------------------------------------- */

/* Reads data through app_rows_* and checks it gives what app_image_decode_meta gives: the status, the
 * info, the metadata bytes and every row. Returns the status. */
static int check_rows(const uint8_t *d, size_t n, const app_read_opts *o)
{
    char msg[256], rmsg[256];
    app_image whole = {0};
    app_image_info wi, ri;
    app_meta wm, rm;
    const int ws = app_image_decode_meta(d, n, o, &whole, &wi, &wm, msg, sizeof(msg));
    app_row_reader *r = NULL;
    int rs = app_rows_open(d, n, o, &r, &ri, &rm, rmsg, sizeof(rmsg));
    uint8_t *row = NULL;
    if (rs == 0) {
        row = malloc((size_t)ri.width * ri.channels);
        assert_non_null(row);
        for (uint32_t y = 0; rs == 0 && y < ri.height; y++) {
            rs = app_rows_read(r, row, rmsg, sizeof(rmsg));
            if (rs == 0 && ws == 0)
                assert_memory_equal(row, whole.data + (ptrdiff_t)y * whole.stride, (size_t)ri.width * ri.channels);
        }
        if (rs == 0)
            rs = app_rows_finish(r, &ri, rmsg, sizeof(rmsg));
    }
    assert_int_equal(rs, ws);
    if (ws) {
        assert_string_equal(rmsg, msg);
    } else {
        assert_memory_equal(&ri, &wi, sizeof(wi));
        assert_int_equal(rm.icc_size, wm.icc_size);
        assert_int_equal(rm.exif_size, wm.exif_size);
        assert_int_equal(rm.xmp_size, wm.xmp_size);
        if (wm.icc_size)
            assert_memory_equal(rm.icc, wm.icc, wm.icc_size);
        if (wm.exif_size)
            assert_memory_equal(rm.exif, wm.exif, wm.exif_size);
        if (wm.xmp_size)
            assert_memory_equal(rm.xmp, wm.xmp, wm.xmp_size);
    }
    free(row);
    app_rows_close(&r);
    assert_null(r);
    app_meta_free(&rm);
    app_meta_free(&wm);
    app_image_free(&whole);
    return ws;
}

static void test_rows_equal_whole(void **state)
{
    (void)state;
    static const char *const files[] = {
        "17x33.png", "gray_17x33.png", "768x512.png", "16bit_9x7.png", "16bit_3x2.ppm", "small.jpg",
        "meta_32x24.jpg", "exif6_32x24.jpg", "small.ppm", "small.pgm", "ascii_4x3.pgm", "meta_4x3.png",
        "icc_4x3.png", "gamma_4x3.png", "exif6_4x3.png", "rgba_8x8.png"};
    app_read_opts drop = {0, 0, 0, 1};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, IMG_DIR "%s", files[i]);
        size_t n;
        uint8_t *d = load(path, &n);
        print_message("%s\n", files[i]);
        assert_int_equal(check_rows(d, n, &drop), 0);
        /* Cut anywhere: the same error, whether it shows in the header, a row or the end. */
        for (size_t cut = 1; cut < 8; cut++)
            assert_int_not_equal(check_rows(d, n * cut / 8, &drop), 0);
        free(d);
    }
    /* Interlaced PNG (decoded whole when opened) and a progressive JPEG. */
    enum { W = 13, H = 11 };
    uint8_t rgb[W * H * 3];
    for (size_t i = 0; i < sizeof(rgb); i++)
        rgb[i] = (uint8_t)(i * 37 + (i >> 3));
    png_spec si = {W, H, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, rgb, W * 3, NULL, 0, NULL, 0, NULL};
    size_t n;
    uint8_t *f = make_png(&si, &n);
    assert_int_equal(check_rows(f, n, NULL), 0);
    assert_int_not_equal(check_rows(f, n - 20, NULL), 0);
    free(f);
    f = make_jpeg(W, H, 3, JCS_RGB, rgb, -1, &n);
    assert_int_equal(check_rows(f, n, NULL), 0);
    assert_int_equal(check_rows(f, n - 2, NULL), 0); /* no end-of-image marker: read, with missing_eoi */
    assert_int_not_equal(check_rows(f, n / 2, NULL), 0);
    free(f);
    /* Misuse: a row past the last one, finishing early. */
    f = load(IMG_DIR "17x33.png", &n);
    app_row_reader *r;
    app_image_info info;
    char msg[128];
    uint8_t row[17 * 3];
    assert_int_equal(app_rows_open(f, n, NULL, &r, &info, NULL, msg, sizeof msg), 0);
    assert_int_equal(app_rows_finish(r, &info, msg, sizeof msg), APP_IMG_EINVAL);
    for (int y = 0; y < 33; y++)
        assert_int_equal(app_rows_read(r, row, msg, sizeof msg), 0);
    assert_int_equal(app_rows_read(r, row, msg, sizeof msg), APP_IMG_EINVAL);
    assert_int_equal(app_rows_finish(r, &info, msg, sizeof msg), 0);
    app_rows_close(&r);
    free(f);
}

/* ---- JPEG ------------------------------------------------------------------------------------ */

static void test_jpeg(void **state)
{
    (void)state;
    enum { W = 16, H = 8 };
    uint8_t gray[W * H], rgb[W * H * 3], cmyk[W * H * 4];
    for (int i = 0; i < W * H; i++) {
        gray[i] = (uint8_t)(40 + (i % W) * 8);
        rgb[3 * i] = 200;
        rgb[3 * i + 1] = (uint8_t)(50 + (i % W) * 4);
        rgb[3 * i + 2] = 90;
        memset(cmyk + 4 * i, 60, 4);
    }
    app_image img;
    size_t n;
    uint8_t *f = make_jpeg(W, H, 1, JCS_GRAYSCALE, gray, 100, &n);
    assert_int_equal(decode(f, n, NULL, &img), 0);
    assert_int_equal(img.channels, 1);
    assert_int_equal(img.width, W);
    for (int i = 0; i < W * H; i++) /* lossy, but quality 100 on a ramp stays within 3 */
        assert_in_range(px(&img, i % W, i / W, 0), gray[i] - 3, gray[i] + 3);
    app_image_free(&img);
    free(f);

    f = make_jpeg(W, H, 3, JCS_RGB, rgb, 100, &n);
    assert_int_equal(decode(f, n, NULL, &img), 0);
    assert_int_equal(img.channels, 3);
    for (int i = 0; i < W * H; i++)
        for (int c = 0; c < 3; c++)
            assert_in_range(px(&img, i % W, i / W, c), rgb[3 * i + c] - 6, rgb[3 * i + c] + 6);
    app_image_free(&img);
    free(f);

    char msg[256] = "";
    f = make_jpeg(W, H, 4, JCS_CMYK, cmyk, 90, &n);
    assert_int_equal(app_image_decode(f, n, NULL, &img, msg, sizeof(msg)), APP_IMG_EUNSUPPORTED);
    assert_non_null(strstr(msg, "CMYK"));
    assert_null(img.data);
    free(f);
}

/* ---- PGM / PPM ------------------------------------------------------------------------------ */

static void test_pnm_parse(void **state)
{
    (void)state;
    app_image img;
    /* Comments between every field, CRLF, tabs. */
    const char p6[] = "P6 # c1\r\n# c2\n2\t# w\n 1 # h\n255\n\x01\x02\x03\xfd\xfe\xff";
    assert_int_equal(decode((const uint8_t *)p6, sizeof(p6) - 1, NULL, &img), 0);
    assert_int_equal(img.width, 2);
    assert_int_equal(img.height, 1);
    assert_int_equal(img.channels, 3);
    assert_int_equal(px(&img, 1, 0, 2), 0xff);
    assert_int_equal(px(&img, 0, 0, 1), 2);
    app_image_free(&img);

    /* maxval 1: 0/1 become 0/255. */
    const char p5m1[] = "P5 3 1 1\n\x00\x01\x01";
    assert_int_equal(decode((const uint8_t *)p5m1, sizeof(p5m1) - 1, NULL, &img), 0);
    assert_int_equal(img.channels, 1);
    assert_int_equal(px(&img, 0, 0, 0), 0);
    assert_int_equal(px(&img, 1, 0, 0), 255);
    app_image_free(&img);

    /* maxval 1000 uses two bytes per sample: 500 -> (500*255+500)/1000 = 128, 1000 -> 255. */
    const char p5m1000[] = "P5 2 1 1000\n\x01\xf4\x03\xe8";
    assert_int_equal(decode((const uint8_t *)p5m1000, sizeof(p5m1000) - 1, NULL, &img), 0);
    assert_int_equal(px(&img, 0, 0, 0), 128);
    assert_int_equal(px(&img, 1, 0, 0), 255);
    app_image_free(&img);

    /* maxval 65535 matches the 16-bit PNG rounding: 33025 -> 129, 32896 -> 128. */
    const char p5m65535[] = "P5 2 1 65535\n\x81\x01\x80\x80";
    assert_int_equal(decode((const uint8_t *)p5m65535, sizeof(p5m65535) - 1, NULL, &img), 0);
    assert_int_equal(px(&img, 0, 0, 0), 129);
    assert_int_equal(px(&img, 1, 0, 0), 128);
    app_image_free(&img);

    /* Errors: sample above maxval, maxval 0 / 65536, zero width, garbage numbers, no separator. */
#define BAD(lit) {lit, sizeof(lit) - 1}
    const struct {
        const char *s;
        size_t n;
    } bad[] = {
        BAD("P5 1 1 100\n\x65"),          /* sample above maxval */
        BAD("P5 1 1 0\n\x00"),            /* maxval 0 */
        BAD("P5 1 1 65536\n\x00\x00"),    /* maxval too large */
        BAD("P5 0 1 255\n"),              /* zero width */
        BAD("P5 1 x 255\n\x00"),          /* not a number */
        BAD("P5 1 1 255"),                /* no separator after maxval */
        BAD("P6 1 1 255\n\x00\x00"),      /* one byte short */
        BAD("P5 99999999999 1 255\n\x00"), /* overflows 32 bits */
        BAD("P5 -1 1 255\n\x00"),         /* negative */
    };
#undef BAD
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(decode((const uint8_t *)bad[i].s, bad[i].n, NULL, &img), APP_IMG_ECORRUPT);
        assert_null(img.data);
    }
}

/* ---- ASCII PGM/PPM, 16-bit PPM (tests/cli/make_inputs.py) ------------------------------------------- */

static int decode_info(const uint8_t *d, size_t n, const app_read_opts *o, app_image *img, app_image_info *info)
{
    char msg[256];
    return app_image_decode_info(d, n, o, img, info, msg, sizeof(msg));
}

static void test_ascii_pnm(void **state)
{
    (void)state;
    app_image img;
    app_image_info info;
    char msg[256];
    /* ascii_4x3.ppm: R = 20x + 60y, G = 255 - 30x, B = 17(x + y), maxval 255, a comment line. */
    assert_int_equal(app_image_read(IMG_DIR "ascii_4x3.ppm", NULL, &img, msg, sizeof(msg)), 0);
    assert_int_equal(img.width, 4);
    assert_int_equal(img.height, 3);
    assert_int_equal(img.channels, 3);
    for (uint32_t y = 0; y < 3; y++)
        for (uint32_t x = 0; x < 4; x++) {
            assert_int_equal(px(&img, x, y, 0), 20 * x + 60 * y);
            assert_int_equal(px(&img, x, y, 1), 255 - 30 * x);
            assert_int_equal(px(&img, x, y, 2), 17 * (x + y));
        }
    app_image_free(&img);
    /* ascii_4x3.pgm: v = 100x + 250y with maxval 1000, scaled as (v * 255 + 500) / 1000. */
    size_t n;
    uint8_t *f = load(IMG_DIR "ascii_4x3.pgm", &n);
    assert_int_equal(decode_info(f, n, NULL, &img, &info), 0);
    assert_int_equal(img.channels, 1);
    assert_int_equal(info.format, APP_FMT_PNM);
    assert_int_equal(info.pnm_ascii, 1);
    assert_int_equal(info.bit_depth, 10);
    for (uint32_t y = 0; y < 3; y++)
        for (uint32_t x = 0; x < 4; x++)
            assert_int_equal(px(&img, x, y, 0), ((100 * x + 250 * y) * 255 + 500) / 1000);
    app_image_free(&img);
    free(f);

    /* Comments and any whitespace between samples; maxval 65535; binary and ASCII agree. */
    const char p3[] = "P3\n2 1 65535\n0 # first\n\t65535 32896\n33025\r\n128 257";
    assert_int_equal(decode_info((const uint8_t *)p3, sizeof(p3) - 1, NULL, &img, &info), 0);
    assert_int_equal(info.bit_depth, 16);
    const uint8_t want[6] = {0, 255, 128, 129, 0, 1};
    assert_memory_equal(img.data, want, 6);
    app_image_free(&img);

    const struct {
        const char *s;
        size_t n;
    } bad[] = {
#define BAD(lit) {lit, sizeof(lit) - 1}
        BAD("P2 2 1 255\n1"),           /* a sample missing */
        BAD("P2 2 1 255\n1 256"),       /* above maxval */
        BAD("P2 2 1 255\n1 x"),         /* not a number */
        BAD("P2 2 1 255\n1 -2"),        /* negative */
        BAD("P2 2 1 255\n1 2x"),        /* trailing garbage in a number */
        BAD("P3 1 1 255\n1 2"),         /* 2 of 3 samples */
        BAD("P2 1 1 255\n99999999999"), /* overflows */
        BAD("P2 1 1 0\n0"),             /* maxval 0 */
#undef BAD
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(decode((const uint8_t *)bad[i].s, bad[i].n, NULL, &img), APP_IMG_ECORRUPT);
        assert_null(img.data);
    }
    /* The size is checked before the (absent) samples are parsed. */
    app_read_opts lim = {100, 0, 0, 0};
    const char wide[] = "P2 101 1 255\n";
    assert_int_equal(decode((const uint8_t *)wide, sizeof(wide) - 1, &lim, &img), APP_IMG_ELIMIT);
}

static void test_16bit_ppm_file(void **state)
{
    (void)state;
    size_t n;
    uint8_t *f = load(IMG_DIR "16bit_3x2.ppm", &n);
    app_image img;
    app_image_info info;
    assert_int_equal(decode_info(f, n, NULL, &img, &info), 0);
    assert_int_equal(info.bit_depth, 16);
    assert_int_equal(info.pnm_ascii, 0);
    for (uint32_t y = 0; y < 2; y++)
        for (uint32_t x = 0; x < 3; x++)
            for (int c = 0; c < 3; c++) {
                unsigned v = 4096 * x + 16384 * y + 1000 * (unsigned)c + 7;
                assert_int_equal(px(&img, x, y, c), (v * 255 + 32767) / 65535);
            }
    app_image_free(&img);
    free(f);
    /* The 16-bit PNG says so too; an 8-bit one does not. */
    f = load(IMG_DIR "16bit_9x7.png", &n);
    assert_int_equal(decode_info(f, n, NULL, &img, &info), 0);
    assert_int_equal(info.bit_depth, 16);
    app_image_free(&img);
    free(f);
    f = load(IMG_DIR "17x33.png", &n);
    assert_int_equal(decode_info(f, n, NULL, &img, &info), 0);
    assert_int_equal(info.bit_depth, 8);
    assert_int_equal(info.meta, 0);
    assert_int_equal(info.orientation, 0);
    app_image_free(&img);
    free(f);
}

/* ---- probing the header only ------------------------------------------------------------------- */

static void test_probe(void **state)
{
    (void)state;
    const struct {
        const char *name;
        app_img_format fmt;
        uint32_t w, h;
        int ch, depth;
    } cases[] = {
        {"17x33.png", APP_FMT_PNG, 17, 33, 3, 8},      {"gray_17x33.png", APP_FMT_PNG, 17, 33, 1, 8},
        {"rgba_8x8.png", APP_FMT_PNG, 8, 8, 3, 8},     {"16bit_9x7.png", APP_FMT_PNG, 9, 7, 3, 16},
        {"small.jpg", APP_FMT_JPEG, 32, 24, 3, 8},     {"small.ppm", APP_FMT_PNM, 23, 19, 3, 8},
        {"small.pgm", APP_FMT_PNM, 23, 19, 1, 8},      {"ascii_4x3.ppm", APP_FMT_PNM, 4, 3, 3, 8},
        {"huge_16384.png", APP_FMT_PNG, 16384, 16384, 3, 8},
        {"huge_16384.jpg", APP_FMT_JPEG, 16384, 16384, 3, 8},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[256], msg[256] = "";
        snprintf(path, sizeof(path), IMG_DIR "%s", cases[i].name);
        size_t n;
        uint8_t *f = load(path, &n);
        app_image_info info;
        int r = app_image_probe(f, n, &info, msg, sizeof(msg));
        if (r)
            fail_msg("%s: %s", cases[i].name, msg);
        assert_int_equal(info.format, cases[i].fmt);
        assert_int_equal(info.width, cases[i].w);
        assert_int_equal(info.height, cases[i].h);
        assert_int_equal(info.channels, cases[i].ch);
        assert_int_equal(info.bit_depth, cases[i].depth);
        free(f);
    }
    /* The huge headers have no image data behind them: only the probe succeeds. */
    size_t n;
    uint8_t *f = load(IMG_DIR "huge_16384.jpg", &n);
    app_image img;
    app_read_opts lim = {16384, (uint64_t)1 << 28, 0, 0};
    assert_int_equal(decode(f, n, &lim, &img), APP_IMG_ECORRUPT);
    free(f);
    /* Probing garbage fails like decoding it; the probe allocates no pixels for a CMYK JPEG either. */
    app_image_info info;
    char msg[256];
    assert_int_equal(app_image_probe((const uint8_t *)"GIF89a", 6, &info, msg, sizeof(msg)), APP_IMG_ECORRUPT);
    assert_int_equal(app_image_probe((const uint8_t *)"P6 1", 4, &info, msg, sizeof(msg)), APP_IMG_ECORRUPT);
    assert_int_equal(app_image_probe(NULL, 0, &info, msg, sizeof(msg)), APP_IMG_ECORRUPT);
    assert_int_equal(app_image_probe(NULL, 0, NULL, msg, sizeof(msg)), APP_IMG_EINVAL);
}

/* ---- metadata that is reported: the APP_META_* flags and the orientation ------------------------------ */

static void expect_meta(const char *name, unsigned meta, int orientation, int probe_orientation)
{
    char path[256];
    snprintf(path, sizeof(path), IMG_DIR "%s", name);
    size_t n;
    uint8_t *f = load(path, &n);
    app_image img;
    app_image_info info;
    assert_int_equal(decode_info(f, n, NULL, &img, &info), 0);
    if (info.meta != meta || info.orientation != orientation)
        fail_msg("%s: meta %#x orientation %d, expected %#x and %d", name, info.meta, info.orientation, meta,
                 orientation);
    app_image_free(&img);
    char msg[256];
    assert_int_equal(app_image_probe(f, n, &info, msg, sizeof(msg)), 0);
    assert_int_equal(info.orientation, probe_orientation);
    free(f);
}

static void test_metadata(void **state)
{
    (void)state;
    expect_meta("icc_4x3.png", APP_META_ICC, 0, 0);
    expect_meta("gamma_4x3.png", APP_META_GAMA | APP_META_CHRM, 0, 0);
    /* The eXIf chunk follows the image data; the probe finds it too (the chunks are walked in place). */
    expect_meta("exif6_4x3.png", APP_META_EXIF, 6, 6);
    expect_meta("exif6_32x24.jpg", APP_META_ICC | APP_META_EXIF | APP_META_XMP, 6, 6);
    expect_meta("small.jpg", 0, 0, 0);
    expect_meta("small.ppm", 0, 0, 0);

    /* gAMA and cHRM beside an sRGB chunk only restate sRGB: nothing to warn about. */
    const uint8_t rgb[3] = {1, 2, 3};
    png_spec s = {1, 1, 8, PNG_COLOR_TYPE_RGB, 0, rgb, 3, NULL, 0, NULL, 0, NULL};
    membuf m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop pi = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png)))
        fail_msg("libpng could not write the fixture");
    png_set_write_fn(png, &m, membuf_write, membuf_flush);
    png_set_IHDR(png, pi, 1, 1, 8, PNG_COLOR_TYPE_RGB, 0, 0, 0);
    png_set_sRGB_gAMA_and_cHRM(png, pi, PNG_sRGB_INTENT_PERCEPTUAL);
    png_write_info(png, pi);
    png_write_row(png, (png_bytep)s.pixels);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &pi);
    app_image img;
    app_image_info info;
    assert_int_equal(decode_info(m.p, m.n, NULL, &img, &info), 0);
    assert_int_equal(info.meta, 0);
    app_image_free(&img);
    free(m.p);
}

/* ---- metadata that is carried: read the bytes, write them into a PNG, read them back ---- */

static void expect_meta_bytes(const char *name, size_t icc, size_t exif, size_t xmp)
{
    char path[256];
    size_t n;
    snprintf(path, sizeof(path), IMG_DIR "%s", name);
    uint8_t *f = load(path, &n);
    app_image img;
    app_image_info info;
    app_meta meta;
    char msg[256];
    assert_int_equal(app_image_decode_meta(f, n, NULL, &img, &info, &meta, msg, sizeof(msg)), 0);
    if (meta.icc_size != icc || meta.exif_size != exif || meta.xmp_size != xmp)
        fail_msg("%s: icc %zu exif %zu xmp %zu, expected %zu %zu %zu", name, meta.icc_size, meta.exif_size,
                 meta.xmp_size, icc, exif, xmp);
    if (exif) /* TIFF header first: the JPEG "Exif\0\0" prefix is not part of it */
        assert_true(!memcmp(meta.exif, "MM\0*", 4) || !memcmp(meta.exif, "II*\0", 4));
    if (icc)
        assert_memory_equal(meta.icc + 36, "acsp", 4);

    /* PNG out and back: the same bytes. */
    FILE *t = tmpfile();
    assert_non_null(t);
    assert_int_equal(app_image_write_meta(t, &img, APP_OUT_PNG, &meta, msg, sizeof(msg)), 0);
    assert_int_equal(meta.icc_refused, 0);
    long len = ftell(t);
    rewind(t);
    uint8_t *buf = malloc((size_t)len);
    assert_int_equal(fread(buf, 1, (size_t)len, t), (size_t)len);
    fclose(t);
    app_image img2;
    app_meta back;
    assert_int_equal(app_image_decode_meta(buf, (size_t)len, NULL, &img2, &info, &back, msg, sizeof(msg)), 0);
    assert_int_equal(back.icc_size, meta.icc_size);
    assert_int_equal(back.exif_size, meta.exif_size);
    assert_int_equal(back.xmp_size, meta.xmp_size);
    if (icc)
        assert_memory_equal(back.icc, meta.icc, icc);
    if (exif)
        assert_memory_equal(back.exif, meta.exif, exif);
    if (xmp)
        assert_memory_equal(back.xmp, meta.xmp, xmp);
    assert_memory_equal(img2.data, img.data, (size_t)img.stride * img.height);
    app_image_free(&img2);
    /* A failed read leaves the metadata empty (nothing to free). */
    app_meta none;
    memset(&none, 0x5a, sizeof none);
    assert_int_not_equal(app_image_decode_meta(buf, 20, NULL, &img2, &info, &none, msg, sizeof(msg)), 0);
    assert_null(none.icc);
    assert_null(none.exif);
    assert_null(none.xmp);
    app_meta_free(&back);
    app_meta_free(&meta);
    app_meta_free(&meta); /* twice is safe */
    app_meta_free(NULL);
    app_image_free(&img);
    free(buf);
    free(f);
}

static void test_metadata_refused(void **state)
{
    (void)state;
    /* What a .lic may carry but a PNG cannot: a profile libpng rejects, XMP with a NUL byte. */
    uint8_t px[12] = {0}, bad_icc[200], xmp[] = {'<', 'x', 0, '>'}, exif[] = "MM\0*\0\0\0\x08\0\0";
    memset(bad_icc, 0xAB, sizeof bad_icc);
    app_image img = {2, 2, 3, 6, px};
    app_meta meta = {bad_icc, exif, xmp, sizeof bad_icc, sizeof exif, sizeof xmp, 0, 0};
    FILE *t = tmpfile();
    assert_non_null(t);
    char msg[256];
    assert_int_equal(app_image_write_meta(t, &img, APP_OUT_PNG, &meta, msg, sizeof(msg)), 0);
    assert_int_equal(meta.icc_refused, 1);
    assert_int_equal(meta.xmp_refused, 1);
    long len = ftell(t);
    rewind(t);
    uint8_t *buf = malloc((size_t)len);
    assert_int_equal(fread(buf, 1, (size_t)len, t), (size_t)len);
    fclose(t);
    app_image back;
    app_image_info info;
    app_meta got;
    assert_int_equal(app_image_decode_meta(buf, (size_t)len, NULL, &back, &info, &got, msg, sizeof(msg)), 0);
    assert_int_equal(got.icc_size, 0);
    assert_int_equal(got.xmp_size, 0);
    assert_int_equal(got.exif_size, sizeof exif); /* the rest is still written */
    app_meta_free(&got);
    app_image_free(&back);
    free(buf);
}

static void test_metadata_bytes(void **state)
{
    (void)state;
    expect_meta_bytes("meta_4x3.png", 1024, 38, 313);
    expect_meta_bytes("meta_32x24.jpg", 70000, 38, 313); /* the ICC profile joined from two APP2 markers */
    expect_meta_bytes("icc_4x3.png", 164, 0, 0);
    expect_meta_bytes("exif6_32x24.jpg", 164, 38, 37);
    expect_meta_bytes("small.jpg", 0, 0, 0);
    expect_meta_bytes("17x33.png", 0, 0, 0);
}

static void test_exif_orientation(void **state)
{
    (void)state;
    /* Little-endian: header, IFD0 at 8 with 2 entries (Make, Orientation = 3). */
    uint8_t le[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 2, 0,
                    0x0F, 0x01, 2, 0, 4, 0, 0, 0, 'l', 'i', 'c', 0,
                    0x12, 0x01, 3, 0, 1, 0, 0, 0, 3, 0, 0, 0,
                    0, 0, 0, 0};
    assert_int_equal(app_exif_orientation(le, sizeof(le)), 3);
    /* Big-endian, one entry: Orientation = 8. */
    const uint8_t be[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0};
    assert_int_equal(app_exif_orientation(be, sizeof(be)), 8);
    /* Every truncation is "no orientation", never a read past the end (ASan). */
    for (size_t len = 0; len < 34; len++) {
        uint8_t *cut = malloc(len ? len : 1);
        memcpy(cut, le, len);
        assert_int_equal(app_exif_orientation(cut, len), 0);
        free(cut);
    }
    /* Out-of-range values, a wrong type, a wrong count, a bad magic, an IFD offset past the end. */
    le[30] = 9;
    assert_int_equal(app_exif_orientation(le, sizeof(le)), 0);
    le[30] = 0;
    assert_int_equal(app_exif_orientation(le, sizeof(le)), 0);
    le[30] = 6;
    assert_int_equal(app_exif_orientation(le, sizeof(le)), 6);
    le[24] = 4; /* LONG */
    assert_int_equal(app_exif_orientation(le, sizeof(le)), 0);
    le[24] = 3;
    le[26] = 2; /* two values */
    assert_int_equal(app_exif_orientation(le, sizeof(le)), 0);
    le[26] = 1;
    le[2] = 43;
    assert_int_equal(app_exif_orientation(le, sizeof(le)), 0);
    le[2] = 42;
    le[4] = 200;
    assert_int_equal(app_exif_orientation(le, sizeof(le)), 0);
    le[4] = 8;
    assert_int_equal(app_exif_orientation(le, sizeof(le)), 6);
    assert_int_equal(app_exif_orientation(NULL, 100), 0);
}

/* ---- JPEG without its end marker -------------------------------------------------------------- */

static void test_jpeg_missing_eoi(void **state)
{
    (void)state;
    size_t n;
    uint8_t *f = load(IMG_DIR "small.jpg", &n);
    app_image full, img;
    app_image_info info;
    assert_int_equal(decode_info(f, n, NULL, &full, &info), 0);
    assert_int_equal(info.missing_eoi, 0);
    /* Without FF D9: the same pixels, and the reader says the marker was missing. */
    assert_int_equal(decode_info(f, n - 2, NULL, &img, &info), 0);
    assert_int_equal(info.missing_eoi, 1);
    assert_memory_equal(img.data, full.data, (size_t)full.stride * full.height);
    app_image_free(&img);
    /* Bytes after a real EOI are not a missing marker. */
    uint8_t *tail = malloc(n + 5);
    memcpy(tail, f, n);
    memcpy(tail + n, "junk!", 5);
    assert_int_equal(decode_info(tail, n + 5, NULL, &img, &info), 0);
    assert_int_equal(info.missing_eoi, 0);
    app_image_free(&img);
    free(tail);
    /* Cut inside the image data: an error, not a picture with invented blocks. */
    char msg[256] = "";
    assert_int_equal(app_image_decode_info(f, n - 40, NULL, &img, &info, msg, sizeof(msg)), APP_IMG_ECORRUPT);
    assert_non_null(strstr(msg, "JPEG"));
    app_image_free(&full);
    free(f);

    /* Progressive: complete but for the marker is read; stopping between scans is an error. */
    enum { W = 24, H = 16 };
    uint8_t rgb[W * H * 3];
    for (size_t i = 0; i < sizeof(rgb); i++)
        rgb[i] = (uint8_t)(i * 13 + (i / 72) * 5);
    uint8_t *p = make_jpeg(W, H, 3, JCS_RGB, rgb, -1, &n);
    assert_int_equal(decode_info(p, n, NULL, &full, &info), 0);
    assert_int_equal(decode_info(p, n - 2, NULL, &img, &info), 0);
    assert_int_equal(info.missing_eoi, 1);
    assert_memory_equal(img.data, full.data, (size_t)full.stride * full.height);
    app_image_free(&img);
    app_image_free(&full);
    /* Cut just before the last scan's SOS marker (FF DA): all earlier scans complete. */
    size_t last_sos = 0;
    for (size_t i = 2; i + 1 < n; i++)
        if (p[i] == 0xFF && p[i + 1] == 0xDA)
            last_sos = i;
    assert_true(last_sos > 0);
    assert_int_equal(app_image_decode_info(p, last_sos, NULL, &img, &info, msg, sizeof(msg)), APP_IMG_ECORRUPT);
    assert_non_null(strstr(msg, "progressive"));
    assert_null(img.data);
    free(p);
}

/* ---- writers ----------------------------------------------------------------------------------- */

/* Writes img as fmt into a temporary stream and decodes it back. */
static int write_read(const app_image *img, app_out_format fmt, app_image *back)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    char msg[256];
    assert_int_equal(app_image_write(f, img, fmt, msg, sizeof(msg)), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    uint8_t *buf = malloc((size_t)n);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    int r = decode(buf, (size_t)n, NULL, back);
    free(buf);
    return r;
}

static void test_write_roundtrip(void **state)
{
    (void)state;
    enum { W = 7, H = 5, S = 24 }; /* stride > width*3: writers must honor it */
    uint8_t rgb[S * H], gray[S * H];
    for (int i = 0; i < S * H; i++) {
        rgb[i] = (uint8_t)(i * 11 + 3);
        gray[i] = (uint8_t)(i * 7 + 1);
    }
    app_image in3 = {W, H, 3, S, rgb}, in1 = {W, H, 1, S, gray};
    app_image back;
    for (int fmt = APP_OUT_PNG; fmt <= APP_OUT_PNM; fmt++) {
        for (int k = 0; k < 2; k++) {
            const app_image *in = k ? &in1 : &in3;
            assert_int_equal(write_read(in, (app_out_format)fmt, &back), 0);
            assert_int_equal(back.width, W);
            assert_int_equal(back.height, H);
            int want_ch = fmt == APP_OUT_PPM ? 3 : fmt == APP_OUT_PGM ? 1 : in->channels;
            assert_int_equal(back.channels, want_ch);
            for (uint32_t y = 0; y < H; y++)
                for (uint32_t x = 0; x < W; x++) {
                    const uint8_t *s = in->data + y * S + x * in->channels;
                    for (int c = 0; c < want_ch; c++) {
                        unsigned want = in->channels == want_ch ? s[c]
                                        : want_ch == 3      ? s[0] /* gray expanded */
                                                            : (77u * s[0] + 150u * s[1] + 29u * s[2] + 128u) >> 8;
                        assert_int_equal(px(&back, x, y, c), want);
                    }
                }
            app_image_free(&back);
        }
    }
    /* Invalid images are refused, not written. */
    char msg[64];
    app_image bad = {W, H, 2, S, rgb};
    assert_int_equal(app_image_write(stdout, &bad, APP_OUT_PNG, msg, sizeof(msg)), APP_IMG_EINVAL);
    app_image narrow = {W, H, 3, W, rgb};
    assert_int_equal(app_image_write(stdout, &narrow, APP_OUT_PNG, msg, sizeof(msg)), APP_IMG_EINVAL);
    /* A full device is an I/O error. */
    FILE *full = fopen("/dev/full", "wb");
    if (full) {
        assert_int_equal(app_image_write(full, &in3, APP_OUT_PNG, msg, sizeof(msg)), APP_IMG_EIO);
        assert_int_equal(app_image_write(full, &in3, APP_OUT_PPM, msg, sizeof(msg)), APP_IMG_EIO);
        fclose(full);
    }
}

static void test_out_format_names(void **state)
{
    (void)state;
    assert_int_equal(app_out_format_from_path("a/b.PNG"), APP_OUT_PNG);
    assert_int_equal(app_out_format_from_path("x.ppm"), APP_OUT_PPM);
    assert_int_equal(app_out_format_from_path("x.pgm"), APP_OUT_PGM);
    assert_int_equal(app_out_format_from_path("x.pnm"), APP_OUT_PNM);
    assert_int_equal(app_out_format_from_path("x.jpg"), APP_OUT_NONE);
    assert_int_equal(app_out_format_from_path("png"), APP_OUT_NONE);
    assert_int_equal(app_out_format_from_path("-"), APP_OUT_NONE);
    assert_int_equal(app_out_format_from_name("png"), APP_OUT_PNG);
    assert_int_equal(app_out_format_from_name("pgm"), APP_OUT_PGM);
    assert_int_equal(app_out_format_from_name("jpeg"), APP_OUT_NONE);
}

/* ---- damaged input --------------------------------------------------------------------------- */

/* Every proper prefix of a valid file must fail (each format detects the missing end), except the
 * last `eoi_bytes` ones of a JPEG (its end marker, which may be missing), and every single-byte
 * corruption must return without crashing (run under ASan for the memory part). */
static void damage_file(const char *path, int expect_prefix_errors, size_t eoi_bytes)
{
    size_t n;
    uint8_t *good = load(path, &n);
    app_image img;
    app_read_opts drop = {0, 0, 0, 1};
    assert_int_equal(decode(good, n, &drop, &img), 0);
    app_image_free(&img);
    uint8_t *buf = malloc(n);
    for (size_t len = 0; len < n; len++) {
        memcpy(buf, good, len); /* exact-size copy so ASan sees any over-read */
        app_image_info info;
        char msg[256];
        int r = app_image_decode_info(buf, len, &drop, &img, &info, msg, sizeof(msg));
        if (len + eoi_bytes >= n) {
            if (r != 0 || !info.missing_eoi)
                fail_msg("%s without its last %zu bytes: status %d, missing_eoi %d (%s)", path, n - len, r,
                         info.missing_eoi, msg);
        } else if (expect_prefix_errors && r == 0) {
            fail_msg("%s cut to %zu of %zu bytes decoded without error", path, len, n);
        }
        if (r)
            assert_null(img.data);
        app_image_free(&img);
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(buf, good, n);
        buf[i] ^= (uint8_t)(0x55 + i);
        int r = decode(buf, n, &drop, &img);
        if (r == 0) { /* undetected damage must still give a well-formed image */
            assert_non_null(img.data);
            assert_true(img.width > 0 && img.height > 0);
        } else {
            assert_null(img.data);
        }
        app_image_free(&img);
    }
    free(buf);
    free(good);
}

static void test_truncated_and_corrupt(void **state)
{
    (void)state;
    damage_file(IMG_DIR "17x33.png", 1, 0);
    damage_file(IMG_DIR "gray_17x33.png", 1, 0);
    damage_file(IMG_DIR "rgba_8x8.png", 1, 0);
    damage_file(IMG_DIR "16bit_9x7.png", 1, 0);
    damage_file(IMG_DIR "small.jpg", 1, 2); /* FF D9 or D9 missing: read with missing_eoi */
    damage_file(IMG_DIR "small.ppm", 1, 0);
    damage_file(IMG_DIR "small.pgm", 1, 0);
    damage_file(IMG_DIR "ascii_4x3.ppm", 0, 0); /* a prefix ending inside the last number still parses */
    damage_file(IMG_DIR "ascii_4x3.pgm", 0, 0);

    /* A flipped byte inside PNG image data is caught by the chunk CRC. */
    size_t n;
    uint8_t *f = load(IMG_DIR "17x33.png", &n);
    f[n - 20] ^= 0x01; /* inside IDAT (IEND is the last 12 bytes) */
    app_image img;
    assert_int_equal(decode(f, n, NULL, &img), APP_IMG_ECORRUPT);
    free(f);
}

/* ---- limits -------------------------------------------------------------------------------- */

static void test_limits(void **state)
{
    (void)state;
    const char *files[] = {IMG_DIR "17x33.png", IMG_DIR "small.jpg", IMG_DIR "small.ppm", IMG_DIR "small.pgm"};
    for (size_t i = 0; i < 4; i++) {
        size_t n;
        uint8_t *f = load(files[i], &n);
        app_image img;
        assert_int_equal(decode(f, n, NULL, &img), 0);
        const uint32_t w = img.width, h = img.height;
        app_image_free(&img);
        const uint32_t side = w > h ? w : h;
        app_read_opts o = {side, (uint64_t)w * h, 0, 0}; /* exactly at the limits: accepted */
        assert_int_equal(decode(f, n, &o, &img), 0);
        app_image_free(&img);
        o.max_side = side - 1;
        assert_int_equal(decode(f, n, &o, &img), APP_IMG_ELIMIT);
        o.max_side = side;
        o.max_pixels = (uint64_t)w * h - 1;
        assert_int_equal(decode(f, n, &o, &img), APP_IMG_ELIMIT);
        assert_null(img.data);
        free(f);
    }
    /* A header claiming a huge image is refused before its (missing) data is even looked at. */
    app_read_opts lim = {16384, (uint64_t)1 << 28, 0, 0};
    const char huge[] = "P6 100000 100000 255\n";
    app_image img;
    assert_int_equal(decode((const uint8_t *)huge, sizeof(huge) - 1, &lim, &img), APP_IMG_ELIMIT);
    const char wide[] = "P5 16385 1 255\n";
    assert_int_equal(decode((const uint8_t *)wide, sizeof(wide) - 1, &lim, &img), APP_IMG_ELIMIT);
    /* Without limits the same header is just truncated. */
    assert_int_equal(decode((const uint8_t *)huge, sizeof(huge) - 1, NULL, &img), APP_IMG_ECORRUPT);

    /* File-size cap. */
    uint8_t *buf;
    size_t n;
    char msg[256];
    assert_int_equal(app_read_file(IMG_DIR "17x33.png", 100, &buf, &n, msg, sizeof(msg)), APP_IMG_ELIMIT);
    assert_null(buf);
    assert_int_equal(app_read_file(IMG_DIR "17x33.png", 1445, &buf, &n, msg, sizeof(msg)), 0);
    assert_int_equal(n, 1445);
    free(buf);
    app_read_opts small = {0, 0, 1000, 0};
    assert_int_equal(app_image_read(IMG_DIR "17x33.png", &small, &img, msg, sizeof(msg)), APP_IMG_ELIMIT);
}

static void test_read_errors(void **state)
{
    (void)state;
    app_image img;
    char msg[256] = "";
    assert_int_equal(app_image_read("testdata/images/does-not-exist.png", NULL, &img, msg, sizeof(msg)), APP_IMG_EIO);
    assert_non_null(strstr(msg, "does-not-exist.png"));
    assert_int_equal(app_image_read("testdata/images", NULL, &img, msg, sizeof(msg)), APP_IMG_EIO);
    assert_int_equal(app_image_read("/dev/null", NULL, &img, msg, sizeof(msg)), APP_IMG_ECORRUPT);
    assert_string_equal(msg, "empty file");
    assert_string_equal(app_img_strerror(APP_IMG_EALPHA), "image has an alpha channel");
    assert_string_equal(app_img_strerror(12345), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_testdata_sizes),
        cmocka_unit_test(test_16bit_png_file),
        cmocka_unit_test(test_alpha_png_file),
        cmocka_unit_test(test_png_gray_depths),
        cmocka_unit_test(test_png_palette_and_trns),
        cmocka_unit_test(test_png_gray_alpha_16bit_rgba_interlaced),
        cmocka_unit_test(test_jpeg),
        cmocka_unit_test(test_rows_equal_whole),
        cmocka_unit_test(test_pnm_parse),
        cmocka_unit_test(test_write_roundtrip),
        cmocka_unit_test(test_out_format_names),
        cmocka_unit_test(test_truncated_and_corrupt),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_ascii_pnm),
        cmocka_unit_test(test_16bit_ppm_file),
        cmocka_unit_test(test_probe),
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_metadata_bytes),
        cmocka_unit_test(test_metadata_refused),
        cmocka_unit_test(test_exif_orientation),
        cmocka_unit_test(test_jpeg_missing_eoi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
