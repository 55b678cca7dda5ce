/* lic-decode: decompresses a .lic file to PNG or PGM/PPM, or prints its header (--info). */
#include <stdlib.h>
#include <string.h>

#include <lic/codec.h>

#include "apps/cli_common.h"
#include "apps/image_io.h"
#include "apps/notes.h"
#include "apps/output.h"

static const char *const PROG = "lic-decode";

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: lic-decode IN.lic -o OUT [options]\n"
            "       lic-decode IN.lic --info\n"
            "Decompresses a .lic file. IN \"-\" reads standard input; a file that is not a .lic file\n"
            "is refused as such (exit 3).\n"
            "OUT ending in .png, .ppm, .pgm or .pnm picks the format (.pnm: PGM for gray, PPM for\n"
            "color); OUT \"-\" or /dev/stdout writes standard output in the --format format. Gray\n"
            "streams decode to gray PNG/PGM; .ppm expands gray to RGB, .pgm converts color to luma.\n"
            "A file OUT is written to a temporary file next to it and renamed over OUT only on\n"
            "success, so a failure never leaves a partial file; devices and pipes are written in\n"
            "place. OUT must not be the input file (also not through a link): that is a usage error.\n"
            "An existing OUT keeps its permissions (and its owner, where allowed) and is refused,\n"
            "untouched, if you may not write it. The image size in the .lic header is checked against\n"
            "the limits before anything is decoded.\n"
            "Metadata stored in the .lic file (ICC profile, EXIF, XMP; see lic-encode --help) is\n"
            "written into a PNG output as iCCP, eXIf and iTXt \"XML:com.adobe.xmp\"; PGM/PPM cannot\n"
            "hold it, so it is left out with a warning. An EXIF orientation stays in the EXIF: the\n"
            "pixels are never rotated, viewers apply it. A damaged .lic file (every part of one is\n"
            "checksummed) is refused with exit 3 and never decoded into a picture.\n"
            "\n"
            "Options:\n"
            "  -o, --output FILE   output image (required unless --info)\n"
            "      --format F      png, ppm, pgm or pnm: overrides the extension; default for \"-\": png\n"
            "      --strip         do not write the stored metadata\n"
            "      --info          print the header (size, format, quality, version, model\n"
            "                      fingerprint, streams) and exit; needs no model and no -o\n"
            APP_LIB_OPT_HELP
            "  -v, --verbose       print size, bpp and stage times; -vv adds library debug messages\n"
            "  -h, --help          print this help and exit\n"
            "      --version       print the version and exit\n"
            "\n" APP_EXIT_HELP);
}

enum { OPT_OUT = 1, OPT_FORMAT, OPT_INFO, OPT_STRIP, OPT_VERBOSE, OPT_HELP, OPT_VERSION };

static const app_opt OPTS[] = {
    {"output", 'o', 1, OPT_OUT},
    {"format", 0, 1, OPT_FORMAT},
    {"info", 0, 0, OPT_INFO},
    {"strip", 0, 0, OPT_STRIP},
    APP_LIB_OPT_ROWS,
    {"verbose", 'v', 0, OPT_VERBOSE},
    {"help", 'h', 0, OPT_HELP},
    {"version", 0, 0, OPT_VERSION},
    {NULL, 0, 0, 0},
};


static const char *pixfmt_name(lic_pixfmt f)
{
    switch (f) {
    case LIC_PIXFMT_RGB8: return "rgb8";
    case LIC_PIXFMT_GRAY8: return "gray8";
    default: return "unknown";
    }
}

/* One "key: value" line per header field: easy to read and to grep. */
static void print_info(const lic_stream_info *si, size_t file_size)
{
    printf("width: %lu\n", (unsigned long)si->width);
    printf("height: %lu\n", (unsigned long)si->height);
    printf("format: %s\n", pixfmt_name(si->fmt));
    printf("quality: %d\n", si->quality);
    printf("version: %d\n", si->version);
    printf("model_fingerprint: %016llx\n", (unsigned long long)si->model_fingerprint);
    printf("streams: %lu\n", (unsigned long)si->n_streams);
    printf("header_bytes: %llu\n", (unsigned long long)si->header_size);
    printf("file_bytes: %zu\n", file_size);
    const double pixels = (double)si->width * (double)si->height;
    if (pixels > 0)
        printf("bpp: %.4f\n", (double)file_size * 8.0 / pixels);
}

/* Where lic_decode_rows puts the rows: an image writer opened at the first row, when the file's
 * metadata (filled by then) can go into its header. An error is kept for the message. */
typedef struct image_rows {
    FILE *f;
    const lic_stream_info *si;
    app_out_format fmt;
    const lic_metadata *meta;
    int strip;
    const char *in_name;
    app_meta am;  /* the library's metadata lent to the writer, not handed over: lic_metadata_free frees it */
    app_row_writer *writer;
    int status;   /* app_img_status of the failed write */
    char msg[512];
} image_rows;

