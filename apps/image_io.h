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
    APP_FMT_PNM = 3, /* PGM or PPM, binary (P5, P6) or plain ASCII (P2, P3) */
} app_img_format;
app_img_format app_image_detect(const uint8_t *data, size_t size);

/* "PNG", "JPEG", "PGM/PPM" or "unknown": for messages. */
const char *app_img_format_name(app_img_format f);

/* Metadata found in a source file (app_image_info.meta). ICC, EXIF and XMP are carried through .lic
 * files (app_image_decode_meta returns their bytes); gAMA and cHRM are not, so the tools warn. */
enum {
    APP_META_ICC = 1,  /* an ICC colour profile (PNG iCCP, JPEG APP2 ICC_PROFILE) */
    APP_META_GAMA = 2, /* PNG gAMA without sRGB: a gamma other than sRGB's may be meant */
    APP_META_CHRM = 4, /* PNG cHRM without sRGB: primaries other than sRGB's may be meant */
    APP_META_EXIF = 8, /* EXIF (PNG eXIf, JPEG APP1 Exif) */
    APP_META_XMP = 16, /* XMP (PNG iTXt XML:com.adobe.xmp, JPEG APP1 XMP) */
};
#define APP_META_COLOUR (APP_META_ICC | APP_META_GAMA | APP_META_CHRM)

/* What a reader learned about the source besides its pixels. */
typedef struct app_image_info {
    app_img_format format;
    uint32_t width, height;
    int channels;     /* of the decoded image: 1 (gray) or 3 (RGB) */
    int alpha;        /* the source has an alpha channel or a transparent colour (tRNS) */
    int bit_depth;    /* bits per source sample, 1..16 (PGM/PPM: the bits needed for maxval) */
    int pnm_ascii;    /* a plain (ASCII) PGM/PPM: P2 or P3 */
    unsigned meta;    /* APP_META_* bits */
    int orientation;  /* EXIF orientation 1..8; 0 when there is none or it could not be read */
    int missing_eoi;  /* a JPEG without its end-of-image marker, read anyway (as libjpeg's tools do) */
} app_image_info;

/* Reads only the header of an image held in memory (PNG: the chunks before the image data; JPEG:
 * the markers before the first scan; PGM/PPM: the header) and fills *info with its size, channels,
 * bit depth and the metadata seen so far. Applies no limits, allocates nothing per pixel: lets a
 * caller refuse an image by its size before decoding it.
 * Returns 0, APP_IMG_ECORRUPT, APP_IMG_EUNSUPPORTED (CMYK JPEG), APP_IMG_ENOMEM or APP_IMG_EINVAL. */
int app_image_probe(const uint8_t *data, size_t size, app_image_info *info, char *msg, size_t msg_size);

/* Reads a whole file ("-" = standard input) into a malloc'd buffer. Fails with APP_IMG_ELIMIT
 * (without reading further) once the size would exceed max_bytes (0: APP_IMG_DEFAULT_MAX_FILE).
 * On failure *out is NULL. A zero-length file is returned as a valid, non-NULL 0-byte buffer. */
int app_read_file(const char *path, size_t max_bytes, uint8_t **out, size_t *out_size, char *msg,
                  size_t msg_size);

/* Decodes an image held in memory. opts may be NULL (no limits, alpha is an error).
 * 16-bit samples become 8-bit as (v * 255 + 32767) / 65535; PNM samples of maxval m become
 * (v * 255 + m / 2) / m. Palette images become RGB; gray stays gray. A JPEG that lacks only its
 * end-of-image marker is decoded (info->missing_eoi); one cut inside its image data is an error.
 * Metadata (ICC, EXIF, XMP) is not returned (app_image_decode_meta does); EXIF orientation is never
 * applied to the pixels. */
int app_image_decode(const uint8_t *data, size_t size, const app_read_opts *opts, app_image *out,
                     char *msg, size_t msg_size);

/* app_image_decode that also fills *info (when info is not NULL), metadata found after the image
 * data included. On failure *info holds what was learned before the error. */
int app_image_decode_info(const uint8_t *data, size_t size, const app_read_opts *opts, app_image *out,
                          app_image_info *info, char *msg, size_t msg_size);

