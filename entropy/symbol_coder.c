/* lic entropy: integer symbols through quantized CDF rows and rANS (entropy/rans.h), with escapes.
 *
 * Escape / bypass scheme (any int32 value is codable with any row):
 *   A row with offset o and length n + 2 codes the values o .. o + n - 1 as symbol indices 0 .. n-1;
 *   index n (= length - 2) is the escape. A value v outside that range is coded as the escape symbol
 *   followed by bypass data, computed in int64 so no row/value combination overflows:
 *     above the range: u = v - (o + n),  m = 2u        (u >= 0)
 *     below the range: u = (o - 1) - v,  m = 2u + 1    (u >= 0)
 *   Then m is split into nc 4-bit chunks (nc = 0 for m = 0, else the smallest count holding m),
 *   coded as: nc (one uniform 4-bit symbol), then the chunks, least significant first (uniform 4-bit
 *   symbols). Every bypass symbol goes through the same rANS state with freq 4096 of 65536.
 *   Since |u| < 2^32, m < 2^34 and nc <= 9 (LIC_ESC_MAX_CHUNKS) for every int32 v and int32 o.
 *   Cost of an escape: cost(escape symbol) + 4 + 4 * nc bits.
 *   The decoder caps nc at 9 (a larger count, impossible from the encoder, sets the sticky error flag
 *   and is clamped to 9, so the work stays bounded), and a decoded value outside int32 sets the flag
 *   and is clamped to INT32_MIN/INT32_MAX. The sticky flag is the reader's `overrun` field: "this
 *   stream is not one the encoder could have produced".
 *
 * Stream layout: 8 bytes of flushed rANS state (little-endian), then 32-bit little-endian words in
 * decoding order. An empty stream is just the 8-byte initial state.
 *
 * Preconditions: tables given to the writer and reader have passed lic_cdf_table_validate (the model
 * loader checks them once); the coder does not re-check rows per symbol. */
#include "entropy/symbol_coder.h"

#include <math.h>
#include <string.h>

#include "entropy/rans.h"
#include "util/mem.h"

#define LIC_CDF_TOTAL (1 << LIC_CDF_PRECISION) /* 65536 */

#define LIC_ESC_CHUNK_BITS 4
#define LIC_ESC_MAX_CHUNKS 9 /* ceil(34 / 4): m < 2^34 always */
/* Uniform bypass symbol of 4 bits: freq 2^(16-4). */
#define LIC_ESC_FREQ (1u << (LIC_CDF_PRECISION - LIC_ESC_CHUNK_BITS))
/* rANS steps for one put: the row symbol, the chunk count, up to 9 chunks. Each step emits at most
 * one 4-byte word. */
#define LIC_MAX_STEPS_PER_SYMBOL (2 + LIC_ESC_MAX_CHUNKS)

/* ---- tables ---- */

int lic_cdf_table_validate(const lic_cdf_table *t)
{
    if (!t || !t->cdf || !t->length || !t->offset)
        return LIC_EMODEL;
    if (t->n_cdfs < 1 || t->stride < 3)
        return LIC_EMODEL;
    /* Row addressing is (size_t)row * stride + i: make sure the whole table is addressable. */
    if ((size_t)t->n_cdfs > SIZE_MAX / (size_t)t->stride)
        return LIC_EMODEL;
    const int max_len = t->stride < LIC_CDF_MAX_LENGTH ? t->stride : LIC_CDF_MAX_LENGTH;
    for (int r = 0; r < t->n_cdfs; r++) {
        const int32_t len = t->length[r];
        if (len < 3 || len > max_len)
            return LIC_EMODEL;
        /* The largest codable value, offset + len - 3, must be an int32 too. */
        if ((int64_t)t->offset[r] + len - 3 > INT32_MAX)
            return LIC_EMODEL;
        const int32_t *c = t->cdf + (size_t)r * (size_t)t->stride;
        if (c[0] != 0 || c[len - 1] != LIC_CDF_TOTAL)
            return LIC_EMODEL;
        for (int i = 1; i < len; i++)
            if (c[i] <= c[i - 1]) /* both in int32 range: no overflow in the comparison */
                return LIC_EMODEL;
    }
    return 0;
}

/* Maps an out-of-range value to its bypass magnitude m (see the top of the file). */
static uint64_t escape_magnitude(int64_t v, int64_t offset, int64_t n)
{
    if (v >= offset + n)
        return (uint64_t)(v - (offset + n)) << 1;
    return ((uint64_t)((offset - 1) - v) << 1) | 1;
}

static int escape_chunks(uint64_t m)
{
    int nc = 0;
    while (m) {
        nc++;
        m >>= LIC_ESC_CHUNK_BITS;
    }
    return nc;
}

