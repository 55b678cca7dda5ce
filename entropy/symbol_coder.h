/* lic entropy: coding integer symbols with quantized CDF tables (16-bit precision) through rANS,
 * with a bypass escape so that any int32 value is codable.
 *
 * Conventions (CompressAI's, see docs/FORMAT.md):
 *  - A table holds n_cdfs rows. Row r has length[r] entries cdf[r][0..length[r]-1], with cdf[0] = 0,
 *    cdf[length-1] = 65536 and strictly increasing values (every symbol has frequency >= 1). The row
 *    describes length[r]-1 symbols: the values offset[r] .. offset[r] + length[r] - 3, then one final
 *    escape symbol.
 *  - A value v outside that range is coded as the escape symbol followed by bypass bits (see
 *    symbol_coder.c). Escapes cost bits but never fail.
 *  - The decoder never reads outside [data, data + size): past the end it sees zero bytes and sets a
 *    sticky overrun flag, which lic_symbol_reader_status() reports as LIC_EBITSTREAM. Every decode
 *    call does bounded work, whatever the bytes are. */
#ifndef LIC_ENTROPY_SYMBOL_CODER_H
#define LIC_ENTROPY_SYMBOL_CODER_H

#include <stddef.h>
#include <stdint.h>

#include "lic/common.h"

#define LIC_CDF_PRECISION 16
#define LIC_CDF_MAX_LENGTH 4096 /* longest row accepted (CompressAI's widest Gaussian row is 3133) */

typedef struct lic_cdf_table {
    const int32_t *cdf;     /* n_cdfs rows of `stride` entries each */
    const int32_t *length;  /* [n_cdfs] entries used in each row, 3..min(stride, LIC_CDF_MAX_LENGTH) */
    const int32_t *offset;  /* [n_cdfs] value of each row's first symbol */
    int n_cdfs;
    int stride;
} lic_cdf_table;

/* Checks a table read from a file: the rules above, for every row. Returns 0 or LIC_EMODEL. */
int lic_cdf_table_validate(const lic_cdf_table *t);

/* Ideal cost in bits of coding `value` with row `row` (escape bits included): for tests and rate
 * estimates. */
double lic_cdf_cost_bits(const lic_cdf_table *t, int row, int32_t value);

/* ---- encoder ---- */

/* Collects symbols in coding order, then writes the rANS stream (rANS codes in reverse, so nothing is
 * written until finish). Memory grows through the allocator as symbols are added. */
typedef struct lic_symbol_writer lic_symbol_writer;

/* `alloc` must be filled (non-NULL alloc and free) and outlive the writer. */
int lic_symbol_writer_create(lic_symbol_writer **out, const lic_allocator *alloc);
/* Forgets all collected symbols; keeps memory for reuse. */
void lic_symbol_writer_reset(lic_symbol_writer *w);
/* Appends one symbol coded with row `row` of `t`. The table must stay valid until finish.
 * Returns 0, LIC_EINVAL (row out of range) or LIC_ENOMEM. */
int lic_symbol_writer_put(lic_symbol_writer *w, const lic_cdf_table *t, int row, int32_t value);
/* Encodes everything collected. *out points into memory owned by the writer, valid until the next
 * reset/put/free. Returns 0 or LIC_ENOMEM. */
int lic_symbol_writer_finish(lic_symbol_writer *w, const uint8_t **out, size_t *size);
void lic_symbol_writer_free(lic_symbol_writer **w);

/* ---- decoder ---- */

/* Plain struct so it can live on the stack; fields are private to symbol_coder.c. */
typedef struct lic_symbol_reader {
    const uint8_t *ptr, *end;
    uint64_t state;
    int overrun;
} lic_symbol_reader;

/* Starts decoding a stream made by lic_symbol_writer_finish. Never fails; a stream too short to
 * hold the initial state sets the overrun flag. */
void lic_symbol_reader_init(lic_symbol_reader *r, const uint8_t *data, size_t size);
/* Decodes one value with row `row` of `t` (the caller guarantees 0 <= row < t->n_cdfs). */
int32_t lic_symbol_reader_get(lic_symbol_reader *r, const lic_cdf_table *t, int row);
/* 0 if the stream has been consumed without reading past its end, else LIC_EBITSTREAM. */
int lic_symbol_reader_status(const lic_symbol_reader *r);

#endif /* LIC_ENTROPY_SYMBOL_CODER_H */
