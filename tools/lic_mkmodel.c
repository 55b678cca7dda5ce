/* lic-mkmodel: writes a deterministic, untrained model of architecture lic-ctx1 (docs/FORMAT.md §1.2),
 * or of lic-hp1 (the same without the channel context: no C_cc key, no cc.* tensors).
 *
 *   lic-mkmodel --preset tiny|default|large [--arch lic-ctx1|lic-hp1] [--gs-up 0|1] [--seed S] -o FILE
 *
 * Presets: `tiny` for the test models of testdata/models/ (about 300 KB); `default` with the sizes and
 * fixed-point formats of the shipped models/default.licw (N=64, M=128; docs/MODEL.md), so a build
 * without the shipped file embeds a model that costs what the real one costs; `large` with
 * CompressAI's sizes (N=128, M=192, about 24 MB), a candidate for a future default.
 *
 * The weights are random but shaped so that the model runs like a real one: float layers are
 * He-scaled (activations stay O(1)), integer layers get per-channel shifts that keep hidden
 * activations around 1000 at the finest quality (well inside int16), the parameter networks produce
 * means of about ±2 real units and scales spread over the whole scale table, so every code path of the entropy
 * model (all scale indexes, escapes) is exercised. All randomness comes from splitmix64 with a fixed
 * seed, so the same arguments always give the same bytes (on the same libm: the CDF tables use
 * exp/erfc). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cdf_build.h"
#include "tools/licw_writer.h"

typedef struct preset {
    const char *name;
    int N, M, C_h, C_cc, C_sp, C_ep;
    int n_groups;
    int groups[8];
    int gs_up;
    int yctx_frac_bits; /* fixed-point format of the context inputs: 2^-yctx_frac_bits units */
    /* Largest scale of the y table. The table is stored with a stride of its longest row
     * (2*ceil(6.109*smax)+3 entries), so it dominates the file size: the tiny preset uses 64 to stay
     * around 300 KB, default and large CompressAI's 256. */
    double y_smax;
} preset;

static const preset PRESETS[] = {
    { "tiny", 8, 24, 16, 8, 8, 16, 4, { 4, 4, 8, 8 }, 1, 4, 64.0 },
    { "default", 64, 128, 128, 64, 32, 96, 4, { 16, 16, 32, 64 }, 1, 6, 256.0 },
    { "large", 128, 192, 192, 64, 32, 128, 5, { 16, 16, 32, 64, 64 }, 1, 4, 256.0 },
};

enum {
    RELU_SLOPE_Q8 = 26, /* ~0.1 */
    Z_FRAC_BITS = 4,
    N_GAINS = 8,
    N_SCALES = 64,
    INT_WEIGHT_MAX = 1000,   /* integer weights uniform in [-1000, 1000] */
    HIDDEN_TARGET = 1000,    /* typical |activation| of hidden integer layers */
};
#define Y_SMIN 0.11

/* ---- deterministic randomness ---- */

typedef struct gen {
    lic_licw_writer *w;
    uint64_t rng;
    int failed;
} gen;

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static double usym(gen *g)
{
    return (double)(splitmix64(&g->rng) >> 11) * 0x1.0p-52 - 1.0;
}

/* Uniform in [0, 1). */
static double u01(gen *g)
{
    return (double)(splitmix64(&g->rng) >> 11) * 0x1.0p-53;
}

static void put(gen *g, const char *name, int dtype, int n_dims, int64_t d0, int64_t d1, int64_t d2,
                int64_t d3, const void *data)
{
    const int64_t dims[4] = { d0, d1, d2, d3 };
    if (!g->failed && lic_licw_writer_tensor(g->w, name, dtype, n_dims, dims, data))
        g->failed = 1;
}

static void *xalloc(gen *g, size_t n, size_t elem)
{
    void *p = calloc(n ? n : 1, elem);
    if (!p)
        g->failed = 1;
    return p;
}

/* ---- float layers ---- */

/* Conv (or transposed conv) weights uniform with variance 2/fan_in (He); the effective fan-in of a
 * stride-2 transposed conv is a quarter of cin*k*k. */
