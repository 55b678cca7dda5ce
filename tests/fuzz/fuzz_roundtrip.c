/* lic fuzz target: encode -> decode round trips of fuzzer-made images with the tiny test models.
 *
 * Input layout: byte 0 width-1 (1..128), byte 1 height-1 (1..128), byte 2 bit 0 gray, bit 1 the
 * transposed-conv model (tiny_deconv), bit 2 a row stride larger than the row, bit 3 metadata (an
 * ICC profile, EXIF and XMP cut from the pixel bytes at lengths from bytes 4..6, bit 4 a 16-bit
 * source); byte 3 quality (1..100); the rest are pixels, repeated as needed (zeros when there are
 * none).
 * Properties: encoding succeeds and is deterministic (same bytes twice); the header says what was
 * encoded; decoding succeeds with the declared size and format and returns the metadata byte for
 * byte; the metadata changes only the container (same symbols as without it); and the decoder saw
 * exactly the encoder's symbols and entropy parameters (count and hashes of the whole coding
 * sequence). */
#include <string.h>

#include "lic/codec.h"
#include "tests/fuzz/fuzz_common.h"

static lic_model *g_models[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (int i = 0; i < 2; i++)
        if (lic_model_load_file(&g_models[i], fuzz_model_path(i), NULL) != 0) {
            fprintf(stderr, "fuzz_roundtrip: cannot load %s\n", fuzz_model_path(i));
            abort();
        }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    uint32_t w = 1 + data[0] % 128, h = 1 + data[1] % 128;
    int gray = data[2] & 1, model = (data[2] >> 1) & 1, pad = (data[2] >> 2) & 1;
    int q = 1 + data[3] % 100;
    const uint8_t *px = data + 4;
    size_t n_px = size - 4;

    int ch = gray ? 1 : 3;
    size_t stride = (size_t)w * ch + (pad ? 5 : 0);
    uint8_t *buf = malloc(stride * h);
    FUZZ_CHECK(buf != NULL);
    for (size_t i = 0; i < stride * h; i++)
        buf[i] = n_px ? px[i % n_px] : 0;
    lic_image img = {w, h, gray ? LIC_PIXFMT_GRAY8 : LIC_PIXFMT_RGB8, buf, (ptrdiff_t)stride};

    lic_config cfg;
    FUZZ_CHECK(lic_config_init(&cfg) == 0);
    cfg.n_threads = 1;
    lic_encoder *enc = NULL;
    lic_decoder *dec = NULL;
    FUZZ_CHECK(lic_encoder_open(&enc, g_models[model], &cfg) == 0);
    FUZZ_CHECK(lic_decoder_open(&dec, g_models[model], &cfg) == 0);

    lic_metadata meta = {0};
    const int with_meta = (data[2] >> 3) & 1;
    if (with_meta) {
        const size_t avail = n_px;
        meta.icc = (uint8_t *)px, meta.icc_size = size > 4 ? data[4] % (avail + 1) : 0;
        meta.exif = (uint8_t *)px, meta.exif_size = size > 5 ? data[5] % (avail + 1) : 0;
        meta.xmp = (uint8_t *)px, meta.xmp_size = size > 6 ? data[6] % (avail + 1) : 0;
        meta.source_bit_depth = (data[2] >> 4) & 1 ? 16 : 8;
    }
    uint8_t *bits = NULL, *bits2 = NULL;
    size_t n = 0, n2 = 0;
    FUZZ_CHECK(lic_encode_with_metadata(enc, &img, q, with_meta ? &meta : NULL, &bits, &n) == 0);
    lic_stats es;
    FUZZ_CHECK(lic_encoder_get_stats(enc, &es) == 0);
    FUZZ_CHECK(lic_encode(enc, &img, q, &bits2, &n2) == 0);
    lic_stats es2;
    FUZZ_CHECK(lic_encoder_get_stats(enc, &es2) == 0);
    FUZZ_CHECK(es2.symbols_hash == es.symbols_hash && es2.params_hash == es.params_hash);
    if (with_meta)
        FUZZ_CHECK(n2 + (meta.icc_size ? 12 + meta.icc_size : 0) + (meta.exif_size ? 12 + meta.exif_size : 0) +
                       (meta.xmp_size ? 12 + meta.xmp_size : 0) == n);
    else
        FUZZ_CHECK(n == n2 && memcmp(bits, bits2, n) == 0);
    lic_free(bits2);

    lic_stream_info info;
    FUZZ_CHECK(lic_peek_info(bits, n, &info) == 0);
    FUZZ_CHECK(info.width == w && info.height == h && info.fmt == img.fmt && info.quality == q);

    lic_image out;
    lic_metadata got;
    FUZZ_CHECK(lic_decode_with_metadata(dec, bits, n, &out, &got) == 0);
    FUZZ_CHECK(got.icc_size == meta.icc_size && got.exif_size == meta.exif_size && got.xmp_size == meta.xmp_size);
    FUZZ_CHECK(got.icc_size == 0 || memcmp(got.icc, meta.icc, got.icc_size) == 0);
    FUZZ_CHECK(got.exif_size == 0 || memcmp(got.exif, meta.exif, got.exif_size) == 0);
    FUZZ_CHECK(got.xmp_size == 0 || memcmp(got.xmp, meta.xmp, got.xmp_size) == 0);
    FUZZ_CHECK(got.source_bit_depth == (with_meta ? meta.source_bit_depth : 8));
    lic_metadata_free(&got);
    FUZZ_CHECK(out.width == w && out.height == h && out.fmt == img.fmt);
    lic_stats ds;
    FUZZ_CHECK(lic_decoder_get_stats(dec, &ds) == 0);
    FUZZ_CHECK(es.n_symbols > 0 && es.n_symbols == ds.n_symbols);
    FUZZ_CHECK(es.symbols_hash == ds.symbols_hash);
    FUZZ_CHECK(es.params_hash == ds.params_hash);

    lic_image_free(&out);
    lic_free(bits);
    lic_decoder_close(&dec);
    lic_encoder_close(&enc);
    free(buf);
    return 0;
}
