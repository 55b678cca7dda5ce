/* lic util: 64-bit FNV-1a over bytes. */
#include "util/hash.h"

uint64_t lic_fnv1a64(const void *data, size_t size)
{
    const uint8_t *p = data;
    uint64_t h = LIC_FNV64_BASIS;
    for (size_t i = 0; i < size; i++) {
        h ^= p[i];
        h *= LIC_FNV64_PRIME;
    }
    return h;
}
