/* lic-eval: rate-distortion and speed evaluation of a model on a set of images.
 *
 * Everything runs in one process through the public API: the model is loaded once and one encoder and
 * one decoder are reused for every image and quality, so the times are those of a warm library and
 * not of process start-up or model loading. With --batch the set is coded once more per quality
 * through the batch API (apps/eval_batch.c), for its throughput in images per second. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <lic/codec.h>

#include "apps/cli_common.h"
#include "apps/eval_batch.h"
#include "apps/image_io.h"
#include "apps/metrics.h"
#include "apps/notes.h"
#include "apps/output.h"

static const char *const PROG = "lic-eval";

#define MAX_QUALITIES 100
#define MAX_TIME_RUNS 1000

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: lic-eval DIR|FILE... [options]\n"
            "Encodes and decodes every image at every quality in one process through the public API and\n"
            "reports size, quality and time. A DIR contributes its *.png, *.jpg, *.jpeg, *.ppm, *.pgm and\n"
            "*.pnm files (sorted by name, not recursive).\n"
            "\n"
            "Options:\n"
            "  -q, --q LIST        comma-separated qualities 1..100; default 5,15,30,50,75,90\n"
            APP_LIB_OPT_HELP
            "      --time R        speed benchmark: after the measured (warm-up) run, encode and decode\n"
            "                      each image R more times and report the median times\n"
            "      --batch K       after the per-image run, code the whole set once more per quality\n"
            "                      through the batch API (lic_encode_batch, lic_decode_batch) with K\n"
            "                      images in flight (0 = the --threads count; at most 256) and report\n"
            "                      images per second for encode and decode: images coded over the wall\n"
            "                      time of the batch calls, beside the same figure one at a time (over\n"
            "                      the sum of the per-image times); with --time R, medians of R timed\n"
            "                      passes after one warm-up. Each batch result must equal the one-image\n"
            "                      result (stream bytes, pixels, hashes). Images stay in memory for it.\n"
            "      --csv FILE      write per-image rows and per-quality means as CSV\n"
            "      --json FILE     write the same as JSON (\"points\" holds the means, as in the anchors)\n"
            "                      Both are checked before the run (writable, not an input, not each\n"
            "                      other) and written at its end, each completely or not at all.\n"
            "      --drop-alpha    discard an alpha channel (otherwise alpha is an error)\n"
            "  -k, --keep-going    when an image fails (unreadable, over a limit, ...), report it on stderr\n"
            "                      and in the CSV/JSON (its \"error\" field) and go on with the others;\n"
            "                      the means cover the images that succeeded\n"
            "  -v, --verbose       print one line per image and quality to stderr; -vv adds library logs\n"
            "  -h, --help          print this help and exit\n"
            "      --version       print the version and exit\n"
            "\n"
            "Metrics: bpp = whole .lic file bytes * 8 / (width * height). PSNR = 10*log10(255^2/MSE) with\n"
            "one MSE over all samples of all channels (100 dB when identical). MS-SSIM: 5 scales, weights\n"
            "(0.0448, 0.2856, 0.3001, 0.2363, 0.1333), 11x11 Gaussian sigma 1.5, K1 0.01, K2 0.03, 2x2\n"
            "average downsampling, per channel on [0,255] and averaged over channels (as pytorch-msssim\n"
            "and CompressAI); null when a side is shorter than 161. Gray images are measured on their one\n"
            "channel. Per-quality means are plain means over images of each per-image value.\n"
            "Times are wall seconds; stage times come from lic_encoder_get_stats/lic_decoder_get_stats.\n"
            "Without --time they are those of the single run; with --time R each value (stages and totals\n"
            "independently) is the median of the R timed runs. Every decode is checked against its encode\n"
            "(symbols and parameters hashes) and every repeated encode against the first (same bytes).\n"
            "Inputs are read as by lic-encode (PNG, JPEG, binary or ASCII PGM/PPM; 16-bit input is coded at\n"
            "8 bits; metadata is not carried): the same warnings name the image. Every error names it too.\n"
            "\n" APP_EXIT_HELP
            "  A hash mismatch, a non-deterministic encode or a batch result that differs from the\n"
            "  one-image result exits with 6 after all images are measured.\n"
            "  With --keep-going, a failed image makes the exit status that of the first failure, after\n"
            "  the others are measured and the outputs written.\n");
}

enum {
    OPT_Q = 1, OPT_TIME, OPT_BATCH, OPT_CSV, OPT_JSON, OPT_DROP_ALPHA, OPT_KEEP_GOING,
    OPT_VERBOSE, OPT_HELP, OPT_VERSION
};

static const app_opt OPTS[] = {
    {"q", 'q', 1, OPT_Q},
    {"quality", 0, 1, OPT_Q},
    APP_LIB_OPT_ROWS,
    {"time", 0, 1, OPT_TIME},
    {"batch", 0, 1, OPT_BATCH},
    {"csv", 0, 1, OPT_CSV},
    {"json", 0, 1, OPT_JSON},
    {"drop-alpha", 0, 0, OPT_DROP_ALPHA},
    {"keep-going", 'k', 0, OPT_KEEP_GOING},
    {"verbose", 'v', 0, OPT_VERBOSE},
    {"help", 'h', 0, OPT_HELP},
    {"version", 0, 0, OPT_VERSION},
    {NULL, 0, 0, 0},
};

/* Stage times in seconds, in the order of lic_stats. */
enum { ST_ANALYSIS, ST_HYPER, ST_ENTROPY, ST_SYNTHESIS, N_STAGES };
static const char *const STAGE_NAMES[N_STAGES] = {"analysis", "hyper", "entropy", "synthesis"};

