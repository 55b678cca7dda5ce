/* lic fuzz target: the full decoder — .lic bytes to pixels with the tiny test model, through the public
 * API, under small size limits (fuzz_common.h) so that each execution is fast.
 *
 * Properties checked besides "no crash, no leak, no UB": a decode returns only the documented codes;
 * on failure the output image and metadata are empty; on success the image has exactly the size and
 * format that lic_peek_info() reads from the same bytes, and each metadata item (version 2) is within
 * LIC_METADATA_MAX_ITEM and inside the input's size. A fresh decoder per input keeps every run reproducible
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
    lic_metadata meta;
    memset(&meta, 0xa5, sizeof meta);
    int ret = lic_decode_with_metadata(dec, data, size, &out, &meta);
    FUZZ_CHECK(ret == 0 || ret == LIC_EBITSTREAM || ret == LIC_EMODEL_MISMATCH || ret == LIC_ELIMIT ||
               ret == LIC_EUNSUPPORTED);
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
        const uint8_t *items[3] = {meta.icc, meta.exif, meta.xmp};
        const size_t sizes[3] = {meta.icc_size, meta.exif_size, meta.xmp_size};
        for (int i = 0; i < 3; i++) {
            FUZZ_CHECK((items[i] == NULL) == (sizes[i] == 0));
            FUZZ_CHECK(sizes[i] <= LIC_METADATA_MAX_ITEM && sizes[i] < size);
            if (sizes[i])
                sink ^= items[i][0] ^ items[i][sizes[i] - 1];
        }
        FUZZ_CHECK(meta.source_bit_depth == 8 || meta.source_bit_depth == 16);
        lic_metadata_free(&meta);
    } else {
        FUZZ_CHECK(out.data == NULL);
        FUZZ_CHECK(meta.icc == NULL && meta.exif == NULL && meta.xmp == NULL && meta.icc_size == 0);
        if (ret == LIC_EMODEL_MISMATCH || ret == LIC_ELIMIT || ret == LIC_EUNSUPPORTED)
            FUZZ_CHECK(peek == 0); /* all decided after the header parsed */
    }
    lic_decoder_close(&dec);
    return 0;
}
