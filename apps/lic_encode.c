/* lic-encode: compresses a PNG, JPEG or PGM/PPM image into a .lic file. */
#include <stdlib.h>
#include <string.h>

#include <lic/codec.h>

#include "apps/cli_common.h"
#include "apps/image_io.h"
#include "apps/notes.h"
#include "apps/output.h"

static const char *const PROG = "lic-encode";

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: lic-encode IN -o OUT.lic [options]\n"
            "Compresses an image into a .lic file with a learned codec.\n"
            "\n"
            "IN is recognized by its content; \"-\" reads standard input:\n"
            "  PNG   gray, gray+alpha, RGB, RGBA or palette, 1 to 16 bits per sample\n"
            "  JPEG  gray or colour (not CMYK); one that lacks only its end-of-image marker is read\n"
            "        with a warning, as libjpeg's tools do; one cut inside its image data is an error\n"
            "  PGM/PPM  binary (P5, P6) or plain ASCII (P2, P3), maxval 1 to 65535\n"
            "lic codes 8 bits per sample: 16-bit input is rounded to 8 bits, with a warning (-v prints\n"
            "the source's bit depth).\n"
            "Metadata: the ICC profile (PNG iCCP, JPEG APP2), EXIF (PNG eXIf, JPEG APP1) and XMP (PNG\n"
            "iTXt, JPEG APP1) are stored in the .lic file, byte for byte, and lic-decode writes them\n"
            "back into a PNG; --strip leaves them out. An EXIF orientation is kept in the EXIF and\n"
            "not applied to the pixels. gAMA/cHRM without an ICC profile are not carried (a warning).\n"
            "\n"
            "OUT \"-\" or /dev/stdout writes standard output; other devices and pipes are written in\n"
            "place. A file OUT is written to a temporary file next to it and renamed over OUT only on\n"
            "success, so a failure never leaves a partial file. OUT must not be the input file (also\n"
            "not through a link): that is a usage error. An existing OUT keeps its permissions (and its\n"
            "owner, where allowed) and is refused, untouched, if you may not write it.\n"
            "The image's size is checked against the limits from its header, before its pixels are\n"
            "decoded.\n"
            "\n"
            "Options:\n"
            "  -o, --output FILE   output .lic file (required)\n"
            "  -q, --quality Q     quality 1 (smallest) .. 100 (best); default 75\n"
            APP_LIB_OPT_HELP
            "      --entropy-tile PX  code the latent in tiles of PX x PX pixels, each its own stream,\n"
            "                      coded and decoded in parallel on the threads: 128, 256, 512, 1024,\n"
            "                      2048 or 4096, or \"whole\" for one tile; default 2048. Smaller tiles\n"
            "                      use less memory and cost a little rate; an image that fits in one\n"
            "                      tile is always one tile\n"
            "      --drop-alpha    discard an alpha channel (otherwise alpha is an error)\n"
            "      --strip         do not store the ICC profile, EXIF or XMP\n"
            "  -v, --verbose       print the source kind, size, bpp and stage times; -vv adds library\n"
            "                      debug messages\n"
            "  -h, --help          print this help and exit\n"
            "      --version       print the version and exit\n"
            "\n" APP_EXIT_HELP);
}

enum { OPT_OUT = 1, OPT_Q, OPT_ENTROPY_TILE, OPT_DROP_ALPHA, OPT_STRIP, OPT_VERBOSE, OPT_HELP, OPT_VERSION };

static const app_opt OPTS[] = {
    {"output", 'o', 1, OPT_OUT},
    {"quality", 'q', 1, OPT_Q},
    APP_LIB_OPT_ROWS,
    {"entropy-tile", 0, 1, OPT_ENTROPY_TILE},
    {"drop-alpha", 0, 0, OPT_DROP_ALPHA},
    {"strip", 0, 0, OPT_STRIP},
    {"verbose", 'v', 0, OPT_VERBOSE},
    {"help", 'h', 0, OPT_HELP},
    {"version", 0, 0, OPT_VERSION},
    {NULL, 0, 0, 0},
};

