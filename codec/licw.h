/* lic codec: parser of the .licw container (docs/FORMAT.md): key/values and a tensor directory over
 * one byte buffer. Parsing validates every length, offset and size against the buffer; nothing is
 * copied. */
#ifndef LIC_CODEC_LICW_H
#define LIC_CODEC_LICW_H

#include <stddef.h>
#include <stdint.h>

#include "lic/common.h"
#include "util/hash.h" /* lic_fnv1a64, the fingerprint */

/* Tensor element types. Values are in the file: append-only. */
enum lic_dtype {
    LIC_DTYPE_F32 = 0,
    LIC_DTYPE_I16 = 1,
    LIC_DTYPE_I32 = 2,
};

enum lic_kv_type {
    LIC_KV_INT = 0,    /* int64 */
    LIC_KV_FLOAT = 1,  /* float64 */
    LIC_KV_STRING = 2, /* UTF-8 bytes, not NUL-terminated in the file */
};

#define LIC_LICW_MAX_DIMS 4

typedef struct lic_licw_kv {
    const char *key; size_t key_len;     /* points into the buffer */
    int type;
    int64_t i; double f;
    const char *s; size_t s_len;         /* points into the buffer */
} lic_licw_kv;

typedef struct lic_licw_tensor {
    const char *name; size_t name_len;   /* points into the buffer */
    int dtype;
    int n_dims;
    int64_t dims[LIC_LICW_MAX_DIMS];
    const void *data;                    /* points into the buffer, 64-byte aligned relative to its start */
    size_t n_bytes;
} lic_licw_tensor;

typedef struct lic_licw {
    uint32_t version;
    uint32_t n_kv, n_tensors;
    lic_licw_kv *kv;                     /* allocated by lic_licw_parse */
    lic_licw_tensor *tensors;            /* allocated by lic_licw_parse */
    uint64_t fingerprint;                /* lic_fnv1a64 of the whole file */
} lic_licw;

/* Parses `data` (size bytes, 64-byte aligned, kept alive by the caller). `alloc` must be filled.
 * Returns 0, LIC_EMODEL or LIC_ENOMEM. */
int lic_licw_parse(lic_licw *out, const uint8_t *data, size_t size, const lic_allocator *alloc);
void lic_licw_release(lic_licw *f, const lic_allocator *alloc);

/* Lookups by exact name; NULL when absent. */
const lic_licw_kv *lic_licw_find_kv(const lic_licw *f, const char *key);
const lic_licw_tensor *lic_licw_find_tensor(const lic_licw *f, const char *name);

#endif /* LIC_CODEC_LICW_H */
