/* lic codec: the version-2 .lic container (docs/FORMAT.md §3): after the 5-byte signature
 * (0x89 'L' 'I' 'C', version 2), chunks of
 *   u32 length, u8[4] type, u8[length] data, u32 CRC-32C of type and data
 * in the order HEAD, ancillary chunks (iccp, exif, xmpd, unknown lower-case ones), ZSYM, YTIL per
 * tile, LEND. The reader checks every chunk's bounds and CRC before it looks at its type, so a
 * damaged byte anywhere is LIC_EBITSTREAM, never a misread field. */
#include "codec/container.h"

#include <string.h>

#include "codec/le_bytes.h"
#include "util/crc32c.h"

#define SIGNATURE 5          /* magic + version byte */
#define CHUNK_OVERHEAD 12    /* length, type, CRC */
#define HEAD_SIZE 24
#define MAX_CHUNK 0x7FFFFFFFu /* lengths fit in 31 bits, as in PNG */
#define TILE_LOG2_MIN 3
#define TILE_LOG2_MAX 8

static const char *const k_meta_type[LIC_META_COUNT] = {"iccp", "exif", "xmpd"};

/* Reading states: which chunks may come next. */
enum { EXPECT_HEAD, IN_ANCILLARY, IN_TILES, ENDED };

