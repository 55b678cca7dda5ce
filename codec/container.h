/* lic codec: the .lic container. Version 2 (docs/FORMAT.md §3, what the encoder writes): chunks with a
 * CRC-32C each — HEAD, optional metadata, ZSYM, YTIL per tile, LEND. Version 1 (§2, read only): a
 * fixed header with a stream table, followed by the stream payloads. Both parse into the same
 * lic_container, so the decoder codes either through one path. */
#ifndef LIC_CODEC_CONTAINER_H
#define LIC_CODEC_CONTAINER_H

#include <stddef.h>
#include <stdint.h>

#include "lic/codec.h"

#define LIC_CONTAINER_VERSION 2 /* written by the encoder */
#define LIC_CONTAINER_V1 1      /* legacy, read only (and written by tests) */
#define LIC_MAX_STREAMS 8

/* Metadata items of version 2, in the order their chunks are written. */
enum lic_meta_kind {
    LIC_META_ICC = 0,  /* chunk iccp */
    LIC_META_EXIF = 1, /* chunk exif */
    LIC_META_XMP = 2,  /* chunk xmpd */
    LIC_META_COUNT = 3,
};

/* Stream ids. Values are in the file: append-only. */
enum lic_stream_id {
    LIC_STREAM_Z = 0, /* hyper-latent symbols */
    LIC_STREAM_Y = 1, /* latent symbols, all groups and passes in coding order */
};

/* Bytes inside a buffer someone else owns. */
typedef struct lic_span {
    const uint8_t *data;
    size_t size;
} lic_span;

typedef struct lic_container {
    lic_stream_info info;
    uint8_t stream_id[LIC_MAX_STREAMS];
    const uint8_t *stream_data[LIC_MAX_STREAMS]; /* point into the parsed buffer */
    size_t stream_size[LIC_MAX_STREAMS];
    /* Version 2 only (version 1 reads as one tile, 8-bit source, no metadata). In version 2 the z
     * stream (ZSYM) is stream LIC_STREAM_Z and the first tile's y stream (YTIL 0, without its index)
     * is LIC_STREAM_Y. */
    int tile_log2;          /* 0: one tile over the whole latent; 3..8: tiles of 2^t positions */
    uint64_t n_tiles;       /* YTIL chunks in the file (as the HEAD's size and tile_log2 require) */
    const uint8_t *tiles_at; /* version 2: the first YTIL chunk (lic_container_tiles walks from it) */
    int source_bit_depth;   /* 8 or 16 */
    const uint8_t *meta[LIC_META_COUNT]; /* point into the parsed buffer; NULL when absent */
    size_t meta_size[LIC_META_COUNT];
} lic_container;

/* 1 if data (size bytes, may be NULL when size is 0) starts with the .lic magic, else 0. */
int lic_container_has_magic(const uint8_t *data, size_t size);

/* Parses the header only (what lic_peek_info reports). Version 1: magic, version, pixel format,
 * quality, sizes, stream ids; payload pointers stay NULL. Version 2: the HEAD chunk, CRC and fields.
 * Returns 0 or LIC_EBITSTREAM. */
int lic_container_parse_header(lic_container *c, const uint8_t *data, size_t size);

/* Parses and validates a whole file of either version. Version 1: magic, version, pixel format,
 * quality 1..100, sizes >= 1, stream ids unique and known, every payload inside the buffer and the
 * payloads ending exactly at its end. Version 2: every chunk's bounds and CRC, the chunk order and
 * counts of FORMAT.md §3, HEAD's fields, the tile indexes, nothing after LEND. Returns 0,
 * LIC_EBITSTREAM, or LIC_EUNSUPPORTED for a valid chunk this revision does not know (an unknown
 * critical chunk). Allocates nothing. */
int lic_container_parse(lic_container *c, const uint8_t *data, size_t size);

/* The y stream of every tile, in tile order, into tiles[0 .. c->n_tiles) (a parsed container: version 1
 * has one, the LIC_STREAM_Y payload). Walks the chunks again, skipping ancillary ones between tiles. */
void lic_container_tiles(const lic_container *c, lic_span *tiles);

/* Finds a stream by id; returns its index or -1. */
int lic_container_find(const lic_container *c, int id);

/* Version 1 (tests make legacy files with these): bytes needed to write a container with these
 * stream sizes (0 on overflow). */
size_t lic_container_size(int n_streams, const size_t *sizes);

/* Version 1: writes header + payloads into dst (capacity from lic_container_size). */
void lic_container_write(uint8_t *dst, const lic_stream_info *info, int n_streams, const uint8_t *ids,
                         const uint8_t *const *payloads, const size_t *sizes);

/* What a version-2 file holds, for the writer. */
typedef struct lic_container_content {
    lic_stream_info info;   /* width, height, fmt, quality, model_fingerprint are written */
    int source_bit_depth;   /* 8 or 16 */
    const uint8_t *meta[LIC_META_COUNT];
    size_t meta_size[LIC_META_COUNT]; /* 0: no chunk */
    const uint8_t *z, *y;   /* the z stream and, with one tile (n_tiles 0 or 1), the tile's y stream */
    size_t z_size, y_size;
    int tile_log2;          /* written into HEAD: 0, or 3..8 with n_tiles matching the size */
    uint64_t n_tiles;       /* > 1: the y streams are tiles[0 .. n_tiles), not y */
    const lic_span *tiles;
} lic_container_content;

/* Bytes of the version-2 file for this content (0 when a chunk would exceed 2^31 - 1 bytes). */
size_t lic_container_v2_size(const lic_container_content *cc);

/* Writes the version-2 file into dst (capacity from lic_container_v2_size). */
void lic_container_v2_write(uint8_t *dst, const lic_container_content *cc);

/* Internal to the two container files: checks the image fields both versions carry (sides >= 1, a
 * known pixel format, quality 1..100) and stores them in info; LIC_EBITSTREAM otherwise. */
int lic_container_set_image(lic_stream_info *info, uint32_t width, uint32_t height, uint8_t fmt,
                            uint8_t quality);

/* Internal to the two container files: the version-2 reader behind lic_container_parse(_header). */
int lic_container_v2_parse(lic_container *c, const uint8_t *data, size_t size, int header_only);

#endif /* LIC_CODEC_CONTAINER_H */
