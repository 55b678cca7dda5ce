/* lic codec: the caller's 8-bit pixels as the transforms see them — the padded float planes in, the
 * cropped 8-bit rows out — read from or written to a whole lic_image or, row by row, through the
 * callbacks of lic_encode_rows / lic_decode_rows (docs/ARCHITECTURE.md, "Tiles").
 *
 * The float image x of the analysis is value * (1/255) per channel (gray in all three planes), padded
 * to multiples of 64 by replicating the last row and column. The 8-bit output is the synthesis output
 * times 255, rounded to nearest and clamped (gray: the mean of the three planes). Both conversions
 * live only here, so the whole-image and the tiled paths cannot differ.
 *
 * Regions are given in padded image coordinates; the float side is three planes of `plane` elements
 * with rows `stride` elements apart. A streaming source or sink keeps a ring of `cap` rows: a load may
 * span at most cap image rows and never starts above an earlier one; a store writes rows not yet
 * flushed, at most cap of them pending. */
#ifndef LIC_CODEC_PIXELS_H
#define LIC_CODEC_PIXELS_H

#include <stddef.h>
#include <stdint.h>

#include "lic/codec.h"

typedef struct lic_pixels {
    uint32_t width, height;
    int ch;                 /* bytes per pixel: 3 (RGB8) or 1 (GRAY8) */
    /* The whole image (data != NULL): rows at data + y * stride. */
    uint8_t *data;
    ptrdiff_t stride;
    /* Or rows through a callback, kept in a ring of cap rows: image rows [lo, hi) are in it. */
    lic_row_reader read;
    lic_row_writer write;
    void *user;
    uint8_t *ring;
    uint32_t cap, lo, hi;
    const lic_allocator *alloc;
} lic_pixels;

/* A whole caller-owned image (input or output). */
void lic_pixels_whole(lic_pixels *p, const lic_image *img);

/* Rows through a reader or a writer (one of them NULL), with a ring of `rows` rows (at least 1, at most
 * the height) allocated from a. Returns 0 or LIC_ENOMEM; release with lic_pixels_release. */
int lic_pixels_stream(lic_pixels *p, uint32_t width, uint32_t height, lic_pixfmt fmt, lic_row_reader read,
                      lic_row_writer write, void *user, uint32_t rows, const lic_allocator *a);
void lic_pixels_release(lic_pixels *p);

/* Fills h x w of float planes at dst with the padded image from (y0, x0). Returns 0, the reader's
 * error, or LIC_EINVAL when the ring cannot serve the rows (a caller bug, never the data's). */
int lic_pixels_load(lic_pixels *p, float *dst, size_t plane, size_t stride, int y0, int x0, int h, int w);

/* Converts h x w of float planes at src to the image at padded (y0, x0), cropped to the image. Returns 0
 * or LIC_EINVAL when the rows are outside the ring's pending window. */
int lic_pixels_store(lic_pixels *p, const float *src, size_t plane, size_t stride, int y0, int x0, int h,
                     int w);

/* Hands the stored rows above y_end (clamped to the height) to the writer, in order. Returns 0 or the
 * writer's error. A no-op for a whole image. */
int lic_pixels_flush(lic_pixels *p, uint32_t y_end);

#endif /* LIC_CODEC_PIXELS_H */
