/* lic entropy: the rANS core (internal, header-only). Included only by entropy/ sources.
 *
 * READ ME FIRST
 *  - rANS is last-in, first-out. The encoder must be fed the symbols in REVERSE coding order (last
 *    symbol first); the decoder then yields them in forward order.
 *  - The encoder's output grows BACKWARD: lic_rans_enc_put() and lic_rans_enc_flush() store bytes
 *    just below *pptr and move *pptr down. The caller provides the room: at most 4 bytes per put and
 *    8 bytes for the flush. The finished stream is [*pptr, end of buffer): it starts with the flushed
 *    state, so the decoder initializes from the front and reads forward.
 *  - The decoder is given an end pointer and never reads at or past it. When a renormalization needs
 *    a word that is not there, it feeds zeros instead and sets the sticky `overrun` flag; decoding
 *    then continues deterministically (garbage out, bounded work), and the caller reports the flag.
 *
 * Design: ryg-style rANS with a 64-bit state emitting 32-bit words (rather than a 32-bit state with
 * byte-wise renormalization), because
 *  - at most one renormalization happens per symbol in each direction, so there is no loop in the
 *    hot path and the work per symbol is bounded by construction, even on garbage input;
 *  - the state interval [2^31, 2^63) is so much wider than the 16-bit frequency precision that the
 *    coding loss from the integer division is negligible (tests/test_entropy_coder.c measures the
 *    coded size within 0.01% of the ideal over 1.3M symbols), which keeps even near-certain
 *    symbols (freq 65535 of 65536) at their ideal cost;
 *  - the whole state fits the reader's uint64_t field.
 *
 * Invariants (M = 2^LIC_RANS_SCALE_BITS = 65536 is the total frequency, L = 2^31):
 *  - encoder and (valid) decoder states lie in [L, 2^63) between symbols;
 *  - a symbol is an interval [start, start + freq) of [0, M) with 1 <= freq and start + freq <= M;
 *  - the stream: 8 bytes of final encoder state, little-endian, then 32-bit little-endian words in the
 *    order the decoder consumes them (the reverse of the order the encoder emitted them).
 * Byte order is explicit (shifts, not memcpy), so streams are portable across hosts. */
#ifndef LIC_ENTROPY_RANS_H
#define LIC_ENTROPY_RANS_H

#include <stdint.h>

#define LIC_RANS_SCALE_BITS 16
#define LIC_RANS_L (UINT64_C(1) << 31) /* lower bound of the normalized state interval */
#define LIC_RANS_FLUSH_BYTES 8

/* ---- encoder ---- */

static inline uint64_t lic_rans_enc_init(void)
{
    return LIC_RANS_L;
}

/* Encodes the symbol [start, start + freq). May store one 32-bit word below *pptr. */
static inline void lic_rans_enc_put(uint64_t *state, uint8_t **pptr, uint32_t start, uint32_t freq)
{
    uint64_t x = *state;
    /* Renormalize so that the coding step below lands in [L, 2^63): x must be < x_max, where
     * x_max = (L / M) * 2^32 * freq <= 2^63 (no overflow for freq <= M). */
    const uint64_t x_max = ((LIC_RANS_L >> LIC_RANS_SCALE_BITS) << 32) * freq;
    if (x >= x_max) {
        uint8_t *p = *pptr - 4;
        p[0] = (uint8_t)x;
        p[1] = (uint8_t)(x >> 8);
        p[2] = (uint8_t)(x >> 16);
        p[3] = (uint8_t)(x >> 24);
        *pptr = p;
        x >>= 32;
    }
    /* C(x, s) = floor(x / freq) * M + (x mod freq) + start */
    *state = ((x / freq) << LIC_RANS_SCALE_BITS) + (x % freq) + start;
}

/* Stores the final state (8 bytes) below *pptr; the stream then starts at *pptr. */
static inline void lic_rans_enc_flush(uint64_t state, uint8_t **pptr)
{
    uint8_t *p = *pptr - LIC_RANS_FLUSH_BYTES;
    for (int i = 0; i < LIC_RANS_FLUSH_BYTES; i++)
        p[i] = (uint8_t)(state >> (8 * i));
    *pptr = p;
}

/* ---- decoder ---- */

/* Reads the initial state from [*pptr, end). A stream shorter than 8 bytes, or a state outside the
 * interval an encoder can produce, sets *overrun (the missing bytes read as zero). */
static inline uint64_t lic_rans_dec_init(const uint8_t **pptr, const uint8_t *end, int *overrun)
{
    const uint8_t *p = *pptr;
    uint64_t x = 0;
    for (int i = 0; i < LIC_RANS_FLUSH_BYTES; i++) {
        if (p < end)
            x |= (uint64_t)*p++ << (8 * i);
        else
            *overrun = 1;
    }
    if (x < LIC_RANS_L || x >= (UINT64_C(1) << 63))
        *overrun = 1;
    *pptr = p;
    return x;
}

/* The slot in [0, M) that identifies the next symbol: the caller finds the symbol whose interval
 * [start, start + freq) contains it, then calls lic_rans_dec_advance. */
static inline uint32_t lic_rans_dec_slot(uint64_t state)
{
    return (uint32_t)(state & ((UINT64_C(1) << LIC_RANS_SCALE_BITS) - 1));
}

/* Removes the symbol [start, start + freq) (which must contain the current slot) from the state and
 * renormalizes, reading at most one word. No overflow or underflow for any state: slot >= start and
 * freq * (x >> 16) + freq - 1 < 2^64. */
static inline void lic_rans_dec_advance(uint64_t *state, const uint8_t **pptr, const uint8_t *end,
                                        int *overrun, uint32_t start, uint32_t freq)
{
    const uint64_t mask = (UINT64_C(1) << LIC_RANS_SCALE_BITS) - 1;
    uint64_t x = *state;
    x = freq * (x >> LIC_RANS_SCALE_BITS) + (x & mask) - start;
    if (x < LIC_RANS_L) {
        const uint8_t *p = *pptr;
        uint32_t w = 0;
        if (end - p >= 4) {
            w = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
            p += 4;
        } else {
            /* Not enough bytes: feed zeros, consume what is left so the next read fails too. */
            p = end;
            *overrun = 1;
        }
        *pptr = p;
        x = (x << 32) | w;
    }
    *state = x;
}

#endif /* LIC_ENTROPY_RANS_H */