static int open_writer(image_rows *w)
{
    const lic_metadata *m = w->meta;
    if (!w->strip) {
        w->am.icc = m->icc, w->am.icc_size = m->icc_size;
        w->am.exif = m->exif, w->am.exif_size = m->exif_size;
        w->am.xmp = m->xmp, w->am.xmp_size = m->xmp_size;
    }
    const int has_meta = w->am.icc_size || w->am.exif_size || w->am.xmp_size;
    if (has_meta && w->fmt != APP_OUT_PNG)
        app_err(PROG, "warning: '%s' carries metadata (%s%s%s) that PGM/PPM cannot hold: it is not written; "
                      "decode to PNG to keep it",
                w->in_name, w->am.icc_size ? "ICC profile " : "", w->am.exif_size ? "EXIF " : "",
                w->am.xmp_size ? "XMP" : "");
    const int channels = w->si->fmt == LIC_PIXFMT_GRAY8 ? 1 : 3;
    return app_rows_write_open(w->f, w->si->width, w->si->height, channels, w->fmt, has_meta ? &w->am : NULL,
                               &w->writer, w->msg, sizeof(w->msg));
}

static int write_row(void *user, uint32_t y, const uint8_t *row)
{
    image_rows *w = user;
    if (y == 0 && (w->status = open_writer(w)))
        return LIC_EIO;
    w->status = app_rows_write(w->writer, row, w->msg, sizeof(w->msg));
    return w->status ? LIC_EIO : 0;
}

