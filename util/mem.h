/* lic util: allocation through the configured lic_allocator, and overflow-checked size arithmetic.
 * Every module allocates through these calls, never through the allocator's function pointers or
 * malloc directly, so a user's allocator sees every request and all of them are 64-byte aligned. */
#ifndef LIC_UTIL_MEM_H
#define LIC_UTIL_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "lic/common.h"

/* Every allocation is aligned to this (a cache line; enough for any SIMD load of the CPU kernels). */
#define LIC_ALIGN 64

/* Copies `in` into `out`, replacing a zeroed (or NULL) allocator by the default (posix_memalign /
 * free). */
void lic_mem_resolve(lic_allocator *out, const lic_allocator *in);

/* LIC_ALIGN-aligned allocation from a resolved allocator; NULL on failure or size 0. */
void *lic_mem_alloc(const lic_allocator *a, size_t size);
/* The same, zero-filled. */
void *lic_mem_zalloc(const lic_allocator *a, size_t size);
/* n * elem bytes; NULL on failure, on overflow of the product, or when it is 0. */
void *lic_mem_alloc_array(const lic_allocator *a, size_t n, size_t elem);
/* Accepts NULL. */
void lic_mem_free(const lic_allocator *a, void *p);

/* Buffers handed to the caller (lic_encode output, decoded pixels): they remember their allocator in
 * a hidden header, so lic_free()/lic_image_free() need no context. */
void *lic_mem_alloc_owned(const lic_allocator *a, size_t size);
void lic_mem_free_owned(void *p);

/* *out = a * b; returns 0, or -1 on overflow. */
static inline int lic_size_mul(size_t a, size_t b, size_t *out)
{
    if (b && a > SIZE_MAX / b)
        return -1;
    *out = a * b;
    return 0;
}

/* *out = a + b; returns 0, or -1 on overflow. */
static inline int lic_size_add(size_t a, size_t b, size_t *out)
{
    if (a > SIZE_MAX - b)
        return -1;
    *out = a + b;
    return 0;
}

#endif /* LIC_UTIL_MEM_H */
