/* lic-bench-conv: times the float layers (transforms/layers.h), C reference vs fast path, with 1 and 2
 * threads, per layer type of the default model on a 768x512 image, then the whole g_a and g_s of the
 * fast path. Not installed; a benchmark, not a test.
 *
 * usage: lic-bench-conv [--no-ref] [--reps N] [--threads T]
 * The reference runs the big layers on a quarter of the plane (noted "1/4 area") to keep the run
 * short; GFLOP/s are counted per run, so the columns compare. FLOPs are 2 x MACs, counting no product
 * with a padding zero or (transposed conv) an inserted zero. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "transforms/layers.h"
#include "transforms/threadpool.h"

static void *b_alloc(void *o, size_t size, size_t align)
{
    (void)o;
    return aligned_alloc(align, (size + align - 1) / align * align);
}

static void b_free(void *o, void *p)
{
    (void)o;
    free(p);
}

static const lic_allocator alloc = {NULL, b_alloc, b_free};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint32_t seed = 1;

static float *rand_floats(size_t n, float scale, float offset)
{
    float *p = malloc(n * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = offset + scale * ((float)(seed >> 8) / (float)(1 << 24) - 0.5f);
    }
    return p;
}

static lic_tensor tensor(int c, int h, int w)
{
    lic_tensor t = {c, h, w, rand_floats(lic_tensor_count(c, h, w), 1.0f, 0.0f)};
    return t;
}

typedef struct bench_layer {
    const char *name;
    int gdn;          /* 0: conv, 1: GDN, 2: IGDN */
    int cin, cout, k, s, transposed;
    int h, w;         /* input size */
} bench_layer;

static double layer_flops(const bench_layer *b, int h, int w)
{
    if (b->gdn)
        return 2.0 * b->cin * b->cin * h * w;
    if (b->transposed) /* every input pixel meets every tap once */
        return 2.0 * b->cin * b->cout * b->k * b->k * (double)h * w;
    const int ho = lic_conv_out_size(h, b->s), wo = lic_conv_out_size(w, b->s);
    return 2.0 * b->cin * b->cout * b->k * b->k * (double)ho * wo;
}

/* Best time of `reps` runs of one layer at input h x w (after one untimed run that sizes the scratch). */
static double time_layer(const bench_layer *b, enum lic_kernel_path path, int threads, int h, int w, int reps,
                         const char **kname)
{
    lic_threadpool *tp = NULL;
    lic_xf_ctx *ctx = NULL;
    if (lic_threadpool_create(&tp, threads, &alloc) < 0 || lic_xf_ctx_create(&ctx, path, tp, &alloc) < 0) {
        fprintf(stderr, "setup failed\n");
        exit(2);
    }
    *kname = lic_xf_ctx_kernel_name(ctx);
    const int fan = b->cin * b->k * b->k;
    float *wt = rand_floats((size_t)b->cin * b->cout * b->k * b->k, 2.0f / (float)fan, 0.0f);
    float *bias = rand_floats((size_t)b->cout, 0.1f, 0.0f);
    float *beta = rand_floats((size_t)b->cin, 0.1f, 1.0f);
    float *gamma = rand_floats((size_t)b->cin * b->cin, 0.01f, 0.01f);
    lic_conv_layer L = {b->cin, b->cout, b->k, b->s, b->transposed, wt, bias};
    lic_gdn_layer G = {b->cin, b->gdn == 2, beta, gamma};
    lic_tensor in = tensor(b->cin, h, w), out = {0};
    if (!b->gdn) {
        int ho = b->transposed ? h * b->s : lic_conv_out_size(h, b->s);
        int wo = b->transposed ? w * b->s : lic_conv_out_size(w, b->s);
        out = tensor(b->cout, ho, wo);
    }
    double best = 1e30;
    for (int r = 0; r <= reps; r++) {
        double t0 = now();
        int ret = b->gdn ? lic_gdn(ctx, &G, &in) : lic_conv2d(ctx, &L, &in, &out);
        double t = now() - t0;
        if (ret < 0) {
            fprintf(stderr, "%s: error %d\n", b->name, ret);
            exit(2);
        }
        if (r > 0 && t < best)
            best = t;
        if (reps == 0)
            best = t;
    }
    free(wt), free(bias), free(beta), free(gamma), free(in.data), free(out.data);
    lic_xf_ctx_free(&ctx);
    lic_threadpool_free(&tp);
    return best;
}

