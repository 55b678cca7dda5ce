/* Conformance of the C codec with the PyTorch mirror (train/lic_model.py), on the vectors in
 * testdata/conformance/ (format and regeneration command: testdata/conformance/README.md).
 *
 *   test_conformance [--cpu ref|avx2|avx512] [DIR]
 * DIR (default testdata/conformance, relative to the repository root) holds manifest.txt. --cpu pins
 * the CPU kernels through lic_config.cpu_features: ref = the C kernels (mask 0), avx2 = LIC_CPU_AVX2,
 * avx512 = LIC_CPU_ALL (AVX-512 float kernels and the AVX-512 VNNI integer kernel). The test checks
 * that exactly those kernels were selected and says which ran; when the build or the CPU lacks them
 * it exits with LIC_TEST_SKIP, which ctest reports as skipped (tests/conformance.cmake).
 *
 * For every case (model, image, quality; RGB or gray) of the manifest, stage by stage through the
 * engine (codec/engine.h), on the CPU backend:
 *  - gains: lic_engine_gains equals the PyTorch gains bit for bit.
 *  - float stages y = g_a(x), y' = y * gain, z = h_a(y'), and x_s = g_s(y-hat) (fed the exact same
 *    y-hat as PyTorch) within FLOAT_TOL_* (below). They cannot be bit-exact: the fast C kernels use
 *    FMA and other summation orders than PyTorch's oneDNN/BLAS.
 *  - the integer probability path exactly, given identical symbols: the PyTorch z and y symbols are
 *    rANS-coded with the C symbol writer (z: row = channel; y: row = PyTorch's scale index, coding
 *    order) and decoded by lic_engine_code_latents. z-hat, the hyper-synthesis output, y-hat' and the
 *    means (y-hat' - 256 * symbol) must equal PyTorch's element for element; the decoder's symbol and
 *    (mean, scale index) hashes must equal PyTorch's (so every scale index in coding order agrees,
 *    else the rANS decode would not return the PyTorch symbols either); the stream is consumed exactly.
 *  - re-encoding: the C encoder fed y' = y-hat'/256 and z = z-hat / 2^zf (values whose quantization
 *    is exact) writes byte-identical streams, i.e. it chooses the same symbol and row everywhere.
 *  - the C encoder on its own float y', z: every z-hat that differs from PyTorch's, and the first
 *    y-hat' (in coding order) that does, must lie within the float tolerance of a rounding boundary.
 *  - decoder-side y-hat = y-hat'/256 * gain_inv (as codec/decoder.c computes it) bit for bit.
 *  - the whole public API: lic_encode's .lic is within RATE_TOL of the rate PyTorch estimates from
 *    the integer CDF tables (plus the rANS flush of each stream, see RATE_*), and lic_decode's
 *    pixels are within +-1 level of PyTorch's on at most RECON_MAX_FRAC of the values.
 * The measured numbers are printed for every case. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/engine.h"
#include "lic/codec.h"
#include "tests/test_support.h"
#include "transforms/ilayers.h"

/* Set by main from the command line. */
static const char *conf_dir = "testdata/conformance"; /* relative to the repo root, where ctest runs */
static uint32_t cpu_mask = LIC_CPU_ALL;
static const char *want_float_kernel, *want_int_kernel; /* NULL: whatever the default config picks */

/* Float tolerances, relative to the reference tensor's largest magnitude (max |c - p| / max |p|)
 * and as NMSE (sum (c - p)^2 / sum p^2). Measured on the vectors of testdata/conformance (the
 * shipped default model) and testdata/conformance/tiny_deconv (an untrained model with transposed-conv
 * g_s), with the reference, AVX2 and AVX-512 kernels: see testdata/conformance/README.md. The bounds
 * leave a margin of more than 25x (rel) and 100x (NMSE) for other ISAs, compilers and thread counts. */
#define FLOAT_TOL_REL 5e-5
#define FLOAT_TOL_NMSE 1e-10

/* Rate. The estimate (header + ideal bits / 8, docs/FORMAT.md §2.3) leaves out what rANS adds per
 * stream: the stream is the 8-byte final state plus 32-bit words, and the state carries 0..32 bits
 * of information (it lies in [2^31, 2^63)), so each stream is 4 to 8 bytes longer than its ideal
 * size, plus a coding loss that entropy/rans.h measures below 0.01%. Checked per stream:
 *   ideal/8 + RATE_FLUSH_MIN - 0.5 <= bytes <= ideal/8 * (1 + RATE_TOL) + RATE_FLUSH_MAX,
 * and for the file: est <= size <= est * (1 + RATE_TOL) + 2 * RATE_FLUSH_MAX. The bare "within 1%"
 * holds once the flush is small against the file (65x63 q100, 1566 bytes: +0.8%); on the 150-650
 * byte files of the other cases the ~12 flush bytes alone are 2-6%, on 1x1 q1 (74 bytes) 21%. */
#define RATE_TOL 0.01
#define RATE_FLUSH_MIN 4.0
#define RATE_FLUSH_MAX 8.0

/* Reconstruction: C vs PyTorch pixels differ by at most 1 level, on at most this fraction of the
 * values (measured: at most 2 of 27300, 0.007%). When the C encoder's own symbols differ from
 * PyTorch's (a value within the float error of a rounding boundary, not seen on these vectors), the
 * images are only required to be close: PSNR between them >= RECON_MIN_PSNR. */
#define RECON_MAX_FRAC 0.005
#define RECON_MIN_PSNR 40.0

/* ---- manifest ---- */

#define MAX_CASES 16
#define MAX_TENSORS 32
#define MAX_VALUES 32

