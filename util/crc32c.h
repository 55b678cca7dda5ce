/* lic util: CRC-32C (Castagnoli; reflected polynomial 0x82F63B78, initial value and final xor
 * 0xFFFFFFFF), the checksum of every chunk of a version-2 .lic file (docs/FORMAT.md §3). Its values
 * are part of the file format. */
#ifndef LIC_UTIL_CRC32C_H
#define LIC_UTIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends a CRC-32C over n more bytes: start with crc = 0, feed the data in any number of pieces,
 * and the result is the finished CRC (the pre- and post-inversion are done inside, as zlib's crc32
 * does). data may be NULL when n is 0. Uses the SSE4.2 crc32 instruction where the CPU has it,
 * else the table version; both give the same value. Thread-safe. */
uint32_t lic_crc32c(uint32_t crc, const void *data, size_t n);

/* The portable table-driven (slice-by-8) version, always built: the reference the fast path is
 * tested against. */
uint32_t lic_crc32c_table(uint32_t crc, const void *data, size_t n);

/* 1 if lic_crc32c uses the SSE4.2 instruction on this machine (for tests and benchmarks). */
int lic_crc32c_hw(void);

#endif /* LIC_UTIL_CRC32C_H */
