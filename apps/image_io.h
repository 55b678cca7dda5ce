/* apps: image file reading (PNG, JPEG, PPM/PGM) and writing (PNG, PPM/PGM) for the CLIs.
 *
 * Independent of libcodec: it only knows 8-bit gray and RGB pixel buffers, so it can be unit-tested
 * without the library. Every function reports failure as a negative app_img_status and, when the
 * caller passes a buffer, a one-line English message (no trailing newline). Nothing here prints,
 * exits or aborts, whatever the input bytes are. */
#ifndef LIC_APPS_IMAGE_IO_H
#define LIC_APPS_IMAGE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum app_img_status {
    APP_IMG_OK = 0,
    APP_IMG_EIO = -1,          /* the file cannot be opened, read or written */
    APP_IMG_ECORRUPT = -2,     /* not a supported image, or a malformed/truncated one */
    APP_IMG_EALPHA = -3,       /* the image has transparency and the caller did not allow dropping it */
    APP_IMG_ELIMIT = -4,       /* width, height, pixel count or file size over the caller's limits */
    APP_IMG_ENOMEM = -5,       /* an allocation failed */
    APP_IMG_EUNSUPPORTED = -6, /* a valid file of a kind we do not handle (CMYK JPEG, ...) */
    APP_IMG_EINVAL = -7,       /* bad arguments */
} app_img_status;

/* A short description of a status code; never NULL. */
const char *app_img_strerror(int code);

/* An 8-bit image: channels 1 (gray) or 3 (R G B), rows `stride` bytes apart. Images returned by the
 * readers own `data` (malloc) and are released with app_image_free; the writers accept any image. */
typedef struct app_image {
    uint32_t width, height;
    int channels;
    ptrdiff_t stride; /* at least width * channels */
    uint8_t *data;
} app_image;

void app_image_free(app_image *img);

/* Limits checked against the header before any pixel buffer is allocated. 0 means "no limit" for
 * max_side and max_pixels; max_file_bytes 0 selects APP_IMG_DEFAULT_MAX_FILE. */
typedef struct app_read_opts {
    uint32_t max_side;
    uint64_t max_pixels;
    size_t max_file_bytes;
    int drop_alpha; /* 1: discard an alpha channel or tRNS transparency instead of failing */
} app_read_opts;

#define APP_IMG_DEFAULT_MAX_FILE ((size_t)1 << 30)

/* Which decoder a buffer needs, from its first bytes (never from a file name). */
typedef enum app_img_format {
    APP_FMT_UNKNOWN = 0,
    APP_FMT_PNG = 1,
    APP_FMT_JPEG = 2,
    APP_FMT_PNM = 3, /* binary PGM (P5) or PPM (P6) */
} app_img_format;
app_img_format app_image_detect(const uint8_t *data, size_t size);

/* Reads a whole file ("-" = standard input) into a malloc'd buffer. Fails with APP_IMG_ELIMIT
 * (without reading further) once the size would exceed max_bytes (0: APP_IMG_DEFAULT_MAX_FILE).
 * On failure *out is NULL. A zero-length file is returned as a valid, non-NULL 0-byte buffer. */
int app_read_file(const char *path, size_t max_bytes, uint8_t **out, size_t *out_size, char *msg,
                  size_t msg_size);

/* Decodes an image held in memory. opts may be NULL (no limits, alpha is an error).
 * 16-bit samples become 8-bit as (v * 255 + 32767) / 65535; PNM samples of maxval m become
 * (v * 255 + m / 2) / m. Palette images become RGB; gray stays gray. */
int app_image_decode(const uint8_t *data, size_t size, const app_read_opts *opts, app_image *out,
                     char *msg, size_t msg_size);

/* app_read_file + app_image_decode. */
int app_image_read(const char *path, const app_read_opts *opts, app_image *out, char *msg,
                   size_t msg_size);

/* Output file kinds. */
typedef enum app_out_format {
    APP_OUT_NONE = 0,
    APP_OUT_PNG = 1, /* 8-bit gray or RGB, as the image is */
    APP_OUT_PPM = 2, /* P6; gray images are expanded to RGB */
    APP_OUT_PGM = 3, /* P5; RGB images are converted to luma (BT.601 weights) */
    APP_OUT_PNM = 4, /* P5 for gray images, P6 for RGB */
} app_out_format;

/* The format named by a path's extension (.png, .ppm, .pgm, .pnm; case-insensitive), else
 * APP_OUT_NONE. */
app_out_format app_out_format_from_path(const char *path);
/* The format named by a --format argument ("png", "ppm", "pgm", "pnm"), else APP_OUT_NONE. */
app_out_format app_out_format_from_name(const char *name);

/* Writes the image to an open stream. The stream is flushed; a write error is APP_IMG_EIO. */
int app_image_write(FILE *f, const app_image *img, app_out_format fmt, char *msg, size_t msg_size);

#endif /* LIC_APPS_IMAGE_IO_H */