/* The metadata bytes of a source image, each malloc'd (NULL and size 0 when absent):
 *   icc   the ICC profile, uncompressed (PNG iCCP; JPEG APP2 ICC_PROFILE, its markers joined in
 *         sequence order; a set with a missing or repeated part is not taken)
 *   exif  EXIF from the TIFF header on (PNG eXIf; JPEG APP1 "Exif\0\0", without that prefix)
 *   xmp   the XMP packet (PNG iTXt "XML:com.adobe.xmp" when uncompressed; JPEG APP1 XMP)
 * An item that info->meta reports but that is NULL here could not be taken (e.g. a compressed XMP
 * iTXt): the tools say so. */
typedef struct app_meta {
    uint8_t *icc, *exif, *xmp;
    size_t icc_size, exif_size, xmp_size;
    int icc_refused; /* set by app_image_write_meta: libpng judged the profile invalid, not written */
    int xmp_refused; /* set by app_image_write_meta: the packet holds a NUL byte, which an iTXt text
                      * cannot; not written */
} app_meta;

/* Frees the buffers and zeroes *m. Safe on NULL. */
void app_meta_free(app_meta *m);

/* app_image_decode_info that also returns the metadata bytes in *meta (NULL: not wanted); on
 * failure *meta is empty. PGM/PPM carry none. */
int app_image_decode_meta(const uint8_t *data, size_t size, const app_read_opts *opts, app_image *out,
                          app_image_info *info, app_meta *meta, char *msg, size_t msg_size);

/* An image read row by row, so that no whole 8-bit copy of it is held: PNG (non-interlaced) rows and
 * JPEG scanlines are decoded as they are asked for; an interlaced PNG or a PGM/PPM is decoded whole
 * when opened and its rows handed out from that. */
typedef struct app_row_reader app_row_reader;

/* app_image_decode_meta's checks and results (*info, *meta: everything the header holds; metadata
 * after the image data of a PNG too), without the pixels. *out receives the reader; NULL on failure. */
int app_rows_open(const uint8_t *data, size_t size, const app_read_opts *opts, app_row_reader **out,
                  app_image_info *info, app_meta *meta, char *msg, size_t msg_size);
/* The next row, top to bottom, into row (width * info->channels bytes). */
int app_rows_read(app_row_reader *r, uint8_t *row, char *msg, size_t msg_size);
/* After the last row: reads the rest of the file, so that damage after the pixels (a PNG cut before
 * IEND, a JPEG cut inside its data) is still an error, as app_image_decode reports it; may set
 * info->missing_eoi. */
int app_rows_finish(app_row_reader *r, app_image_info *info, char *msg, size_t msg_size);
/* Releases the reader and sets *r to NULL. Safe on NULL. */
void app_rows_close(app_row_reader **r);

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

/* app_image_write that also writes metadata (NULL: none) into a PNG: the ICC profile as iCCP (named
 * "ICC profile"), EXIF as eXIf, XMP as an uncompressed iTXt "XML:com.adobe.xmp", all before the image
 * data. PGM/PPM cannot hold metadata: it is ignored there (the caller warns). A profile libpng
 * refuses as invalid, and an XMP packet holding a NUL byte (not a valid iTXt text), are left out and
 * meta->icc_refused / xmp_refused set: the image is still written. */
int app_image_write_meta(FILE *f, const app_image *img, app_out_format fmt, app_meta *meta, char *msg,
                         size_t msg_size);

/* An image written row by row (app_image_write_meta's formats, conversions and metadata rules): the
 * header and metadata when opened, then `height` rows of width * channels bytes, top to bottom, then
 * app_rows_write_finish. meta (may be NULL) is read when opened only; its icc_refused / xmp_refused
 * are set then. */
typedef struct app_row_writer app_row_writer;
int app_rows_write_open(FILE *f, uint32_t width, uint32_t height, int channels, app_out_format fmt, app_meta *meta,
                        app_row_writer **out, char *msg, size_t msg_size);
int app_rows_write(app_row_writer *w, const uint8_t *row, char *msg, size_t msg_size);
/* After the last row: ends the file (PNG: IEND) and flushes the stream. */
int app_rows_write_finish(app_row_writer *w, char *msg, size_t msg_size);
/* Releases the writer (what it wrote stays) and sets *w to NULL. Safe on NULL. */
void app_rows_write_close(app_row_writer **w);

#endif /* LIC_APPS_IMAGE_IO_H */
