/* Helpers shared by the module tests: the plain aligned allocator that internal modules need (they
 * take a filled lic_allocator), and the exit status of a test that could not run here. */
#ifndef LIC_TESTS_TEST_SUPPORT_H
#define LIC_TESTS_TEST_SUPPORT_H

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

#endif /* LIC_TESTS_TEST_SUPPORT_H */
