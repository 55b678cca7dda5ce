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

int app_print_image_notes(const char *prog, const char *name, const app_image_info *info, int verbose)
{
    int n = 0;
    if (info->bit_depth > 8) {
        app_err(prog, "warning: '%s' has %d-bit samples; lic codes 8 bits per sample, so the extra precision is lost",
                name, info->bit_depth);
        n++;
    }
    if (info->meta & APP_META_COLOUR) {
        char what[64] = "";
        if (info->meta & APP_META_ICC)
            strcat(what, "an ICC profile");
        if (info->meta & APP_META_GAMA)
            strcat(what, *what ? ", gAMA" : "gAMA");
        if (info->meta & APP_META_CHRM)
            strcat(what, *what ? ", cHRM" : "cHRM");
        app_err(prog, "warning: '%s' has colour metadata (%s) that lic does not carry yet: the decoded image "
                      "will have none and is shown as sRGB, so its colours may look different",
                name, what);
        n++;
    }
    if (info->orientation > 1) {
        app_err(prog, "warning: '%s' has EXIF orientation %d (%s to display), which lic does not apply or "
                      "carry yet: the decoded image keeps the stored orientation",
                name, info->orientation, orientation_action(info->orientation));
        n++;
    }
    if (info->missing_eoi) {
        app_err(prog, "warning: '%s': the JPEG has no end-of-image marker (was it cut short?); all of its image "
                      "data is there, so it was read anyway",
                name);
        n++;
    }
    if (verbose && (info->meta & (APP_META_EXIF | APP_META_XMP)))
        app_err(prog, "'%s': its %s metadata is not carried (lic cannot store metadata yet)", name,
                (info->meta & APP_META_EXIF) && (info->meta & APP_META_XMP) ? "EXIF and XMP"
                : (info->meta & APP_META_EXIF)                            ? "EXIF"
                                                                          : "XMP");
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