typedef struct times {
    double total;
    double stage[N_STAGES];
} times;

/* One image at one quality. */
typedef struct row {
    const char *name; /* points into the file list */
    uint32_t width, height;
    int q;
    size_t bytes;
    double bpp, psnr, ms_ssim; /* ms_ssim NAN when undefined */
    times enc, dec;
    uint64_t symbols_hash, params_hash;
    uint64_t stream_hash, pixels_hash; /* of the first run's .lic bytes and decoded pixels (--batch) */
    int hashes_match;  /* decoder reproduced the encoder's symbols and parameters */
    int deterministic; /* every repeated encode gave the same bytes */
    char error[256];   /* why this image failed at this quality (--keep-going); empty if it did not */
} row;

typedef struct mean_row {
    int q;
    int n;
    double bytes, bpp, psnr, ms_ssim;
    times enc, dec;
} mean_row;

static times times_from_stats(const lic_stats *st, double total)
{
    times t = {total, {st->t_analysis, st->t_hyper, st->t_entropy, st->t_synthesis}};
    return t;
}

/* ---- arguments ---------------------------------------------------------------------------------- */

/* "5,15,30" -> qualities; returns the count, or -1 on a malformed list. */
static int parse_qualities(const char *s, int *out)
{
    int n = 0;
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        char buf[16];
        long v;
        if (len == 0 || len >= sizeof(buf) || n >= MAX_QUALITIES)
            return -1;
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (app_parse_int(buf, 1, 100, &v))
            return -1;
        out[n++] = (int)v;
        if (!comma)
            break;
        s = comma + 1;
        if (!*s)
            return -1; /* trailing comma */
    }
    return n;
}

typedef struct file_list {
    char **paths;
    size_t n, cap;
} file_list;

static int list_push(file_list *l, char *path)
{
    if (!path)
        return -1;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        char **p = realloc(l->paths, cap * sizeof(*p));
        if (!p) {
            free(path);
            return -1;
        }
        l->paths = p;
        l->cap = cap;
    }
    l->paths[l->n++] = path;
    return 0;
}

static void list_free(file_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
    l->paths = NULL;
    l->n = l->cap = 0;
}

static char *str_dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static int is_image_name(const char *name)
{
    static const char *const exts[] = {".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".pnm"};
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name)
        return 0;
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
        if (strcasecmp(dot, exts[i]) == 0)
            return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds a file, or a directory's image files sorted by name. Returns 0 or an APP_EXIT_* code. */
static int add_input(file_list *l, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        app_err(PROG, "cannot access '%s'", path);
        return APP_EXIT_IO;
    }
    if (!S_ISDIR(sb.st_mode))
        return list_push(l, str_dup(path)) ? APP_EXIT_FAILURE : 0;
    DIR *d = opendir(path);
    if (!d) {
        app_err(PROG, "cannot open directory '%s'", path);
        return APP_EXIT_IO;
    }
    size_t first = l->n;
    struct dirent *e;
    size_t plen = strlen(path);
    int slash = plen > 0 && path[plen - 1] == '/';
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !is_image_name(e->d_name))
            continue;
        size_t n = plen + 1 + strlen(e->d_name) + 1;
        char *p = malloc(n);
        if (p)
            snprintf(p, n, "%s%s%s", path, slash ? "" : "/", e->d_name);
        struct stat fb;
        if (p && (stat(p, &fb) != 0 || !S_ISREG(fb.st_mode))) {
            free(p);
            continue;
        }
        if (list_push(l, p)) {
            closedir(d);
            return APP_EXIT_FAILURE;
        }
    }
    closedir(d);
    if (l->n == first) {
        app_err(PROG, "no image files in '%s'", path);
        return APP_EXIT_IO;
    }
    qsort(l->paths + first, l->n - first, sizeof(char *), cmp_str);
    return 0;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* ---- measurement -------------------------------------------------------------------------------- */

/* Median of each field over n runs; `runs` is reordered. */
static times median_times(times *runs, int n, double *scratch)
{
    times m;
    for (int i = 0; i < n; i++)
        scratch[i] = runs[i].total;
    m.total = app_median(scratch, n);
    for (int s = 0; s < N_STAGES; s++) {
        for (int i = 0; i < n; i++)
            scratch[i] = runs[i].stage[s];
        m.stage[s] = app_median(scratch, n);
    }
    return m;
}

typedef struct eval_ctx {
    lic_encoder *enc;
    lic_decoder *dec;
    int time_runs;
    times *enc_runs, *dec_runs; /* time_runs entries each */
    double *scratch;
} eval_ctx;

/* One decode of `bits`, checked against the encoder's stats and the source image's geometry.
 * Fills *out (caller frees) and *t. Returns 0 or an APP_EXIT_* code; a hash mismatch is not an error
 * here but is reported through *match. */
