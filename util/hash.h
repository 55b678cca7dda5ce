/* lic util: the one hash of the project, 64-bit FNV-1a. It names a model (the fingerprint of a .licw
 * file, stored in every .lic header) and summarises the coded symbols and the probability parameters
 * (lic-encode -v, the conformance tests, train/lic_model.py): its values are part of the file format
 * and of the test vectors, so neither the constants nor the word-wise variant may change. */
#ifndef LIC_UTIL_HASH_H
#define LIC_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define LIC_FNV64_BASIS 0xcbf29ce484222325ull
#define LIC_FNV64_PRIME 0x100000001b3ull

/* FNV-1a over bytes, from the offset basis: the model fingerprint. */
uint64_t lic_fnv1a64(const void *data, size_t size);

/* One FNV-1a step over a whole 32-bit value (not its bytes): h = (h ^ (uint32_t)v) * prime. Start from
 * LIC_FNV64_BASIS. Word-wise because it runs once per coded symbol. */
static inline uint64_t lic_fnv1a64_mix32(uint64_t h, int32_t v)
{
    return (h ^ (uint32_t)v) * LIC_FNV64_PRIME;
}

#endif /* LIC_UTIL_HASH_H */
