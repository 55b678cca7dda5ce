/* Helpers shared by the module tests: the plain aligned allocator that internal modules need (they
 * take a filled lic_allocator), the exit status of a test that could not run here, and reading a
 * test file. */
#ifndef LIC_TESTS_TEST_SUPPORT_H
#define LIC_TESTS_TEST_SUPPORT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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
