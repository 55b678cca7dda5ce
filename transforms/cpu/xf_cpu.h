/* lic transforms, CPU backend internals: the kernel table, the context layout and the scratch slots.
 * Shared by transforms/layers.c and the files of transforms/cpu/; nothing outside transforms/ includes it. */
#ifndef LIC_TRANSFORMS_XF_CPU_H
#define LIC_TRANSFORMS_XF_CPU_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "transforms/layers.h"

/* GEMM micro-kernel of the fast path. Computes an mr x nr block of C (mr output channels, nr pixels,
 * mr and nr fixed by the kernel's slot in the table) over kc reduction steps:
 *     C[r][j] = fma chain over k = 0..kc-1 of a[k*mr + r] * b[boff[k] + j], starting from
 *               init[r] when init is non-NULL, else from the value already in C[r][j].
 * a is packed [kc][mr]; b + boff[k] points at nr contiguous input values of reduction step k; C rows
 * are ldc floats apart. Only the first n (1..nr) columns are read from b and written to C.
 * Every C element is one sequential FMA chain in k order, whatever the block shape, which is what
 * makes results independent of tiling and thread count. */
typedef void (*lic_xf_gemm_fn)(int kc, const float *a, const float *b, const int32_t *boff, float *c,
                               ptrdiff_t ldc, const float *init, int n);

#define LIC_XF_K_MAX 16 /* largest kernel side of a float layer (tap tables of the fast path) */
#define LIC_XF_S_MAX 16 /* largest stride */
#define LIC_XF_MR_MAX 8 /* table bounds: rows (output channels) per micro-kernel */
#define LIC_XF_NV_MAX 6 /* table bounds: vectors (of `vec` floats) of pixels per micro-kernel */

/* The kernel table of a context. Filled once by lic_xf_kernels_init_*(); the context holds a copy, so
 * no process-wide mutable state exists. */
typedef struct lic_xf_kernels {
    const char *name;             /* "c", "avx2", "avx512" */
    enum lic_kernel_path path;
    /* Fast path only (NULL / 0 for the reference table). */
    int vec;                      /* floats per SIMD vector */
    int mr;                       /* preferred rows per micro-kernel (<= LIC_XF_MR_MAX) */
    int nv;                       /* preferred vectors per micro-kernel (<= LIC_XF_NV_MAX) */
    int mr_narrow, nv_narrow;     /* layers with cout <= mr_narrow use nv_narrow vectors (0: never) */
    lic_xf_gemm_fn gemm[LIC_XF_MR_MAX][LIC_XF_NV_MAX]; /* [rows-1][vectors-1], NULL where not built */
    /* x[i] = x[i] / sqrt(acc[i]) (inverse = 0) or x[i] * sqrt(acc[i]) (inverse = 1), IEEE sqrt and divide. */
    void (*gdn_finish)(float *x, const float *acc, int n, int inverse);
} lic_xf_kernels;

void lic_xf_kernels_init_ref(lic_xf_kernels *k);
/* These return 0 and fill k, or LIC_EUNSUPPORTED when the kernels were not built. They do not look at
 * the CPU: callers check lic_xf_cpu_has_*() first (xf_select.c, the tests). */
int lic_xf_kernels_init_avx2(lic_xf_kernels *k);
int lic_xf_kernels_init_avx512(lic_xf_kernels *k);
/* 1 when the SIMD kernels were built and this CPU and OS can run them (from lic_xf_cpu_features). */
int lic_xf_cpu_has_avx2(void);
int lic_xf_cpu_has_avx512(void);
/* 1 when the AVX-512 VNNI integer kernel (cpu/iconv_avx512.c) was built and this CPU and OS run it. */
int lic_xf_cpu_has_avx512vnni(void);
/* Picks the best table for this CPU and the requested path among those `features` allows. */
void lic_xf_kernels_select(lic_xf_kernels *k, enum lic_kernel_path want, unsigned features);

/* Per-thread scratch. A task takes a free slot for its duration (at most n_threads tasks run at once,
 * so one is always free); what a slot holds never affects results. */