static int decode_once(eval_ctx *c, const char *path, const uint8_t *bits, size_t n, const lic_image *src,
                       const lic_stats *est, lic_image *out, times *t, int *match, uint64_t *hashes)
{
    double t0 = app_now();
    int r = lic_decode(c->dec, bits, n, out);
    double t1 = app_now();
    if (r) {
        app_err(PROG, "cannot decode the stream of '%s': %s", path, lic_strerror(r));
        return app_exit_from_lic(r);
    }
    if (out->width != src->width || out->height != src->height || out->fmt != src->fmt) {
        app_err(PROG, "'%s': the decoded image is %ux%u format %d, the source %ux%u format %d", path,
                (unsigned)out->width, (unsigned)out->height, (int)out->fmt, (unsigned)src->width,
                (unsigned)src->height, (int)src->fmt);
        lic_image_free(out);
        return APP_EXIT_FAILURE;
    }
    lic_stats dst;
    if ((r = lic_decoder_get_stats(c->dec, &dst))) {
        app_err(PROG, "'%s': cannot read the decoder statistics: %s", path, lic_strerror(r));
        lic_image_free(out);
        return app_exit_from_lic(r);
    }
    *t = times_from_stats(&dst, t1 - t0);
    *match = dst.symbols_hash == est->symbols_hash && dst.params_hash == est->params_hash;
    hashes[0] = dst.symbols_hash;
    hashes[1] = dst.params_hash;
    return 0;
}

/* Encodes and decodes one image at one quality (plus the timed repetitions) and fills *rw. */
static int eval_one(eval_ctx *c, const char *path, const lic_image *img, int q, row *rw)
{
    uint8_t *bits = NULL;
    size_t n = 0;
    lic_image out = {0};
    lic_stats est;
    int code = 0;

    double t0 = app_now();
    int r = lic_encode(c->enc, img, q, &bits, &n);
    double t1 = app_now();
    if (r) {
        app_err(PROG, "cannot encode '%s' at quality %d: %s", path, q, lic_strerror(r));
        return app_exit_from_lic(r);
    }
    if ((r = lic_encoder_get_stats(c->enc, &est))) {
        app_err(PROG, "'%s': cannot read the encoder statistics: %s", path, lic_strerror(r));
        lic_free(bits);
        return app_exit_from_lic(r);
    }
    rw->enc = times_from_stats(&est, t1 - t0);
    rw->symbols_hash = est.symbols_hash;
    rw->stream_hash = app_fnv1a64(APP_FNV_BASIS, bits, n);
    rw->params_hash = est.params_hash;
    rw->bytes = n;
    rw->bpp = (double)n * 8.0 / ((double)img->width * (double)img->height);
    rw->deterministic = 1;

    uint64_t dh[2];
    if ((code = decode_once(c, path, bits, n, img, &est, &out, &rw->dec, &rw->hashes_match, dh)))
        goto done;
    if (!rw->hashes_match)
        app_err(PROG, "'%s' q %d: decoder hashes %016llx/%016llx differ from the encoder's %016llx/%016llx",
                path, q, (unsigned long long)dh[0], (unsigned long long)dh[1],
                (unsigned long long)est.symbols_hash, (unsigned long long)est.params_hash);

    rw->pixels_hash = app_pixels_hash(&out);
    int ch = img->fmt == LIC_PIXFMT_GRAY8 ? 1 : 3;
    rw->psnr = app_psnr_u8(img->data, img->stride, out.data, out.stride, img->width, img->height, ch);
    r = app_ms_ssim_u8(img->data, img->stride, out.data, out.stride, img->width, img->height, ch, &rw->ms_ssim);
    if (r == APP_METRIC_ESMALL)
        rw->ms_ssim = NAN;
    else if (r) {
        app_err(PROG, "cannot compute MS-SSIM of '%s' (out of memory?)", path);
        code = APP_EXIT_FAILURE;
        goto done;
    }
    lic_image_free(&out);

    /* Speed benchmark: the run above was the warm-up; time R more, same encoder and decoder. */
    for (int i = 0; i < c->time_runs; i++) {
        uint8_t *b2 = NULL;
        size_t n2 = 0;
        lic_stats st;
        t0 = app_now();
        r = lic_encode(c->enc, img, q, &b2, &n2);
        t1 = app_now();
        if (r || (r = lic_encoder_get_stats(c->enc, &st))) {
            app_err(PROG, "cannot encode '%s' at quality %d: %s", path, q, lic_strerror(r));
            lic_free(b2);
            code = app_exit_from_lic(r);
            goto done;
        }
        c->enc_runs[i] = times_from_stats(&st, t1 - t0);
        if (n2 != n || memcmp(b2, bits, n) != 0) {
            if (rw->deterministic)
                app_err(PROG, "'%s' q %d: a repeated encode gave different bytes (%zu vs %zu)", path, q, n2, n);
            rw->deterministic = 0;
        }
        lic_free(b2);
        int match;
        code = decode_once(c, path, bits, n, img, &est, &out, &c->dec_runs[i], &match, dh);
        lic_image_free(&out);
        if (code)
            goto done;
        if (!match && rw->hashes_match) {
            app_err(PROG, "'%s' q %d: a repeated decode gave different hashes", path, q);
            rw->hashes_match = 0;
        }
    }
    if (c->time_runs > 0) {
        rw->enc = median_times(c->enc_runs, c->time_runs, c->scratch);
        rw->dec = median_times(c->dec_runs, c->time_runs, c->scratch);
    }
done:
    lic_image_free(&out);
    lic_free(bits);
    return code;
}

/* ---- output ------------------------------------------------------------------------------------- */

static void add_times(times *acc, const times *t)
{
    acc->total += t->total;
    for (int s = 0; s < N_STAGES; s++)
        acc->stage[s] += t->stage[s];
}

static void scale_times(times *t, double k)
{
    t->total *= k;
    for (int s = 0; s < N_STAGES; s++)
        t->stage[s] *= k;
}