typedef struct conf_tensor {
    char name[32], dtype[8], file[160];
    int ndims, dims[4];
    size_t count;
    void *data; /* loaded on demand */
} conf_tensor;

typedef struct conf_case {
    char name[64];
    char keys[MAX_VALUES][32], vals[MAX_VALUES][64];
    int n_values;
    conf_tensor t[MAX_TENSORS];
    int n_tensors;
} conf_case;

typedef struct conformance {
    char model[256];
    uint64_t fingerprint;
    conf_case cases[MAX_CASES];
    int n_cases;
} conformance;

static size_t dtype_size(const char *d)
{
    return !strcmp(d, "u8") ? 1 : (!strcmp(d, "f32") || !strcmp(d, "i32")) ? 4 : 0;
}

static void load_manifest(conformance *cf)
{
    memset(cf, 0, sizeof(*cf));
    char mpath[512];
    snprintf(mpath, sizeof(mpath), "%s/manifest.txt", conf_dir);
    FILE *f = fopen(mpath, "r");
    if (!f)
        fail_msg("cannot open %s", mpath);
    char line[512];
    conf_case *c = NULL;
    int saw_format = 0;
    while (fgets(line, sizeof(line), f)) {
        char key[32] = "", val[256] = "";
        if (sscanf(line, "%31s %255s", key, val) < 1)
            continue;
        if (!strcmp(key, "format")) {
            int version = 0;
            assert_int_equal(sscanf(line, "format lic-conformance %d", &version), 1);
            assert_int_equal(version, 2); /* 2: "channels" per case (gray cases) */
            saw_format = 1;
        } else if (!c && !strcmp(key, "model")) {
            snprintf(cf->model, sizeof(cf->model), "%s", val);
        } else if (!c && !strcmp(key, "fingerprint")) {
            cf->fingerprint = strtoull(val, NULL, 16);
        } else if (!strcmp(key, "case")) {
            assert_null(c);
            assert_true(cf->n_cases < MAX_CASES);
            c = &cf->cases[cf->n_cases++];
            snprintf(c->name, sizeof(c->name), "%s", val);
        } else if (!strcmp(key, "end")) {
            assert_non_null(c);
            c = NULL;
        } else if (c && !strcmp(key, "tensor")) {
            assert_true(c->n_tensors < MAX_TENSORS);
            conf_tensor *t = &c->t[c->n_tensors++];
            int pos = 0;
            assert_int_equal(sscanf(line, "tensor %31s %7s %d%n", t->name, t->dtype, &t->ndims, &pos), 3);
            assert_true(t->ndims >= 1 && t->ndims <= 4 && dtype_size(t->dtype) > 0);
            t->count = 1;
            for (int i = 0; i < t->ndims; i++) {
                int n = 0;
                assert_int_equal(sscanf(line + pos, "%d%n", &t->dims[i], &n), 1);
                assert_true(t->dims[i] >= 1 && t->dims[i] <= (1 << 20));
                t->count *= (size_t)t->dims[i];
                pos += n;
            }
            assert_int_equal(sscanf(line + pos, "%159s", t->file), 1);
        } else if (c) {
            assert_true(c->n_values < MAX_VALUES);
            snprintf(c->keys[c->n_values], sizeof(c->keys[0]), "%s", key);
            snprintf(c->vals[c->n_values], sizeof(c->vals[0]), "%s", val);
            c->n_values++;
        }
    }
    fclose(f);
    assert_true(saw_format);
    assert_null(c);
    assert_true(cf->n_cases > 0);
    assert_true(cf->model[0] != 0);
}

static const char *value(const conf_case *c, const char *key)
{
    for (int i = 0; i < c->n_values; i++)
        if (!strcmp(c->keys[i], key))
            return c->vals[i];
    fail_msg("case %s: no value %s", c->name, key);
    return NULL;
}

static int has_value(const conf_case *c, const char *key)
{
    for (int i = 0; i < c->n_values; i++)
        if (!strcmp(c->keys[i], key))
            return 1;
    return 0;
}

static int ivalue(const conf_case *c, const char *key) { return atoi(value(c, key)); }
static double dvalue(const conf_case *c, const char *key) { return strtod(value(c, key), NULL); }
static uint64_t hvalue(const conf_case *c, const char *key) { return strtoull(value(c, key), NULL, 16); }

/* Loads tensor `name` of a case (the file must hold exactly the declared elements) and checks its
 * shape against the expected dims (0 = any). */
static void *tensor(conf_case *c, const char *name, const char *dtype, int ndims, int d0, int d1, int d2)
{
    for (int i = 0; i < c->n_tensors; i++) {
        conf_tensor *t = &c->t[i];
        if (strcmp(t->name, name))
            continue;
        assert_string_equal(t->dtype, dtype);
        assert_int_equal(t->ndims, ndims);
        const int want[3] = {d0, d1, d2};
        for (int k = 0; k < ndims && k < 3; k++)
            if (want[k])
                assert_int_equal(t->dims[k], want[k]);
        if (!t->data) {
            char path[512];
            snprintf(path, sizeof(path), "%s/%s", conf_dir, t->file);
            FILE *f = fopen(path, "rb");
            assert_non_null(f);
            size_t bytes = t->count * dtype_size(t->dtype);
            t->data = malloc(bytes + 1);
            assert_non_null(t->data);
            assert_int_equal(fread(t->data, 1, bytes + 1, f), bytes); /* exact size */
            fclose(f);
        }
        return t->data;
    }
    fail_msg("case %s: no tensor %s", c->name, name);
    return NULL;
}

static void free_tensors(conformance *cf)
{
    for (int i = 0; i < cf->n_cases; i++)
        for (int k = 0; k < cf->cases[i].n_tensors; k++) {
            free(cf->cases[i].t[k].data);
            cf->cases[i].t[k].data = NULL;
        }
}

