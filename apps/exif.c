/* apps: the one EXIF field the tools look at, the orientation tag, read from a TIFF-structured block
 * with every offset checked against its size. See image_formats.h. */
#include "apps/image_formats.h"

static unsigned rd16(const uint8_t *p, int big_endian)
{
    return big_endian ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

static uint32_t rd32(const uint8_t *p, int big_endian)
{
    return big_endian ? (uint32_t)rd16(p, 1) << 16 | rd16(p + 2, 1) : (uint32_t)rd16(p + 2, 0) << 16 | rd16(p, 0);
}

int app_exif_orientation(const uint8_t *t, size_t n)
{
    if (!t || n < 8)
        return 0;
    int be;
    if (t[0] == 'I' && t[1] == 'I')
        be = 0;
    else if (t[0] == 'M' && t[1] == 'M')
        be = 1;
    else
        return 0;
    if (rd16(t + 2, be) != 42)
        return 0;
    const uint32_t ifd = rd32(t + 4, be);
    if (ifd < 8 || ifd > n - 2)
        return 0;
    const unsigned count = rd16(t + ifd, be);
    /* Entries are 12 bytes: tag, type, count, value (a SHORT sits in the first two value bytes). */
    for (unsigned i = 0; i < count; i++) {
        const size_t at = (size_t)ifd + 2 + (size_t)i * 12;
        if (at + 12 > n)
            return 0;
        const uint8_t *e = t + at;
        if (rd16(e, be) != 0x0112)
            continue;
        if (rd16(e + 2, be) != 3 || rd32(e + 4, be) != 1) /* SHORT, one value */
            return 0;
        const unsigned v = rd16(e + 8, be);
        return v >= 1 && v <= 8 ? (int)v : 0;
    }
    return 0;
}
