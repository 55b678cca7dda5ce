/* lic fuzz target: the model file (.licw) loader — container parser (codec/licw.c) and lic-ctx1 model
 * builder (codec/model.c) — through lic_model_load_memory().
 *
 * A model that loads is then used: a 16x16 image is encoded and decoded with it, and the decoder must
 * see exactly the encoder's symbols and entropy parameters. This is what makes the loader's
 * validation meaningful: a file that passes it must not be able to make the integer probability path
 * overflow, index a CDF table out of range or make encoder and decoder disagree. */
#include <string.h>

#include "lic/codec.h"
#include "tests/fuzz/fuzz_common.h"

#define SIDE 16

static void use_model(lic_model *m, const uint8_t *data, size_t size)
{
    lic_config cfg;
    FUZZ_CHECK(lic_config_init(&cfg) == 0);
    cfg.n_threads = 1;
    cfg.max_pixels = FUZZ_MAX_PIXELS;
    /* Models with 1024-channel layers are legal; bound the work so such an input is not a timeout. */
    cfg.max_memory = (uint64_t)256 << 20;
    lic_encoder *enc = NULL;
    lic_decoder *dec = NULL;
    FUZZ_CHECK(lic_encoder_open(&enc, m, &cfg) == 0);
    FUZZ_CHECK(lic_decoder_open(&dec, m, &cfg) == 0);

    uint8_t px[SIDE * SIDE * 3];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = size ? data[(i * 7919) % size] : (uint8_t)i;
    lic_image img = {SIDE, SIDE, LIC_PIXFMT_RGB8, px, SIDE * 3};
    int q = size ? 1 + data[size / 2] % 100 : 50;
    uint8_t *bits = NULL;
    size_t n = 0;
    int ret = lic_encode(enc, &img, q, &bits, &n);
    FUZZ_CHECK(ret == 0 || ret == LIC_ELIMIT);
    if (ret == 0) {
        lic_image out;
        FUZZ_CHECK(lic_decode(dec, bits, n, &out) == 0);
        FUZZ_CHECK(out.width == SIDE && out.height == SIDE);
        lic_stats es, ds;
        FUZZ_CHECK(lic_encoder_get_stats(enc, &es) == 0 && lic_decoder_get_stats(dec, &ds) == 0);
        FUZZ_CHECK(es.n_symbols == ds.n_symbols);
        FUZZ_CHECK(es.symbols_hash == ds.symbols_hash);
        FUZZ_CHECK(es.params_hash == ds.params_hash);
        lic_image_free(&out);
        lic_free(bits);
    } else {
        FUZZ_CHECK(bits == NULL && n == 0);
    }
    lic_decoder_close(&dec);
    lic_encoder_close(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lic_model *m = NULL;
    int ret = lic_model_load_memory(&m, data, size, NULL);
    FUZZ_CHECK(ret == 0 || ret == LIC_EMODEL || ret == LIC_EINVAL);
    if (ret != 0) {
        FUZZ_CHECK(m == NULL);
        /* LIC_EINVAL only for a NULL buffer, which libFuzzer never passes. */
        FUZZ_CHECK(ret == LIC_EMODEL);
        return 0;
    }
    lic_model_info info;
    FUZZ_CHECK(lic_model_get_info(m, &info) == 0);
    FUZZ_CHECK(info.n_channels_y >= 1 && info.n_channels_z >= 1);
    use_model(m, data, size);
    lic_model_release(&m);
    FUZZ_CHECK(m == NULL);
    return 0;
}