/* ---- comparisons ---- */

typedef struct float_err {
    double max_abs, ref_max, rel, nmse;
} float_err;

static float_err compare_floats(const float *c, const float *p, size_t n)
{
    double se = 0, sr = 0;
    float_err e = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)c[i] - (double)p[i]);
        if (!(d <= e.max_abs)) /* NaN propagates as a failure */
            e.max_abs = d;
        if (fabs(p[i]) > e.ref_max)
            e.ref_max = fabs(p[i]);
        se += d * d;
        sr += (double)p[i] * p[i];
    }
    e.rel = e.ref_max > 0 ? e.max_abs / e.ref_max : e.max_abs;
    e.nmse = sr > 0 ? se / sr : se;
    return e;
}

static float_err check_floats(const conf_case *c, const char *stage, const float *cv, const float *pv, size_t n)
{
    float_err e = compare_floats(cv, pv, n);
    print_message("  %-18s %-8s max|d| %.3g (max|ref| %.3g, rel %.3g), NMSE %.3g\n", c->name, stage, e.max_abs,
                  e.ref_max, e.rel, e.nmse);
    if (!(e.rel <= FLOAT_TOL_REL && e.nmse <= FLOAT_TOL_NMSE))
        fail_msg("%s: %s outside tolerance (rel %.3g > %.3g or NMSE %.3g > %.3g)", c->name, stage, e.rel,
                 FLOAT_TOL_REL, e.nmse, FLOAT_TOL_NMSE);
    return e;
}

/* Number of int32 elements that differ. */
static size_t count_diff(const int32_t *a, const int32_t *b, size_t n)
{
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += a[i] != b[i];
    return d;
}

/* Distance of v from the nearest point where floor((round(v) + off) / 2^k) changes, i.e. from the
 * nearest b - 0.5 with b + off a multiple of 2^k (ties of round() aside, which this bounds too). */
static double boundary_distance(double v, int64_t off, int k)
{
    double period = (double)((int64_t)1 << k);
    double u = v + (double)off + 0.5; /* boundaries at multiples of period */
    double r = fmod(u, period);
    if (r < 0)
        r += period;
    return r < period - r ? r : period - r;
}

/* ---- the engine ---- */

typedef struct harness {
    conformance cf;
    lic_model *model;
    lic_engine *eng;
    lic_symbol_writer *zw, *yw;
} harness;

static int setup(void **state)
{
    harness *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    *state = h; /* before any assertion: teardown then frees what was made */
    load_manifest(&h->cf);
    assert_int_equal(lic_model_load_file(&h->model, h->cf.model, NULL), 0);
    lic_model_info info;
    assert_int_equal(lic_model_get_info(h->model, &info), 0);
    assert_true(info.fingerprint == h->cf.fingerprint); /* the vectors were made with this model */
    lic_config cfg;
    assert_int_equal(lic_config_init(&cfg), 0);
    cfg.backend = LIC_BACKEND_CPU; /* the tolerances are those of the CPU kernels */
    /* The harness fills the float image x and reads g_s's float output itself, so both must exist
     * whole; tiled runs give the same results bit for bit (test_tiles). */
    cfg.tile_side = LIC_TILE_WHOLE;
    cfg.n_threads = 2;
    cfg.cpu_features = cpu_mask;
    assert_int_equal(lic_engine_open(&h->eng, sizeof(lic_engine), h->model, &cfg, LIC_ENGINE_BOTH), 0);
    const char *fk = lic_xf_ctx_kernel_name(h->eng->xf), *ik = lic_iconv_kernel_name(h->eng->ikernel);
    print_message("  kernels: float %s, integer %s (cpu_features 0x%x)\n", fk, ik, (unsigned)cpu_mask);
    if (want_float_kernel) { /* the mask must select exactly the kernels this run is meant to test */
        assert_string_equal(fk, want_float_kernel);
        assert_string_equal(ik, want_int_kernel);
    }
    const lic_allocator *a = &h->eng->cfg.allocator;
    assert_int_equal(lic_symbol_writer_create(&h->zw, a), 0);
    assert_int_equal(lic_symbol_writer_create(&h->yw, a), 0);
    return 0;
}

static int teardown(void **state)
{
    harness *h = *state;
    if (!h)
        return 0;
    lic_symbol_writer_free(&h->zw);
    lic_symbol_writer_free(&h->yw);
    lic_engine_close(h->eng);
    lic_model_release(&h->model);
    free_tensors(&h->cf);
    free(h);
    return 0;
}

/* Sizes of a case, checked against the engine after lic_engine_prepare. */
typedef struct dims {
    int w, h, ch, q, ph, pw, lh, lw, zh, zw, M, N, Ch; /* ch: image channels, 3 (RGB) or 1 (gray) */
    size_t yn, zn;
} dims;

static dims prepare(harness *h, conf_case *c)
{
    lic_engine *e = h->eng;
    const struct lic_model_arch *a = &e->md->arch;
    dims d = {.w = ivalue(c, "width"), .h = ivalue(c, "height"), .ch = ivalue(c, "channels"),
              .q = ivalue(c, "quality"), .M = a->M, .N = a->N, .Ch = a->C_h};
    assert_true(d.ch == 1 || d.ch == 3);
    assert_int_equal(lic_engine_prepare(e, (uint32_t)d.w, (uint32_t)d.h), 0);
    assert_int_equal(e->ph, ivalue(c, "padded_height"));
    assert_int_equal(e->pw, ivalue(c, "padded_width"));
    d.ph = e->ph, d.pw = e->pw, d.lh = e->lh, d.lw = e->lw, d.zh = e->lh / 4, d.zw = e->lw / 4;
    d.yn = (size_t)d.M * d.lh * d.lw;
    d.zn = (size_t)d.N * d.zh * d.zw;
    return d;
}