static void float_conv(gen *g, const char *prefix, int cin, int cout, int k, int transposed,
                       float bias_value)
{
    size_t n = (size_t)cin * cout * k * k;
    double fan_in = (double)cin * k * k / (transposed ? 4.0 : 1.0);
    double a = sqrt(6.0 / fan_in);
    float *w = xalloc(g, n, sizeof *w), *b = xalloc(g, (size_t)cout, sizeof *b);
    char name[64];
    if (w && b) {
        for (size_t i = 0; i < n; i++)
            w[i] = (float)(a * usym(g));
        for (int i = 0; i < cout; i++)
            b[i] = bias_value + (float)(0.01 * usym(g));
        snprintf(name, sizeof name, "%s.weight", prefix);
        put(g, name, LIC_DTYPE_F32, 4, transposed ? cin : cout, transposed ? cout : cin, k, k, w);
        snprintf(name, sizeof name, "%s.bias", prefix);
        put(g, name, LIC_DTYPE_F32, 1, cout, 0, 0, 0, b);
    }
    free(w);
    free(b);
}

/* GDN: beta 1, gamma 0.1 on the diagonal and small non-negative values elsewhere. */
static void gdn(gen *g, const char *prefix, int c)
{
    float *beta = xalloc(g, (size_t)c, sizeof *beta), *gamma = xalloc(g, (size_t)c * c, sizeof *gamma);
    char name[64];
    if (beta && gamma) {
        for (int i = 0; i < c; i++) {
            beta[i] = 1.0f;
            for (int j = 0; j < c; j++)
                gamma[(size_t)i * c + j] = i == j ? 0.1f : (float)(0.01 * u01(g));
        }
        snprintf(name, sizeof name, "%s.beta", prefix);
        put(g, name, LIC_DTYPE_F32, 1, c, 0, 0, 0, beta);
        snprintf(name, sizeof name, "%s.gamma", prefix);
        put(g, name, LIC_DTYPE_F32, 2, c, c, 0, 0, gamma);
    }
    free(beta);
    free(gamma);
}

/* ---- integer layers ---- */

/* Output channel o of an integer layer should have activations of about target[o] (same units as
 * the layer's output) around base[o]. The accumulator's typical size is sqrt(fan_in) * std(w) *
 * in_rms; the shift brings it down to the target, and the bias (accumulator units, so scaled by
 * 2^shift) adds base plus a small random offset. */
static void int_conv(gen *g, const char *prefix, int cin, int cout, int k, int transposed, double in_rms,
                     const double *target, const double *base)
{
    size_t n = (size_t)cin * cout * k * k;
    double fan_in = (double)cin * k * k / (transposed ? 4.0 : 1.0);
    double acc = sqrt(fan_in) * (INT_WEIGHT_MAX / sqrt(3.0)) * in_rms;
    int16_t *w = xalloc(g, n, sizeof *w);
    int32_t *bias = xalloc(g, (size_t)cout, sizeof *bias), *shift = xalloc(g, (size_t)cout, sizeof *shift);
    char name[64];
    if (w && bias && shift) {
        for (size_t i = 0; i < n; i++)
            w[i] = (int16_t)lround(INT_WEIGHT_MAX * usym(g));
        for (int o = 0; o < cout; o++) {
            long s = lround(log2(acc / target[o]));
            s = s < 1 ? 1 : s > 40 ? 40 : s;
            double b = (base[o] + 0.1 * target[o] * usym(g)) * ldexp(1.0, (int)s);
            if (b > 2147483647.0 || b < -2147483648.0)
                g->failed = 1; /* presets never get here; a clear failure beats a clamp */
            shift[o] = (int32_t)s;
            bias[o] = (int32_t)llround(b);
        }
        snprintf(name, sizeof name, "%s.weight", prefix);
        put(g, name, LIC_DTYPE_I16, 4, transposed ? cin : cout, transposed ? cout : cin, k, k, w);
        snprintf(name, sizeof name, "%s.bias", prefix);
        put(g, name, LIC_DTYPE_I32, 1, cout, 0, 0, 0, bias);
        snprintf(name, sizeof name, "%s.shift", prefix);
        put(g, name, LIC_DTYPE_I32, 1, cout, 0, 0, 0, shift);
    }
    free(w);
    free(bias);
    free(shift);
}

/* A hidden layer: every channel aims at HIDDEN_TARGET around 0. */
static void int_hidden(gen *g, const char *prefix, int cin, int cout, int k, int transposed, double in_rms)
{
    double *t = xalloc(g, (size_t)cout, sizeof *t), *b = xalloc(g, (size_t)cout, sizeof *b);
    if (t && b) {
        for (int o = 0; o < cout; o++)
            t[o] = HIDDEN_TARGET;
        int_conv(g, prefix, cin, cout, k, transposed, in_rms, t, b);
    }
    free(t);
    free(b);
}

/* ep.k.2: `size` means, then `size` scales (1/256 units). Means vary by about 2 real units (512) at
 * the finest gain. Scale channel c of y sits at a base value log-spaced over the scale table by its
 * global index (with a random jitter) and varies by ~30% of it at the finest gain, less at coarser
 * ones, so every scale index occurs at every quality and scales stay positive. */
