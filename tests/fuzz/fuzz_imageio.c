/* lic fuzz target: the image readers of the CLIs (apps/image_io.c): PNG through libpng, JPEG through
 * libjpeg-turbo, binary PGM/PPM by our own parser — all through app_image_decode().
 *
 * Properties: only documented status codes; on failure no image is returned; on success the image
 * respects the limits and its buffer is as large as declared; the format detected from the bytes is the
 * one decoded; the writers round-trip: a decoded image written as PNG and as PNM (into memory) and
 * read back gives the same pixels; and reading row by row (app_rows_*, what lic-encode does) gives the
 * same status and the same rows as the whole read. */
#include <string.h>

#include "apps/image_io.h"
#include "tests/fuzz/fuzz_common.h"

static void check_roundtrip(const app_image *img, app_out_format fmt)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    FUZZ_CHECK(f != NULL);
    char msg[256];
    int ret = app_image_write(f, img, fmt, msg, sizeof msg);
    FUZZ_CHECK(fclose(f) == 0);
    FUZZ_CHECK(ret == APP_IMG_OK);
    app_image back;
    ret = app_image_decode((const uint8_t *)buf, n, NULL, &back, msg, sizeof msg);
    FUZZ_CHECK(ret == APP_IMG_OK);
    FUZZ_CHECK(back.width == img->width && back.height == img->height && back.channels == img->channels);
    for (uint32_t y = 0; y < img->height; y++)
        FUZZ_CHECK(memcmp(back.data + (size_t)y * back.stride, img->data + (size_t)y * img->stride,
                          (size_t)img->width * img->channels) == 0);
    app_image_free(&back);
    free(buf);
}

/* The row reader on the same input: the whole read's status (ret) and, on success, its rows. */
static void check_rows(const uint8_t *data, size_t size, const app_read_opts *o, int ret, const app_image *img)
{
    app_row_reader *r = NULL;
    app_image_info info;
    char msg[256];
    int rs = app_rows_open(data, size, o, &r, &info, NULL, msg, sizeof msg);
    FUZZ_CHECK((rs == 0) == (r != NULL));
    uint8_t *row = NULL;
    if (rs == 0) {
        row = malloc((size_t)info.width * info.channels);
        FUZZ_CHECK(row != NULL);
    }
    for (uint32_t y = 0; rs == 0 && y < info.height; y++) {
        rs = app_rows_read(r, row, msg, sizeof msg);
        if (rs == 0 && ret == APP_IMG_OK)
            FUZZ_CHECK(memcmp(row, img->data + (size_t)y * img->stride, (size_t)img->width * img->channels) == 0);
    }
    if (rs == 0)
        rs = app_rows_finish(r, &info, msg, sizeof msg);
    FUZZ_CHECK(rs == ret);
    free(row);
    app_rows_close(&r);
}

static void decode_once(const uint8_t *data, size_t size, int drop_alpha)
{
    app_read_opts o = {512, (uint64_t)1 << 16, (size_t)1 << 20, drop_alpha};
    app_image img;
    memset(&img, 0x5a, sizeof img);
    char msg[256];
    msg[0] = 0;
    int ret = app_image_decode(data, size, &o, &img, msg, sizeof msg);
    FUZZ_CHECK(ret <= 0 && ret >= APP_IMG_EINVAL && ret != APP_IMG_EIO && ret != APP_IMG_EINVAL);
    FUZZ_CHECK(memchr(msg, 0, sizeof msg) != NULL);
    if (ret != APP_IMG_OK) {
        FUZZ_CHECK(img.data == NULL);
        check_rows(data, size, &o, ret, NULL);
        return;
    }
    check_rows(data, size, &o, ret, &img);
    FUZZ_CHECK(app_image_detect(data, size) != APP_FMT_UNKNOWN);
    FUZZ_CHECK(img.data != NULL && (img.channels == 1 || img.channels == 3));
    FUZZ_CHECK(img.width >= 1 && img.height >= 1 && img.width <= o.max_side && img.height <= o.max_side);
    FUZZ_CHECK((uint64_t)img.width * img.height <= o.max_pixels);
    FUZZ_CHECK(img.stride >= (ptrdiff_t)img.width * img.channels);
    volatile uint8_t sink = img.data[(size_t)img.stride * (img.height - 1) + (size_t)img.width * img.channels - 1];
    (void)sink;
    check_roundtrip(&img, APP_OUT_PNG);
    check_roundtrip(&img, APP_OUT_PNM);
    app_image_free(&img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_once(data, size, 0);
    decode_once(data, size, 1);
    return 0;
}