/* The image of a case: [H, W, 3] RGB or [H, W] gray. */
static uint8_t *image_of(conf_case *c, int w, int h, int ch)
{
    return ch == 3 ? tensor(c, "image", "u8", 3, h, w, 3) : tensor(c, "image", "u8", 2, h, w, 0);
}

/* Fills the engine's input from x_pad (x = value * float32(1/255), as codec/encoder.c computes it) after
 * checking that x_pad is the image padded by edge replication (a gray image in all three planes). */
static void load_input(harness *h, conf_case *c, const dims *d)
{
    const uint8_t *img = image_of(c, d->w, d->h, d->ch);
    const uint8_t *xp = tensor(c, "x_pad", "u8", 3, 3, d->ph, d->pw);
    size_t plane = (size_t)d->ph * d->pw;
    for (int ch = 0; ch < 3; ch++)
        for (int y = 0; y < d->ph; y++)
            for (int x = 0; x < d->pw; x++) {
                int sy = y < d->h ? y : d->h - 1, sx = x < d->w ? x : d->w - 1;
                size_t i = ch * plane + (size_t)y * d->pw + x;
                assert_int_equal(xp[i], img[((size_t)sy * d->w + sx) * d->ch + (d->ch == 3 ? ch : 0)]);
                h->eng->x[i] = xp[i] * (1.0f / 255.0f);
            }
}

/* Gains bit for bit, then g_a (unit gain), y', z within tolerance. Leaves y' in e->y; returns z. */
static float *float_analysis(harness *h, conf_case *c, const dims *d, float *gain)
{
    lic_engine *e = h->eng;
    const float *pg = tensor(c, "gain", "f32", 1, d->M, 0, 0);
    const float *pgi = tensor(c, "gain_inv", "f32", 1, d->M, 0, 0);
    float *gi = malloc(sizeof(float) * d->M), *ones = malloc(sizeof(float) * d->M);
    assert_non_null(gi);
    assert_non_null(ones);
    lic_engine_gains(e, d->q, 0, gain);
    lic_engine_gains(e, d->q, 1, gi);
    assert_memory_equal(gain, pg, sizeof(float) * d->M);
    assert_memory_equal(gi, pgi, sizeof(float) * d->M);
    for (int i = 0; i < d->M; i++)
        ones[i] = 1.0f;

    float *z;
    load_input(h, c, d);
    assert_int_equal(lic_engine_analysis(e, ones, &z), 0); /* multiplying by 1.0f is exact: y = g_a(x) */
    check_floats(c, "y", e->y, tensor(c, "y", "f32", 3, d->M, d->lh, d->lw), d->yn);
    load_input(h, c, d); /* analysis may use the input buffer as scratch */
    assert_int_equal(lic_engine_analysis(e, gain, &z), 0);
    check_floats(c, "y'", e->y, tensor(c, "y_gain", "f32", 3, d->M, d->lh, d->lw), d->yn);
    check_floats(c, "z", z, tensor(c, "z", "f32", 3, d->N, d->zh, d->zw), d->zn);
    free(gi);
    free(ones);
    return z;
}

/* For every coding-order position i, the offset of its element in an M x lh x lw plane set. */
static size_t *coding_order(const lic_engine *e, const dims *d)
{
    size_t *pos = malloc(sizeof(size_t) * d->yn), i = 0, hw = (size_t)d->lh * d->lw;
    assert_non_null(pos);
    for (int k = 0; k < e->md->n_steps; k++) { /* the model's coding schedule */
        const lic_code_step *st = &e->md->steps[k];
        if (st->kind != LIC_STEP_CODE_Y)
            continue;
        for (int ch = st->c0; ch < st->c0 + st->c; ch++)
            for (int y = 0; y < d->lh; y++)
                for (int x = (y + st->pass) & 1; x < d->lw; x += 2)
                    pos[i++] = (size_t)ch * hw + (size_t)y * d->lw + x;
    }
    assert_int_equal(i, d->yn);
    return pos;
}

/* Writes the PyTorch symbols with the C symbol writer (z: row = channel; y: row = PyTorch's index). */
static void write_pytorch_streams(harness *h, conf_case *c, const dims *d, const uint8_t **zs, size_t *zn,
                                  const uint8_t **ys, size_t *yn)
{
    const lic_model_data *md = h->eng->md;
    const int32_t *z_sym = tensor(c, "z_symbols", "i32", 3, d->N, d->zh, d->zw);
    const int32_t *y_sym = tensor(c, "y_symbols", "i32", 1, (int)d->yn, 0, 0);
    const int32_t *idx = tensor(c, "scale_idx", "i32", 1, (int)d->yn, 0, 0);
    lic_symbol_writer_reset(h->zw);
    lic_symbol_writer_reset(h->yw);
    size_t zhw = (size_t)d->zh * d->zw;
    for (size_t i = 0; i < d->zn; i++)
        assert_int_equal(lic_symbol_writer_put(h->zw, &md->z_prior.cdf, (int)(i / zhw), z_sym[i]), 0);
    for (size_t i = 0; i < d->yn; i++) {
        assert_true(idx[i] >= 0 && idx[i] < md->y_gc.cdf.n_cdfs);
        assert_int_equal(lic_symbol_writer_put(h->yw, &md->y_gc.cdf, idx[i], y_sym[i]), 0);
    }
    assert_int_equal(lic_symbol_writer_finish(h->zw, zs, zn), 0);
    assert_int_equal(lic_symbol_writer_finish(h->yw, ys, yn), 0);
}

