/* lic codec: the .lic container — header with model fingerprint, image size, quality and a stream
 * table, followed by the stream payloads (docs/FORMAT.md §2). */
#ifndef LIC_CODEC_CONTAINER_H
#define LIC_CODEC_CONTAINER_H

#include <stddef.h>
#include <stdint.h>

#include "lic/codec.h"

#define LIC_CONTAINER_VERSION 1
#define LIC_MAX_STREAMS 8

/* Stream ids. Values are in the file: append-only. */
enum lic_stream_id {
    LIC_STREAM_Z = 0, /* hyper-latent symbols */
    LIC_STREAM_Y = 1, /* latent symbols, all groups and passes in coding order */
};

typedef struct lic_container {
    lic_stream_info info;
    uint8_t stream_id[LIC_MAX_STREAMS];
    const uint8_t *stream_data[LIC_MAX_STREAMS]; /* point into the parsed buffer */
    size_t stream_size[LIC_MAX_STREAMS];
} lic_container;

/* 1 if data (size bytes, may be NULL when size is 0) starts with the .lic magic, else 0. */
int lic_container_has_magic(const uint8_t *data, size_t size);

/* Parses the fixed header and the stream table only (what lic_peek_info reports): magic, version,
 * pixel format, quality, sizes, stream ids; payload pointers stay NULL. Returns 0 or LIC_EBITSTREAM. */
int lic_container_parse_header(lic_container *c, const uint8_t *data, size_t size);

/* Parses and validates the header and stream table of `data`: magic, version, pixel format,
 * quality 1..100, sizes >= 1, stream ids unique and known, every payload inside the buffer and the
 * payloads ending exactly at its end. Returns 0 or LIC_EBITSTREAM. */
int lic_container_parse(lic_container *c, const uint8_t *data, size_t size);

/* Finds a stream by id; returns its index or -1. */
int lic_container_find(const lic_container *c, int id);

/* Bytes needed to write a container with these stream sizes (0 on overflow). */
size_t lic_container_size(int n_streams, const size_t *sizes);

/* Writes header + payloads into dst (capacity from lic_container_size). */
void lic_container_write(uint8_t *dst, const lic_stream_info *info, int n_streams, const uint8_t *ids,
                         const uint8_t *const *payloads, const size_t *sizes);

#endif /* LIC_CODEC_CONTAINER_H */
