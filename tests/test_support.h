/* Helpers shared by the module tests: the plain aligned allocator that internal modules need (they
 * take a filled lic_allocator), the counting allocators that measure the library's memory, the exit
 * status of a test that could not run here, and reading a test file. */
#ifndef LIC_TESTS_TEST_SUPPORT_H
#define LIC_TESTS_TEST_SUPPORT_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/common.h"

/* Exit status of a test (or one ctest entry of it) that cannot run on this machine or build: no GPU,
 * kernels the CPU lacks or the build left out. Every ctest entry that may exit with it sets
 * SKIP_RETURN_CODE to it, so ctest reports "Skipped" instead of "Passed". 77 is the automake
 * convention. Print why before exiting with it. */
#define LIC_TEST_SKIP 77

static inline void *lic_test_alloc(void *opaque, size_t size, size_t align)
{
    (void)opaque;
    size_t n = (size + align - 1) / align * align; /* aligned_alloc wants a multiple of align */
    return aligned_alloc(align, n ? n : align);
}

static inline void lic_test_free(void *opaque, void *p)
{
    (void)opaque;
    free(p);
}

static const lic_allocator test_alloc = {NULL, lic_test_alloc, lic_test_free};

/* A single-threaded allocator hook that tracks the bytes live and their peak. Each block has a 64-byte
 * header holding its size (the library asks for at most 64-byte alignment); read the counts between
 * library calls only. */
typedef struct lic_test_peak_counter {
    size_t live, peak;
} lic_test_peak_counter;

#define LIC_TEST_PEAK_HEAD 64

static inline void *lic_test_peak_alloc(void *opaque, size_t size, size_t align)
{
    lic_test_peak_counter *c = opaque;
    enum { HEAD = LIC_TEST_PEAK_HEAD };
    if (align > HEAD)
        return NULL;
    char *p = aligned_alloc(HEAD, (size + 2 * HEAD - 1) / HEAD * HEAD);
    if (!p)
        return NULL;
    memcpy(p, &size, sizeof size);
    c->live += size;
    if (c->live > c->peak)
        c->peak = c->live;
    return p + HEAD;
}

static inline void lic_test_peak_free(void *opaque, void *q)
{
    lic_test_peak_counter *c = opaque;
    if (!q)
        return;
    char *p = (char *)q - LIC_TEST_PEAK_HEAD;
    size_t size;
    memcpy(&size, p, sizeof size);
    c->live -= size;
    free(p);
}

/* Where lic_test_count_alloc gets its blocks. A test that replaces malloc & co. to catch allocations
 * that bypass the hook (test_alloc_fail.c) defines both before including this header, so that the
 * hook's own blocks are not taken for such bypasses. */
#ifndef LIC_TEST_RAW_ALLOC
static inline void *lic_test_raw_alloc(size_t align, size_t n)
{
    void *p = NULL;
    return posix_memalign(&p, align, n) == 0 ? p : NULL;
}
#define LIC_TEST_RAW_ALLOC(align, n) lic_test_raw_alloc(align, n)
#define LIC_TEST_RAW_FREE(p) free(p)
#endif

/* A thread-safe allocator hook that counts blocks and bytes and can fail its Nth allocation. */
typedef struct lic_test_counter {
    atomic_long calls;      /* allocations attempted */
    atomic_long fail_at;    /* the allocation number that fails; 0 = none */
    atomic_long failed;     /* allocations refused */
    atomic_long live;       /* blocks allocated and not yet freed */
    atomic_long live_bytes;
    atomic_long peak_bytes;
} lic_test_counter;

/* Header in front of each block: the requested size and the alignment, so frees can be accounted. It
 * occupies a whole alignment unit (>= 16) so the caller's block keeps its alignment. */
static inline void *lic_test_count_alloc(void *opaque, size_t size, size_t align)
{
    lic_test_counter *c = opaque;
    long n = atomic_fetch_add(&c->calls, 1) + 1;
    if (n == atomic_load(&c->fail_at)) {
        atomic_fetch_add(&c->failed, 1);
        return NULL;
    }
    if (align < 16)
        align = 16;
    uint8_t *base = LIC_TEST_RAW_ALLOC(align, size + align);
    if (!base)
        return NULL;
    memcpy(base + align - 16, &size, sizeof size);
    memcpy(base + align - 8, &align, sizeof align);
    atomic_fetch_add(&c->live, 1);
    long now = atomic_fetch_add(&c->live_bytes, (long)size) + (long)size;
    long peak = atomic_load(&c->peak_bytes);
    while (now > peak && !atomic_compare_exchange_weak(&c->peak_bytes, &peak, now))
        ;
    return base + align;
}

static inline void lic_test_count_free(void *opaque, void *p)
{
    lic_test_counter *c = opaque;
    if (!p)
        return;
    size_t size, align;
    memcpy(&size, (uint8_t *)p - 16, sizeof size);
    memcpy(&align, (uint8_t *)p - 8, sizeof align);
    atomic_fetch_sub(&c->live, 1);
    atomic_fetch_sub(&c->live_bytes, (long)size);
    LIC_TEST_RAW_FREE((uint8_t *)p - align);
}

/* Reads a whole file (paths are relative to the repository root, where ctest runs the tests) into a
 * malloc'd buffer; NULL if it cannot be read. */
static inline uint8_t *lic_test_read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *d = NULL;
    long len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (len >= 0 && fseek(f, 0, SEEK_SET) == 0 && (d = malloc((size_t)len + 1)) &&
        fread(d, 1, (size_t)len, f) != (size_t)len) {
        free(d);
        d = NULL;
    }
    fclose(f);
    *n = d ? (size_t)len : 0;
    return d;
}

#endif /* LIC_TESTS_TEST_SUPPORT_H */