/* The decoder's integer outputs against PyTorch's, exactly. */
static void check_integer_state(harness *h, conf_case *c, const dims *d, const size_t *order)
{
    lic_engine *e = h->eng;
    const int32_t *zhat = tensor(c, "z_hat", "i32", 3, d->N, d->zh, d->zw);
    const int32_t *hs = tensor(c, "h_s", "i32", 3, d->Ch, d->lh, d->lw);
    const int32_t *yq = tensor(c, "y_hat_q", "i32", 3, d->M, d->lh, d->lw);
    const int32_t *means = tensor(c, "means", "i32", 1, (int)d->yn, 0, 0);
    const int32_t *y_sym = tensor(c, "y_symbols", "i32", 1, (int)d->yn, 0, 0);
    size_t n_hs = (size_t)d->Ch * d->lh * d->lw;
    assert_int_equal(count_diff(e->zhat, zhat, d->zn), 0);
    /* h_s's output: where the last op of the schedule's first ops-only step writes */
    const lic_code_step *run = &e->md->steps[1];
    assert_int_equal(run->kind, LIC_STEP_RUN);
    const lic_op *last = &e->md->ops[run->ops.first + run->ops.count - 1];
    assert_int_equal(last->out.c, d->Ch);
    assert_int_equal(count_diff(lic_engine_view_data(e, &last->out), hs, n_hs), 0);
    assert_int_equal(count_diff(e->yq, yq, d->yn), 0);
    size_t bad_means = 0;
    for (size_t i = 0; i < d->yn; i++)
        bad_means += (int64_t)e->yq[order[i]] - 256 * (int64_t)y_sym[i] != means[i];
    assert_int_equal(bad_means, 0);
    assert_int_equal(e->stats.n_symbols, (uint64_t)ivalue(c, "n_symbols"));
    assert_true(e->stats.symbols_hash == hvalue(c, "symbols_hash"));
    assert_true(e->stats.params_hash == hvalue(c, "params_hash")); /* (mean, scale index) pairs */
}

