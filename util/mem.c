/* lic util: allocator plumbing. */
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

static void *default_alloc(void *opaque, size_t size, size_t align)
{
    (void)opaque;
    void *p = NULL;
    if (align < sizeof(void *))
        align = sizeof(void *);
    return posix_memalign(&p, align, size) == 0 ? p : NULL;
}

static void default_free(void *opaque, void *p)
{
    (void)opaque;
    free(p);
}

void lic_mem_resolve(lic_allocator *out, const lic_allocator *in)
{
    if (in && in->alloc && in->free) {
        *out = *in;
    } else {
        out->opaque = NULL;
        out->alloc = default_alloc;
        out->free = default_free;
    }
}

void *lic_mem_alloc(const lic_allocator *a, size_t size)
{
    if (size == 0)
        return NULL;
    return a->alloc(a->opaque, size, LIC_ALIGN);
}

void *lic_mem_zalloc(const lic_allocator *a, size_t size)
{
    void *p = lic_mem_alloc(a, size);
    if (p)
        memset(p, 0, size);
    return p;
}

void *lic_mem_alloc_array(const lic_allocator *a, size_t n, size_t elem)
{
    size_t size;
    if (lic_size_mul(n, elem, &size) < 0)
        return NULL;
    return lic_mem_alloc(a, size);
}

void lic_mem_free(const lic_allocator *a, void *p)
{
    if (p)
        a->free(a->opaque, p);
}

/* The hidden header occupies one alignment unit before the returned pointer so the caller's data
 * stays 64-byte aligned. */
typedef struct owned_header {
    lic_allocator alloc;
} owned_header;

void *lic_mem_alloc_owned(const lic_allocator *a, size_t size)
{
    size_t total;
    if (lic_size_add(size, LIC_ALIGN, &total) < 0)
        return NULL;
    uint8_t *base = a->alloc(a->opaque, total, LIC_ALIGN);
    if (!base)
        return NULL;
    owned_header h = {*a};
    memcpy(base, &h, sizeof(h));
    return base + LIC_ALIGN;
}

void lic_mem_free_owned(void *p)
{
    if (!p)
        return;
    uint8_t *base = (uint8_t *)p - LIC_ALIGN;
    owned_header h;
    memcpy(&h, base, sizeof(h));
    h.alloc.free(h.alloc.opaque, base);
}
