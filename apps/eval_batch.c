/* lic-eval --batch: one quality's pass through the batch API (apps/eval_batch.h). */
#include "apps/eval_batch.h"

#include <stdlib.h>
#include <string.h>

#include "apps/cli_common.h"

static const char *const PROG = "lic-eval";

uint64_t app_fnv1a64(uint64_t h, const void *data, size_t n)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t app_pixels_hash(const lic_image *img)
{
    size_t row = (size_t)img->width * (img->fmt == LIC_PIXFMT_GRAY8 ? 1 : 3);
    uint64_t h = APP_FNV_BASIS;
    for (uint32_t y = 0; y < img->height; y++)
        h = app_fnv1a64(h, img->data + (ptrdiff_t)y * img->stride, row);
    return h;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double app_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void free_streams(lic_batch_encode_item *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        lic_free(e[i].data);
        e[i].data = NULL;
    }
}

/* One encode pass into e[] (whose previous streams the caller has freed); checks every item. */
static int encode_pass(lic_batch_encoder *be, lic_batch_encode_item *e, const eval_batch_ref *refs,
                       const char *const *names, size_t n, int q, double *wall, int *mismatches)
{
    memset(e, 0, n * sizeof(*e));
    for (size_t i = 0; i < n; i++) {
        e[i].image = refs[i].img;
        e[i].quality = q;
    }
    double t0 = app_now();
    int r = lic_encode_batch(be, e, n);
    *wall = app_now() - t0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].status) {
            app_err(PROG, "batch: cannot encode '%s' at quality %d: %s", names[i], q, lic_strerror(e[i].status));
            return app_exit_from_lic(e[i].status);
        }
        if (app_fnv1a64(APP_FNV_BASIS, e[i].data, e[i].size) != refs[i].stream_hash ||
            e[i].stats.symbols_hash != refs[i].symbols_hash || e[i].stats.params_hash != refs[i].params_hash) {
            app_err(PROG, "batch: '%s' q %d: the batch encoder's stream differs from lic_encode's", names[i], q);
            ++*mismatches;
        }
    }
    return r ? app_exit_from_lic(r) : 0; /* r != 0 implies a failed item, reported above */
}

/* One decode pass of the streams in e[]; checks every item against the reference pixels and hashes. */
static int decode_pass(lic_batch_decoder *bd, lic_batch_decode_item *d, const lic_batch_encode_item *e,
                       const eval_batch_ref *refs, const char *const *names, size_t n, int q, double *wall,
                       int *mismatches)
{
    memset(d, 0, n * sizeof(*d));
    for (size_t i = 0; i < n; i++) {
        d[i].data = e[i].data;
        d[i].size = e[i].size;
    }
    double t0 = app_now();
    int r = lic_decode_batch(bd, d, n);
    *wall = app_now() - t0;
    int code = 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i].status) {
            if (!code) {
                app_err(PROG, "batch: cannot decode the stream of '%s' (quality %d): %s", names[i], q,
                        lic_strerror(d[i].status));
                code = app_exit_from_lic(d[i].status);
            }
            continue;
        }
        if (app_pixels_hash(&d[i].image) != refs[i].pixels_hash ||
            d[i].stats.symbols_hash != refs[i].symbols_hash || d[i].stats.params_hash != refs[i].params_hash) {
            app_err(PROG, "batch: '%s' q %d: the batch decoder's image differs from lic_decode's", names[i], q);
            ++*mismatches;
        }
        lic_image_free(&d[i].image);
    }
    if (!code && r)
        code = app_exit_from_lic(r);
    return code;
}

int eval_batch_quality(lic_batch_encoder *be, lic_batch_decoder *bd, const eval_batch_ref *refs,
                       const char *const *names, size_t n, int q, int timed_runs, eval_batch_times *t,
                       int *mismatches)
{
    t->enc = t->dec = 0;
    if (n == 0)
        return 0;
    lic_batch_encode_item *first = calloc(n, sizeof(*first)), *again = calloc(n, sizeof(*again));
    lic_batch_decode_item *d = calloc(n, sizeof(*d));
    double *enc_wall = calloc((size_t)timed_runs + 1, sizeof(double));
    double *dec_wall = calloc((size_t)timed_runs + 1, sizeof(double));
    int code = 0;
    if (!first || !again || !d || !enc_wall || !dec_wall) {
        app_err(PROG, "out of memory");
        code = APP_EXIT_FAILURE;
        goto done;
    }
    /* The first pass's streams are decoded by every decode pass; later encode passes are only timed
     * and checked. */
    for (int run = 0; run <= timed_runs && !code; run++) {
        lic_batch_encode_item *e = run ? again : first;
        code = encode_pass(be, e, refs, names, n, q, &enc_wall[run], mismatches);
        if (run)
            free_streams(again, n);
        if (!code)
            code = decode_pass(bd, d, first, refs, names, n, q, &dec_wall[run], mismatches);
    }
    if (!code) {
        t->enc = timed_runs ? app_median(enc_wall + 1, timed_runs) : enc_wall[0];
        t->dec = timed_runs ? app_median(dec_wall + 1, timed_runs) : dec_wall[0];
    }
done:
    if (first)
        free_streams(first, n);
    if (again)
        free_streams(again, n);
    free(first);
    free(again);
    free(d);
    free(enc_wall);
    free(dec_wall);
    return code;
}
