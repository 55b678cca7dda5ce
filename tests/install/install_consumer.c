/* A program outside the lic tree that uses only the installed <lic/codec.h> and libcodec. Built by
 * run.sh twice (pkg-config, CMake find_package) to prove an installed lic is usable as a dependency:
 * the headers compile on their own under strict C99, every symbol resolves from the shared library,
 * the library and header agree on version and ABI, and the installed library encodes and decodes a
 * small image with the model embedded in it. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <lic/codec.h>

static int failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);              \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* Encodes a 37x21 RGB gradient at quality 75 with the embedded model and decodes it: the stream's
 * header, the decoded size and format, and PSNR >= 30 dB (a broken pipeline gives noise). */
static void roundtrip(void)
{
    enum { W = 37, H = 21 };
    static uint8_t px[W * H * 3];
    lic_config cfg;
    lic_model *model = NULL;
    lic_encoder *enc = NULL;
    lic_decoder *dec = NULL;
    lic_image img, out;
    lic_stream_info info;
    uint8_t *bits = NULL;
    size_t n = 0;
    double sse = 0.0, mse;
    int x, y, c;

    for (y = 0; y < H; y++)
        for (x = 0; x < W; x++)
            for (c = 0; c < 3; c++)
                px[(y * W + x) * 3 + c] = (uint8_t)(40 + 3 * x + 2 * y + 30 * c); /* at most 248 */
    img.width = W;
    img.height = H;
    img.fmt = LIC_PIXFMT_RGB8;
    img.data = px;
    img.stride = W * 3;
    memset(&out, 0, sizeof out);

    CHECK(lic_config_init(&cfg) == LIC_OK);
    cfg.n_threads = 1;
    CHECK(lic_model_load_default(&model, &cfg) == LIC_OK);
    if (!model)
        return;
    CHECK(lic_encoder_open(&enc, model, &cfg) == LIC_OK);
    CHECK(lic_decoder_open(&dec, model, &cfg) == LIC_OK);
    lic_model_release(&model); /* the encoder and decoder keep their own references */
    CHECK(model == NULL);
    if (enc && dec && lic_encode(enc, &img, 75, &bits, &n) == LIC_OK) {
        CHECK(lic_peek_info(bits, n, &info) == LIC_OK);
        CHECK(info.width == W && info.height == H && info.fmt == LIC_PIXFMT_RGB8 && info.quality == 75);
        CHECK(lic_decode(dec, bits, n, &out) == LIC_OK);
        CHECK(out.width == W && out.height == H && out.fmt == LIC_PIXFMT_RGB8 && out.data != NULL);
        if (out.data && out.width == W && out.height == H) {
            for (y = 0; y < H; y++)
                for (x = 0; x < W * 3; x++) {
                    double d = (double)out.data[y * out.stride + x] - (double)px[y * W * 3 + x];
                    sse += d * d;
                }
            mse = sse / (W * H * 3);
            /* PSNR >= 30 dB <=> MSE <= 255^2 / 10^3 (no libm needed here) */
            printf("install_consumer: %dx%d q75 -> %lu bytes, MSE %.2f (30 dB: 65.03)\n", W, H, (unsigned long)n, mse);
            CHECK(mse <= 255.0 * 255.0 / 1000.0);
        }
    } else {
        CHECK(!"lic_encode failed");
    }
    lic_image_free(&out);
    lic_free(bits);
    lic_encoder_close(&enc);
    lic_decoder_close(&dec);
}

int main(void)
{
    lic_config cfg;
    lic_stream_info info;
    /* Not a .lic stream: wrong magic, and long enough that a length check alone cannot reject it. */
    static const uint8_t junk[64] = "this is not a lic bitstream; it is plain text padded with zeros";
    const char *version;
    const char *msg;

    memset(&cfg, 0xff, sizeof cfg);
    CHECK(lic_config_init(&cfg) == LIC_OK);
    CHECK(cfg.abi_version == LIC_ABI_VERSION);
    CHECK(cfg.backend == LIC_BACKEND_AUTO);
    CHECK(lic_config_init(NULL) == LIC_EINVAL);

    /* The library that was loaded is the one these headers describe. */
    version = lic_version_string();
    CHECK(version != NULL && strcmp(version, LIC_VERSION_STRING) == 0);

    msg = lic_strerror(LIC_EBITSTREAM);
    CHECK(msg != NULL && msg[0] != '\0');
    CHECK(strcmp(msg, lic_strerror(LIC_OK)) != 0);
    CHECK(lic_strerror(-12345) != NULL);

    CHECK(lic_peek_info(junk, sizeof junk, &info) == LIC_EBITSTREAM);

    roundtrip();

    if (failures) {
        fprintf(stderr, "install_consumer: %d check(s) failed\n", failures);
        return 1;
    }
    printf("install_consumer: ok, lic %s\n", version);
    return 0;
}