/* The analysis or synthesis transform of the default model (N=128, M=192) on a 768x512 image. */
static double time_transform(int synthesis, int threads, int reps)
{
    lic_threadpool *tp = NULL;
    lic_xf_ctx *ctx = NULL;
    if (lic_threadpool_create(&tp, threads, &alloc) < 0 || lic_xf_ctx_create(&ctx, LIC_KERNELS_FAST, tp, &alloc) < 0)
        exit(2);
    const int H = 512, W = 768;
    int ch[5] = {3, 128, 128, 128, 192};
    lic_conv_layer L[4];
    lic_gdn_layer G[3];
    float *mem[16];
    int nm = 0;
    for (int i = 0; i < 4; i++) {
        int cin = synthesis ? ch[4 - i] : ch[i], cout = synthesis ? ch[3 - i] : ch[i + 1];
        mem[nm] = rand_floats((size_t)cin * cout * 25, 2.0f / (float)(cin * 25), 0.0f);
        mem[nm + 1] = rand_floats((size_t)cout, 0.1f, 0.0f);
        L[i] = (lic_conv_layer){cin, cout, 5, 2, synthesis, mem[nm], mem[nm + 1]};
        nm += 2;
    }
    for (int i = 0; i < 3; i++) {
        mem[nm] = rand_floats(128, 0.1f, 1.0f);
        mem[nm + 1] = rand_floats(128 * 128, 0.01f, 0.01f);
        G[i] = (lic_gdn_layer){128, synthesis, mem[nm], mem[nm + 1]};
        nm += 2;
    }
    /* two ping-pong activation buffers of the largest size, touched once before timing */
    const size_t big = (size_t)128 * (H / 2) * (W / 2) > (size_t)3 * H * W ? (size_t)128 * (H / 2) * (W / 2) : (size_t)3 * H * W;
    float *buf[2] = {rand_floats(big, 1.0f, 0.0f), rand_floats(big, 1.0f, 0.0f)};
    double best = 1e30;
    for (int r = 0; r <= reps; r++) {
        double t0 = now();
        lic_tensor cur = {synthesis ? 192 : 3, synthesis ? H / 16 : H, synthesis ? W / 16 : W, buf[0]};
        for (int i = 0; i < 4; i++) {
            lic_tensor out = {L[i].cout, synthesis ? cur.h * 2 : cur.h / 2, synthesis ? cur.w * 2 : cur.w / 2,
                              buf[(i + 1) & 1]};
            if (lic_conv2d(ctx, &L[i], &cur, &out) < 0 || (i < 3 && lic_gdn(ctx, &G[i], &out) < 0)) {
                fprintf(stderr, "transform failed\n");
                exit(2);
            }
            cur = out;
        }
        double t = now() - t0;
        if (r > 0 && t < best)
            best = t;
    }
    for (int i = 0; i < nm; i++)
        free(mem[i]);
    free(buf[0]), free(buf[1]);
    lic_xf_ctx_free(&ctx);
    lic_threadpool_free(&tp);
    return best;
}

int main(int argc, char **argv)
{
    int do_ref = 1, reps = 3, max_threads = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-ref")) {
            do_ref = 0;
        } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            max_threads = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--no-ref] [--reps N] [--threads T]\n", argv[0]);
            return 1;
        }
    }
    if (reps < 1)
        reps = 1;
    if (max_threads < 1)
        max_threads = 1;
    static const bench_layer layers[] = {
        {"conv5x5 s2 3->128 (g_a.0)", 0, 3, 128, 5, 2, 0, 512, 768},
        {"conv5x5 s2 128->128 (g_a.1)", 0, 128, 128, 5, 2, 0, 256, 384},
        {"conv5x5 s2 128->128 (g_a.2)", 0, 128, 128, 5, 2, 0, 128, 192},
        {"conv5x5 s2 128->192 (g_a.3)", 0, 128, 192, 5, 2, 0, 64, 96},
        {"conv3x3 s1 192->128 (h_a.0)", 0, 192, 128, 3, 1, 0, 32, 48},
        {"GDN 128 @384x256", 1, 128, 128, 1, 1, 0, 256, 384},
        {"IGDN 128 @384x256", 2, 128, 128, 1, 1, 0, 256, 384},
        {"tconv5x5 s2 192->128 (g_s.0)", 0, 192, 128, 5, 2, 1, 32, 48},
        {"tconv5x5 s2 128->128 (g_s.1)", 0, 128, 128, 5, 2, 1, 64, 96},
        {"tconv5x5 s2 128->128 (g_s.2)", 0, 128, 128, 5, 2, 1, 128, 192},
        {"tconv5x5 s2 128->3 (g_s.3)", 0, 128, 3, 5, 2, 1, 256, 384},
    };
    printf("%-30s %-9s %3s %10s %9s\n", "layer", "kernels", "thr", "time ms", "GFLOP/s");
    for (size_t i = 0; i < sizeof(layers) / sizeof(layers[0]); i++) {
        const bench_layer *b = &layers[i];
        for (int path = do_ref ? 0 : 1; path <= 1; path++) {
            for (int th = 1; th <= max_threads; th++) {
                int h = b->h, w = b->w;
                /* the reference on a quarter of the plane when the layer is big */
                const int shrink = path == 0 && layer_flops(b, h, w) > 2e9;
                if (shrink)
                    h = (h + 1) / 2, w = (w + 1) / 2;
                const char *kn = "";
                double t = time_layer(b, (enum lic_kernel_path)path, th, h, w, path == 0 ? 1 : reps, &kn);
                printf("%-30s %-9s %3d %10.2f %9.1f%s\n", b->name, kn, th, t * 1e3, layer_flops(b, h, w) / t * 1e-9,
                       shrink ? "  (1/4 area)" : "");
                fflush(stdout);
            }
        }
    }
    /* whole transforms: 4 layers + 3 (I)GDN, 768x512, fast path */
    const double fa = 2.0 * (3.0 * 128 * 25 * 384 * 256 + 128.0 * 128 * 25 * 192 * 128 + 128.0 * 128 * 25 * 96 * 64 +
                             128.0 * 192 * 25 * 48 * 32) +
                      2.0 * 128 * 128 * (384.0 * 256 + 192 * 128 + 96 * 64);
    for (int syn = 0; syn <= 1; syn++)
        for (int th = 1; th <= max_threads; th++) {
            double t = time_transform(syn, th, reps);
            printf("%-30s %-9s %3d %10.2f %9.1f\n", syn ? "g_s 768x512 (4 tconv + 3 IGDN)" : "g_a 768x512 (4 conv + 3 GDN)",
                   "fast", th, t * 1e3, fa / t * 1e-9);
            fflush(stdout);
        }
    return 0;
}