double lic_cdf_cost_bits(const lic_cdf_table *t, int row, int32_t value)
{
    if (!t || row < 0 || row >= t->n_cdfs)
        return HUGE_VAL;
    const int32_t *c = t->cdf + (size_t)row * (size_t)t->stride;
    const int64_t len = t->length[row], n = len - 2, off = t->offset[row];
    const int64_t d = (int64_t)value - off;
    if (d >= 0 && d < n)
        return LIC_CDF_PRECISION - log2((double)(c[d + 1] - c[d]));
    const int nc = escape_chunks(escape_magnitude(value, off, n));
    return LIC_CDF_PRECISION - log2((double)(c[n + 1] - c[n])) + LIC_ESC_CHUNK_BITS * (1 + nc);
}

/* ---- writer ---- */

typedef struct sym_entry {
    const lic_cdf_table *t;
    int32_t row;
    int32_t value;
} sym_entry;

struct lic_symbol_writer {
    const lic_allocator *alloc;
    sym_entry *syms; /* [count] collected symbols, coding order */
    size_t count, cap;
    uint8_t *out; /* [out_cap] stream buffer; the stream is written backward into its tail */
    size_t out_cap;
};

int lic_symbol_writer_create(lic_symbol_writer **out, const lic_allocator *alloc)
{
    if (!out)
        return LIC_EINVAL;
    *out = NULL;
    if (!alloc || !alloc->alloc || !alloc->free)
        return LIC_EINVAL;
    lic_symbol_writer *w = lic_mem_zalloc(alloc, sizeof(*w));
    if (!w)
        return LIC_ENOMEM;
    w->alloc = alloc;
    *out = w;
    return 0;
}

void lic_symbol_writer_reset(lic_symbol_writer *w)
{
    if (w)
        w->count = 0;
}

void lic_symbol_writer_free(lic_symbol_writer **pw)
{
    if (!pw || !*pw)
        return;
    lic_symbol_writer *w = *pw;
    const lic_allocator *a = w->alloc;
    lic_mem_free(a, w->syms);
    lic_mem_free(a, w->out);
    lic_mem_free(a, w);
    *pw = NULL;
}

static int grow_syms(lic_symbol_writer *w)
{
    size_t cap = w->cap ? w->cap : 4096;
    while (cap <= w->count) {
        if (cap > SIZE_MAX / 2 / sizeof(sym_entry))
            return LIC_ENOMEM;
        cap *= 2;
    }
    const lic_allocator *a = w->alloc;
    sym_entry *s = lic_mem_alloc(a, cap * sizeof(sym_entry));
    if (!s)
        return LIC_ENOMEM;
    if (w->count)
        memcpy(s, w->syms, w->count * sizeof(sym_entry));
    lic_mem_free(a, w->syms);
    w->syms = s;
    w->cap = cap;
    return 0;
}

int lic_symbol_writer_put(lic_symbol_writer *w, const lic_cdf_table *t, int row, int32_t value)
{
    if (!w || !t || row < 0 || row >= t->n_cdfs)
        return LIC_EINVAL;
    if (w->count == w->cap) {
        int err = grow_syms(w);
        if (err)
            return err;
    }
    w->syms[w->count++] = (sym_entry){ t, row, value };
    return 0;
}

/* Makes sure at least `need` bytes are free below *pptr (NULL while there is no buffer). The written
 * part [*pptr, out + out_cap) moves to the tail of the new buffer. */
static int reserve_backward(lic_symbol_writer *w, uint8_t **pptr, size_t need)
{
    const size_t avail = w->out ? (size_t)(*pptr - w->out) : 0;
    if (avail >= need)
        return 0;
    const size_t used = w->out_cap - avail;
    size_t cap = w->out_cap ? w->out_cap : 1024;
    while (cap - used < need) {
        if (cap > SIZE_MAX / 2)
            return LIC_ENOMEM;
        cap *= 2;
    }
    const lic_allocator *a = w->alloc;
    uint8_t *buf = lic_mem_alloc(a, cap);
    if (!buf)
        return LIC_ENOMEM;
    if (used)
        memcpy(buf + cap - used, *pptr, used);
    lic_mem_free(a, w->out);
    w->out = buf;
    w->out_cap = cap;
    *pptr = buf + cap - used;
    return 0;
}