/* Means over the images that succeeded, for each quality. A NaN MS-SSIM (image too small) makes its
 * mean NaN too. */
static void compute_means(const row *rows, size_t n_img, const int *qs, int n_q, mean_row *means)
{
    for (int j = 0; j < n_q; j++) {
        mean_row *m = &means[j];
        memset(m, 0, sizeof(*m));
        m->q = qs[j];
        int n = 0;
        for (size_t i = 0; i < n_img; i++) {
            const row *rw = &rows[i * (size_t)n_q + (size_t)j];
            if (rw->error[0])
                continue;
            n++;
            m->bytes += (double)rw->bytes;
            m->bpp += rw->bpp;
            m->psnr += rw->psnr;
            m->ms_ssim += rw->ms_ssim;
            add_times(&m->enc, &rw->enc);
            add_times(&m->dec, &rw->dec);
        }
        double k = n ? 1.0 / (double)n : NAN; /* no image succeeded: null means */
        m->n = n;
        m->bytes *= k;
        m->bpp *= k;
        m->psnr *= k;
        m->ms_ssim *= k;
        scale_times(&m->enc, k);
        scale_times(&m->dec, k);
    }
}

/* A JSON number, or null for NaN/infinity (JSON has neither). */
static void json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.10g", v);
    else
        fputs("null", f);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void json_times(FILE *f, const char *key, const times *t)
{
    fprintf(f, "\"%s_s\": ", key);
    json_num(f, t->total);
    fprintf(f, ", \"%s_stages_s\": {", key);
    for (int s = 0; s < N_STAGES; s++) {
        fprintf(f, "%s\"%s\": ", s ? ", " : "", STAGE_NAMES[s]);
        json_num(f, t->stage[s]);
    }
    fputc('}', f);
}

typedef struct run_info {
    const char *model_path; /* NULL: built-in */
    lic_model_info model;
    const char *backend;
    int threads, time_runs;
    size_t n_failed; /* images that failed (--keep-going) */
    /* --batch: one pass per quality over the images that succeeded there */
    int batch;                         /* --batch given */
    int batch_depth;                   /* lic_batch_encoder_depth */
    size_t batch_coded;                /* images x qualities coded in one pass over all qualities */
    double batch_enc_s, batch_dec_s;   /* wall seconds of the batch calls, summed over qualities */
    double single_enc_s, single_dec_s; /* the per-image totals of the same images, summed */
} run_info;

/* Images per second, or NaN when nothing was timed. */
static double per_second(size_t n, double seconds)
{
    return seconds > 0 ? (double)n / seconds : NAN;
}

static void write_json(FILE *f, const run_info *ri, const row *rows, size_t n_rows, const mean_row *means, int n_q)
{
    fprintf(f, "{\n  \"tool\": \"lic-eval\",\n  \"version\": ");
    json_str(f, lic_version_string());
    fprintf(f, ",\n  \"codec\": \"lic\",\n  \"model\": {\"path\": ");
    if (ri->model_path)
        json_str(f, ri->model_path);
    else
        fputs("null", f);
    fprintf(f, ", \"arch\": ");
    json_str(f, ri->model.arch ? ri->model.arch : "");
    fprintf(f, ", \"fingerprint\": \"%016llx\", \"n_channels_y\": %d, \"n_channels_z\": %d},\n",
            (unsigned long long)ri->model.fingerprint, ri->model.n_channels_y, ri->model.n_channels_z);
    fprintf(f, "  \"backend\": ");
    json_str(f, ri->backend ? ri->backend : "");
    fprintf(f, ",\n  \"threads\": %d,\n  \"time_runs\": %d,\n", ri->threads, ri->time_runs);
    fprintf(f, "  \"n_images\": %zu,\n", n_q ? n_rows / (size_t)n_q : 0);
    fprintf(f, "  \"n_failed\": %zu,\n", ri->n_failed);
    fprintf(f, "  \"batch\": ");
    if (ri->batch) {
        fprintf(f, "{\"depth\": %d, \"images_coded\": %zu, \"enc_images_per_s\": ", ri->batch_depth, ri->batch_coded);
        json_num(f, per_second(ri->batch_coded, ri->batch_enc_s));
        fprintf(f, ", \"dec_images_per_s\": ");
        json_num(f, per_second(ri->batch_coded, ri->batch_dec_s));
        fprintf(f, ", \"single_enc_images_per_s\": ");
        json_num(f, per_second(ri->batch_coded, ri->single_enc_s));
        fprintf(f, ", \"single_dec_images_per_s\": ");
        json_num(f, per_second(ri->batch_coded, ri->single_dec_s));
        fprintf(f, "},\n");
    } else {
        fprintf(f, "null,\n");
    }
    fprintf(f, "  \"metric_notes\": \"bpp = whole .lic bytes*8/(W*H) per image; psnr = 8-bit RGB PSNR, one MSE over "
               "all channels, capped at 100 dB; ms_ssim = 5-scale MS-SSIM per channel on [0,255] averaged over "
               "channels (pytorch-msssim convention), null if a side < 161; points = plain means over images; "
               "times in wall seconds, %s\",\n",
            ri->time_runs > 0 ? "medians of the timed runs after one warm-up run"
                              : "of a single run (no warm-up)");
    fprintf(f, "  \"points\": [\n");
    for (int j = 0; j < n_q; j++) {
        const mean_row *m = &means[j];
        fprintf(f, "    {\"q\": %d, \"n\": %d, \"bytes\": ", m->q, m->n);
        json_num(f, m->bytes);
        fprintf(f, ", \"bpp\": ");
        json_num(f, m->bpp);
        fprintf(f, ", \"psnr\": ");
        json_num(f, m->psnr);
        fprintf(f, ", \"ms_ssim\": ");
        json_num(f, m->ms_ssim);
        fprintf(f, ", ");
        json_times(f, "enc", &m->enc);
        fprintf(f, ", ");
        json_times(f, "dec", &m->dec);
        fprintf(f, "}%s\n", j + 1 < n_q ? "," : "");
    }
    fprintf(f, "  ],\n  \"per_image\": [\n");
    for (size_t i = 0; i < n_rows; i++) {
        const row *rw = &rows[i];
        fprintf(f, "    {\"name\": ");
        json_str(f, rw->name);
        if (rw->error[0]) { /* --keep-going: the image failed; no measurements */
            fprintf(f, ", \"q\": %d, \"error\": ", rw->q);
            json_str(f, rw->error);
            fprintf(f, "}%s\n", i + 1 < n_rows ? "," : "");
            continue;
        }
        fprintf(f, ", \"w\": %u, \"h\": %u, \"q\": %d, \"bytes\": %zu, \"bpp\": ", (unsigned)rw->width,
                (unsigned)rw->height, rw->q, rw->bytes);
        json_num(f, rw->bpp);
        fprintf(f, ", \"psnr\": ");
        json_num(f, rw->psnr);
        fprintf(f, ", \"ms_ssim\": ");
        json_num(f, rw->ms_ssim);
        fprintf(f, ", ");
        json_times(f, "enc", &rw->enc);
        fprintf(f, ", ");
        json_times(f, "dec", &rw->dec);
        fprintf(f, ", \"symbols_hash\": \"%016llx\", \"params_hash\": \"%016llx\", \"hashes_match\": %s, "
                   "\"deterministic\": %s}%s\n",
                (unsigned long long)rw->symbols_hash, (unsigned long long)rw->params_hash,
                rw->hashes_match ? "true" : "false", rw->deterministic ? "true" : "false",
                i + 1 < n_rows ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
}

static void csv_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, ",%.10g", v);
    else
        fputs(",", f);
}