static int is_letter(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Number of tiles of the latent (padded size / 16, the padded size a multiple of 64) for tile_log2
 * (0: one tile). Sides below 2^32 keep every product far inside 64 bits. */
static uint64_t tile_count(uint32_t width, uint32_t height, int tile_log2)
{
    if (tile_log2 == 0)
        return 1;
    const uint64_t lw = ((uint64_t)width + 63) / 64 * 4, lh = ((uint64_t)height + 63) / 64 * 4;
    const uint64_t t = (uint64_t)1 << tile_log2;
    return ((lw + t - 1) / t) * ((lh + t - 1) / t);
}

/* HEAD data: fingerprint u64, width u32, height u32, pixel format u8, quality u8, source bit depth
 * u8, tile_log2 u8, four reserved zero bytes. */
static int parse_head(lic_container *c, const uint8_t *d, uint32_t len)
{
    if (len != HEAD_SIZE)
        return LIC_EBITSTREAM;
    lic_stream_info *info = &c->info;
    info->version = LIC_CONTAINER_VERSION;
    info->model_fingerprint = lic_le_rd64(d);
    int ret = lic_container_set_image(info, lic_le_rd32(d + 8), lic_le_rd32(d + 12), d[16], d[17]);
    if (ret < 0)
        return ret;
    c->source_bit_depth = d[18];
    c->tile_log2 = d[19];
    if (c->source_bit_depth != 8 && c->source_bit_depth != 16)
        return LIC_EBITSTREAM;
    if (c->tile_log2 != 0 && (c->tile_log2 < TILE_LOG2_MIN || c->tile_log2 > TILE_LOG2_MAX))
        return LIC_EBITSTREAM;
    if (d[20] | d[21] | d[22] | d[23])
        return LIC_EBITSTREAM;
    c->n_tiles = tile_count(info->width, info->height, c->tile_log2);
    info->n_streams = c->n_tiles + 1 > UINT32_MAX ? UINT32_MAX : (uint32_t)(c->n_tiles + 1);
    info->header_size = SIGNATURE + CHUNK_OVERHEAD + HEAD_SIZE;
    c->stream_id[0] = LIC_STREAM_Z;
    c->stream_id[1] = LIC_STREAM_Y;
    return LIC_OK;
}

static int meta_index(const uint8_t *type)
{
    for (int i = 0; i < LIC_META_COUNT; i++)
        if (!memcmp(type, k_meta_type[i], 4))
            return i;
    return -1;
}

int lic_container_v2_parse(lic_container *c, const uint8_t *data, size_t size, int header_only)
{
    size_t pos = SIGNATURE;
    int state = EXPECT_HEAD;
    uint64_t tiles_seen = 0;
    while (state != ENDED) {
        if (size - pos < CHUNK_OVERHEAD)
            return LIC_EBITSTREAM; /* truncated, or the file ends without LEND */
        const uint32_t len = lic_le_rd32(data + pos);
        if (len > MAX_CHUNK || len > size - pos - CHUNK_OVERHEAD)
            return LIC_EBITSTREAM;
        const uint8_t *type = data + pos + 4, *body = data + pos + 8;
        if (lic_crc32c(0, type, (size_t)len + 4) != lic_le_rd32(body + len))
            return LIC_EBITSTREAM;
        pos += CHUNK_OVERHEAD + (size_t)len;
        if (!is_letter(type[0]) || !is_letter(type[1]) || !is_letter(type[2]) || !is_letter(type[3]))
            return LIC_EBITSTREAM;

        if (state == EXPECT_HEAD) {
            if (memcmp(type, "HEAD", 4))
                return LIC_EBITSTREAM;
            int ret = parse_head(c, body, len);
            if (ret < 0 || header_only)
                return ret;
            state = IN_ANCILLARY;
            continue;
        }
        int mi = meta_index(type);
        if (mi >= 0) {
            /* Metadata comes before the symbols, once each, never empty, within the API's cap. */
            if (state != IN_ANCILLARY || c->meta[mi] || len == 0 || len > LIC_METADATA_MAX_ITEM)
                return LIC_EBITSTREAM;
            c->meta[mi] = body;
            c->meta_size[mi] = len;
        } else if (!memcmp(type, "ZSYM", 4)) {
            if (state != IN_ANCILLARY)
                return LIC_EBITSTREAM;
            c->stream_data[0] = body;
            c->stream_size[0] = len;
            state = IN_TILES;
        } else if (!memcmp(type, "YTIL", 4)) {
            /* Tiles follow ZSYM in raster order, each index checked, no more than HEAD implies. */
            if (state != IN_TILES || len < 4 || lic_le_rd32(body) != tiles_seen || tiles_seen >= c->n_tiles)
                return LIC_EBITSTREAM;
            if (tiles_seen == 0) {
                c->tiles_at = type - 4;
                c->stream_data[1] = body + 4;
                c->stream_size[1] = len - 4;
            }
            tiles_seen++;
        } else if (!memcmp(type, "LEND", 4)) {
            if (state != IN_TILES || len != 0 || tiles_seen != c->n_tiles)
                return LIC_EBITSTREAM;
            state = ENDED;
        } else if (!memcmp(type, "HEAD", 4)) {
            return LIC_EBITSTREAM; /* a second HEAD */
        } else if (type[0] >= 'A' && type[0] <= 'Z') {
            return LIC_EUNSUPPORTED; /* a critical chunk of a later revision */
        }
        /* Unknown ancillary chunks (lower-case first letter) are skipped; their CRC was checked. */
    }
    /* Nothing may follow LEND. */
    return pos == size ? LIC_OK : LIC_EBITSTREAM;
}

/* Bytes of a chunk with len data bytes, or 0 when len is over the format's limit. */
static size_t chunk_bytes(size_t len)
{
    return len > MAX_CHUNK ? 0 : CHUNK_OVERHEAD + len;
}

/* The y streams the content holds: its tiles, or the one stream y. */
static uint64_t tile_streams(const lic_container_content *cc, const lic_span **tiles, lic_span *one)
{
    if (cc->n_tiles > 1) {
        *tiles = cc->tiles;
        return cc->n_tiles;
    }
    *one = (lic_span){cc->y, cc->y_size};
    *tiles = one;
    return 1;
}

size_t lic_container_v2_size(const lic_container_content *cc)
{
    size_t parts[2 + LIC_META_COUNT] = {chunk_bytes(HEAD_SIZE), chunk_bytes(cc->z_size)};
    int n = 2;
    for (int i = 0; i < LIC_META_COUNT; i++)
        if (cc->meta_size[i])
            parts[n++] = chunk_bytes(cc->meta_size[i]);
    size_t total = SIGNATURE + CHUNK_OVERHEAD; /* signature and LEND */
    for (int i = 0; i < n; i++) {
        if (parts[i] == 0 || total > SIZE_MAX - parts[i])
            return 0;
        total += parts[i];
    }
    lic_span one;
    const lic_span *tiles;
    const uint64_t n_tiles = tile_streams(cc, &tiles, &one);
    for (uint64_t k = 0; k < n_tiles; k++) {
        const size_t part = tiles[k].size > MAX_CHUNK - 4 ? 0 : chunk_bytes(tiles[k].size + 4);
        if (part == 0 || total > SIZE_MAX - part)
            return 0;
        total += part;
    }
    return total;
}

/* Writes one chunk at dst from up to two data pieces; returns the byte after it. */
static uint8_t *put_chunk(uint8_t *dst, const char *type, const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    lic_le_wr32(dst, (uint32_t)(na + nb));
    memcpy(dst + 4, type, 4);
    if (na)
        memcpy(dst + 8, a, na);
    if (nb)
        memcpy(dst + 8 + na, b, nb);
    lic_le_wr32(dst + 8 + na + nb, lic_crc32c(0, dst + 4, 4 + na + nb));
    return dst + CHUNK_OVERHEAD + na + nb;
}

void lic_container_v2_write(uint8_t *dst, const lic_container_content *cc)
{
    static const uint8_t sig[SIGNATURE] = {0x89, 'L', 'I', 'C', LIC_CONTAINER_VERSION};
    memcpy(dst, sig, SIGNATURE);
    uint8_t head[HEAD_SIZE] = {0};
    lic_le_wr64(head, cc->info.model_fingerprint);
    lic_le_wr32(head + 8, cc->info.width);
    lic_le_wr32(head + 12, cc->info.height);
    head[16] = (uint8_t)cc->info.fmt;
    head[17] = (uint8_t)cc->info.quality;
    head[18] = (uint8_t)cc->source_bit_depth;
    head[19] = (uint8_t)cc->tile_log2;
    uint8_t *p = put_chunk(dst + SIGNATURE, "HEAD", head, HEAD_SIZE, NULL, 0);
    for (int i = 0; i < LIC_META_COUNT; i++)
        if (cc->meta_size[i])
            p = put_chunk(p, k_meta_type[i], cc->meta[i], cc->meta_size[i], NULL, 0);
    p = put_chunk(p, "ZSYM", cc->z, cc->z_size, NULL, 0);
    lic_span one;
    const lic_span *tiles;
    const uint64_t n_tiles = tile_streams(cc, &tiles, &one);
    for (uint64_t k = 0; k < n_tiles; k++) {
        uint8_t index[4];
        lic_le_wr32(index, (uint32_t)k);
        p = put_chunk(p, "YTIL", index, 4, tiles[k].data, tiles[k].size);
    }
    put_chunk(p, "LEND", NULL, 0, NULL, 0);
}

void lic_container_tiles(const lic_container *c, lic_span *tiles)
{
    if (c->info.version != LIC_CONTAINER_VERSION) { /* version 1: one tile, the y payload */
        const int yi = lic_container_find(c, LIC_STREAM_Y);
        tiles[0] = yi < 0 ? (lic_span){NULL, 0} : (lic_span){c->stream_data[yi], c->stream_size[yi]};
        return;
    }
    /* The parse checked every chunk from here to LEND: lengths in bounds, YTIL in order. */
    const uint8_t *p = c->tiles_at;
    for (uint64_t k = 0; k < c->n_tiles;) {
        const uint32_t len = lic_le_rd32(p);
        if (!memcmp(p + 4, "YTIL", 4))
            tiles[k++] = (lic_span){p + 12, len - 4};
        p += CHUNK_OVERHEAD + (size_t)len;
    }
}
