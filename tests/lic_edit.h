/* Tests: edits of .lic files that a test needs to make on purpose.
 *
 * lic_test_to_v1: the version-1 (legacy) file holding the same symbol streams as a version-2 file.
 * The v1 reader has no checksums, so damage inside its payloads reaches the entropy decoder: the
 * robustness tests use v1 files to keep testing that path, which a v2 file shields behind its CRCs.
 *
 * lic_test_set_size: changes the declared image size, keeping the file valid (v2: the HEAD CRC is
 * recomputed), to test the limits checked from the header. */
#ifndef LIC_TESTS_LIC_EDIT_H
#define LIC_TESTS_LIC_EDIT_H

#include <stdlib.h>

#include "codec/container.h"
#include "codec/le_bytes.h"
#include "util/crc32c.h"

/* Returns a malloc'd version-1 file (*out_n bytes) with v2's header fields and z/y payloads, or NULL
 * if v2 does not parse as a single-tile version-2 file. */
static inline uint8_t *lic_test_to_v1(const uint8_t *v2, size_t n, size_t *out_n)
{
    lic_container c;
    if (lic_container_parse(&c, v2, n) != 0 || c.info.version != LIC_CONTAINER_VERSION || c.n_tiles != 1)
        return NULL;
    const uint8_t ids[2] = {LIC_STREAM_Z, LIC_STREAM_Y};
    const uint8_t *const payloads[2] = {c.stream_data[0], c.stream_data[1]};
    const size_t sizes[2] = {c.stream_size[0], c.stream_size[1]};
    *out_n = lic_container_size(2, sizes);
    uint8_t *v1 = malloc(*out_n);
    if (v1)
        lic_container_write(v1, &c.info, 2, ids, payloads, sizes);
    return v1;
}

/* Version 2: HEAD's data starts at 5 + 8 (signature, length, type): width at +8, height at +12, its
 * CRC after the 24 data bytes covers the type and data. Version 1: width at 16, height at 20. */
static inline void lic_test_set_size(uint8_t *bits, uint32_t w, uint32_t h)
{
    if (bits[4] == LIC_CONTAINER_V1) {
        lic_le_wr32(bits + 16, w);
        lic_le_wr32(bits + 20, h);
        return;
    }
    lic_le_wr32(bits + 13 + 8, w);
    lic_le_wr32(bits + 13 + 12, h);
    lic_le_wr32(bits + 13 + 24, lic_crc32c(0, bits + 9, 4 + 24));
}

#endif /* LIC_TESTS_LIC_EDIT_H */
