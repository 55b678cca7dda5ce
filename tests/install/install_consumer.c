/* A program outside the lic tree that uses only the installed <lic/codec.h> and libcodec. Built by
 * run.sh twice (pkg-config, CMake find_package) to prove an installed lic is usable as a dependency:
 * the headers compile on their own under strict C99, every symbol resolves from the shared library,
 * and the library and header agree on version and ABI. */
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

    if (failures) {
        fprintf(stderr, "install_consumer: %d check(s) failed\n", failures);
        return 1;
    }
    printf("install_consumer: ok, lic %s\n", version);
    return 0;
}
