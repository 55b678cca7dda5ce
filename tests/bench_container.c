/* Benchmark (not a test): what the version-2 container's checks cost against a whole decode.
 *
 *   build/bin/bench_container FILE.lic [REPS]     (default model; FILE made by lic-encode)
 *
 * Prints the median of REPS runs (default 5) of lic_decode, of lic_container_parse (every chunk's
 * bounds and CRC-32C: what version 2 adds to a decode) and of the CRC alone with the SSE4.2 and the
 * table (slice-by-8) implementations, and the container's share of the decode. docs/FORMAT.md §3.4
 * quotes it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/container.h"
#include "lic/codec.h"
#include "util/crc32c.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE.lic [REPS]\n", argv[0]);
        return 1;
    }
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    if (reps < 1 || reps > 1000)
        reps = 5;
    FILE *f = fopen(argv[1], "rb");
    if (!f)
        return perror(argv[1]), 1;
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc(n);
    if (!d || fread(d, 1, n, f) != n)
        return fprintf(stderr, "cannot read %s\n", argv[1]), 1;
    fclose(f);

    lic_model *m = NULL;
    lic_decoder *dec = NULL;
    if (lic_model_load_default(&m, NULL) || lic_decoder_open(&dec, m, NULL))
        return fprintf(stderr, "cannot open the default model\n"), 1;
    double t_dec[1000], t_parse[1000], t_hw[1000], t_tab[1000];
    volatile uint32_t sink = 0;
    for (int r = 0; r < reps; r++) {
        lic_image out;
        double t0 = now();
        int ret = lic_decode(dec, d, n, &out);
        t_dec[r] = now() - t0;
        if (ret)
            return fprintf(stderr, "decode: %s\n", lic_strerror(ret)), 1;
        lic_image_free(&out);
        /* Each small measurement repeated 100 times: microseconds are below the clock's noise. */
        lic_container c;
        t0 = now();
        for (int k = 0; k < 100; k++)
            sink ^= (uint32_t)lic_container_parse(&c, d, n);
        t_parse[r] = (now() - t0) / 100;
        t0 = now();
        for (int k = 0; k < 100; k++)
            sink ^= lic_crc32c(0, d, n);
        t_hw[r] = (now() - t0) / 100;
        t0 = now();
        for (int k = 0; k < 100; k++)
            sink ^= lic_crc32c_table(0, d, n);
        t_tab[r] = (now() - t0) / 100;
    }
    lic_stream_info info;
    lic_peek_info(d, n, &info);
    double dec_s = median(t_dec, reps), parse_s = median(t_parse, reps);
    printf("%s: %ux%u, %zu bytes, container version %d\n", argv[1], info.width, info.height, n, info.version);
    printf("decode (median of %d): %.2f ms\n", reps, dec_s * 1e3);
    printf("container parse, all CRCs: %.2f us = %.4f %% of the decode\n", parse_s * 1e6, 100 * parse_s / dec_s);
    printf("CRC-32C of the file: %.2f us with %s, %.2f us with the table (%.0f MB/s); table version = %.4f %% of the decode\n",
           median(t_hw, reps) * 1e6, lic_crc32c_hw() ? "SSE4.2" : "the table (no SSE4.2)", median(t_tab, reps) * 1e6,
           n / median(t_tab, reps) / 1e6, 100 * median(t_tab, reps) / dec_s);
    lic_decoder_close(&dec);
    lic_model_release(&m);
    free(d);
    return (int)(sink & 0);
}
