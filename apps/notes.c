/* apps: warnings and refusal messages about inputs. See notes.h. */
#include "apps/notes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apps/cli_common.h"

/* What an EXIF orientation asks a viewer to do (TIFF 6.0 / EXIF 2.3 tag 0x0112). */
static const char *orientation_action(int o)
{
    static const char *const names[] = {
        "none",
        "mirror horizontally",
        "rotate 180 degrees",
        "mirror vertically",
        "mirror horizontally and rotate 270 degrees clockwise",
        "rotate 90 degrees clockwise",
        "mirror horizontally and rotate 90 degrees clockwise",
        "rotate 270 degrees clockwise",
    };
    return o >= 1 && o <= 8 ? names[o - 1] : "unknown";
}

/* "an ICC profile, EXIF and XMP" for the APP_META_ICC/EXIF/XMP bits of m. */
static void meta_names(unsigned m, char *buf, size_t size)
{
    const char *names[3];
    int n = 0;
    if (m & APP_META_ICC)
        names[n++] = "an ICC profile";
    if (m & APP_META_EXIF)
        names[n++] = "EXIF";
    if (m & APP_META_XMP)
        names[n++] = "XMP";
    snprintf(buf, size, "%s%s%s%s%s", n > 0 ? names[0] : "", n > 1 ? (n > 2 ? ", " : " and ") : "",
             n > 1 ? names[1] : "", n > 2 ? " and " : "", n > 2 ? names[2] : "");
}

int app_print_image_notes(const char *prog, const char *name, const app_image_info *info, unsigned carried,
                          const char *dropped_by, int verbose)
{
    int n = 0;
    char what[96];
    if (info->bit_depth > 8) {
        app_err(prog, "warning: '%s' has %d-bit samples; lic codes 8 bits per sample, so the extra precision is lost",
                name, info->bit_depth);
        n++;
    }
    /* gAMA/cHRM matter only without an ICC profile (which supersedes them, PNG 11.3.3.1). */
    const unsigned chunks = info->meta & (APP_META_GAMA | APP_META_CHRM);
    if (chunks && !(carried & APP_META_ICC)) {
        const char *which = chunks == (APP_META_GAMA | APP_META_CHRM) ? "gAMA, cHRM"
                            : chunks & APP_META_GAMA                  ? "gAMA"
                                                                      : "cHRM";
        app_err(prog, "warning: '%s' has colour metadata (%s) that lic does not carry: the decoded image "
                      "will have none and is shown as sRGB, so its colours may look different",
                name, which);
        n++;
    }
    const unsigned lost = info->meta & (APP_META_ICC | APP_META_EXIF | APP_META_XMP) & ~carried;
    if (lost) {
        meta_names(lost, what, sizeof(what));
        if (!dropped_by) {
            app_err(prog, "warning: '%s' has %s that could not be read for carrying (damaged, compressed or too "
                          "large): the decoded image will not have it%s",
                    name, what, lost & APP_META_ICC ? " and is shown as sRGB" : "");
            n++;
        } else if (verbose) {
            app_err(prog, "'%s': %s dropped (%s)", name, what, dropped_by);
        }
    }
    if (info->orientation > 1) {
        if (!(carried & APP_META_EXIF)) {
            app_err(prog, "warning: '%s' has EXIF orientation %d (%s to display), which is neither applied nor "
                          "carried%s%s: the decoded image keeps the stored orientation",
                    name, info->orientation, orientation_action(info->orientation), dropped_by ? ", " : "",
                    dropped_by ? dropped_by : "");
            n++;
        } else if (verbose) {
            app_err(prog, "'%s': EXIF orientation %d (%s to display) is kept in the EXIF, not applied to the pixels",
                    name, info->orientation, orientation_action(info->orientation));
        }
    }
    if (info->missing_eoi) {
        app_err(prog, "warning: '%s': the JPEG has no end-of-image marker (was it cut short?); all of its image "
                      "data is there, so it was read anyway",
                name);
        n++;
    }
    if (verbose && carried) {
        meta_names(carried, what, sizeof(what));
        app_err(prog, "'%s': carries %s", name, what);
    }
    return n;
}

void app_describe_source(const app_image_info *info, char *buf, size_t size)
{
    const char *kind = info->format == APP_FMT_PNM ? (info->channels == 3 ? "PPM" : "PGM")
                                                   : app_img_format_name(info->format);
    snprintf(buf, size, "%s%d-bit %s%s %s", info->pnm_ascii ? "ASCII " : "", info->bit_depth,
             info->channels == 3 ? "RGB" : "gray", info->alpha ? "+alpha" : "", kind);
}

void app_size_limit_message(char *buf, size_t size, uint32_t width, uint32_t height, const lic_size_check *chk)
{
    const unsigned long w = width, h = height;
    switch (chk->exceeded) {
    case LIC_LIMIT_MEMORY: {
        const unsigned long long need_mb = (chk->value + (1u << 20) - 1) >> 20;
        snprintf(buf, size,
                 "a %lux%lu image needs about %llu MB of working memory, more than the limit of %llu MB; if the "
                 "machine has the memory, run again with --max-memory %llu (or --max-memory 0 for no limit)",
                 w, h, need_mb, (unsigned long long)(chk->limit >> 20), need_mb);
        break;
    }
    case LIC_LIMIT_SIDE:
        snprintf(buf, size, "a %lux%lu image: its longer side, %llu pixels, is above lic's limit of %llu pixels "
                            "(no option changes it)",
                 w, h, (unsigned long long)chk->value, (unsigned long long)chk->limit);
        break;
    case LIC_LIMIT_PIXELS:
        snprintf(buf, size, "a %lux%lu image has %llu pixels, above lic's limit of %llu pixels (no option changes it)", w, h,
                 (unsigned long long)chk->value, (unsigned long long)chk->limit);
        break;
    default:
        snprintf(buf, size, "a %lux%lu image: %s", w, h, lic_strerror(LIC_ELIMIT));
        break;
    }
}

void app_print_size_limit(const char *prog, const char *name, uint32_t width, uint32_t height,
                          const lic_size_check *chk)
{
    char buf[512];
    app_size_limit_message(buf, sizeof(buf), width, height, chk);
    app_err(prog, "'%s' is refused: %s", name, buf);
}

int app_report_size_check(const char *prog, const char *name, uint32_t width, uint32_t height, int status,
                          const lic_size_check *chk)
{
    if (status == LIC_ELIMIT)
        app_print_size_limit(prog, name, width, height, chk);
    else if (status)
        app_err(prog, "cannot check the size of '%s': %s", name, lic_strerror(status));
    return app_exit_from_lic(status);
}

const char *app_unreadable_reason(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return strerror(errno);
    if (S_ISDIR(st.st_mode))
        return "it is a directory";
    if (!S_ISREG(st.st_mode))
        return "it is not a regular file";
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0)
        return strerror(errno);
    close(fd);
    return NULL;
}
