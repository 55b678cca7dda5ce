/* Tests of util/, the internal layer every module uses: the fixed-point helpers against plain
 * division, the hash against published FNV-1a vectors and its word-wise form, the logger (levels,
 * prefix, truncation, no logger) and the allocator wrapper (alignment, zeroing, overflow, owned
 * buffers, every request through the configured allocator), and CRC-32C against its published check
 * value and a bitwise reference, table and SSE4.2 versions equal on every length and alignment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/crc32c.h"
#include "util/fixed.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/mem.h"

/* ---- fixed point ---- */

/* floor(v / 2^s) by C division, which truncates towards zero. */
static int64_t naive_floor_div(int64_t v, int s)
{
    const int64_t d = (int64_t)1 << s;
    int64_t q = v / d;
    if (v % d != 0 && v < 0)
        q--;
    return q;
}

static uint64_t rng_next(uint64_t *st) /* splitmix64: seeded, reproducible */
{
    uint64_t z = (*st += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void test_floor_shr(void **state)
{
    (void)state;
    static const int64_t edges[] = {0, 1, -1, 2, -2, 3, -3, 127, -127, 128, -128, 129, -129,
                                    INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    for (int s = 0; s <= 62; s++)
        for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
            assert_true(lic_floor_shr(edges[i], s) == naive_floor_div(edges[i], s));
    uint64_t st = 1;
    for (int i = 0; i < 200000; i++) {
        const int64_t v = (int64_t)rng_next(&st) >> (rng_next(&st) % 64);
        const int s = (int)(rng_next(&st) % 63);
        assert_true(lic_floor_shr(v, s) == naive_floor_div(v, s));
    }
    /* The defining property: floor, not truncation, for negative values. */
    assert_true(lic_floor_shr(-1, 8) == -1);
    assert_true(lic_floor_shr(-256, 8) == -1);
    assert_true(lic_floor_shr(-257, 8) == -2);
}

static void test_round_shr(void **state)
{
    (void)state;
    /* Halves round towards +infinity, on both sides of zero. */
    assert_true(lic_round_shr(128, 8) == 1);
    assert_true(lic_round_shr(127, 8) == 0);
    assert_true(lic_round_shr(-128, 8) == 0);
    assert_true(lic_round_shr(-129, 8) == -1);
    assert_true(lic_round_shr(384, 8) == 2);
    assert_true(lic_round_shr(-384, 8) == -1);
    assert_true(lic_round_shr(1, 1) == 1);
    assert_true(lic_round_shr(-1, 1) == 0);
    for (int64_t v = -1000; v <= 1000; v++)
        assert_true(lic_round_shr(v, 0) == v); /* s = 0: no rounding term */
    uint64_t st = 2;
    for (int i = 0; i < 200000; i++) {
        const int64_t v = (int64_t)rng_next(&st) >> (2 + rng_next(&st) % 62); /* |v| <= 2^61 */
        const int s = 1 + (int)(rng_next(&st) % 61);
        assert_true(lic_round_shr(v, s) == naive_floor_div(v + ((int64_t)1 << (s - 1)), s));
    }
}

static void test_clamp(void **state)
{
    (void)state;
    assert_true(lic_clamp_i64(5, -3, 3) == 3);
    assert_true(lic_clamp_i64(-5, -3, 3) == -3);
    assert_true(lic_clamp_i64(2, -3, 3) == 2);
    assert_true(lic_clamp_i64(INT64_MIN, INT16_MIN, INT16_MAX) == INT16_MIN);
    assert_true(lic_clamp_i64(INT64_MAX, INT16_MIN, INT16_MAX) == INT16_MAX);
    assert_true(lic_clamp_i64(7, 7, 7) == 7);
}

/* ---- hash ---- */

static void test_fnv1a64(void **state)
{
    (void)state;
    /* Published FNV-1a 64 vectors. */
    assert_true(lic_fnv1a64("", 0) == LIC_FNV64_BASIS);
    assert_true(lic_fnv1a64("a", 1) == UINT64_C(0xaf63dc4c8601ec8c));
    assert_true(lic_fnv1a64("foobar", 6) == UINT64_C(0x85944171f73967e8));
}

static void test_fnv1a64_mix32(void **state)
{
    (void)state;
    /* For a value below 256 one word step is one byte step. */
    for (int v = 0; v < 256; v++) {
        const uint8_t b = (uint8_t)v;
        assert_true(lic_fnv1a64_mix32(LIC_FNV64_BASIS, v) == lic_fnv1a64(&b, 1));
    }
    /* Negative values are taken as their 32-bit two's complement, not sign-extended. */
    assert_true(lic_fnv1a64_mix32(LIC_FNV64_BASIS, -1) == (LIC_FNV64_BASIS ^ UINT64_C(0xffffffff)) * LIC_FNV64_PRIME);
    /* Order matters (it summarises a sequence). */
    assert_true(lic_fnv1a64_mix32(lic_fnv1a64_mix32(LIC_FNV64_BASIS, 1), 2) !=
                lic_fnv1a64_mix32(lic_fnv1a64_mix32(LIC_FNV64_BASIS, 2), 1));
}

/* ---- logger ---- */

typedef struct log_capture {
    int calls, level;
    char msg[1024];
} log_capture;

static void capture(void *opaque, int level, const char *msg)
{
    log_capture *c = opaque;
    c->calls++;
    c->level = level;
    snprintf(c->msg, sizeof c->msg, "%s", msg);
}

static void vlog_helper(const lic_logger *lg, const char *prefix, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lic_vlog(lg, LIC_LOG_ERROR, prefix, fmt, ap);
    va_end(ap);
}

static void test_log(void **state)
{
    (void)state;
    log_capture c = {0};
    lic_logger lg = {&c, capture, LIC_LOG_INFO};
    lic_log(&lg, LIC_LOG_WARN, "%d x %s", 3, "four");
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.level, LIC_LOG_WARN);
    assert_string_equal(c.msg, "3 x four");
    lic_log(&lg, LIC_LOG_DEBUG, "not formatted"); /* above max_level */
    assert_int_equal(c.calls, 1);
    vlog_helper(&lg, "model: ", "key '%s'", "N");
    assert_int_equal(c.calls, 2);
    assert_string_equal(c.msg, "model: key 'N'");
    vlog_helper(&lg, NULL, "plain");
    assert_string_equal(c.msg, "plain");

    /* Long messages are cut at 511 bytes, prefix included, never overflowing. */
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    vlog_helper(&lg, "p: ", "%s", big);
    assert_int_equal(strlen(c.msg), 511);
    assert_memory_equal(c.msg, "p: xxx", 6);
    vlog_helper(&lg, big, "%s", "tail"); /* a prefix longer than the buffer */
    assert_int_equal(strlen(c.msg), 511);

    /* No logger, no callback: nothing happens. */
    lic_log(NULL, LIC_LOG_ERROR, "x");
    lic_logger silent = {&c, NULL, LIC_LOG_DEBUG};
    lic_log(&silent, LIC_LOG_ERROR, "x");
    assert_int_equal(c.calls, 5);
}

/* ---- allocator ---- */

typedef struct counting {
    int allocs, frees, fail_at; /* fail_at: 1-based index of the allocation to refuse, 0 = none */
    size_t last_align;
} counting;

static void *count_alloc(void *opaque, size_t size, size_t align)
{
    counting *c = opaque;
    c->allocs++;
    c->last_align = align;
    if (c->fail_at && c->allocs == c->fail_at)
        return NULL;
    void *p = NULL;
    return posix_memalign(&p, align, size) == 0 ? p : NULL;
}

static void count_free(void *opaque, void *p)
{
    counting *c = opaque;
    c->frees++;
    free(p);
}

static void test_mem(void **state)
{
    (void)state;
    counting c = {0};
    const lic_allocator user = {&c, count_alloc, count_free};
    lic_allocator a;
    lic_mem_resolve(&a, &user);
    assert_ptr_equal(a.opaque, &c);

    uint8_t *p = lic_mem_alloc(&a, 100);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % LIC_ALIGN, 0);
    assert_int_equal(c.last_align, LIC_ALIGN);
    lic_mem_free(&a, p);
    assert_int_equal(c.frees, 1);

    assert_null(lic_mem_alloc(&a, 0));
    assert_null(lic_mem_alloc_array(&a, SIZE_MAX / 2, 3)); /* overflow: never reaches the allocator */
    assert_null(lic_mem_alloc_array(&a, 0, 8));
    assert_int_equal(c.allocs, 1);
    lic_mem_free(&a, NULL); /* no call for NULL */
    assert_int_equal(c.frees, 1);

    uint32_t *q = lic_mem_alloc_array(&a, 1000, sizeof(uint32_t));
    assert_non_null(q);
    q[999] = 7;
    lic_mem_free(&a, q);

    /* zalloc: zeroed even where the allocator hands out dirty memory. */
    for (int i = 0; i < 4; i++) {
        uint8_t *d = lic_mem_alloc(&a, 4096);
        assert_non_null(d);
        memset(d, 0xa5, 4096);
        lic_mem_free(&a, d);
        uint8_t *z = lic_mem_zalloc(&a, 4096);
        assert_non_null(z);
        for (int k = 0; k < 4096; k++)
            assert_int_equal(z[k], 0);
        lic_mem_free(&a, z);
    }
    c.fail_at = c.allocs + 1;
    assert_null(lic_mem_zalloc(&a, 64));
    c.fail_at = 0;

    /* Owned buffers remember their allocator and stay aligned. */
    int before = c.frees;
    uint8_t *o = lic_mem_alloc_owned(&a, 10);
    assert_non_null(o);
    assert_int_equal((uintptr_t)o % LIC_ALIGN, 0);
    memset(o, 1, 10);
    lic_mem_free_owned(o);
    assert_int_equal(c.frees, before + 1);
    lic_mem_free_owned(NULL);
    assert_null(lic_mem_alloc_owned(&a, SIZE_MAX - 8));
    assert_int_equal(c.allocs - 1, c.frees); /* all but the refused one freed, none twice */

    /* A zeroed allocator resolves to the default one. */
    lic_allocator def, zero = {0};
    lic_mem_resolve(&def, &zero);
    assert_non_null(def.alloc);
    assert_non_null(def.free);
    lic_mem_resolve(&def, NULL);
    void *dp = lic_mem_alloc(&def, 1 << 20);
    assert_non_null(dp);
    assert_int_equal((uintptr_t)dp % LIC_ALIGN, 0);
    lic_mem_free(&def, dp);

    size_t r;
    assert_int_equal(lic_size_mul(SIZE_MAX / 2, 2, &r), 0);
    assert_int_equal(lic_size_mul(SIZE_MAX / 2 + 1, 2, &r), -1);
    assert_int_equal(lic_size_mul(SIZE_MAX, 0, &r), 0);
    assert_int_equal(r, 0);
    assert_int_equal(lic_size_add(SIZE_MAX - 1, 1, &r), 0);
    assert_int_equal(lic_size_add(SIZE_MAX, 1, &r), -1);
}

/* ---- CRC-32C ---- */

/* Bit at a time, straight from the definition: the reference for both fast versions. */
static uint32_t crc32c_bitwise(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

static void test_crc32c(void **state)
{
    (void)state;
    /* The standard check value (CRC catalogue, "CRC-32/ISCSI") and the RFC 3720 B.4 vectors. */
    assert_int_equal(lic_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(lic_crc32c_table(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(lic_crc32c(0, NULL, 0), 0);
    uint8_t v[32];
    memset(v, 0, sizeof(v));
    assert_int_equal(lic_crc32c(0, v, 32), 0x8A9136AAu);
    memset(v, 0xFF, sizeof(v));
    assert_int_equal(lic_crc32c(0, v, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        v[i] = (uint8_t)i;
    assert_int_equal(lic_crc32c(0, v, 32), 0x46DD794Eu);

    /* Every length 0..300 at every alignment 0..7, whole and split in two pieces. */
    uint8_t buf[320];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(buf); i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n <= 300; n++) {
            const uint32_t ref = crc32c_bitwise(buf + off, n);
            assert_int_equal(lic_crc32c_table(0, buf + off, n), ref);
            assert_int_equal(lic_crc32c(0, buf + off, n), ref);
            const size_t h = n / 3;
            assert_int_equal(lic_crc32c(lic_crc32c(0, buf + off, h), buf + off + h, n - h), ref);
            assert_int_equal(lic_crc32c_table(lic_crc32c_table(0, buf + off, h), buf + off + h, n - h), ref);
        }
    print_message("crc32c: SSE4.2 path %s\n", lic_crc32c_hw() ? "used (tested against the table)" : "not available here");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_floor_shr),     cmocka_unit_test(test_round_shr), cmocka_unit_test(test_clamp),
        cmocka_unit_test(test_fnv1a64),       cmocka_unit_test(test_fnv1a64_mix32), cmocka_unit_test(test_log),
        cmocka_unit_test(test_mem),           cmocka_unit_test(test_crc32c),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