static void int_params(gen *g, const char *prefix, int cin, int c0, int size, int M, double smax,
                       double in_rms)
{
    double *t = xalloc(g, 2 * (size_t)size, sizeof *t), *b = xalloc(g, 2 * (size_t)size, sizeof *b);
    if (t && b) {
        const double lo = Y_SMIN, hi = 0.8 * smax;
        for (int i = 0; i < size; i++) {
            double u = (c0 + i + 0.5 + 0.4 * usym(g)) / M;
            double s = 256.0 * lo * pow(hi / lo, u);
            t[i] = 512.0;
            b[i] = 0.0;
            t[size + i] = 0.3 * s;
            b[size + i] = s;
        }
        int_conv(g, prefix, cin, 2 * size, 1, 0, in_rms, t, b);
    }
    free(t);
    free(b);
}

/* ---- entropy tables ---- */

static void y_table(gen *g, double smax)
{
    double scales[N_SCALES];
    lic_cdf_scale_table(scales, N_SCALES, Y_SMIN, smax);
    int32_t *rows = xalloc(g, (size_t)N_SCALES * 4096, sizeof *rows);
    int32_t len[N_SCALES], off[N_SCALES], thr[N_SCALES - 1];
    int stride = 0;
    if (!rows)
        return;
    for (int i = 0; i < N_SCALES; i++) {
        /* center = ceil(6.109 * scale): the largest presets' rows fit 4096 entries */
        if (ceil(scales[i] * 6.109) * 2 + 3 > 4096 ||
            (len[i] = lic_cdf_gaussian_row(scales[i], rows + (size_t)i * 4096, &off[i])) < 3) {
            g->failed = 1;
            free(rows);
            return;
        }
        if (len[i] > stride)
            stride = len[i];
        if (i < N_SCALES - 1) {
            thr[i] = (int32_t)lround(256.0 * scales[i]);
            if (i > 0 && thr[i] <= thr[i - 1])
                g->failed = 1;
        }
    }
    int32_t *cdf = xalloc(g, (size_t)N_SCALES * stride, sizeof *cdf);
    if (cdf) {
        for (int i = 0; i < N_SCALES; i++)
            memcpy(cdf + (size_t)i * stride, rows + (size_t)i * 4096, (size_t)len[i] * sizeof *cdf);
        put(g, "entropy.y.cdf", LIC_DTYPE_I32, 2, N_SCALES, stride, 0, 0, cdf);
        put(g, "entropy.y.length", LIC_DTYPE_I32, 1, N_SCALES, 0, 0, 0, len);
        put(g, "entropy.y.offset", LIC_DTYPE_I32, 1, N_SCALES, 0, 0, 0, off);
        put(g, "entropy.y.scale_thresholds", LIC_DTYPE_I32, 1, N_SCALES - 1, 0, 0, 0, thr);
    }
    free(cdf);
    free(rows);
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* Factorized prior of z: per channel a discretized logistic of scale ~2 around 0, over
 * -R..R with R = ceil(12 * scale) (tail mass ~1e-5 goes to the escape symbol). */
static void z_table(gen *g, int N)
{
    enum { MAX_R = 64 };
    const int row = 2 * MAX_R + 3;
    int32_t *rows = xalloc(g, (size_t)N * row, sizeof *rows);
    int32_t *len = xalloc(g, (size_t)N, sizeof *len), *off = xalloc(g, (size_t)N, sizeof *off);
    int32_t *med = xalloc(g, (size_t)N, sizeof *med);
    double pmf[2 * MAX_R + 1];
    int stride = 0;
    if (rows && len && off && med) {
        for (int c = 0; c < N; c++) {
            double s = 2.0 * (1.0 + 0.25 * usym(g));
            int R = (int)ceil(12.0 * s), n = 2 * R + 1;
            double sum = 0;
            for (int v = -R; v <= R; v++)
                sum += pmf[v + R] = sigmoid((v + 0.5) / s) - sigmoid((v - 0.5) / s);
            double tail = 1.0 - sum;
            if (tail < 0)
                tail = 0;
            if (lic_cdf_from_pmf(pmf, n, tail, rows + (size_t)c * row) != 0)
                g->failed = 1;
            len[c] = n + 2;
            off[c] = -R;
            med[c] = (int32_t)lround(8.0 * usym(g)); /* within ±0.5 in 2^-4 units */
            if (len[c] > stride)
                stride = len[c];
        }
        int32_t *cdf = xalloc(g, (size_t)N * stride, sizeof *cdf);
        if (cdf) {
            for (int c = 0; c < N; c++)
                memcpy(cdf + (size_t)c * stride, rows + (size_t)c * row, (size_t)len[c] * sizeof *cdf);
            put(g, "entropy.z.cdf", LIC_DTYPE_I32, 2, N, stride, 0, 0, cdf);
            put(g, "entropy.z.length", LIC_DTYPE_I32, 1, N, 0, 0, 0, len);
            put(g, "entropy.z.offset", LIC_DTYPE_I32, 1, N, 0, 0, 0, off);
            put(g, "entropy.z.median", LIC_DTYPE_I32, 1, N, 0, 0, 0, med);
        }
        free(cdf);
    }
    free(rows);
    free(len);
    free(off);
    free(med);
}

/* gain[j][c] = 2^(j-4) * (1 ± 10%): j = 0 (q = 1) coarse, j = 7 (q = 100) fine. */
static void gains(gen *g, int M)
{
    float *gain = xalloc(g, (size_t)N_GAINS * M, sizeof *gain), *inv = xalloc(g, (size_t)N_GAINS * M, sizeof *inv);
    if (gain && inv) {
        for (int j = 0; j < N_GAINS; j++)
            for (int c = 0; c < M; c++) {
                double v = ldexp(1.0 + 0.1 * usym(g), j - 4);
                gain[(size_t)j * M + c] = (float)v;
                inv[(size_t)j * M + c] = (float)(1.0 / v);
            }
        put(g, "gain.y", LIC_DTYPE_F32, 2, N_GAINS, M, 0, 0, gain);
        put(g, "gain.y_inv", LIC_DTYPE_F32, 2, N_GAINS, M, 0, 0, inv);
    }
    free(gain);
    free(inv);
}

/* ---- the model ---- */

static void keys(gen *g, const preset *p, int gs_up, uint64_t seed, int with_cc)
{
    char desc[128], groups[64];
    int n = 0;
    for (int i = 0; i < p->n_groups; i++)
        n += snprintf(groups + n, sizeof groups - (size_t)n, "%s%d", i ? "," : "", p->groups[i]);
    snprintf(desc, sizeof desc, "untrained: lic-mkmodel --preset %s%s --gs-up %d --seed %llu", p->name,
             with_cc ? "" : " --arch lic-hp1", gs_up, (unsigned long long)seed);
    lic_licw_writer *w = g->w;
    const char *arch = with_cc ? "lic-ctx1" : "lic-hp1";
    if (lic_licw_writer_kv_string(w, "arch", arch, strlen(arch)) ||
        lic_licw_writer_kv_string(w, "description", desc, strlen(desc)) ||
        lic_licw_writer_kv_int(w, "N", p->N) || lic_licw_writer_kv_int(w, "M", p->M) ||
        lic_licw_writer_kv_int(w, "C_h", p->C_h) ||
        (with_cc && lic_licw_writer_kv_int(w, "C_cc", p->C_cc)) ||
        lic_licw_writer_kv_int(w, "C_sp", p->C_sp) || lic_licw_writer_kv_int(w, "C_ep", p->C_ep) ||
        lic_licw_writer_kv_string(w, "groups", groups, strlen(groups)) ||
        lic_licw_writer_kv_int(w, "gs_up", gs_up) ||
        lic_licw_writer_kv_int(w, "relu_slope_q8", RELU_SLOPE_Q8) ||
        lic_licw_writer_kv_int(w, "z_frac_bits", Z_FRAC_BITS) ||
        lic_licw_writer_kv_int(w, "yctx_frac_bits", p->yctx_frac_bits) ||
        lic_licw_writer_kv_int(w, "n_gains", N_GAINS))
        g->failed = 1;
}

static void model(gen *g, const preset *p, int gs_up, int with_cc)
{
    const int N = p->N, M = p->M;
    char name[64];
    const int ga_in[4] = { 3, N, N, N }, ga_out[4] = { N, N, N, M };
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "g_a.%d", i);
        float_conv(g, name, ga_in[i], ga_out[i], 5, 0, 0.0f);
    }
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "g_a.gdn%d", i);
        gdn(g, name, N);
    }
    float_conv(g, "h_a.0", M, N, 3, 0, 0.0f);
    float_conv(g, "h_a.1", N, N, 5, 0, 0.0f);
    float_conv(g, "h_a.2", N, N, 5, 0, 0.0f);
    const int gs_in[4] = { M, N, N, N }, gs_out[4] = { N, N, N, 3 };
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "g_s.%d", i);
        float bias = i == 3 ? 0.5f : 0.0f; /* mid-grey output */
        if (gs_up == 0)
            float_conv(g, name, gs_in[i], gs_out[i], 5, 1, bias);
        else
            float_conv(g, name, gs_in[i], 4 * gs_out[i], 3, 0, bias);
    }
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "g_s.igdn%d", i);
        gdn(g, name, N);
    }

    /* Integer path, calibrated for the finest gain (2^3), where activations are largest, so that no
     * quality saturates int16: there |z| ~ 16 real units (2^-4 units: 256) and |y'| ~ 8 (in context
     * units 2^-yctx_frac_bits: 128 for 4 fraction bits). Hidden layers then run at ~HIDDEN_TARGET, ReLU
     * outputs at ~0.7 of that; coarser gains scale everything down proportionally (the network is
     * nearly linear). */
    const double z_rms = 256.0, y_rms = 8.0 * (1 << p->yctx_frac_bits), relu_rms = 0.7 * HIDDEN_TARGET;
    int_hidden(g, "h_s.0", N, N, 5, 1, z_rms);
    int_hidden(g, "h_s.1", N, p->C_h, 5, 1, relu_rms);
    int_hidden(g, "h_s.2", p->C_h, p->C_h, 3, 0, relu_rms);
    int c0 = 0;
    for (int k = 0; k < p->n_groups; k++) {
        const int gk = p->groups[k];
        const int cc = k > 0 && with_cc;
        if (cc) {
            snprintf(name, sizeof name, "cc.%d.0", k);
            int_hidden(g, name, c0, p->C_cc, 3, 0, y_rms);
            snprintf(name, sizeof name, "cc.%d.1", k);
            int_hidden(g, name, p->C_cc, p->C_cc, 3, 0, relu_rms);
        }
        snprintf(name, sizeof name, "sp.%d.0", k);
        int_hidden(g, name, gk, p->C_sp, 5, 0, y_rms);
        const int ep_in = p->C_h + (cc ? p->C_cc : 0) + p->C_sp;
        snprintf(name, sizeof name, "ep.%d.0", k);
        int_hidden(g, name, ep_in, p->C_ep, 1, 0, HIDDEN_TARGET);
        snprintf(name, sizeof name, "ep.%d.1", k);
        int_hidden(g, name, p->C_ep, p->C_ep, 1, 0, relu_rms);
        snprintf(name, sizeof name, "ep.%d.2", k);
        int_params(g, name, p->C_ep, c0, gk, M, p->y_smax, relu_rms);
        c0 += gk;
    }

    z_table(g, N);
    y_table(g, p->y_smax);
    gains(g, M);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: lic-mkmodel --preset tiny|default|large [--arch lic-ctx1|lic-hp1] [--gs-up 0|1] [--seed S] "
               "-o FILE\n"
               "Writes a deterministic untrained model (.licw); lic-hp1 has no channel context.\n");
}

