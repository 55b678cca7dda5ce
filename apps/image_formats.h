/* apps: what the image readers (image_io.c, image_pnm.c, exif.c) share; not used by the tools. */
#ifndef LIC_APPS_IMAGE_FORMATS_H
#define LIC_APPS_IMAGE_FORMATS_H

#include "apps/image_io.h"

#if defined(__GNUC__)
#define APP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define APP_PRINTF(a, b)
#endif

/* snprintf into msg when msg is not NULL. */
void app_img_msg(char *msg, size_t msg_size, const char *fmt, ...) APP_PRINTF(3, 4);

/* Checks a declared size against the caller's limits before anything is allocated.
 * Returns 0, APP_IMG_ELIMIT or APP_IMG_ECORRUPT (a zero side). kind names the format in msg. */
int app_img_check_dims(const char *kind, uint64_t w, uint64_t h, const app_read_opts *o, char *msg,
                       size_t msg_size);

/* Allocates out->data for a w x h image of ch channels (sizes already checked). */
int app_img_alloc(app_image *out, uint32_t w, uint32_t h, int ch, char *msg, size_t msg_size);

/* PGM/PPM, binary (P5, P6) or plain (P2, P3). With header_only, stops after the header (no limits
 * applied, nothing allocated); otherwise decodes into *out. info is always filled. */
int app_pnm_read(const uint8_t *d, size_t n, const app_read_opts *o, int header_only, app_image *out,
                 app_image_info *info, char *msg, size_t msg_size);

/* The orientation tag (0x0112) of IFD0 of a TIFF-structured EXIF block (it starts with "II*\0" or
 * "MM\0*"): 1..8, or 0 when it is absent, out of range or the block is malformed. Reads only inside
 * the n bytes given. */
int app_exif_orientation(const uint8_t *tiff, size_t n);

#endif /* LIC_APPS_IMAGE_FORMATS_H */
