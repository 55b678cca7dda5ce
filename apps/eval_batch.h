/* lic-eval --batch: throughput of the batch API (lic_encode_batch / lic_decode_batch) over an image
 * set at one quality, each batch result checked against the one-image result lic-eval measured
 * before. */
#ifndef LIC_APPS_EVAL_BATCH_H
#define LIC_APPS_EVAL_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include <lic/codec.h>

/* 64-bit FNV-1a of bytes, continuing from h (start with APP_FNV_BASIS): lic-eval's fingerprint of a
 * stream and of decoded pixels, to compare batch results with one-image ones without keeping both. */
#define APP_FNV_BASIS 0xcbf29ce484222325ull
uint64_t app_fnv1a64(uint64_t h, const void *data, size_t n);

/* The FNV-1a of an image's pixels, row by row (the stride's padding excluded). */
uint64_t app_pixels_hash(const lic_image *img);

/* The median of v[0..n), n >= 1; reorders v. lic-eval's timings of repeated runs, one image's and a
 * batch pass's alike. */
double app_median(double *v, int n);

/* What one image at one quality must come out as: the one-image run's hashes. */
typedef struct eval_batch_ref {
    const lic_image *img;
    uint64_t stream_hash;   /* app_fnv1a64 of the .lic bytes */
    uint64_t pixels_hash;   /* app_pixels_hash of the decoded image */
    uint64_t symbols_hash, params_hash; /* lic_stats of the encode */
} eval_batch_ref;

/* Wall seconds of one pass over the set, encode and decode. */
typedef struct eval_batch_times {
    double enc, dec;
} eval_batch_times;

/* Encodes refs[0..n) at quality q with one lic_encode_batch call, then decodes those streams with
 * one lic_decode_batch call; does that 1 + timed_runs times and returns in *t the wall time of the
 * single pass (timed_runs 0) or the medians of the timed passes after the first. Every pass's
 * results are compared with refs; a difference is printed (naming names[i]) and counted in
 * *mismatches. Returns 0, or an APP_EXIT_* code after printing why when an item or a call fails. */
int eval_batch_quality(lic_batch_encoder *be, lic_batch_decoder *bd, const eval_batch_ref *refs,
                       const char *const *names, size_t n, int q, int timed_runs, eval_batch_times *t,
                       int *mismatches);

#endif /* LIC_APPS_EVAL_BATCH_H */