static void test_stages(void **state)
{
    harness *h = *state;
    lic_engine *e = h->eng;
    for (int ci = 0; ci < h->cf.n_cases; ci++) {
        conf_case *c = &h->cf.cases[ci];
        dims d = prepare(h, c);
        const lic_model_data *md = e->md;
        int zf = md->arch.z_frac_bits;
        size_t *order = coding_order(e, &d);
        float *gain = malloc(sizeof(float) * d.M), *zbuf = malloc(sizeof(float) * d.zn);
        assert_non_null(gain);
        assert_non_null(zbuf);

        /* 1. Float analysis. */
        float *z = float_analysis(h, c, &d, gain);
        float_err ez = compare_floats(z, tensor(c, "z", "f32", 3, d.N, d.zh, d.zw), d.zn);
        float_err ey = compare_floats(e->y, tensor(c, "y_gain", "f32", 3, d.M, d.lh, d.lw), d.yn);
        memcpy(zbuf, z, sizeof(float) * d.zn);

        /* 2. The C encoder on its own floats. Symbols may differ from PyTorch's only where the float
         *    error can move a value across a rounding boundary. */
        lic_symbol_writer_reset(h->zw);
        lic_symbol_writer_reset(h->yw);
        lic_latent_coder enc = {.encode = 1, .z = zbuf, .zw = h->zw, .yw = h->yw};
        assert_int_equal(lic_engine_code_latents(e, &enc), 0);
        const int32_t *pz = tensor(c, "z_hat", "i32", 3, d.N, d.zh, d.zw);
        const float *pzf = tensor(c, "z", "f32", 3, d.N, d.zh, d.zw);
        const float *pyf = tensor(c, "y_gain", "f32", 3, d.M, d.lh, d.lw);
        const int32_t *pyq = tensor(c, "y_hat_q", "i32", 3, d.M, d.lh, d.lw);
        const int32_t *pmeans = tensor(c, "means", "i32", 1, (int)d.yn, 0, 0);
        size_t zdiff = 0, ydiff = 0;
        size_t zhw = (size_t)d.zh * d.zw;
        for (size_t i = 0; i < d.zn; i++) {
            if (e->zhat[i] == pz[i])
                continue;
            zdiff++;
            int32_t med = md->z_prior.median[i / zhw];
            int64_t half = zf ? (int64_t)1 << (zf - 1) : 0;
            double dist = boundary_distance((double)pzf[i] * (1 << zf), half - med, zf);
            assert_true(dist <= 2.0 * ez.max_abs * (1 << zf) + 1e-9);
        }
        for (size_t i = 0; i < d.yn; i++) {
            size_t p = order[i];
            if (e->yq[p] == pyq[p])
                continue;
            ydiff = d.yn - i; /* everything after the first difference may depend on it */
            double dist = boundary_distance((double)pyf[p] * 256.0, 128 - (int64_t)pmeans[i], 8);
            print_message("  %-18s encoder  first y-hat' difference: PyTorch's y' is %.3g (1/256 units) from a "
                          "rounding boundary, C's float error up to %.3g\n", c->name, dist, ey.max_abs * 256.0);
            assert_true(dist <= 2.0 * ey.max_abs * 256.0 + 1e-9);
            break;
        }
        int same_symbols = e->stats.symbols_hash == hvalue(c, "symbols_hash");
        if (ydiff)
            print_message("  %-18s encoder  z-hat diffs %zu, y-hat' differs from coding position %zu of %zu on\n",
                          c->name, zdiff, d.yn - ydiff, d.yn);
        else
            print_message("  %-18s encoder  z-hat diffs %zu, y-hat' diffs 0, symbols %s\n", c->name, zdiff,
                          same_symbols ? "identical to PyTorch's" : "differ");

        /* 3. Decode PyTorch's symbols: every integer stage exactly. */
        const uint8_t *zs, *ys;
        size_t zn, yn;
        write_pytorch_streams(h, c, &d, &zs, &zn, &ys, &yn);
        lic_symbol_reader zr, yr;
        lic_symbol_reader_init(&zr, zs, zn);
        lic_symbol_reader_init(&yr, ys, yn);
        memset(e->yq, 0x55, sizeof(int32_t) * d.yn); /* nothing left over from step 2 */
        memset(e->zhat, 0x55, sizeof(int32_t) * d.zn);
        lic_latent_coder dec = {.encode = 0, .zr = &zr, .yr = &yr};
        assert_int_equal(lic_engine_code_latents(e, &dec), 0);
        assert_int_equal(lic_symbol_reader_status(&zr), 0);
        assert_int_equal(lic_symbol_reader_status(&yr), 0);
        assert_ptr_equal(zr.ptr, zr.end); /* every word of both streams consumed */
        assert_ptr_equal(yr.ptr, yr.end);
        check_integer_state(h, c, &d, order);

        /* 4. Re-encode from PyTorch's quantized values: byte-identical streams. */
        uint8_t *zcopy = malloc(zn), *ycopy = malloc(yn);
        assert_non_null(zcopy);
        assert_non_null(ycopy);
        memcpy(zcopy, zs, zn);
        memcpy(ycopy, ys, yn);
        for (size_t i = 0; i < d.zn; i++)
            zbuf[i] = (float)pz[i] / (float)(1 << zf); /* exact: |z-hat| < 2^15 */
        for (size_t i = 0; i < d.yn; i++)
            e->y[i] = (float)pyq[i] * (1.0f / 256.0f); /* exact: |y-hat'| < 2^24 */
        lic_symbol_writer_reset(h->zw);
        lic_symbol_writer_reset(h->yw);
        lic_latent_coder re = {.encode = 1, .z = zbuf, .zw = h->zw, .yw = h->yw};
        assert_int_equal(lic_engine_code_latents(e, &re), 0);
        assert_int_equal(lic_symbol_writer_finish(h->zw, &zs, &zn), 0);
        assert_int_equal(lic_symbol_writer_finish(h->yw, &ys, &yn), 0);
        assert_memory_equal(zs, zcopy, zn);
        assert_memory_equal(ys, ycopy, yn);
        check_integer_state(h, c, &d, order);

        /* 5. Decoder-side y-hat (as codec/decoder.c computes it) bit for bit, then g_s. */
        float *gi = malloc(sizeof(float) * d.M);
        assert_non_null(gi);
        lic_engine_gains(e, d.q, 1, gi);
        size_t hw = (size_t)d.lh * d.lw;
        for (int ch = 0; ch < d.M; ch++) {
            float s = gi[ch] * (1.0f / 256.0f);
            for (size_t p = 0; p < hw; p++)
                e->y[ch * hw + p] = (float)e->yq[ch * hw + p] * s;
        }
        assert_memory_equal(e->y, tensor(c, "y_hat", "f32", 3, d.M, d.lh, d.lw), sizeof(float) * d.yn);
        float *rgb;
        assert_int_equal(lic_engine_synthesis(e, &rgb), 0);
        size_t n_px = (size_t)d.w * d.h, plane = (size_t)d.ph * d.pw;
        float *crop = malloc(sizeof(float) * 3 * n_px);
        assert_non_null(crop);
        for (int ch = 0; ch < 3; ch++)
            for (int y = 0; y < d.h; y++)
                memcpy(crop + ch * n_px + (size_t)y * d.w, rgb + ch * plane + (size_t)y * d.pw, sizeof(float) * d.w);
        check_floats(c, "g_s", crop, tensor(c, "g_s", "f32", 3, 3, d.h, d.w), 3 * n_px);

        free(crop);
        free(gi);
        free(zcopy);
        free(ycopy);
        free(zbuf);
        free(gain);
        free(order);
    }
}

/* The public API end to end: .lic size against the estimated rate, pixels against PyTorch's. */
/* Entropy tiles (docs/FORMAT.md §3.2): for the cases whose latent has more than one tile of 8
 * positions, the engine fed PyTorch's exact whole-image y-hat' and z-hat as y' and z and coding in
 * tiles of 8 (tile_log2 3, tiles on the harness's two threads) gives PyTorch's tiled y-hat' and
 * hashes (train/lic_model.py encode_latents_tiled, which computes h_s for the whole image and takes
 * each tile's window, where the C engine computes each window with a halo); the tile streams then
 * decode to the same. */