int lic_symbol_writer_finish(lic_symbol_writer *w, const uint8_t **out, size_t *size)
{
    if (!w || !out || !size)
        return LIC_EINVAL;
    *out = NULL;
    *size = 0;
    uint8_t *ptr = w->out ? w->out + w->out_cap : NULL;
    /* First guess: 2 bytes per symbol; it grows on demand and is kept for the next stream. */
    size_t guess = 64;
    if (w->count < (SIZE_MAX - guess) / 2)
        guess += 2 * w->count;
    int err = reserve_backward(w, &ptr, guess);
    if (err)
        return err;

    uint64_t x = lic_rans_enc_init();
    /* Room for one symbol's worst case plus the final flush. */
    const size_t room = 4 * LIC_MAX_STEPS_PER_SYMBOL + LIC_RANS_FLUSH_BYTES;
    for (size_t k = w->count; k-- > 0;) {
        if ((size_t)(ptr - w->out) < room) {
            err = reserve_backward(w, &ptr, room);
            if (err)
                return err;
        }
        const sym_entry *e = &w->syms[k];
        const lic_cdf_table *t = e->t;
        const int32_t *c = t->cdf + (size_t)e->row * (size_t)t->stride;
        const int64_t len = t->length[e->row], n = len - 2, off = t->offset[e->row];
        const int64_t d = (int64_t)e->value - off;
        if (d >= 0 && d < n) {
            lic_rans_enc_put(&x, &ptr, (uint32_t)c[d], (uint32_t)(c[d + 1] - c[d]));
            continue;
        }
        /* Escape: coding order is [escape][nc][chunk 0]..[chunk nc-1]; rANS is LIFO, so encode the
         * last chunk first and the escape symbol last. */
        const uint64_t m = escape_magnitude(e->value, off, n);
        const int nc = escape_chunks(m);
        for (int i = nc; i-- > 0;) {
            const uint32_t chunk = (uint32_t)(m >> (LIC_ESC_CHUNK_BITS * i)) & 15u;
            lic_rans_enc_put(&x, &ptr, chunk * LIC_ESC_FREQ, LIC_ESC_FREQ);
        }
        lic_rans_enc_put(&x, &ptr, (uint32_t)nc * LIC_ESC_FREQ, LIC_ESC_FREQ);
        lic_rans_enc_put(&x, &ptr, (uint32_t)c[n], (uint32_t)(c[n + 1] - c[n]));
    }
    if ((size_t)(ptr - w->out) < LIC_RANS_FLUSH_BYTES) {
        err = reserve_backward(w, &ptr, LIC_RANS_FLUSH_BYTES);
        if (err)
            return err;
    }
    lic_rans_enc_flush(x, &ptr);
    *out = ptr;
    *size = (size_t)(w->out + w->out_cap - ptr);
    return 0;
}

/* ---- reader ---- */

void lic_symbol_reader_init(lic_symbol_reader *r, const uint8_t *data, size_t size)
{
    static const uint8_t empty[1];
    if (!data) { /* no stream at all: read as an empty one (pointer arithmetic on NULL is UB) */
        data = empty;
        size = 0;
    }
    r->overrun = 0;
    r->ptr = data;
    r->end = data + size;
    r->state = lic_rans_dec_init(&r->ptr, r->end, &r->overrun);
}

/* Decodes one uniform 4-bit bypass symbol. */
static uint32_t get_nibble(lic_symbol_reader *r)
{
    const uint32_t v = lic_rans_dec_slot(r->state) >> (LIC_CDF_PRECISION - LIC_ESC_CHUNK_BITS);
    lic_rans_dec_advance(&r->state, &r->ptr, r->end, &r->overrun, v * LIC_ESC_FREQ, LIC_ESC_FREQ);
    return v;
}

int32_t lic_symbol_reader_get(lic_symbol_reader *r, const lic_cdf_table *t, int row)
{
    if (row < 0 || row >= t->n_cdfs) { /* caller bug; stay deterministic and flag the stream */
        r->overrun = 1;
        return 0;
    }
    const int32_t *c = t->cdf + (size_t)row * (size_t)t->stride;
    const int32_t len = t->length[row];
    const int32_t off = t->offset[row];
    const uint32_t slot = lic_rans_dec_slot(r->state);
    /* Binary search for the symbol s in [0, len-2] with c[s] <= slot < c[s+1]; c[0] = 0 and
     * c[len-1] = 65536 > slot bracket it. Invariant: s is in [lo, lo + count). Branch-free body (the
     * comparison is data-dependent and unpredictable); ceil(log2(len - 1)) <= 12 steps. */
    int32_t lo = 0, count = len - 1;
    while (count > 1) {
        const int32_t half = count >> 1;
        lo = (uint32_t)c[lo + half] <= slot ? lo + half : lo;
        count -= half;
    }
    lic_rans_dec_advance(&r->state, &r->ptr, r->end, &r->overrun, (uint32_t)c[lo],
                         (uint32_t)(c[lo + 1] - c[lo]));
    const int32_t n = len - 2;
    if (lo < n)
        return (int32_t)((int64_t)off + lo); /* fits: validated tables keep off + n - 1 <= INT32_MAX */

    /* Escape: chunk count, then chunks, least significant first. */
    uint32_t nc = get_nibble(r);
    if (nc > LIC_ESC_MAX_CHUNKS) {
        r->overrun = 1;
        nc = LIC_ESC_MAX_CHUNKS;
    }
    uint64_t m = 0;
    for (uint32_t i = 0; i < nc; i++)
        m |= (uint64_t)get_nibble(r) << (LIC_ESC_CHUNK_BITS * i);
    /* m < 2^36, so u < 2^35 and every sum below stays far inside int64. */
    const int64_t u = (int64_t)(m >> 1);
    const int64_t v = (m & 1) ? (int64_t)off - 1 - u : (int64_t)off + n + u;
    if (v > INT32_MAX) {
        r->overrun = 1;
        return INT32_MAX;
    }
    if (v < INT32_MIN) {
        r->overrun = 1;
        return INT32_MIN;
    }
    return (int32_t)v;
}

int lic_symbol_reader_status(const lic_symbol_reader *r)
{
    return r->overrun ? LIC_EBITSTREAM : 0;
}
