/* Many threads sharing one model (robustness issue). The model is immutable after load and
 * reference-counted; every thread opens its own decoders/encoders on it, decodes a mix of streams of
 * different sizes (so each context reuses and regrows its workspace) and checks every result against
 * references made up front on one thread. Contexts are opened and closed concurrently, and the
 * loading thread drops its model reference while the workers still run. Run under TSan by
 * scripts/test_sanitize.sh when it is available.
 *
 *   test_threads [--threads N] [--rounds R]   defaults: 8 threads, 6 rounds */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lic/codec.h"

#define N_STREAMS 4
#define MAX_THREADS 64

static int g_threads = 8, g_rounds = 6;

typedef struct ref_stream {
    lic_image img;       /* source image */
    int quality;
    uint8_t *bits;       /* reference bitstream (1 thread) */
    size_t n;
    uint8_t *px;         /* reference decoded pixels */
    size_t px_bytes;
    uint64_t symbols_hash, params_hash;
} ref_stream;

typedef struct shared {
    lic_model *model;    /* the workers' borrowed pointer; each context holds its own reference */
    ref_stream refs[N_STREAMS];
    atomic_int go;       /* set once the main thread has dropped its own reference */
    atomic_long decodes, encodes, mismatches, errors;
} shared;

typedef struct worker {
    shared *sh;
    int id;
} worker;

static lic_image make_image(uint32_t w, uint32_t h, lic_pixfmt fmt, uint32_t seed)
{
    int ch = fmt == LIC_PIXFMT_GRAY8 ? 1 : 3;
    lic_image img = {w, h, fmt, malloc((size_t)w * h * ch), (ptrdiff_t)w * ch};
    assert_non_null(img.data);
    for (size_t i = 0; i < (size_t)w * h * ch; i++) {
        seed = seed * 1664525u + 1013904223u;
        img.data[i] = (uint8_t)(((i / ch) % w) * 255 / w / 2 + (seed >> 28) * 4);
    }
    return img;
}

static void *worker_main(void *arg)
{
    worker *wk = arg;
    shared *sh = wk->sh;
    while (!atomic_load(&sh->go))
        ;
    lic_config cfg;
    lic_config_init(&cfg);
    /* Mix single-threaded contexts with contexts that have their own worker pools. */
    cfg.n_threads = 1 + wk->id % 3;
    lic_decoder *dec = NULL;
    if (lic_decoder_open(&dec, sh->model, &cfg) != 0) {
        atomic_fetch_add(&sh->errors, 1);
        return NULL;
    }
    for (int r = 0; r < g_rounds; r++) {
        /* Odd threads reopen their decoder every round: concurrent model retain/release. */
        if (wk->id & 1) {
            lic_decoder_close(&dec);
            if (lic_decoder_open(&dec, sh->model, &cfg) != 0) {
                atomic_fetch_add(&sh->errors, 1);
                return NULL;
            }
        }
        for (int k = 0; k < N_STREAMS; k++) {
            const ref_stream *ref = &sh->refs[(k + wk->id + r) % N_STREAMS];
            lic_image out;
            lic_stats st;
            if (lic_decode(dec, ref->bits, ref->n, &out) != 0 || lic_decoder_get_stats(dec, &st) != 0) {
                atomic_fetch_add(&sh->errors, 1);
                continue;
            }
            if ((size_t)out.stride * out.height != ref->px_bytes || memcmp(out.data, ref->px, ref->px_bytes) != 0 ||
                st.symbols_hash != ref->symbols_hash || st.params_hash != ref->params_hash)
                atomic_fetch_add(&sh->mismatches, 1);
            lic_image_free(&out);
            atomic_fetch_add(&sh->decodes, 1);
        }
        /* Every fourth thread also encodes, on a short-lived encoder. */
        if (wk->id % 4 == 0) {
            const ref_stream *ref = &sh->refs[(wk->id + r) % N_STREAMS];
            lic_encoder *enc = NULL;
            uint8_t *bits;
            size_t n;
            if (lic_encoder_open(&enc, sh->model, &cfg) != 0 || lic_encode(enc, &ref->img, ref->quality, &bits, &n) != 0) {
                atomic_fetch_add(&sh->errors, 1);
            } else {
                if (n != ref->n || memcmp(bits, ref->bits, n) != 0)
                    atomic_fetch_add(&sh->mismatches, 1);
                lic_free(bits);
                atomic_fetch_add(&sh->encodes, 1);
            }
            lic_encoder_close(&enc);
        }
    }
    lic_decoder_close(&dec);
    return NULL;
}

