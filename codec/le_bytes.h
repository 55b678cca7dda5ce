/* lic codec: little-endian loads and stores of the .lic container, written byte by byte so that the
 * file layout does not depend on the host's byte order or alignment. */
#ifndef LIC_CODEC_LE_BYTES_H
#define LIC_CODEC_LE_BYTES_H

#include <stdint.h>

static inline uint32_t lic_le_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t lic_le_rd64(const uint8_t *p)
{
    return (uint64_t)lic_le_rd32(p) | (uint64_t)lic_le_rd32(p + 4) << 32;
}

static inline void lic_le_wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void lic_le_wr64(uint8_t *p, uint64_t v)
{
    lic_le_wr32(p, (uint32_t)v);
    lic_le_wr32(p + 4, (uint32_t)(v >> 32));
}

#endif /* LIC_CODEC_LE_BYTES_H */