static void test_entropy_tiles(void **state)
{
    harness *h = *state;
    lic_engine *e = h->eng;
    int n_cases = 0;
    for (int ci = 0; ci < h->cf.n_cases; ci++) {
        conf_case *c = &h->cf.cases[ci];
        if (!has_value(c, "tile3_symbols_hash"))
            continue;
        dims d = prepare(h, c);
        assert_int_equal(lic_engine_prepare_tiles(e, (uint32_t)d.w, (uint32_t)d.h, 3), 0);
        assert_true(e->et.n > 1);
        const int zf = e->md->arch.z_frac_bits;
        const int32_t *pz = tensor(c, "z_hat", "i32", 3, d.N, d.zh, d.zw);
        const int32_t *pyq = tensor(c, "y_hat_q", "i32", 3, d.M, d.lh, d.lw);
        const int32_t *tyq = tensor(c, "tile3_y_hat_q", "i32", 3, d.M, d.lh, d.lw);
        float *zbuf = malloc(sizeof(float) * d.zn);
        lic_span *tiles = malloc(sizeof(lic_span) * (size_t)e->et.n);
        assert_non_null(zbuf);
        assert_non_null(tiles);
        for (size_t i = 0; i < d.zn; i++)
            zbuf[i] = (float)pz[i] / (float)(1 << zf); /* exact: |z-hat| < 2^15 */
        for (size_t i = 0; i < d.yn; i++)
            e->y[i] = (float)pyq[i] * (1.0f / 256.0f); /* exact: |y-hat'| < 2^24 */
        lic_symbol_writer_reset(h->zw);
        lic_latent_coder enc = {.encode = 1, .z = zbuf, .zw = h->zw};
        assert_int_equal(lic_engine_code_latents(e, &enc), 0);
        assert_int_equal(count_diff(e->yq, tyq, d.yn), 0);
        assert_true(e->stats.symbols_hash == hvalue(c, "tile3_symbols_hash"));
        assert_true(e->stats.params_hash == hvalue(c, "tile3_params_hash"));

        const uint8_t *zs;
        size_t zn;
        assert_int_equal(lic_symbol_writer_finish(h->zw, &zs, &zn), 0);
        for (uint64_t k = 0; k < e->et.n; k++)
            tiles[k] = (lic_span){e->et.res[k].bytes, e->et.res[k].size};
        memset(e->yq, 0x55, sizeof(int32_t) * d.yn);
        lic_symbol_reader zr;
        lic_symbol_reader_init(&zr, zs, zn);
        lic_latent_coder dec = {.encode = 0, .zr = &zr, .tiles = tiles};
        assert_int_equal(lic_engine_code_latents(e, &dec), 0);
        assert_int_equal(count_diff(e->yq, tyq, d.yn), 0);
        assert_true(e->stats.symbols_hash == hvalue(c, "tile3_symbols_hash"));
        assert_true(e->stats.params_hash == hvalue(c, "tile3_params_hash"));
        print_message("  %-18s %llu entropy tiles of 8: y-hat' and hashes equal to PyTorch's, encoding and decoding\n",
                      c->name, (unsigned long long)e->et.n);
        free(tiles);
        free(zbuf);
        n_cases++;
    }
    assert_true(n_cases >= 1 || strstr(conf_dir, "tiny_deconv"));
}

static void test_codec_api(void **state)
{
    harness *h = *state;
    lic_config cfg;
    assert_int_equal(lic_config_init(&cfg), 0);
    cfg.backend = LIC_BACKEND_CPU;
    cfg.n_threads = 2;
    cfg.cpu_features = cpu_mask;
    lic_encoder *enc = NULL;
    lic_decoder *dec = NULL;
    assert_int_equal(lic_encoder_open(&enc, h->model, &cfg), 0);
    assert_int_equal(lic_decoder_open(&dec, h->model, &cfg), 0);
    for (int ci = 0; ci < h->cf.n_cases; ci++) {
        conf_case *c = &h->cf.cases[ci];
        int w = ivalue(c, "width"), hh = ivalue(c, "height"), q = ivalue(c, "quality"), ch = ivalue(c, "channels");
        uint8_t *px = image_of(c, w, hh, ch);
        const uint8_t *ref = ch == 3 ? tensor(c, "recon", "u8", 3, hh, w, 3) : tensor(c, "recon", "u8", 2, hh, w, 0);
        lic_pixfmt fmt = ch == 3 ? LIC_PIXFMT_RGB8 : LIC_PIXFMT_GRAY8;
        lic_image img = {(uint32_t)w, (uint32_t)hh, fmt, px, (ptrdiff_t)w * ch};
        uint8_t *bits = NULL;
        size_t n = 0;
        assert_int_equal(lic_encode(enc, &img, q, &bits, &n), 0);
        lic_stats st;
        assert_int_equal(lic_encoder_get_stats(enc, &st), 0);
        int same_symbols = st.symbols_hash == hvalue(c, "symbols_hash");

        /* Rate: the library's own cost function on the same symbols must give the same ideal bits. */
        double est = dvalue(c, "est_bytes"), hdr = ivalue(c, "header_bytes");
        assert_true(hdr == 24 + 5 * 2);
        /* The vectors count the version-1 framing (34 bytes); the encoder writes version 2, whose
         * chunks take 81 bytes around the same two payloads (docs/FORMAT.md §3). Compare like with
         * like: the file's size with version-1 framing. */
        const size_t v2_framing = 5 + (12 + 24) + 12 + (12 + 4) + 12;
        assert_true(n >= v2_framing);
        const size_t n1 = n - v2_framing + (size_t)hdr;
        double ratio = (double)n1 / est;
        double ideal_z = dvalue(c, "z_bits"), ideal_y = dvalue(c, "y_bits");
        double z_bytes = (double)st.stream_bytes[0], y_bytes = (double)st.stream_bytes[1];
        print_message("  %-18s rate     .lic %zu bytes, PyTorch estimate %.1f (ratio %.4f); streams z %.0f "
                      "(ideal %.1f) y %.0f (ideal %.1f); %s symbols\n",
                      c->name, n1, est, ratio, z_bytes, ideal_z / 8, y_bytes, ideal_y / 8,
                      same_symbols ? "same" : "different");
        double slack_z = z_bytes - ideal_z / 8, slack_y = y_bytes - ideal_y / 8;
        assert_true(n1 == (size_t)hdr + st.stream_bytes[0] + st.stream_bytes[1]);
        if (same_symbols) {
            assert_true(slack_z >= RATE_FLUSH_MIN - 0.5 && z_bytes <= ideal_z / 8 * (1 + RATE_TOL) + RATE_FLUSH_MAX);
            assert_true(slack_y >= RATE_FLUSH_MIN - 0.5 && y_bytes <= ideal_y / 8 * (1 + RATE_TOL) + RATE_FLUSH_MAX);
            assert_true((double)n1 >= est && (double)n1 <= est * (1 + RATE_TOL) + 2 * RATE_FLUSH_MAX);
        } else { /* a few symbols moved across a rounding boundary: their cost is not in the estimate */
            assert_true(fabs((double)n1 - est) <= est * 0.05 + 2 * RATE_FLUSH_MAX);
        }

        /* Pixels. */
        lic_image out;
        assert_int_equal(lic_decode(dec, bits, n, &out), 0);
        assert_int_equal(out.width, (uint32_t)w);
        assert_int_equal(out.height, (uint32_t)hh);
        assert_int_equal(out.fmt, fmt);
        size_t nv = (size_t)w * hh * ch, ndiff = 0;
        double sse = 0;
        int maxd = 0;
        for (int y = 0; y < hh; y++)
            for (int x = 0; x < ch * w; x++) {
                int dd = abs((int)out.data[(size_t)y * out.stride + x] - (int)ref[(size_t)y * ch * w + x]);
                ndiff += dd != 0;
                sse += (double)dd * dd;
                if (dd > maxd)
                    maxd = dd;
            }
        double psnr = sse > 0 ? 10 * log10(255.0 * 255.0 * (double)nv / sse) : INFINITY;
        print_message("  %-18s recon    %zu of %zu values differ (%.4f%%), max %d level(s), PSNR C vs PyTorch %.1f dB\n",
                      c->name, ndiff, nv, 100.0 * ndiff / nv, maxd, psnr);
        if (same_symbols) {
            assert_true(maxd <= 1);
            assert_true((double)ndiff <= RECON_MAX_FRAC * (double)nv);
        } else {
            assert_true(psnr >= RECON_MIN_PSNR);
        }
        lic_image_free(&out);
        lic_free(bits);
    }
    lic_decoder_close(&dec);
    lic_encoder_close(&enc);
}