static void test_shared_model(void **state)
{
    (void)state;
    static shared sh;
    memset(&sh, 0, sizeof sh);
    assert_int_equal(lic_model_load_file(&sh.model, "testdata/models/tiny.licw", NULL), 0);

    const struct { uint32_t w, h; lic_pixfmt fmt; int q; } specs[N_STREAMS] = {
        {17, 33, LIC_PIXFMT_RGB8, 90}, {200, 136, LIC_PIXFMT_RGB8, 40},
        {64, 130, LIC_PIXFMT_GRAY8, 70}, {129, 65, LIC_PIXFMT_RGB8, 5},
    };
    lic_config one;
    lic_config_init(&one);
    one.n_threads = 1;
    lic_encoder *enc = NULL;
    lic_decoder *dec = NULL;
    assert_int_equal(lic_encoder_open(&enc, sh.model, &one), 0);
    assert_int_equal(lic_decoder_open(&dec, sh.model, &one), 0);
    for (int k = 0; k < N_STREAMS; k++) {
        ref_stream *r = &sh.refs[k];
        r->img = make_image(specs[k].w, specs[k].h, specs[k].fmt, (uint32_t)k + 1);
        r->quality = specs[k].q;
        assert_int_equal(lic_encode(enc, &r->img, r->quality, &r->bits, &r->n), 0);
        lic_image out;
        lic_stats st;
        assert_int_equal(lic_decode(dec, r->bits, r->n, &out), 0);
        assert_int_equal(lic_decoder_get_stats(dec, &st), 0);
        r->px_bytes = (size_t)out.stride * out.height;
        r->px = malloc(r->px_bytes);
        memcpy(r->px, out.data, r->px_bytes);
        r->symbols_hash = st.symbols_hash;
        r->params_hash = st.params_hash;
        lic_image_free(&out);
    }

    pthread_t th[MAX_THREADS];
    worker wk[MAX_THREADS];
    for (int i = 0; i < g_threads; i++) {
        wk[i] = (worker){&sh, i};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &wk[i]), 0);
    }
    /* The reference contexts keep the model alive; the caller's own reference goes now, while the
     * workers start. The model must live until the last context closes. */
    lic_model *borrowed = sh.model;
    lic_model *mine = sh.model;
    lic_model_release(&mine);
    assert_null(mine);
    sh.model = borrowed;
    atomic_store(&sh.go, 1);
    for (int i = 0; i < g_threads; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);

    long expect_dec = (long)g_threads * g_rounds * N_STREAMS;
    print_message("%d threads x %d rounds: %ld decodes, %ld encodes, %ld mismatches, %ld errors\n", g_threads,
                  g_rounds, atomic_load(&sh.decodes), atomic_load(&sh.encodes), atomic_load(&sh.mismatches),
                  atomic_load(&sh.errors));
    assert_int_equal(atomic_load(&sh.errors), 0);
    assert_int_equal(atomic_load(&sh.mismatches), 0);
    assert_int_equal(atomic_load(&sh.decodes), expect_dec);

    for (int k = 0; k < N_STREAMS; k++) {
        lic_free(sh.refs[k].bits);
        free(sh.refs[k].px);
        free(sh.refs[k].img.data);
    }
    lic_decoder_close(&dec);
    lic_encoder_close(&enc); /* the last reference: the model is freed here (ASan/LSan would see a leak) */
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0)
            g_threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--rounds") == 0)
            g_rounds = atoi(argv[++i]);
    }
    if (g_threads < 1 || g_threads > MAX_THREADS || g_rounds < 1) {
        fprintf(stderr, "usage: %s [--threads 1..%d] [--rounds R>=1]\n", argv[0], MAX_THREADS);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
