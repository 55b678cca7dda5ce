/* lic fuzz target: the entropy decoder alone (entropy/symbol_coder.c and rans.h).
 *
 * Input layout:
 *   byte 0      flags: bit 0 = raw table (the CDF rows are taken from the input as they are and must
 *               pass lic_cdf_table_validate to be used), else rows are built valid from the input;
 *               bits 1-2 pick the offset style (small, near +-2^30, near INT32 limits, from the input)
 *   byte 1      number of rows (1..4)
 *   then, per row: a length byte and (raw) length 32-bit CDF values or (built) length-1 frequency bytes,
 *               and 4 offset bytes
 *   the rest    the rANS stream
 * Properties: the reader never reads outside the stream (ASan), every call does bounded work, the
 * status is 0 or LIC_EBITSTREAM; and the decoded values re-encoded with the writer and decoded again
 * come back identical with status 0 (encoder and decoder agree on every value, escapes included). */
#include <string.h>

#include "entropy/symbol_coder.h"
#include "tests/fuzz/fuzz_common.h"

#define MAX_ROWS 4
#define MAX_LEN 300
#define MAX_SYMBOLS 2048

typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static uint32_t take(reader *r, int bytes)
{
    uint32_t v = 0;
    for (int i = 0; i < bytes; i++) {
        v |= (uint32_t)(r->n ? *r->p : 0) << (8 * i);
        if (r->n) {
            r->p++;
            r->n--;
        }
    }
    return v;
}

static void *xalloc(void *opaque, size_t size, size_t align)
{
    (void)opaque;
    void *p = NULL;
    return posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size) == 0 ? p : NULL;
}

static void xfree(void *opaque, void *p)
{
    (void)opaque;
    free(p);
}

/* Frequencies >= 1 from the input, scaled so that the row sums to 65536 exactly. */
static void build_row(reader *r, int32_t *cdf, int len)
{
    uint32_t f[MAX_LEN];
    uint64_t sum = 0;
    int n = len - 1;
    for (int i = 0; i < n; i++) {
        f[i] = 1 + take(r, 1);
        sum += f[i];
    }
    /* Scale to 65536 - n, then give every symbol its guaranteed 1; the rounding rest goes to the
     * largest symbol. */
    uint32_t total = 0, big = 0;
    for (int i = 0; i < n; i++) {
        f[i] = (uint32_t)((uint64_t)f[i] * (uint64_t)(65536 - n) / sum) + 1;
        total += f[i];
        if (f[i] > f[big])
            big = (uint32_t)i;
    }
    f[big] += 65536 - total;
    cdf[0] = 0;
    for (int i = 0; i < n; i++)
        cdf[i + 1] = cdf[i] + (int32_t)f[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r = {data, size};
    int flags = (int)take(&r, 1);
    int raw = flags & 1, off_style = (flags >> 1) & 3;
    int rows = 1 + (int)(take(&r, 1) % MAX_ROWS);
    static int32_t cdf[MAX_ROWS * MAX_LEN];
    int32_t length[MAX_ROWS], offset[MAX_ROWS];
    memset(cdf, 0, sizeof cdf);
    for (int k = 0; k < rows; k++) {
        int len = 3 + (int)(take(&r, 1) % (MAX_LEN - 2));
        int32_t *row = cdf + k * MAX_LEN;
        if (raw) {
            length[k] = len;
            for (int i = 0; i < len; i++)
                row[i] = (int32_t)take(&r, 4);
        } else {
            length[k] = len;
            build_row(&r, row, len);
        }
        uint32_t o = take(&r, 4);
        int32_t small = (int32_t)(o >> 1 & 255);
        switch (off_style) {
        case 0: offset[k] = (int16_t)(o & 0xffff); break;
        case 1: offset[k] = (o & 1 ? 1 : -1) * ((1 << 30) - small); break;
        case 2: offset[k] = o & 1 ? INT32_MIN + small : INT32_MAX - len + 3 - small; break;
        default: offset[k] = (int32_t)o; break;
        }
        if ((int64_t)offset[k] + len - 3 > INT32_MAX) /* keep built rows valid: the largest value fits */
            offset[k] = INT32_MAX - len + 3;
    }
    lic_cdf_table t = {cdf, length, offset, rows, MAX_LEN};
    if (lic_cdf_table_validate(&t) != 0) {
        FUZZ_CHECK(raw); /* built rows are valid by construction */
        return 0;
    }

    /* Decode: rows chosen by a generator seeded from the flags, so they do not consume stream bytes. */
    static int32_t values[MAX_SYMBOLS];
    static int rowsel[MAX_SYMBOLS];
    lic_symbol_reader rd;
    lic_symbol_reader_init(&rd, r.p, r.n);
    uint32_t s = 0x9e3779b9u ^ (uint32_t)flags;
    int count = (int)(r.n < MAX_SYMBOLS ? r.n + 1 : MAX_SYMBOLS);
    for (int i = 0; i < count; i++) {
        s = s * 1664525u + 1013904223u;
        rowsel[i] = (int)((s >> 16) % (uint32_t)rows);
        values[i] = lic_symbol_reader_get(&rd, &t, rowsel[i]);
        FUZZ_CHECK(rd.ptr >= r.p && rd.ptr <= r.p + r.n);
    }
    int st = lic_symbol_reader_status(&rd);
    FUZZ_CHECK(st == 0 || st == LIC_EBITSTREAM);

    /* Re-encode what was decoded; it must decode back exactly, without error. */
    lic_allocator a = {NULL, xalloc, xfree};
    lic_symbol_writer *w = NULL;
    FUZZ_CHECK(lic_symbol_writer_create(&w, &a) == 0);
    for (int i = 0; i < count; i++)
        FUZZ_CHECK(lic_symbol_writer_put(w, &t, rowsel[i], values[i]) == 0);
    const uint8_t *enc;
    size_t enc_size;
    FUZZ_CHECK(lic_symbol_writer_finish(w, &enc, &enc_size) == 0);
    lic_symbol_reader_init(&rd, enc, enc_size);
    for (int i = 0; i < count; i++)
        FUZZ_CHECK(lic_symbol_reader_get(&rd, &t, rowsel[i]) == values[i]);
    FUZZ_CHECK(lic_symbol_reader_status(&rd) == 0);
    FUZZ_CHECK(rd.ptr == enc + enc_size); /* the stream is consumed exactly */
    lic_symbol_writer_free(&w);
    return 0;
}
