/* apps: what the tools tell the user about an input beyond "it worked": warnings about what lic
 * does not carry (colour metadata, EXIF orientation, 16-bit precision), size-limit refusals that
 * name the limit and the option that lifts it, and why a --model file could not be loaded. */
#ifndef LIC_APPS_NOTES_H
#define LIC_APPS_NOTES_H

#include <stddef.h>

#include <lic/codec.h>

#include "apps/image_io.h"

/* Prints one "<prog>: warning: '<name>': ..." line per thing in info that the .lic file will not
 * keep: 16-bit samples (coded at 8 bits), gAMA/cHRM without a carried ICC profile, an ICC profile,
 * EXIF or XMP found but not carried (APP_META_* bits in info->meta and not in `carried`), an EXIF
 * orientation other than 1 whose EXIF is not carried, and a JPEG read without its end marker.
 * `dropped_by` names why metadata is not carried when that is on purpose ("--strip"): then the
 * dropped items are a -v note instead of a warning. With verbose, also says what is carried (an
 * orientation is kept in the EXIF, not applied). Returns the number of warnings printed. */
int app_print_image_notes(const char *prog, const char *name, const app_image_info *info, unsigned carried,
                          const char *dropped_by, int verbose);

/* "16-bit RGB PNG", "8-bit gray JPEG", "ASCII 8-bit RGB PPM": the source's kind, for -v. */
void app_describe_source(const app_image_info *info, char *buf, size_t size);

/* Why an image of width x height is refused, for app_print_size_limit and lic-eval's records:
 * "a <W>x<H> image needs about N MB of working memory, more than the limit of M MB; ... --max-memory N". */
void app_size_limit_message(char *buf, size_t size, uint32_t width, uint32_t height, const lic_size_check *chk);

/* Prints "<prog>: '<name>' is refused: " + app_size_limit_message: why an image is refused: which limit (side, pixel count or working
 * memory), the value and the limit, and what lifts it (--max-memory for memory). */
void app_print_size_limit(const char *prog, const char *name, uint32_t width, uint32_t height,
                          const lic_size_check *chk);

/* For the status of lic_encoder_check_size/lic_decoder_check_size: prints why the image is refused
 * (app_print_size_limit, or the error) and returns the exit code; 0 when status is 0. */
int app_report_size_check(const char *prog, const char *name, uint32_t width, uint32_t height, int status,
                          const lic_size_check *chk);

/* Why the file `path` (a model) cannot be read, in the OS's words (no such file, permission denied)
 * or "it is a directory" / "it is not a regular file"; NULL when it can be opened. Never blocks on a
 * FIFO. */
const char *app_unreadable_reason(const char *path);

#endif /* LIC_APPS_NOTES_H */