int main(int argc, char **argv)
{
    const char *in_path = NULL, *out_path = NULL, *format_name = NULL;
    app_lib_opts lib_opts = APP_LIB_OPTS_INIT;
    int info = 0, verbose = 0, strip = 0;
    char msg[512];

    app_args args;
    app_args_init(&args, argc, argv);
    for (;;) {
        const char *arg, *bad;
        int id = app_next_opt(&args, OPTS, &arg, msg, sizeof(msg));
        if (id == APP_OPT_END)
            break;
        switch (id) {
        case APP_OPT_ERROR: return app_usage_error(PROG, msg);
        case APP_OPT_POSITIONAL:
            if (in_path)
                return app_usage_error(PROG, "only one input file is accepted");
            in_path = arg;
            break;
        case OPT_OUT: out_path = arg; break;
        case OPT_FORMAT: format_name = arg; break;
        case OPT_INFO: info = 1; break;
        case OPT_STRIP: strip = 1; break;
        case OPT_VERBOSE: verbose++; break;
        case OPT_HELP: usage(stdout); return APP_EXIT_OK;
        case OPT_VERSION:
            printf("lic-decode %s (libcodec %s)\n", LIC_VERSION_STRING, lic_version_string());
            return APP_EXIT_OK;
        default: /* --model, --threads, --max-memory, --backend */
            if (app_lib_opts_parse(&lib_opts, id, arg, &bad) < 0)
                return app_usage_error(PROG, bad);
            break;
        }
    }
    if (!in_path)
        return app_usage_error(PROG, "no input file");
    if (!*in_path)
        return app_usage_error(PROG, "the input file name is empty");
    if (info && out_path)
        return app_usage_error(PROG, "--info prints the header only; it does not take -o");
    if (!info && !out_path)
        return app_usage_error(PROG, "no output file (-o)");
    app_out_format ofmt = APP_OUT_NONE;
    if (!info) {
        /* Decided before any work, so a bad name fails fast. */
        int r = app_out_check(out_path, &in_path, 1, msg, sizeof(msg));
        if (r)
            return r == APP_EXIT_USAGE ? app_usage_error(PROG, msg) : (app_err(PROG, "%s", msg), r);
        if (format_name) {
            ofmt = app_out_format_from_name(format_name);
            if (ofmt == APP_OUT_NONE)
                return app_usage_error(PROG, "--format must be png, ppm, pgm or pnm");
        } else if (app_out_is_stdout(out_path)) {
            ofmt = APP_OUT_PNG;
        } else {
            ofmt = app_out_format_from_path(out_path);
            if (ofmt == APP_OUT_NONE)
                return app_usage_error(PROG, "the output name must end in .png, .ppm, .pgm or .pnm (or use --format)");
        }
    }

    lic_config cfg;
    int r = app_lib_config(PROG, &lib_opts, app_log_level(verbose), &cfg);
    if (r)
        return r;

    uint8_t *data;
    size_t size;
    r = app_read_file(in_path, 0, &data, &size, msg, sizeof(msg));
    if (r) {
        app_err(PROG, "%s", msg);
        return app_exit_from_img(r);
    }
    const char *in_name = strcmp(in_path, "-") ? in_path : "standard input";

    lic_model *model = NULL;
    lic_decoder *dec = NULL;
    lic_metadata meta = {0};
    int code = APP_EXIT_OK;
    /* The header is checked first: a file that is not a .lic at all needs no model to reject. */
    lic_stream_info si;
    if (lic_check_magic(data, size) != LIC_OK) {
        app_img_format f = app_image_detect(data, size);
        if (f != APP_FMT_UNKNOWN)
            app_err(PROG, "'%s' is not a .lic file: it is a %s image (lic-encode compresses images)", in_name,
                    app_img_format_name(f));
        else
            app_err(PROG, "'%s' is not a .lic file%s", in_name, size ? "" : " (it is empty)");
        code = APP_EXIT_INVALID;
        goto done;
    }
    if ((r = lic_peek_info(data, size, &si))) {
        app_err(PROG, "cannot read '%s': a .lic file with a damaged, truncated or unsupported header (%s)",
                in_name, lic_strerror(r));
        code = app_exit_from_lic(r);
        goto done;
    }
    if (info) {
        print_info(&si, size);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            app_err(PROG, "cannot write standard output");
            code = APP_EXIT_IO;
        }
        goto done;
    }
    if ((code = app_load_model(PROG, &lib_opts, &cfg, &model)))
        goto done;
    if ((r = lic_decoder_open(&dec, model, &cfg))) {
        app_err(PROG, "cannot open the decoder: %s", lic_strerror(r));
        code = app_exit_from_lic(r);
        goto done;
    }
    /* Refused from the header, before any decoding. */
    lic_size_check chk;
    r = lic_decoder_check_size(dec, si.width, si.height, &chk);
    if ((code = app_report_size_check(PROG, in_name, si.width, si.height, r, &chk)))
        goto done;
    /* The rows go from the library to the image writer one by one: neither holds the whole image. The
     * output is a temporary file until the last row is written (app_out_open). */
    app_out o;
    if ((code = app_out_open(&o, out_path, msg, sizeof(msg)))) {
        app_err(PROG, "%s", msg);
        goto done;
    }
    image_rows rows = {.f = o.f, .si = &si, .fmt = ofmt, .meta = &meta, .strip = strip, .in_name = in_name};
    double t0 = app_now();
    r = lic_decode_rows(dec, data, size, write_row, &rows, &meta);
    if (r == LIC_OK && (rows.status = app_rows_write_finish(rows.writer, rows.msg, sizeof(rows.msg))))
        r = LIC_EIO;
    if (r) {
        if (rows.status) {
            app_err(PROG, "cannot write '%s': %s", o.target ? o.target : "standard output", rows.msg);
            code = app_exit_from_img(rows.status);
        } else {
            app_err(PROG, "cannot decode '%s': %s", in_name, lic_strerror(r));
            /* A stream of a later revision (the library logged which feature) is input we cannot use. */
            code = r == LIC_EUNSUPPORTED ? APP_EXIT_INVALID : app_exit_from_lic(r);
        }
        app_rows_write_close(&rows.writer);
        app_out_abort(&o);
        goto done;
    }
    app_rows_write_close(&rows.writer);
    double t_total = app_now() - t0;
    if ((code = app_out_commit(&o, msg, sizeof(msg)))) {
        app_err(PROG, "%s", msg);
        goto done;
    }
    const app_meta am = rows.am;
    if (am.icc_refused)
        app_err(PROG, "warning: the ICC profile in '%s' is not a valid profile to libpng; the PNG was written "
                      "without it", in_name);
    if (am.xmp_refused)
        app_err(PROG, "warning: the XMP in '%s' holds a NUL byte, which a PNG text chunk cannot; the PNG was "
                      "written without it", in_name);
    if (verbose) {
        const double pixels = (double)si.width * (double)si.height;
        fprintf(stderr, "%s: %ux%u %s, %zu bytes, %.4f bpp\n", PROG, (unsigned)si.width,
                (unsigned)si.height, si.fmt == LIC_PIXFMT_GRAY8 ? "gray" : "RGB", size, (double)size * 8.0 / pixels);
        lic_stats st;
        if (lic_decoder_get_stats(dec, &st) == 0) {
            fprintf(stderr,
                    "%s: backend %s; time %.4f s: hyper %.4f, entropy %.4f, synthesis %.4f\n", PROG,
                    st.backend ? st.backend : "?", t_total, st.t_hyper, st.t_entropy, st.t_synthesis);
            app_print_coding_stats(PROG, &st);
        }
    }
done:
    lic_metadata_free(&meta);
    lic_decoder_close(&dec);
    lic_model_release(&model);
    free(data);
    return code;
}