static void csv_times(FILE *f, const times *t)
{
    csv_num(f, t->total);
    for (int s = 0; s < N_STAGES; s++)
        csv_num(f, t->stage[s]);
}

/* A CSV field: quoted when it holds a comma, quote or line break. */
static void csv_str(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void write_csv(FILE *f, const row *rows, size_t n_rows, const mean_row *means, int n_q)
{
    fputs("kind,image,width,height,q,bytes,bpp,psnr,ms_ssim,enc_s", f);
    for (int s = 0; s < N_STAGES; s++)
        fprintf(f, ",enc_%s_s", STAGE_NAMES[s]);
    fputs(",dec_s", f);
    for (int s = 0; s < N_STAGES; s++)
        fprintf(f, ",dec_%s_s", STAGE_NAMES[s]);
    fputs(",symbols_hash,params_hash,hashes_match,error\n", f);
    for (size_t i = 0; i < n_rows; i++) {
        const row *rw = &rows[i];
        fputs("image,", f);
        csv_str(f, rw->name);
        if (rw->error[0]) { /* --keep-going: the image failed; its measurement columns stay empty */
            fprintf(f, ",,,%d,,,,,,,,,,,,,,,,,,", rw->q);
            csv_str(f, rw->error);
            fputc('\n', f);
            continue;
        }
        fprintf(f, ",%u,%u,%d,%zu", (unsigned)rw->width, (unsigned)rw->height, rw->q, rw->bytes);
        csv_num(f, rw->bpp);
        csv_num(f, rw->psnr);
        csv_num(f, rw->ms_ssim);
        csv_times(f, &rw->enc);
        csv_times(f, &rw->dec);
        fprintf(f, ",%016llx,%016llx,%d,\n", (unsigned long long)rw->symbols_hash,
                (unsigned long long)rw->params_hash, rw->hashes_match && rw->deterministic);
    }
    for (int j = 0; j < n_q; j++) {
        const mean_row *m = &means[j];
        fprintf(f, "mean,,,,%d", m->q);
        csv_num(f, m->bytes);
        csv_num(f, m->bpp);
        csv_num(f, m->psnr);
        csv_num(f, m->ms_ssim);
        csv_times(f, &m->enc);
        csv_times(f, &m->dec);
        fputs(",,,,\n", f);
    }
}

static int write_output(const char *path, const run_info *ri, const row *rows, size_t n_rows,
                        const mean_row *means, int n_q, int json)
{
    app_out o;
    char msg[512];
    int code = app_out_open(&o, path, msg, sizeof(msg));
    if (!code) {
        if (json)
            write_json(o.f, ri, rows, n_rows, means, n_q);
        else
            write_csv(o.f, rows, n_rows, means, n_q);
        code = app_out_commit(&o, msg, sizeof(msg));
    }
    if (code)
        app_err(PROG, "%s", msg);
    return code;
}

static void print_summary(const run_info *ri, size_t n_img, const mean_row *means, int n_q)
{
    char failed[64] = "";
    if (ri->n_failed)
        snprintf(failed, sizeof(failed), " (%zu failed: not in the means)", ri->n_failed);
    printf("lic-eval: %zu image%s%s, model %s (%s, %016llx), backend %s, threads %d%s\n", n_img,
           n_img == 1 ? "" : "s", failed, ri->model_path ? ri->model_path : "built-in",
           ri->model.arch ? ri->model.arch : "?", (unsigned long long)ri->model.fingerprint,
           ri->backend ? ri->backend : "?", ri->threads, ri->threads == 0 ? " (all cores)" : "");
    if (ri->time_runs > 0)
        printf("times: median of %d runs after one warm-up, mean over images, milliseconds\n", ri->time_runs);
    else
        printf("times: single run (use --time R for a benchmark), mean over images, milliseconds\n");
    printf("%4s %8s %8s %8s | %8s %8s %8s %8s %8s | %8s %8s %8s %8s %8s\n", "q", "bpp", "PSNR", "MS-SSIM",
           "enc", "analysis", "hyper", "entropy", "synth", "dec", "analysis", "hyper", "entropy", "synth");
    for (int j = 0; j < n_q; j++) {
        const mean_row *m = &means[j];
        printf("%4d %8.4f %8.3f", m->q, m->bpp, m->psnr);
        if (isfinite(m->ms_ssim))
            printf(" %8.5f |", m->ms_ssim);
        else
            printf(" %8s |", "n/a");
        printf(" %8.2f", 1e3 * m->enc.total);
        for (int s = 0; s < N_STAGES; s++)
            printf(" %8.2f", 1e3 * m->enc.stage[s]);
        printf(" | %8.2f", 1e3 * m->dec.total);
        for (int s = 0; s < N_STAGES; s++)
            printf(" %8.2f", 1e3 * m->dec.stage[s]);
        printf("\n");
    }
    if (ri->batch)
        printf("batch of %d in flight: encode %.2f images/s, decode %.2f images/s; one at a time: encode %.2f, "
               "decode %.2f images/s (wall clock over %zu image codings)\n",
               ri->batch_depth, per_second(ri->batch_coded, ri->batch_enc_s),
               per_second(ri->batch_coded, ri->batch_dec_s), per_second(ri->batch_coded, ri->single_enc_s),
               per_second(ri->batch_coded, ri->single_dec_s), ri->batch_coded);
    fflush(stdout);
}

/* Reads one image, refusing it from its header when it is over a limit, and prints the warnings
 * about it. On failure prints why, naming it, and copies the reason into why. Returns 0 or an
 * APP_EXIT_* code. */
static int read_image(const lic_encoder *enc, const char *path, const app_read_opts *ropts, int verbose,
                      app_image *img, char *why, size_t why_size)
{
    uint8_t *file = NULL;
    size_t size = 0;
    app_image_info info;
    lic_size_check chk;
    char msg[200];
    int r, code = 0;
    memset(img, 0, sizeof(*img));
    if ((r = app_read_file(path, 0, &file, &size, msg, sizeof(msg))) ||
        (r = app_image_probe(file, size, &info, msg, sizeof(msg)))) {
        snprintf(why, why_size, "cannot read it: %s", msg);
        code = app_exit_from_img(r);
    } else if ((r = lic_encoder_check_size(enc, info.width, info.height, &chk))) {
        if (r == LIC_ELIMIT)
            app_size_limit_message(why, why_size, info.width, info.height, &chk);
        else
            snprintf(why, why_size, "%s", lic_strerror(r));
        code = app_exit_from_lic(r);
    } else if ((r = app_image_decode_info(file, size, ropts, img, &info, msg, sizeof(msg)))) {
        snprintf(why, why_size, "cannot read it: %s", msg);
        code = app_exit_from_img(r);
    } else {
        app_print_image_notes(PROG, path, &info, 0, "lic-eval measures pixels only", verbose);
    }
    if (code)
        app_err(PROG, "'%s': %s", path, why);
    free(file);
    return code;
}

/* --batch: codes the images that succeeded at each quality once more, through one batch call per
 * quality and direction, checks the results against the per-image run's and fills ri's batch figures.
 * Returns 0 or an APP_EXIT_* code; a result that differs sets *bad_hash. */
static int run_batches(lic_model *model, const lic_config *cfg, int depth, const app_image *imgs, const row *rows,
                       size_t n_img, const int *qs, int n_q, int time_runs, run_info *ri, int *bad_hash)
{
    lic_batch_encoder *be = NULL;
    lic_batch_decoder *bd = NULL;
    eval_batch_ref *refs = calloc(n_img, sizeof(*refs));
    const char **names = calloc(n_img, sizeof(*names));
    lic_image *limg = calloc(n_img, sizeof(*limg));
    int r, code = 0;
    if (!refs || !names || !limg) {
        app_err(PROG, "out of memory");
        code = APP_EXIT_FAILURE;
        goto done;
    }
    if ((r = lic_batch_encoder_open(&be, model, cfg, depth)) || (r = lic_batch_decoder_open(&bd, model, cfg, depth))) {
        app_err(PROG, "cannot open the batch encoder or decoder: %s", lic_strerror(r));
        code = app_exit_from_lic(r);
        goto done;
    }
    ri->batch_depth = lic_batch_encoder_depth(be);
    for (int j = 0; j < n_q && !code; j++) {
        size_t n = 0;
        for (size_t i = 0; i < n_img; i++) {
            const row *rw = &rows[i * (size_t)n_q + (size_t)j];
            if (rw->error[0] || !imgs[i].data)
                continue;
            limg[n] = (lic_image){imgs[i].width, imgs[i].height,
                                  imgs[i].channels == 1 ? LIC_PIXFMT_GRAY8 : LIC_PIXFMT_RGB8, imgs[i].data,
                                  imgs[i].stride};
            refs[n] = (eval_batch_ref){&limg[n], rw->stream_hash, rw->pixels_hash, rw->symbols_hash, rw->params_hash};
            names[n] = rw->name;
            ri->single_enc_s += rw->enc.total;
            ri->single_dec_s += rw->dec.total;
            n++;
        }
        eval_batch_times t;
        int mismatches = 0;
        code = eval_batch_quality(be, bd, refs, names, n, qs[j], time_runs, &t, &mismatches);
        ri->batch_enc_s += t.enc;
        ri->batch_dec_s += t.dec;
        ri->batch_coded += n;
        if (mismatches)
            *bad_hash = 1;
    }
done:
    lic_batch_decoder_close(&bd);
    lic_batch_encoder_close(&be);
    free(refs);
    free(names);
    free(limg);
    return code;
}

/* The --json and --csv paths: each writable and not an input, and not both the same file. */
static int check_outputs(const char *json_path, const char *csv_path, const file_list *files)
{
    const char *paths[2] = {json_path, csv_path};
    char msg[512];
    for (int k = 0; k < 2; k++) {
        if (!paths[k])
            continue;
        int r = app_out_check(paths[k], (const char *const *)files->paths, files->n, msg, sizeof(msg));
        if (r)
            return r == APP_EXIT_USAGE ? app_usage_error(PROG, msg) : (app_err(PROG, "%s", msg), r);
    }
    if (json_path && csv_path && (!strcmp(json_path, csv_path) || app_same_file(json_path, csv_path)))
        return app_usage_error(PROG, "--json and --csv name the same file");
    return 0;
}

/* ---- main --------------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    const char *csv_path = NULL, *json_path = NULL;
    int qs[MAX_QUALITIES] = {5, 15, 30, 50, 75, 90};
    int n_q = 6;
    long time_runs = 0, batch_depth = -1;
    app_lib_opts lib_opts = APP_LIB_OPTS_INIT;
    int drop_alpha = 0, verbose = 0, keep_going = 0;
    file_list files = {0};
    char msg[512];
    int code = APP_EXIT_OK;

    app_args args;
    app_args_init(&args, argc, argv);
    for (;;) {
        const char *arg, *bad;
        int id = app_next_opt(&args, OPTS, &arg, msg, sizeof(msg));
        if (id == APP_OPT_END)
            break;
        switch (id) {
        case APP_OPT_ERROR: list_free(&files); return app_usage_error(PROG, msg);
        case APP_OPT_POSITIONAL:
            if ((code = add_input(&files, arg))) {
                list_free(&files);
                return code;
            }
            break;
        case OPT_Q:
            if ((n_q = parse_qualities(arg, qs)) <= 0) {
                list_free(&files);
                return app_usage_error(PROG, "--q must be a comma-separated list of integers from 1 to 100");
            }
            break;
        case OPT_TIME:
            if (app_parse_int(arg, 1, MAX_TIME_RUNS, &time_runs)) {
                list_free(&files);
                return app_usage_error(PROG, "--time must be an integer from 1 to 1000");
            }
            break;
        case OPT_BATCH:
            if (app_parse_int(arg, 0, LIC_BATCH_MAX_DEPTH, &batch_depth)) {
                list_free(&files);
                return app_usage_error(PROG, "--batch must be an integer from 0 to 256");
            }
            break;
        case OPT_CSV: csv_path = arg; break;
        case OPT_JSON: json_path = arg; break;
        case OPT_DROP_ALPHA: drop_alpha = 1; break;
        case OPT_KEEP_GOING: keep_going = 1; break;
        case OPT_VERBOSE: verbose++; break;
        case OPT_HELP: list_free(&files); usage(stdout); return APP_EXIT_OK;
        case OPT_VERSION:
            list_free(&files);
            printf("lic-eval %s (libcodec %s)\n", LIC_VERSION_STRING, lic_version_string());
            return APP_EXIT_OK;
        default: /* --model, --threads, --max-memory, --backend */
            if (app_lib_opts_parse(&lib_opts, id, arg, &bad) < 0) {
                list_free(&files);
                return app_usage_error(PROG, bad);
            }
            break;
        }
    }
    if (files.n == 0)
        return app_usage_error(PROG, "no input images");
    /* The outputs are written after a run that may take hours: whatever would stop them is found now. */
    if ((code = check_outputs(json_path, csv_path, &files))) {
        list_free(&files);
        return code;
    }

    /* -v prints lic-eval's own per-image lines; only -vv turns on the library's messages. */
    lic_config cfg;
    int r = app_lib_config(PROG, &lib_opts, verbose >= 2 ? LIC_LOG_DEBUG : LIC_LOG_WARN, &cfg);
    if (r) {
        list_free(&files);
        return r;
    }

    lic_model *model = NULL;
    eval_ctx ctx = {0};
    row *rows = NULL;
    mean_row *means = NULL;
    run_info ri = {.model_path = lib_opts.model_path,
                   .threads = (int)lib_opts.threads,
                   .time_runs = (int)time_runs,
                   .batch = batch_depth >= 0};
    app_image *kept = NULL; /* --batch: the images, kept for the batch pass */
    size_t n_rows = files.n * (size_t)n_q;
    int bad_hash = 0;

    if ((code = app_load_model(PROG, &lib_opts, &cfg, &model)))
        goto done;
    lic_model_get_info(model, &ri.model);
    if ((r = lic_encoder_open(&ctx.enc, model, &cfg)) || (r = lic_decoder_open(&ctx.dec, model, &cfg))) {
        app_err(PROG, "cannot open the encoder or decoder: %s", lic_strerror(r));
        code = app_exit_from_lic(r);
        goto done;
    }
    ctx.time_runs = (int)time_runs;
    rows = calloc(n_rows, sizeof(*rows));
    means = calloc((size_t)n_q, sizeof(*means));
    ctx.enc_runs = calloc((size_t)time_runs + 1, sizeof(times));
    ctx.dec_runs = calloc((size_t)time_runs + 1, sizeof(times));
    ctx.scratch = calloc((size_t)time_runs + 1, sizeof(double));
    if (ri.batch)
        kept = calloc(files.n, sizeof(*kept));
    if (!rows || !means || !ctx.enc_runs || !ctx.dec_runs || !ctx.scratch || (ri.batch && !kept)) {
        app_err(PROG, "out of memory");
        code = APP_EXIT_FAILURE;
        goto done;
    }

    app_read_opts ropts = {cfg.max_side, cfg.max_pixels, 0, drop_alpha};
    int first_failure = 0;
    for (size_t i = 0; i < files.n; i++) {
        const char *path = files.paths[i];
        row *img_rows = &rows[i * (size_t)n_q];
        for (int j = 0; j < n_q; j++) {
            img_rows[j].name = base_name(path);
            img_rows[j].q = qs[j];
        }
        app_image one, *pimg = kept ? &kept[i] : &one;
        char why[256];
        if ((code = read_image(ctx.enc, path, &ropts, verbose, pimg, why, sizeof(why)))) {
            if (!keep_going)
                goto done;
            for (int j = 0; j < n_q; j++)
                snprintf(img_rows[j].error, sizeof(img_rows[j].error), "%s", why);
        }
        for (int j = 0; j < n_q && !img_rows[j].error[0]; j++) {
            row *rw = &img_rows[j];
            rw->width = pimg->width;
            rw->height = pimg->height;
            lic_image limg = {pimg->width, pimg->height, pimg->channels == 1 ? LIC_PIXFMT_GRAY8 : LIC_PIXFMT_RGB8,
                              pimg->data, pimg->stride};
            if ((code = eval_one(&ctx, path, &limg, qs[j], rw))) {
                if (!keep_going) {
                    app_image_free(pimg);
                    goto done;
                }
                /* eval_one printed the reason; the outputs record that this quality failed. */
                snprintf(rw->error, sizeof(rw->error), "failed at quality %d (exit status %d; see stderr)", qs[j], code);
                break;
            }
            bad_hash |= !rw->hashes_match || !rw->deterministic;
            if (!ri.backend) {
                lic_stats st;
                if (lic_encoder_get_stats(ctx.enc, &st) == 0)
                    ri.backend = st.backend;
            }
            if (verbose)
                fprintf(stderr, "%s: %s q %3d: %zu bytes, %.4f bpp, PSNR %.3f dB, MS-SSIM %.5f%s, enc %.1f ms, dec %.1f ms%s\n",
                        PROG, rw->name, rw->q, rw->bytes, rw->bpp, rw->psnr, rw->ms_ssim,
                        isfinite(rw->ms_ssim) ? "" : " (image too small)", 1e3 * rw->enc.total,
                        1e3 * rw->dec.total, rw->hashes_match ? "" : " HASH MISMATCH");
        }
        /* A quality that failed marks the ones after it as not measured. */
        for (int j = 1; j < n_q; j++)
            if (img_rows[j - 1].error[0] && !img_rows[j].error[0])
                snprintf(img_rows[j].error, sizeof(img_rows[j].error), "not measured: %s", img_rows[j - 1].error);
        if (img_rows[0].error[0] || img_rows[n_q - 1].error[0]) {
            ri.n_failed++;
            if (!first_failure)
                first_failure = code;
        }
        code = 0;
        if (!kept)
            app_image_free(pimg);
    }
    if (ri.batch && (code = run_batches(model, &cfg, (int)batch_depth, kept, rows, files.n, qs, n_q,
                                        (int)time_runs, &ri, &bad_hash)))
        goto done;

    compute_means(rows, files.n, qs, n_q, means);
    print_summary(&ri, files.n, means, n_q);
    if (json_path && (code = write_output(json_path, &ri, rows, n_rows, means, n_q, 1)))
        goto done;
    if (csv_path && (code = write_output(csv_path, &ri, rows, n_rows, means, n_q, 0)))
        goto done;
    if (bad_hash) {
        app_err(PROG, "error: a decoder did not reproduce its encoder, an encode was not repeatable, or a batch "
                      "result differed from the one-image result (see the messages above; hashes_match is false "
                      "in the outputs for the first two)");
        code = APP_EXIT_FAILURE;
    }
    if (ri.n_failed) {
        app_err(PROG, "%zu of %zu images failed (see the messages above; their \"error\" field in the outputs)",
                ri.n_failed, files.n);
        if (!code)
            code = first_failure;
    }
done:
    for (size_t i = 0; kept && i < files.n; i++)
        app_image_free(&kept[i]);
    free(kept);
    free(ctx.enc_runs);
    free(ctx.dec_runs);
    free(ctx.scratch);
    free(rows);
    free(means);
    lic_decoder_close(&ctx.dec);
    lic_encoder_close(&ctx.enc);
    lic_model_release(&model);
    list_free(&files);
    return code;
}