int main(int argc, char **argv)
{
    const preset *p = NULL;
    const char *out = NULL;
    int gs_up = -1, with_cc = 1;
    unsigned long long seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--preset") && v) {
            for (size_t j = 0; j < sizeof PRESETS / sizeof *PRESETS; j++)
                if (!strcmp(v, PRESETS[j].name))
                    p = &PRESETS[j];
            if (!p) {
                fprintf(stderr, "lic-mkmodel: unknown preset '%s'\n", v);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--arch") && v && (!strcmp(v, "lic-ctx1") || !strcmp(v, "lic-hp1"))) {
            with_cc = !strcmp(v, "lic-ctx1");
            i++;
        } else if (!strcmp(a, "--gs-up") && v && (!strcmp(v, "0") || !strcmp(v, "1"))) {
            gs_up = v[0] - '0';
            i++;
        } else if (!strcmp(a, "--seed") && v) {
            seed = strtoull(v, &end, 0);
            if (!*v || *end) {
                fprintf(stderr, "lic-mkmodel: bad seed '%s'\n", v);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "-o") && v) {
            out = v;
            i++;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!p || !out) {
        usage(stderr);
        return 2;
    }
    if (gs_up < 0)
        gs_up = p->gs_up;

    gen g = { lic_licw_writer_new(), seed, 0 };
    if (!g.w) {
        fprintf(stderr, "lic-mkmodel: out of memory\n");
        return 1;
    }
    keys(&g, p, gs_up, seed, with_cc);
    model(&g, p, gs_up, with_cc);
    int ok = !g.failed && lic_licw_writer_save(g.w, out) == 0;
    lic_licw_writer_free(g.w);
    if (!ok) {
        fprintf(stderr, "lic-mkmodel: cannot write %s\n", out);
        return 1;
    }
    return 0;
}
