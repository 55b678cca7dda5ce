/* lic fuzz target: the .lic container/header parser (codec/container.c, container_v2.c), white-box.
 *
 * Properties, both versions: lic_peek_info() agrees with lic_container_parse_header(), which accepts
 * whatever the full lic_container_parse() accepts (peek does not need the payloads); an accepted
 * buffer has valid fields and every pointer it yields lies inside the buffer.
 * Version 1: the stream ids are unique and known, the payloads tile the buffer exactly after the
 * header, and the container is canonical: writing the parsed header and payloads back gives the
 * input bytes again.
 * Version 2: the only codes are 0, LIC_EBITSTREAM and LIC_EUNSUPPORTED; the tiles' streams
 * (lic_container_tiles) lie inside the buffer, the first being the LIC_STREAM_Y payload; an accepted
 * file written again by lic_container_v2_write parses to the same header, tiles, payloads and
 * metadata, and is never longer (the writer adds nothing; it drops unknown ancillary chunks). */
#include <string.h>

#include "codec/container.h"
#include "tests/fuzz/fuzz_common.h"

static int inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
    return n == 0 || (p >= data && n <= size && (size_t)(p - data) <= size - n);
}

static void check_v2(const lic_container *c, const uint8_t *data, size_t size)
{
    FUZZ_CHECK(c->tile_log2 == 0 || (c->tile_log2 >= 3 && c->tile_log2 <= 8));
    FUZZ_CHECK(c->n_tiles >= 1);
    FUZZ_CHECK(c->source_bit_depth == 8 || c->source_bit_depth == 16);
    FUZZ_CHECK(c->info.header_size == 41);
    for (int s = 0; s < 2; s++)
        FUZZ_CHECK(c->stream_data[s] != NULL && inside(c->stream_data[s], c->stream_size[s], data, size));
    for (int i = 0; i < LIC_META_COUNT; i++) {
        FUZZ_CHECK((c->meta[i] == NULL) == (c->meta_size[i] == 0));
        FUZZ_CHECK(inside(c->meta[i], c->meta_size[i], data, size) && c->meta_size[i] <= LIC_METADATA_MAX_ITEM);
    }
    /* Every tile is a chunk of at least 16 bytes of the input: the count is bounded by its size. */
    FUZZ_CHECK(c->n_tiles <= size / 16);
    lic_span *tiles = malloc(sizeof(lic_span) * (size_t)c->n_tiles);
    FUZZ_CHECK(tiles != NULL);
    lic_container_tiles(c, tiles);
    FUZZ_CHECK(tiles[0].data == c->stream_data[1] && tiles[0].size == c->stream_size[1]);
    for (uint64_t k = 0; k < c->n_tiles; k++)
        FUZZ_CHECK(tiles[k].data != NULL && inside(tiles[k].data, tiles[k].size, data, size));
    lic_container_content cc = {.info = c->info, .source_bit_depth = c->source_bit_depth,
                                .z = c->stream_data[0], .z_size = c->stream_size[0],
                                .y = c->stream_data[1], .y_size = c->stream_size[1],
                                .tile_log2 = c->tile_log2, .n_tiles = c->n_tiles, .tiles = tiles};
    for (int i = 0; i < LIC_META_COUNT; i++)
        cc.meta[i] = c->meta[i], cc.meta_size[i] = c->meta_size[i];
    size_t total = lic_container_v2_size(&cc);
    FUZZ_CHECK(total > 0 && total <= size);
    uint8_t *copy = malloc(total);
    FUZZ_CHECK(copy != NULL);
    lic_container_v2_write(copy, &cc);
    lic_container r;
    FUZZ_CHECK(lic_container_parse(&r, copy, total) == 0);
    FUZZ_CHECK(memcmp(&r.info, &c->info, sizeof r.info) == 0);
    FUZZ_CHECK(r.source_bit_depth == c->source_bit_depth && r.n_tiles == c->n_tiles && r.tile_log2 == c->tile_log2);
    for (int s = 0; s < 2; s++)
        FUZZ_CHECK(r.stream_size[s] == c->stream_size[s] &&
                   memcmp(r.stream_data[s], c->stream_data[s], r.stream_size[s]) == 0);
    lic_span *back = malloc(sizeof(lic_span) * (size_t)r.n_tiles);
    FUZZ_CHECK(back != NULL);
    lic_container_tiles(&r, back);
    for (uint64_t k = 0; k < r.n_tiles; k++)
        FUZZ_CHECK(back[k].size == tiles[k].size && memcmp(back[k].data, tiles[k].data, back[k].size) == 0);
    for (int i = 0; i < LIC_META_COUNT; i++)
        FUZZ_CHECK(r.meta_size[i] == c->meta_size[i] &&
                   (r.meta_size[i] == 0 || memcmp(r.meta[i], c->meta[i], r.meta_size[i]) == 0));
    free(back);
    free(copy);
    free(tiles);
}

static void check_v1(const lic_container *c, const uint8_t *data, size_t size)
{
    const lic_stream_info info = c->info;
    FUZZ_CHECK(info.n_streams >= 1 && info.n_streams <= LIC_MAX_STREAMS);
    size_t pos = (size_t)info.header_size;
    size_t sizes[LIC_MAX_STREAMS];
    const uint8_t *payloads[LIC_MAX_STREAMS];
    for (uint32_t i = 0; i < info.n_streams; i++) {
        FUZZ_CHECK(c->stream_id[i] == LIC_STREAM_Z || c->stream_id[i] == LIC_STREAM_Y);
        FUZZ_CHECK(lic_container_find(c, c->stream_id[i]) == (int)i);
        FUZZ_CHECK(c->stream_data[i] == data + pos);
        FUZZ_CHECK(c->stream_size[i] <= size - pos);
        pos += c->stream_size[i];
        sizes[i] = c->stream_size[i];
        payloads[i] = c->stream_data[i];
    }
    FUZZ_CHECK(pos == size);

    size_t total = lic_container_size((int)info.n_streams, sizes);
    FUZZ_CHECK(total == size);
    uint8_t *copy = malloc(total);
    FUZZ_CHECK(copy != NULL);
    lic_container_write(copy, &info, (int)info.n_streams, c->stream_id, payloads, sizes);
    FUZZ_CHECK(memcmp(copy, data, size) == 0);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lic_container c;
    int ret = lic_container_parse(&c, data, size);
    lic_stream_info info;
    int peek = lic_peek_info(data, size, &info);
    lic_container h;
    int hdr = lic_container_parse_header(&h, data, size);
    FUZZ_CHECK(ret == 0 || ret == LIC_EBITSTREAM || ret == LIC_EUNSUPPORTED);
    FUZZ_CHECK(peek == hdr);
    FUZZ_CHECK(ret != 0 || hdr == 0);
    FUZZ_CHECK(ret != LIC_EUNSUPPORTED || (hdr == 0 && info.version == LIC_CONTAINER_VERSION));
    if (ret != 0)
        return 0;
    FUZZ_CHECK(memcmp(&info, &c.info, sizeof info) == 0);
    FUZZ_CHECK(info.width >= 1 && info.height >= 1);
    FUZZ_CHECK(info.quality >= 1 && info.quality <= 100);
    FUZZ_CHECK(info.fmt == LIC_PIXFMT_RGB8 || info.fmt == LIC_PIXFMT_GRAY8);
    FUZZ_CHECK(info.header_size <= size);
    if (info.version == LIC_CONTAINER_VERSION)
        check_v2(&c, data, size);
    else
        check_v1(&c, data, size);
    return 0;
}