typedef struct lic_xf_slot {
    atomic_int busy;
    float *buf;
    size_t size; /* bytes */
} lic_xf_slot;

/* Packed weights of one layer, kept by a context (lic_xf_ctx_keep_packed). */
typedef struct lic_xf_packed {
    const float *w;   /* the layer's weights, as passed */
    int key[6];       /* mode, cin, cout, k, stride, transposed: what the packed layout depends on */
    float *a;
} lic_xf_packed;

struct lic_xf_ctx {
    const lic_allocator *alloc; /* borrowed */
    lic_threadpool *pool;       /* borrowed, may be NULL */
    int n_threads;
    lic_xf_kernels kern;
    /* Scratch grows only when a layer needs more, so steady-state calls never touch fresh pages. */
    float *shared;              /* packed weights and offset tables of the current layer */
    size_t shared_size;         /* bytes */
    lic_xf_slot *slots;         /* [n_threads] */
    int keep_packed;            /* lic_xf_ctx_keep_packed was called */
    lic_xf_packed *packed;      /* [n_packed], grown as layers come */
    int n_packed, cap_packed;
};

/* Makes sure shared scratch has `shared_bytes` and every slot `slot_bytes`. 0 or LIC_ENOMEM. */
int lic_xf_reserve(lic_xf_ctx *ctx, size_t shared_bytes, size_t slot_bytes);
/* The kept packed weights of layer (w, key) of `floats` floats: *fresh = 0 when they were packed
 * before, 1 when the caller must pack them now. NULL when memory runs out. */
float *lic_xf_packed_get(lic_xf_ctx *ctx, const float *w, const int key[6], size_t floats, int *fresh);
/* Takes / returns a free slot (called from inside pool tasks). */
lic_xf_slot *lic_xf_slot_get(lic_xf_ctx *ctx);
void lic_xf_slot_put(lic_xf_slot *s);

/* Scratch plan of a layer: bytes of shared scratch and per-slot scratch. */
typedef struct lic_xf_scratch_need {
    size_t shared;
    size_t slot;
} lic_xf_scratch_need;

/* Both kernel paths compute output rows [lo, hi) of a layer from bands (lic_band, transforms/tensor.h):
 * the arguments of lic_conv2d_rows / lic_gdn_rows, already validated by transforms/layers.c (shapes,
 * held rows, for a transposed conv lo and hi multiples of the stride). Zero padding is decided by the
 * whole tensor's rows [0, in->h); rows inside are read from the band. Whole-tensor calls are bands
 * with row0 0, rows h, plane h*w and [lo, hi) = [0, h). */

/* Reference kernels (transforms/cpu/xf_ref.c). */
int lic_xf_ref_conv2d(lic_xf_ctx *ctx, const lic_conv_layer *L, const lic_band *in, lic_band *out, int lo, int hi);
int lic_xf_ref_gdn(lic_xf_ctx *ctx, const lic_gdn_layer *L, lic_band *t, int lo, int hi);
lic_xf_scratch_need lic_xf_ref_conv2d_need(const lic_conv_layer *L, int in_h, int in_w);

/* Fast path driver (transforms/cpu/xf_fast.c): im2row strips + the table's micro-kernels. */
int lic_xf_fast_conv2d(lic_xf_ctx *ctx, const lic_conv_layer *L, const lic_band *in, lic_band *out, int lo, int hi);
int lic_xf_fast_gdn(lic_xf_ctx *ctx, const lic_gdn_layer *L, lic_band *t, int lo, int hi);
/* Scratch of the fast path for one layer on a whole in_h-row input: exact for one thread, an upper
 * bound per slot for more (more threads only make the tiles smaller), and for a band's call that reads
 * in_h rows (it computes no more grid rows than the whole in_h-row input has). */
lic_xf_scratch_need lic_xf_fast_conv2d_need(const lic_conv_layer *L, int in_h, int in_w);
/* Likewise for a GDN over n elements of each channel (a band's rows, flattened). */
lic_xf_scratch_need lic_xf_fast_gdn_need(const lic_gdn_layer *L, int n);

#endif /* LIC_TRANSFORMS_XF_CPU_H */
