/* lic fuzz targets: what every target shares — the libFuzzer entry points, a crash that works the same
 * under libFuzzer and in the replay programs, and the paths of the tiny test models.
 *
 * Every target is one .c file defining LLVMFuzzerTestOneInput (and optionally LLVMFuzzerInitialize). It
 * is linked twice: with -fsanitize=fuzzer into a libFuzzer binary (LIC_FUZZ builds, clang only) and with
 * tests/fuzz/replay_main.c into a plain program that ctest runs over the seed corpus and
 * testdata/corrupt/ (every build, any compiler). */
#ifndef LIC_TESTS_FUZZ_COMMON_H
#define LIC_TESTS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A property the library must keep was broken: report where and crash, so libFuzzer records the input
 * and the replay program fails its ctest. abort() rather than a trap so the message is flushed first. */
#define FUZZ_CHECK(cond)                                                                               \
    do {                                                                                               \
        if (!(cond)) {                                                                                 \
            fprintf(stderr, "%s:%d: fuzz property failed: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                                   \
        }                                                                                              \
    } while (0)

/* The models the targets load (absolute paths compiled in by tests/fuzz.cmake, so the binaries run
 * from any directory). LIC_FUZZ_MODEL / LIC_FUZZ_DECONV_MODEL in the environment override them. */
#ifndef LIC_FUZZ_TINY_MODEL
#define LIC_FUZZ_TINY_MODEL "testdata/models/tiny.licw"
#endif
#ifndef LIC_FUZZ_TINY_DECONV_MODEL
#define LIC_FUZZ_TINY_DECONV_MODEL "testdata/models/tiny_deconv.licw"
#endif

static inline const char *fuzz_model_path(int deconv)
{
    const char *env = getenv(deconv ? "LIC_FUZZ_DECONV_MODEL" : "LIC_FUZZ_MODEL");
    if (env && *env)
        return env;
    return deconv ? LIC_FUZZ_TINY_DECONV_MODEL : LIC_FUZZ_TINY_MODEL;
}

/* Size limits of the fuzzed decoders: small, so that every execution is fast and a fuzzed header
 * cannot make one run for seconds. */
#define FUZZ_MAX_SIDE 2048u
#define FUZZ_MAX_PIXELS ((uint64_t)1 << 18)

#endif /* LIC_TESTS_FUZZ_COMMON_H */
