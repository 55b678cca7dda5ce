/* lic codec: 8-bit pixels to and from the transforms' float planes (codec/pixels.h). */
#include "codec/pixels.h"

#include <math.h>
#include <string.h>

#include "util/mem.h"

void lic_pixels_whole(lic_pixels *p, const lic_image *img)
{
    memset(p, 0, sizeof(*p));
    p->width = img->width;
    p->height = img->height;
    p->ch = img->fmt == LIC_PIXFMT_GRAY8 ? 1 : 3;
    p->data = img->data;
    p->stride = img->stride;
}

int lic_pixels_stream(lic_pixels *p, uint32_t width, uint32_t height, lic_pixfmt fmt, lic_row_reader read,
                      lic_row_writer write, void *user, uint32_t rows, const lic_allocator *a)
{
    memset(p, 0, sizeof(*p));
    p->width = width;
    p->height = height;
    p->ch = fmt == LIC_PIXFMT_GRAY8 ? 1 : 3;
    p->read = read;
    p->write = write;
    p->user = user;
    p->cap = rows < 1 ? 1 : rows > height ? height : rows;
    p->alloc = a;
    size_t row_bytes;
    if (lic_size_mul(width, (size_t)p->ch, &row_bytes) < 0)
        return LIC_ELIMIT;
    p->ring = lic_mem_alloc_array(a, p->cap, row_bytes);
    return p->ring ? LIC_OK : LIC_ENOMEM;
}

void lic_pixels_release(lic_pixels *p)
{
    if (p->ring)
        lic_mem_free(p->alloc, p->ring);
    p->ring = NULL;
}

static uint8_t *row_at(const lic_pixels *p, uint32_t y)
{
    if (p->data)
        return p->data + (ptrdiff_t)y * p->stride;
    return p->ring + (size_t)(y % p->cap) * p->width * (size_t)p->ch;
}

/* A callback's result as the library returns it: 0, its negative code, or LIC_EIO for a positive one. */
static int callback_result(int r)
{
    return r > 0 ? LIC_EIO : r;
}

/* Makes image rows [lo, hi) readable: rows below lo leave the ring, rows up to hi are read in order. */
static int need_rows(lic_pixels *p, uint32_t lo, uint32_t hi)
{
    if (p->data)
        return LIC_OK;
    if (lo < p->lo || hi - lo > p->cap)
        return LIC_EINVAL;
    p->lo = lo;
    /* Rows are read in order, each once; a row between regions would be read too (and then dropped). */
    while (p->hi < hi) {
        int r = callback_result(p->read(p->user, p->hi, row_at(p, p->hi)));
        if (r < 0)
            return r;
        p->hi++;
    }
    return LIC_OK;
}

int lic_pixels_load(lic_pixels *p, float *dst, size_t plane, size_t stride, int y0, int x0, int h, int w)
{
    /* Padding rows and columns repeat the last ones, so a region below the image reads its last row. */
    const uint32_t last = p->height - 1;
    const uint32_t lo = (uint32_t)y0 < last ? (uint32_t)y0 : last;
    const uint32_t end = (uint32_t)(y0 + h) < p->height ? (uint32_t)(y0 + h) : p->height;
    int ret = need_rows(p, lo, end > lo ? end : lo + 1);
    if (ret < 0)
        return ret;
    const int ch = p->ch;
    for (int y = 0; y < h; y++) {
        const uint32_t sy = (uint32_t)(y0 + y) < p->height ? (uint32_t)(y0 + y) : last;
        const uint8_t *row = row_at(p, sy);
        float *d = dst + (size_t)y * stride;
        for (int x = 0; x < w; x++) {
            const uint32_t sx = (uint32_t)(x0 + x) < p->width ? (uint32_t)(x0 + x) : p->width - 1;
            for (int c = 0; c < 3; c++)
                d[c * plane + (size_t)x] = row[sx * ch + (ch == 3 ? c : 0)] * (1.0f / 255.0f);
        }
    }
    return LIC_OK;
}

static uint8_t to_u8(float v)
{
    float s = v * 255.0f;
    if (!(s > 0.0f)) /* also catches NaN */
        return 0;
    if (s >= 255.0f)
        return 255;
    return (uint8_t)lrintf(s);
}

int lic_pixels_store(lic_pixels *p, const float *src, size_t plane, size_t stride, int y0, int x0, int h,
                     int w)
{
    if ((uint32_t)y0 >= p->height || (uint32_t)x0 >= p->width)
        return LIC_OK; /* all padding */
    const uint32_t rows = (uint32_t)h < p->height - (uint32_t)y0 ? (uint32_t)h : p->height - (uint32_t)y0;
    const uint32_t cols = (uint32_t)w < p->width - (uint32_t)x0 ? (uint32_t)w : p->width - (uint32_t)x0;
    if (!p->data && ((uint32_t)y0 < p->lo || (uint32_t)y0 + rows > p->lo + p->cap))
        return LIC_EINVAL;
    const int ch = p->ch;
    for (uint32_t y = 0; y < rows; y++) {
        uint8_t *row = row_at(p, (uint32_t)y0 + y) + (size_t)x0 * ch;
        const float *r = src + (size_t)y * stride, *g = r + plane, *b = g + plane;
        for (uint32_t x = 0; x < cols; x++) {
            if (ch == 3) {
                row[3 * x] = to_u8(r[x]);
                row[3 * x + 1] = to_u8(g[x]);
                row[3 * x + 2] = to_u8(b[x]);
            } else {
                row[x] = to_u8((r[x] + g[x] + b[x]) * (1.0f / 3.0f));
            }
        }
    }
    return LIC_OK;
}

int lic_pixels_flush(lic_pixels *p, uint32_t y_end)
{
    if (p->data)
        return LIC_OK;
    if (y_end > p->height)
        y_end = p->height;
    for (; p->lo < y_end; p->lo++) {
        int r = callback_result(p->write(p->user, p->lo, row_at(p, p->lo)));
        if (r < 0)
            return r;
    }
    return LIC_OK;
}
