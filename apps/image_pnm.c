/* apps: PGM and PPM reading, binary (P5, P6) and plain ASCII (P2, P3), by our own parser: every
 * header field and sample is bounds-checked, and the size is checked against the limits before the
 * pixel buffer is allocated. See image_formats.h. */
#include <string.h>

#include "apps/image_formats.h"

static int is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Reads one unsigned decimal number in min..limit, skipping whitespace and '#' comments before it.
 * Returns 0, or -1 when the data ends first or the field is not such a number. */
static int pnm_number(const uint8_t *d, size_t n, size_t *pos, uint32_t min, uint32_t limit, uint32_t *val)
{
    size_t p = *pos;
    for (;;) {
        if (p >= n)
            return -1;
        if (d[p] == '#') {
            while (p < n && d[p] != '\n' && d[p] != '\r')
                p++;
        } else if (is_space(d[p])) {
            p++;
        } else {
            break;
        }
    }
    uint64_t v = 0;
    size_t start = p;
    while (p < n && d[p] >= '0' && d[p] <= '9') {
        v = v * 10 + (uint64_t)(d[p] - '0');
        if (v > limit)
            return -1;
        p++;
    }
    /* A number must end at whitespace, a comment or the end of the data: "12x" is not 12. */
    if (p == start || v < min || (p < n && !is_space(d[p]) && d[p] != '#'))
        return -1;
    *val = (uint32_t)v;
    *pos = p;
    return 0;
}

static int bits_of(uint32_t maxval)
{
    int b = 0;
    while (maxval >> b)
        b++;
    return b;
}

int app_pnm_read(const uint8_t *d, size_t n, const app_read_opts *o, int header_only, app_image *out,
                 app_image_info *info, char *msg, size_t msg_size)
{
    const int ascii = d[1] == '2' || d[1] == '3';
    const int ch = d[1] == '6' || d[1] == '3' ? 3 : 1;
    const char *kind = ch == 3 ? "PPM" : "PGM";
    size_t pos = 2;
    uint32_t w, h, maxval;
    info->format = APP_FMT_PNM;
    info->channels = ch;
    info->pnm_ascii = ascii;
    if (pnm_number(d, n, &pos, 1, UINT32_MAX, &w) || pnm_number(d, n, &pos, 1, UINT32_MAX, &h)) {
        app_img_msg(msg, msg_size, "%s: bad or truncated header (width, height)", kind);
        return APP_IMG_ECORRUPT;
    }
    info->width = w;
    info->height = h;
    if (pnm_number(d, n, &pos, 1, 65535, &maxval)) {
        app_img_msg(msg, msg_size, "%s: bad or truncated header (maxval must be 1..65535)", kind);
        return APP_IMG_ECORRUPT;
    }
    info->bit_depth = bits_of(maxval);
    /* Exactly one whitespace byte separates the header from the samples. */
    if (pos >= n || !is_space(d[pos])) {
        app_img_msg(msg, msg_size, "%s: truncated header", kind);
        return APP_IMG_ECORRUPT;
    }
    pos++;
    if (header_only)
        return 0;
    int status = app_img_check_dims(kind, w, h, o, msg, msg_size);
    if (status)
        return status;
    const size_t bps = maxval > 255 ? 2 : 1;
    const uint64_t count = (uint64_t)w * h * (uint64_t)ch; /* < 2^64: w*h checked above */
    /* Binary: the byte count is known. ASCII: each sample needs at least a digit and a separator. */
    const uint64_t need = ascii ? 2 * count - 1 : count * bps;
    if (need > n - pos) {
        if (ascii)
            app_img_msg(msg, msg_size, "%s: truncated pixel data (%zu bytes cannot hold %llu samples)", kind,
                        n - pos, (unsigned long long)count);
        else
            app_img_msg(msg, msg_size, "%s: truncated pixel data (%zu of %llu bytes)", kind, n - pos,
                        (unsigned long long)need);
        return APP_IMG_ECORRUPT;
    }
    app_image img = {0};
    if ((status = app_img_alloc(&img, w, h, ch, msg, msg_size)))
        return status;
    const uint8_t *s = d + pos;
    for (size_t i = 0; i < (size_t)count; i++) {
        uint32_t v;
        if (ascii) {
            if (pnm_number(d, n, &pos, 0, UINT32_MAX, &v)) {
                app_img_msg(msg, msg_size, "%s: bad or missing sample %zu of %llu", kind, i + 1,
                            (unsigned long long)count);
                app_image_free(&img);
                return APP_IMG_ECORRUPT;
            }
        } else {
            v = bps == 2 ? ((uint32_t)s[2 * i] << 8 | s[2 * i + 1]) : s[i];
        }
        if (v > maxval) {
            app_img_msg(msg, msg_size, "%s: sample %lu exceeds maxval %lu", kind, (unsigned long)v,
                        (unsigned long)maxval);
            app_image_free(&img);
            return APP_IMG_ECORRUPT;
        }
        img.data[i] = maxval == 255 ? (uint8_t)v : (uint8_t)((v * 255u + maxval / 2) / maxval);
    }
    *out = img;
    return 0;
}