/* The estimate of the generator matches the library's cost function on the PyTorch symbols. */
static void test_rate_estimate(void **state)
{
    harness *h = *state;
    const lic_model_data *md = h->eng->md;
    for (int ci = 0; ci < h->cf.n_cases; ci++) {
        conf_case *c = &h->cf.cases[ci];
        dims d = prepare(h, c);
        const int32_t *z_sym = tensor(c, "z_symbols", "i32", 3, d.N, d.zh, d.zw);
        const int32_t *y_sym = tensor(c, "y_symbols", "i32", 1, (int)d.yn, 0, 0);
        const int32_t *idx = tensor(c, "scale_idx", "i32", 1, (int)d.yn, 0, 0);
        double zb = 0, yb = 0;
        size_t zhw = (size_t)d.zh * d.zw;
        for (size_t i = 0; i < d.zn; i++)
            zb += lic_cdf_cost_bits(&md->z_prior.cdf, (int)(i / zhw), z_sym[i]);
        for (size_t i = 0; i < d.yn; i++)
            yb += lic_cdf_cost_bits(&md->y_gc.cdf, idx[i], y_sym[i]);
        assert_true(fabs(zb - dvalue(c, "z_bits")) <= 1e-9 * (zb + 1));
        assert_true(fabs(yb - dvalue(c, "y_bits")) <= 1e-9 * (yb + 1));
        assert_true(fabs(dvalue(c, "est_bytes") - (ivalue(c, "header_bytes") + (zb + yb) / 8)) <= 1e-6);
    }
}

/* --cpu NAME: the mask, the kernels it must select, and the features the CPU needs for them. */
static int pick_cpu_path(const char *name)
{
    static const struct {
        const char *name, *float_kernel, *int_kernel;
        uint32_t mask;
        unsigned needs; /* LIC_XF_FEAT_* bits */
    } paths[] = {
        {"ref", "c", "ref", 0, 0},
        {"avx2", "avx2", "avx2", LIC_CPU_AVX2, LIC_XF_FEAT_AVX2},
        {"avx512", "avx512", "avx512vnni", LIC_CPU_ALL, LIC_XF_FEAT_AVX512 | LIC_XF_FEAT_AVX512VNNI},
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        if (strcmp(name, paths[i].name))
            continue;
        unsigned have = lic_xf_cpu_features();
        if ((have & paths[i].needs) != paths[i].needs) {
            printf("test_conformance: SKIPPED --cpu %s: this build or CPU lacks its kernels (has 0x%x, needs 0x%x)\n",
                   name, have, paths[i].needs);
            return LIC_TEST_SKIP;
        }
        cpu_mask = paths[i].mask;
        want_float_kernel = paths[i].float_kernel;
        want_int_kernel = paths[i].int_kernel;
        printf("test_conformance: --cpu %s: float kernels %s, integer kernel %s\n", name, want_float_kernel,
               want_int_kernel);
        return 0;
    }
    fprintf(stderr, "test_conformance: unknown --cpu %s (ref, avx2, avx512)\n", name);
    return 2;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cpu") && i + 1 < argc) {
            int ret = pick_cpu_path(argv[++i]);
            if (ret)
                return ret;
        } else if (argv[i][0] != '-') {
            conf_dir = argv[i];
        } else {
            fprintf(stderr, "usage: test_conformance [--cpu ref|avx2|avx512] [DIR]\n");
            return 2;
        }
    }
    printf("test_conformance: vectors %s\n", conf_dir);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_estimate),
        cmocka_unit_test(test_stages),
        cmocka_unit_test(test_entropy_tiles),
        cmocka_unit_test(test_codec_api),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
