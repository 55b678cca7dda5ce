/* lic transforms, internal: the kernels behind lic_iconv2d (transforms/ilayers.h).
 *
 * lic_iconv2d checks the layer and the shapes, then splits the output channels into blocks and calls
 * one kernel per block. Every kernel computes the exact integer sums of the contract, so all kernels
 * give byte-identical outputs; the reference kernel is the ground truth the fast ones are tested
 * against. Only transforms/ and tests include this header. */
#ifndef LIC_TRANSFORMS_CPU_ICONV_H
#define LIC_TRANSFORMS_CPU_ICONV_H

#include <stddef.h>
#include <stdint.h>

#include "transforms/iconv_arith.h"
#include "transforms/ilayers.h"
#include "util/fixed.h"

/* Kernel ids for lic_iconv2d_kernel (tests pick one explicitly). */
enum lic_iconv_kernel {
    LIC_ICONV_KERNEL_BEST = -1, /* the fastest one this CPU runs */
    LIC_ICONV_KERNEL_REF = 0,   /* plain C loops, iconv_ref.c */
    LIC_ICONV_KERNEL_AVX2 = 1,  /* int16 madd with split weights, iconv_avx2.c */
    LIC_ICONV_KERNEL_AVX512 = 2, /* AVX-512 VNNI dot products with split weights, iconv_avx512.c */
    LIC_ICONV_KERNEL_LAST = LIC_ICONV_KERNEL_AVX512
};

/* 1 when kernel `kernel` (REF, AVX2, AVX512) is built in and this CPU runs it. */
int lic_iconv_kernel_available(int kernel);

/* One validated call: geometry and pointers. Input and output are planar CHW int32. */
typedef struct lic_iconv_call {
    const lic_iconv_layer *L;
    const int32_t *in;
    int ih, iw;
    int32_t *out;
    int oh, ow;
} lic_iconv_call;

/* lic_iconv2d_kernel (transforms/ilayers.h) runs lic_iconv2d with one of these ids. */

/* A kernel splits a validated call into n = *_tasks(c) >= 1 tasks that write disjoint outputs;
 * *_task(c, i) runs task i (any order, any thread). The split never divides a sum, so it cannot change
 * a result. Reference: one task per output channel. AVX2, AVX-512: (group of positions, block of channels),
 * the split and the geometry they share in iconv_tiles.h. */
int lic_iconv_ref_tasks(const lic_iconv_call *c);
void lic_iconv_ref_task(const lic_iconv_call *c, int task);
int lic_iconv_avx2_tasks(const lic_iconv_call *c);
void lic_iconv_avx2_task(const lic_iconv_call *c, int task);
int lic_iconv_avx512_tasks(const lic_iconv_call *c);
void lic_iconv_avx512_task(const lic_iconv_call *c, int task);

/* lic_iconv_sat16 and lic_iconv_finish, the per-element arithmetic every kernel shares (with the GPU
 * kernels too), are in transforms/iconv_arith.h. */

#endif /* LIC_TRANSFORMS_CPU_ICONV_H */
