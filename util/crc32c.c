/* lic util: CRC-32C, slice-by-8 tables plus the x86 SSE4.2 instruction. See crc32c.h.
 *
 * Slice-by-8: table k maps a byte that is followed by k more bytes of the current 8-byte word to its
 * contribution to the CRC, so one word costs eight lookups instead of eight dependent byte steps.
 * The tables are built once on first use (pthread_once), which keeps 8 KiB of constants out of the
 * source. */
#include "util/crc32c.h"

#include <pthread.h>
#include <string.h>

#define CRC32C_POLY 0x82F63B78u /* 0x1EDC6F41 bit-reversed */

static uint32_t g_table[8][256];
static pthread_once_t g_table_once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int i = 0; i < 8; i++)
            c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1)));
        g_table[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; b++)
        for (int k = 1; k < 8; k++)
            g_table[k][b] = (g_table[k - 1][b] >> 8) ^ g_table[0][g_table[k - 1][b] & 0xFF];
}

uint32_t lic_crc32c_table(uint32_t crc, const void *data, size_t n)
{
    pthread_once(&g_table_once, build_tables);
    const uint8_t *p = data;
    uint32_t c = ~crc;
    for (; n >= 8; n -= 8, p += 8) {
        /* Byte order made explicit, so big-endian hosts compute the same value. */
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        c = g_table[7][lo & 0xFF] ^ g_table[6][(lo >> 8) & 0xFF] ^ g_table[5][(lo >> 16) & 0xFF] ^
            g_table[4][lo >> 24] ^ g_table[3][hi & 0xFF] ^ g_table[2][(hi >> 8) & 0xFF] ^
            g_table[1][(hi >> 16) & 0xFF] ^ g_table[0][hi >> 24];
    }
    while (n--)
        c = (c >> 8) ^ g_table[0][(c ^ *p++) & 0xFF];
    return ~c;
}

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#include <nmmintrin.h>

__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const uint8_t *p, size_t n)
{
    uint32_t c = ~crc;
#if defined(__x86_64__)
    uint64_t c64 = c;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8); /* x86 is little-endian: the bytes in file order */
        c64 = _mm_crc32_u64(c64, w);
    }
    c = (uint32_t)c64;
#endif
    for (; n; n--)
        c = _mm_crc32_u8(c, *p++);
    return ~c;
}

static int g_hw;
static pthread_once_t g_hw_once = PTHREAD_ONCE_INIT;

/* Asked once: every later call reads a value that no thread writes any more. */
static void detect_hw(void)
{
    __builtin_cpu_init();
    g_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
}

int lic_crc32c_hw(void)
{
    pthread_once(&g_hw_once, detect_hw);
    return g_hw;
}

uint32_t lic_crc32c(uint32_t crc, const void *data, size_t n)
{
    if (n && lic_crc32c_hw())
        return crc32c_sse42(crc, data, n);
    return lic_crc32c_table(crc, data, n);
}
#else
int lic_crc32c_hw(void)
{
    return 0;
}

uint32_t lic_crc32c(uint32_t crc, const void *data, size_t n)
{
    return lic_crc32c_table(crc, data, n);
}
#endif
