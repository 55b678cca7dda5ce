/* lic fuzz target: the full decoder — .lic bytes to pixels with the tiny test model, through the public
 * API, under small size limits (fuzz_common.h) so that each execution is fast.
 *
 * Properties checked besides "no crash, no leak, no UB": a decode returns only the documented codes;
 * on failure the output image is empty; on success it has exactly the size and format that
 * lic_peek_info() reads from the same bytes. A fresh decoder per input keeps every run reproducible
 * from its input alone (workspace reuse across sizes is covered by tests/test_threads.c and
 * tests/test_codec.c). */
#include <string.h>

#include "lic/codec.h"
#include "tests/fuzz/fuzz_common.h"

static lic_model *g_model;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (lic_model_load_file(&g_model, fuzz_model_path(0), NULL) != 0) {
        fprintf(stderr, "fuzz_decode: cannot load %s\n", fuzz_model_path(0));
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lic_config cfg;
    FUZZ_CHECK(lic_config_init(&cfg) == 0);
    cfg.n_threads = 1;
    cfg.max_side = FUZZ_MAX_SIDE;
    cfg.max_pixels = FUZZ_MAX_PIXELS;
    lic_decoder *dec = NULL;
    FUZZ_CHECK(lic_decoder_open(&dec, g_model, &cfg) == 0);

    lic_image out;
    memset(&out, 0xa5, sizeof out); /* the decoder must overwrite every field */
    int ret = lic_decode(dec, data, size, &out);
    FUZZ_CHECK(ret == 0 || ret == LIC_EBITSTREAM || ret == LIC_EMODEL_MISMATCH || ret == LIC_ELIMIT);
    lic_stream_info info;
    int peek = lic_peek_info(data, size, &info);
    if (ret == 0) {
        FUZZ_CHECK(peek == 0);
        FUZZ_CHECK(out.data != NULL);
        FUZZ_CHECK(out.width == info.width && out.height == info.height && out.fmt == info.fmt);
        int ch = out.fmt == LIC_PIXFMT_GRAY8 ? 1 : 3;
        FUZZ_CHECK(out.stride >= (ptrdiff_t)out.width * ch);
        /* Touch the first and last pixel byte: ASan reports a buffer smaller than declared. */
        volatile uint8_t sink = out.data[0];
        sink ^= out.data[(size_t)out.stride * (out.height - 1) + (size_t)out.width * ch - 1];
        (void)sink;
        lic_image_free(&out);
    } else {
        FUZZ_CHECK(out.data == NULL);
        if (ret == LIC_EMODEL_MISMATCH || ret == LIC_ELIMIT)
            FUZZ_CHECK(peek == 0); /* both are decided after the header parsed */
    }
    lic_decoder_close(&dec);
    return 0;
}
