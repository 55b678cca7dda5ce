/* Rate-distortion of the shipped default model on real photographs (testdata/photos), through the
 * public API: for every image, bpp (whole .lic file) and RGB PSNR must rise strictly with the quality,
 * and each must stay within a stated margin of the reference figures in tests/rd_reference.txt,
 * which were measured with this program:
 *
 *   test_rd                         check against tests/rd_reference.txt (ctest runs this)
 *   test_rd --write FILE            measure and write a new reference file (same format)
 *   test_rd --cpu-features MASK     either, with lic_config.cpu_features = MASK (0: C kernels only)
 *
 * The reference figures belong to the embedded model (the file records its fingerprint; a different
 * model fails the test with a message saying so): when models/default.licw is replaced, rerun
 *   build/bin/test_rd --write tests/rd_reference.txt
 * from the repository root, look at the new figures, and commit them with the model.
 *
 * Margins: PSNR within PSNR_MARGIN_DB, bpp within BPP_MARGIN_REL. The integer probability path is
 * exact on every CPU, so the symbols and the rate are the same on every machine except where a float
 * analysis value sits within rounding error of a quantization boundary (a few symbols at most); the
 * float synthesis differs between kernels by ~1e-6 relative, i.e. by at most one level on a few
 * pixels. Measured with the reference, AVX2 and AVX-512 kernels against the reference file: PSNR
 * within 0.0005 dB, bpp equal (to the 5 digits stored). The margins are 100x that, and well below the
 * smallest step between two qualities of the file (0.31 dB, 21% in bpp: q75 -> q95 on
 * picosdeeuropa.png), so a change in the codec that shifts the curve by a fraction of a quality step
 * fails the test. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "apps/image_io.h"
#include "lic/codec.h"

#define REFERENCE "tests/rd_reference.txt" /* relative to the repository root, where ctest runs */
#define PSNR_MARGIN_DB 0.05
#define BPP_MARGIN_REL 0.005

/* What the reference file is written from when there is none to read. */
static const char *const default_images[] = {"testdata/photos/seeding.png", "testdata/photos/picosdeeuropa.png",
                                             "testdata/photos/friends.png"};
static const int default_qualities[] = {5, 15, 30, 50, 75, 95};

#define MAX_IMAGES 8
#define MAX_Q 16

typedef struct rd_point {
    int q;
    double bpp, psnr;
} rd_point;

typedef struct rd_image {
    char path[256];
    int n;
    rd_point pt[MAX_Q];
} rd_image;

typedef struct rd_set {
    uint64_t fingerprint;
    int n;
    rd_image img[MAX_IMAGES];
} rd_set;

static const char *write_path;       /* --write FILE */
static uint32_t cpu_mask = LIC_CPU_ALL; /* --cpu-features MASK: to measure the kernels' spread */

/* Format: "model FINGERPRINT", then per image "image PATH" and "q Q bpp BPP psnr PSNR" lines;
 * '#' starts a comment line. */
static int read_reference(const char *path, rd_set *s)
{
    memset(s, 0, sizeof(*s));
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    rd_image *cur = NULL;
    while (fgets(line, sizeof(line), f)) {
        char word[16];
        if (line[0] == '#' || sscanf(line, "%15s", word) != 1)
            continue;
        if (!strcmp(word, "model")) {
            assert_int_equal(sscanf(line, "model %llx", (unsigned long long *)&s->fingerprint), 1);
        } else if (!strcmp(word, "image")) {
            assert_true(s->n < MAX_IMAGES);
            cur = &s->img[s->n++];
            assert_int_equal(sscanf(line, "image %255s", cur->path), 1);
        } else if (!strcmp(word, "q")) {
            assert_non_null(cur);
            assert_true(cur->n < MAX_Q);
            rd_point *p = &cur->pt[cur->n++];
            assert_int_equal(sscanf(line, "q %d bpp %lf psnr %lf", &p->q, &p->bpp, &p->psnr), 3);
        } else {
            fail_msg("%s: unknown line: %s", path, line);
        }
    }
    fclose(f);
    assert_true(s->n > 0);
    return 0;
}

static double psnr_rgb(const app_image *a, const lic_image *b)
{
    double sse = 0;
    for (uint32_t y = 0; y < a->height; y++)
        for (uint32_t x = 0; x < a->width * 3; x++) {
            double d = (double)a->data[y * a->stride + x] - (double)b->data[y * b->stride + x];
            sse += d * d;
        }
    double n = 3.0 * a->width * a->height;
    return sse > 0 ? 10.0 * log10(255.0 * 255.0 * n / sse) : 100.0;
}

/* Encodes and decodes `path` at each quality of `im` (q filled in), filling bpp and PSNR. */
static void measure(lic_encoder *enc, lic_decoder *dec, rd_image *im)
{
    app_image src;
    char msg[256];
    if (app_image_read(im->path, NULL, &src, msg, sizeof(msg)) != 0)
        fail_msg("cannot read %s: %s", im->path, msg);
    assert_int_equal(src.channels, 3);
    lic_image img = {src.width, src.height, LIC_PIXFMT_RGB8, src.data, src.stride};
    for (int i = 0; i < im->n; i++) {
        uint8_t *bits = NULL;
        size_t n = 0;
        assert_int_equal(lic_encode(enc, &img, im->pt[i].q, &bits, &n), 0);
        lic_image out;
        assert_int_equal(lic_decode(dec, bits, n, &out), 0);
        assert_int_equal(out.width, src.width);
        assert_int_equal(out.height, src.height);
        assert_int_equal(out.fmt, LIC_PIXFMT_RGB8);
        im->pt[i].bpp = 8.0 * (double)n / ((double)src.width * src.height);
        im->pt[i].psnr = psnr_rgb(&src, &out);
        lic_image_free(&out);
        lic_free(bits);
    }
    app_image_free(&src);
}