/* The source image's rows as lic_encode_rows asks for them; an error is kept for the message. */
typedef struct source_rows {
    app_row_reader *reader;
    int status; /* app_img_status of the failed read */
    char msg[512];
} source_rows;

static int read_row(void *user, uint32_t y, uint8_t *row)
{
    source_rows *s = user;
    (void)y; /* the library asks for the rows in order, as the reader gives them */
    s->status = app_rows_read(s->reader, row, s->msg, sizeof(s->msg));
    return s->status ? LIC_EIO : 0;
}

int main(int argc, char **argv)
{
    const char *in_path = NULL, *out_path = NULL;
    long quality = 75;
    app_lib_opts lib_opts = APP_LIB_OPTS_INIT;
    int drop_alpha = 0, strip = 0, verbose = 0;
    uint32_t entropy_tile = 0; /* the library's default */
    char msg[512];
    int r;

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
        case OPT_Q:
            if (app_parse_int(arg, 1, 100, &quality))
                return app_usage_error(PROG, "quality must be an integer from 1 to 100");
            break;
        case OPT_ENTROPY_TILE: {
            long px = 0;
            if (!strcmp(arg, "whole"))
                entropy_tile = LIC_TILE_WHOLE;
            else if (app_parse_int(arg, 128, 4096, &px) || (px & (px - 1)))
                return app_usage_error(PROG, "--entropy-tile must be 128, 256, 512, 1024, 2048, 4096 or whole");
            else
                entropy_tile = (uint32_t)px;
            break;
        }
        case OPT_DROP_ALPHA: drop_alpha = 1; break;
        case OPT_STRIP: strip = 1; break;
        case OPT_VERBOSE: verbose++; break;
        case OPT_HELP: usage(stdout); return APP_EXIT_OK;
        case OPT_VERSION:
            printf("lic-encode %s (libcodec %s)\n", LIC_VERSION_STRING, lic_version_string());
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
    if (!out_path)
        return app_usage_error(PROG, "no output file (-o)");
    /* Everything about the output that can be known now is checked before any work. */
    if ((r = app_out_check(out_path, &in_path, 1, msg, sizeof(msg))))
        return r == APP_EXIT_USAGE ? app_usage_error(PROG, msg) : (app_err(PROG, "%s", msg), r);

    lic_config cfg;
    if ((r = app_lib_config(PROG, &lib_opts, app_log_level(verbose), &cfg)))
        return r;
    cfg.entropy_tile = entropy_tile;

    const char *in_name = strcmp(in_path, "-") ? in_path : "standard input";
    uint8_t *file = NULL;
    size_t file_size = 0;
    lic_model *model = NULL;
    lic_encoder *enc = NULL;
    uint8_t *bits = NULL;
    size_t nbits = 0;
    source_rows rows = {NULL, 0, {0}};
    app_meta meta = {0};
    app_image_info info;
    int code = APP_EXIT_OK;
    if ((r = app_read_file(in_path, 0, &file, &file_size, msg, sizeof(msg))) ||
        (r = app_image_probe(file, file_size, &info, msg, sizeof(msg)))) {
        app_err(PROG, "cannot read '%s': %s", in_name, msg);
        code = app_exit_from_img(r);
        goto done;
    }
    if ((code = app_load_model(PROG, &lib_opts, &cfg, &model)))
        goto done;
    if ((r = lic_encoder_open(&enc, model, &cfg))) {
        app_err(PROG, "cannot open the encoder: %s", lic_strerror(r));
        code = app_exit_from_lic(r);
        goto done;
    }
    /* Refused from the header: a huge image costs neither the time nor the memory of its pixels. */
    lic_size_check chk;
    r = lic_encoder_check_size(enc, info.width, info.height, &chk);
    if ((code = app_report_size_check(PROG, in_name, info.width, info.height, r, &chk)))
        goto done;
    /* The library's limits also bound the image reader. */
    app_read_opts ropts = {cfg.max_side, cfg.max_pixels, 0, drop_alpha};
    if ((r = app_rows_open(file, file_size, &ropts, &rows.reader, &info, strip ? NULL : &meta, msg, sizeof(msg)))) {
        app_err(PROG, "cannot read '%s': %s", in_name, msg);
        code = app_exit_from_img(r);
        goto done;
    }
    /* What the .lic file will carry: each item the reader could take, within the library's cap. */
    lic_metadata lmeta = {.icc = meta.icc, .icc_size = meta.icc_size, .exif = meta.exif,
                          .exif_size = meta.exif_size, .xmp = meta.xmp, .xmp_size = meta.xmp_size,
                          .source_bit_depth = info.bit_depth > 8 ? 16 : 8};
    if (lmeta.icc_size > LIC_METADATA_MAX_ITEM)
        lmeta.icc = NULL, lmeta.icc_size = 0;
    if (lmeta.exif_size > LIC_METADATA_MAX_ITEM)
        lmeta.exif = NULL, lmeta.exif_size = 0;
    if (lmeta.xmp_size > LIC_METADATA_MAX_ITEM)
        lmeta.xmp = NULL, lmeta.xmp_size = 0;
    const unsigned carried = (lmeta.icc_size ? APP_META_ICC : 0u) | (lmeta.exif_size ? APP_META_EXIF : 0u) |
                             (lmeta.xmp_size ? APP_META_XMP : 0u);

    /* The pixels go from the decoder of the source file to the library row by row: neither holds the
     * whole image (an interlaced PNG and PGM/PPM are decoded whole first). */
    const lic_pixfmt fmt = info.channels == 1 ? LIC_PIXFMT_GRAY8 : LIC_PIXFMT_RGB8;
    double t0 = app_now();
    r = lic_encode_rows(enc, info.width, info.height, fmt, read_row, &rows, (int)quality, &lmeta, &bits, &nbits);
    if (r == LIC_OK && (rows.status = app_rows_finish(rows.reader, &info, rows.msg, sizeof(rows.msg))))
        r = LIC_EIO;
    if (r && rows.status) {
        app_err(PROG, "cannot read '%s': %s", in_name, rows.msg);
        code = app_exit_from_img(rows.status);
        goto done;
    }
    if (r) {
        app_err(PROG, "cannot encode '%s': %s", in_name, lic_strerror(r));
        code = app_exit_from_lic(r);
        goto done;
    }
    app_print_image_notes(PROG, in_name, &info, carried, strip ? "--strip" : NULL, verbose);
    double t_total = app_now() - t0;
    if ((code = app_out_write_all(out_path, bits, nbits, msg, sizeof(msg)))) {
        app_err(PROG, "%s", msg);
        goto done;
    }
    if (verbose) {
        const double pixels = (double)info.width * (double)info.height;
        char src[64];
        app_describe_source(&info, src, sizeof(src));
        fprintf(stderr, "%s: %ux%u %s (source: %s), quality %ld -> %zu bytes, %.4f bpp\n", PROG,
                (unsigned)info.width, (unsigned)info.height, info.channels == 1 ? "gray" : "RGB", src, quality,
                nbits, (double)nbits * 8.0 / pixels);
        lic_stats st;
        if (lic_encoder_get_stats(enc, &st) == 0) {
            fprintf(stderr,
                    "%s: backend %s; time %.4f s: analysis %.4f, hyper %.4f, entropy %.4f, synthesis %.4f\n",
                    PROG, st.backend ? st.backend : "?", t_total, st.t_analysis, st.t_hyper,
                    st.t_entropy, st.t_synthesis);
            app_print_coding_stats(PROG, &st);
        }
    }
done:
    free(file);
    lic_free(bits);
    lic_encoder_close(&enc);
    lic_model_release(&model);
    app_rows_close(&rows.reader);
    app_meta_free(&meta);
    return code;
}
