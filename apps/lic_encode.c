/* lic-encode: compresses a PNG, JPEG or PGM/PPM image into a .lic file. */
#include <stdlib.h>
#include <string.h>

#include <lic/codec.h>

#include "apps/cli_common.h"
#include "apps/image_io.h"

static const char *const PROG = "lic-encode";

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: lic-encode IN -o OUT.lic [options]\n"
            "Compresses an image into a .lic file with a learned codec.\n"
            "IN is a PNG (8/16-bit gray, gray+alpha, RGB, RGBA, palette), JPEG (gray or color) or\n"
            "binary PGM/PPM (P5/P6) file, recognized by its content; \"-\" reads standard input.\n"
            "OUT \"-\" writes standard output. An existing OUT is replaced only on success.\n"
            "\n"
            "Options:\n"
            "  -o, --output FILE   output .lic file (required)\n"
            "  -q, --quality Q     quality 1 (smallest) .. 100 (best); default 75\n"
            APP_LIB_OPT_HELP
            "      --drop-alpha    discard an alpha channel (otherwise alpha is an error)\n"
            "  -v, --verbose       print size, bpp and stage times; -vv adds library debug messages\n"
            "  -h, --help          print this help and exit\n"
            "      --version       print the version and exit\n"
            "\n" APP_EXIT_HELP);
}

enum { OPT_OUT = 1, OPT_Q, OPT_DROP_ALPHA, OPT_VERBOSE, OPT_HELP, OPT_VERSION };

static const app_opt OPTS[] = {
    {"output", 'o', 1, OPT_OUT},
    {"quality", 'q', 1, OPT_Q},
    APP_LIB_OPT_ROWS,
    {"drop-alpha", 0, 0, OPT_DROP_ALPHA},
    {"verbose", 'v', 0, OPT_VERBOSE},
    {"help", 'h', 0, OPT_HELP},
    {"version", 0, 0, OPT_VERSION},
    {NULL, 0, 0, 0},
};

int main(int argc, char **argv)
{
    const char *in_path = NULL, *out_path = NULL;
    long quality = 75;
    app_lib_opts lib_opts = APP_LIB_OPTS_INIT;
    int drop_alpha = 0, verbose = 0;
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
        case OPT_Q:
            if (app_parse_int(arg, 1, 100, &quality))
                return app_usage_error(PROG, "quality must be an integer from 1 to 100");
            break;
        case OPT_DROP_ALPHA: drop_alpha = 1; break;
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
    if (!out_path)
        return app_usage_error(PROG, "no output file (-o)");

    lic_config cfg;
    int r = app_lib_config(PROG, &lib_opts, app_log_level(verbose), &cfg);
    if (r)
        return r;

    /* The library's limits also bound the image reader, so a huge header fails before allocation. */
    app_read_opts ropts = {cfg.max_side, cfg.max_pixels, 0, drop_alpha};
    app_image img;
    r = app_image_read(in_path, &ropts, &img, msg, sizeof(msg));
    if (r) {
        app_err(PROG, "%s", msg);
        return app_exit_from_img(r);
    }

    lic_model *model = NULL;
    lic_encoder *enc = NULL;
    uint8_t *bits = NULL;
    size_t nbits = 0;
    int code = APP_EXIT_OK;
    if ((code = app_load_model(PROG, &lib_opts, &cfg, &model)))
        goto done;
    if ((r = lic_encoder_open(&enc, model, &cfg))) {
        app_err(PROG, "cannot open the encoder: %s", lic_strerror(r));
        code = app_exit_from_lic(r);
        goto done;
    }
    lic_image limg = {img.width, img.height, img.channels == 1 ? LIC_PIXFMT_GRAY8 : LIC_PIXFMT_RGB8,
                      img.data, img.stride};
    double t0 = app_now();
    if ((r = lic_encode(enc, &limg, (int)quality, &bits, &nbits))) {
        app_err(PROG, "cannot encode '%s': %s", in_path, lic_strerror(r));
        code = app_exit_from_lic(r);
        goto done;
    }
    double t_total = app_now() - t0;
    if ((code = app_out_write_all(out_path, bits, nbits, msg, sizeof(msg)))) {
        app_err(PROG, "%s", msg);
        goto done;
    }
    if (verbose) {
        const double pixels = (double)img.width * (double)img.height;
        fprintf(stderr, "%s: %ux%u %s, quality %ld -> %zu bytes, %.4f bpp\n", PROG, (unsigned)img.width,
                (unsigned)img.height, img.channels == 1 ? "gray" : "RGB", quality, nbits, (double)nbits * 8.0 / pixels);
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
    lic_free(bits);
    lic_encoder_close(&enc);
    lic_model_free(&model);
    app_image_free(&img);
    return code;
}