static void test_rd(void **state)
{
    (void)state;
    lic_config cfg;
    assert_int_equal(lic_config_init(&cfg), 0);
    cfg.backend = LIC_BACKEND_CPU; /* the margins are those of the CPU kernels */
    cfg.cpu_features = cpu_mask;
    lic_model *m = NULL;
    assert_int_equal(lic_model_load_default(&m, &cfg), 0);
    lic_model_info info;
    assert_int_equal(lic_model_get_info(m, &info), 0);
    lic_encoder *enc = NULL;
    lic_decoder *dec = NULL;
    assert_int_equal(lic_encoder_open(&enc, m, &cfg), 0);
    assert_int_equal(lic_decoder_open(&dec, m, &cfg), 0);

    static rd_set ref, got;
    if (write_path) {
        memset(&ref, 0, sizeof(ref));
        ref.fingerprint = info.fingerprint;
        ref.n = (int)(sizeof(default_images) / sizeof(default_images[0]));
        for (int k = 0; k < ref.n; k++) {
            snprintf(ref.img[k].path, sizeof(ref.img[k].path), "%s", default_images[k]);
            ref.img[k].n = (int)(sizeof(default_qualities) / sizeof(default_qualities[0]));
            for (int i = 0; i < ref.img[k].n; i++)
                ref.img[k].pt[i].q = default_qualities[i];
        }
    } else {
        if (read_reference(REFERENCE, &ref) != 0)
            fail_msg("cannot open %s", REFERENCE);
        if (ref.fingerprint != info.fingerprint)
            fail_msg("%s was measured with model %016llx, the embedded model is %016llx: regenerate it with "
                     "'test_rd --write %s' (see tests/test_rd.c)", REFERENCE, (unsigned long long)ref.fingerprint,
                     (unsigned long long)info.fingerprint, REFERENCE);
    }
    got = ref;
    for (int k = 0; k < got.n; k++) {
        rd_image *im = &got.img[k];
        measure(enc, dec, im);
        for (int i = 0; i < im->n; i++) {
            const rd_point *p = &im->pt[i], *r = &ref.img[k].pt[i];
            print_message("  %-34s q %3d  bpp %.4f  PSNR %6.3f dB", im->path, p->q, p->bpp, p->psnr);
            if (!write_path)
                print_message("  (reference %.4f, %6.3f: %+.2f%%, %+.3f dB)", r->bpp, r->psnr,
                              100.0 * (p->bpp / r->bpp - 1.0), p->psnr - r->psnr);
            print_message("\n");
        }
        /* Monotonic in q: both rate and quality strictly increase. */
        for (int i = 1; i < im->n; i++) {
            assert_true(im->pt[i].q > im->pt[i - 1].q);
            if (!(im->pt[i].bpp > im->pt[i - 1].bpp && im->pt[i].psnr > im->pt[i - 1].psnr))
                fail_msg("%s: q %d -> %d: bpp %.4f -> %.4f, PSNR %.3f -> %.3f: not increasing", im->path,
                         im->pt[i - 1].q, im->pt[i].q, im->pt[i - 1].bpp, im->pt[i].bpp, im->pt[i - 1].psnr,
                         im->pt[i].psnr);
        }
        if (write_path)
            continue;
        for (int i = 0; i < im->n; i++) {
            const rd_point *p = &im->pt[i], *r = &ref.img[k].pt[i];
            if (fabs(p->psnr - r->psnr) > PSNR_MARGIN_DB)
                fail_msg("%s q %d: PSNR %.3f dB, reference %.3f (margin %.2f dB)", im->path, p->q, p->psnr, r->psnr,
                         PSNR_MARGIN_DB);
            if (fabs(p->bpp / r->bpp - 1.0) > BPP_MARGIN_REL)
                fail_msg("%s q %d: %.4f bpp, reference %.4f (margin %.1f%%)", im->path, p->q, p->bpp, r->bpp,
                         100.0 * BPP_MARGIN_REL);
        }
    }

    if (write_path) {
        FILE *f = fopen(write_path, "w");
        assert_non_null(f);
        fprintf(f, "# Rate-distortion of the embedded default model on testdata/photos, measured by tests/test_rd.c;\n"
                   "# the test checks bpp and PSNR against these figures (margins in tests/test_rd.c).\n"
                   "# Regenerate (from the repository root, after replacing models/default.licw and building):\n"
                   "#   build/bin/test_rd --write tests/rd_reference.txt\n"
                   "# bpp: whole .lic file, header included; PSNR: RGB, one MSE over all samples.\n");
        fprintf(f, "model %016llx\n", (unsigned long long)got.fingerprint);
        for (int k = 0; k < got.n; k++) {
            fprintf(f, "image %s\n", got.img[k].path);
            for (int i = 0; i < got.img[k].n; i++)
                fprintf(f, "q %d bpp %.5f psnr %.4f\n", got.img[k].pt[i].q, got.img[k].pt[i].bpp,
                        got.img[k].pt[i].psnr);
        }
        assert_int_equal(fclose(f), 0);
        print_message("wrote %s\n", write_path);
    }
    lic_encoder_close(&enc);
    lic_decoder_close(&dec);
    lic_model_release(&m);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--write") && i + 1 < argc) {
            write_path = argv[++i];
        } else if (!strcmp(argv[i], "--cpu-features") && i + 1 < argc) {
            cpu_mask = (uint32_t)strtoul(argv[++i], NULL, 0);
        } else {
            fprintf(stderr, "usage: test_rd [--write FILE] [--cpu-features MASK]   (from the repository root)\n");
            return 2;
        }
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
