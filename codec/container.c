/* lic codec: the .lic container: magic and version dispatch, and the version-1 reader and writer
 * (version 2 is in container_v2.c). Version-1 layout (little-endian):
 *   0  4  magic 0x89 'L' 'I' 'C' (a high first byte catches 7-bit and text-mode transfers)
 *   4  1  container version
 *   5  1  pixel format (lic_pixfmt)
 *   6  1  quality 1..100
 *   7  1  stream count 1..LIC_MAX_STREAMS
 *   8  8  model fingerprint
 *   16 4  width, 20 4 height
 *   24    stream table: n x (u8 id, u32 length), then the payloads in table order. */
#include "codec/container.h"

#include <string.h>

#include "codec/le_bytes.h"

static const uint8_t k_magic[4] = {0x89, 'L', 'I', 'C'};

#define FIXED_HEADER 24
#define TABLE_ENTRY 5

int lic_container_has_magic(const uint8_t *data, size_t size)
{
    return data && size >= sizeof(k_magic) && memcmp(data, k_magic, sizeof(k_magic)) == 0;
}

int lic_container_set_image(lic_stream_info *info, uint32_t width, uint32_t height, uint8_t fmt,
                            uint8_t quality)
{
    if (width < 1 || height < 1 || (fmt != LIC_PIXFMT_RGB8 && fmt != LIC_PIXFMT_GRAY8) || quality < 1 ||
        quality > 100)
        return LIC_EBITSTREAM;
    info->width = width;
    info->height = height;
    info->fmt = (lic_pixfmt)fmt;
    info->quality = quality;
    return LIC_OK;
}

int lic_container_parse_header(lic_container *c, const uint8_t *data, size_t size)
{
    memset(c, 0, sizeof(*c));
    if (!data || size < 5 || !lic_container_has_magic(data, size))
        return LIC_EBITSTREAM;
    if (data[4] == LIC_CONTAINER_VERSION)
        return lic_container_v2_parse(c, data, size, 1);
    if (data[4] != LIC_CONTAINER_V1 || size < FIXED_HEADER)
        return LIC_EBITSTREAM;
    lic_stream_info *info = &c->info;
    info->version = data[4];
    c->n_tiles = 1;
    c->source_bit_depth = 8;
    info->n_streams = data[7];
    if (info->n_streams < 1 || info->n_streams > LIC_MAX_STREAMS)
        return LIC_EBITSTREAM;
    info->model_fingerprint = lic_le_rd64(data + 8);
    int ret = lic_container_set_image(info, lic_le_rd32(data + 16), lic_le_rd32(data + 20), data[5], data[6]);
    if (ret < 0)
        return ret;

    size_t pos = FIXED_HEADER + (size_t)info->n_streams * TABLE_ENTRY;
    if (pos > size)
        return LIC_EBITSTREAM;
    info->header_size = pos;
    const uint8_t *table = data + FIXED_HEADER;
    for (uint32_t i = 0; i < info->n_streams; i++) {
        uint8_t id = table[i * TABLE_ENTRY];
        if (id != LIC_STREAM_Z && id != LIC_STREAM_Y)
            return LIC_EBITSTREAM;
        for (uint32_t j = 0; j < i; j++)
            if (c->stream_id[j] == id)
                return LIC_EBITSTREAM;
        c->stream_id[i] = id;
        c->stream_size[i] = lic_le_rd32(table + i * TABLE_ENTRY + 1);
    }
    return LIC_OK;
}

int lic_container_parse(lic_container *c, const uint8_t *data, size_t size)
{
    if (data && size >= 5 && lic_container_has_magic(data, size) && data[4] == LIC_CONTAINER_VERSION) {
        memset(c, 0, sizeof(*c));
        return lic_container_v2_parse(c, data, size, 0);
    }
    int ret = lic_container_parse_header(c, data, size);
    if (ret < 0)
        return ret;
    size_t pos = c->info.header_size;
    for (uint32_t i = 0; i < c->info.n_streams; i++) {
        if (c->stream_size[i] > size - pos)
            return LIC_EBITSTREAM;
        c->stream_data[i] = data + pos;
        pos += c->stream_size[i];
    }
    /* Trailing bytes mean the table and the file disagree: refuse rather than guess. */
    return pos == size ? LIC_OK : LIC_EBITSTREAM;
}

int lic_container_find(const lic_container *c, int id)
{
    for (uint32_t i = 0; i < c->info.n_streams; i++)
        if (c->stream_id[i] == id)
            return (int)i;
    return -1;
}

size_t lic_container_size(int n_streams, const size_t *sizes)
{
    size_t total = FIXED_HEADER + (size_t)n_streams * TABLE_ENTRY;
    for (int i = 0; i < n_streams; i++) {
        if (sizes[i] > UINT32_MAX || total > SIZE_MAX - sizes[i])
            return 0;
        total += sizes[i];
    }
    return total;
}

void lic_container_write(uint8_t *dst, const lic_stream_info *info, int n_streams, const uint8_t *ids,
                         const uint8_t *const *payloads, const size_t *sizes)
{
    memcpy(dst, k_magic, 4);
    dst[4] = LIC_CONTAINER_V1;
    dst[5] = (uint8_t)info->fmt;
    dst[6] = (uint8_t)info->quality;
    dst[7] = (uint8_t)n_streams;
    lic_le_wr64(dst + 8, info->model_fingerprint);
    lic_le_wr32(dst + 16, info->width);
    lic_le_wr32(dst + 20, info->height);
    uint8_t *p = dst + FIXED_HEADER;
    for (int i = 0; i < n_streams; i++, p += TABLE_ENTRY) {
        p[0] = ids[i];
        lic_le_wr32(p + 1, (uint32_t)sizes[i]);
    }
    for (int i = 0; i < n_streams; i++) {
        if (sizes[i])
            memcpy(p, payloads[i], sizes[i]);
        p += sizes[i];
    }
}
