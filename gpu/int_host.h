/* lic gpu: the host side of the integer kernels of gpu/int_kernels.h — the checks that turn a layer
 * and two tensors into kernel arguments, and the host emulation of the kernels (docs/GPU.md §8).
 *
 * The emulation runs the kernels' `*_thread` functions over the launch grid the CUDA launcher uses,
 * block by block and thread by thread, on host memory: what it computes is what the device computes,
 * so tests/test_gpu_int.c checks the device arithmetic and indexing on any machine. It is slow (one
 * position at a time, no SIMD): tests only. Built with or without CUDA. */
#ifndef LIC_GPU_INT_HOST_H
#define LIC_GPU_INT_HOST_H

#include "gpu/int_kernels.h"
#include "lic/common.h"
#include "transforms/ilayers.h"
#include "transforms/tensor.h"

/* Fills *a for out = iconv(in) after the checks of lic_iconv2d (lic_iconv_call_check): a valid layer
 * (lic_iconv_validate), tensors of the layer's channels and of matching sides, in and out disjoint.
 * The pointers of *a are the tensors' and the layer's (host); the device path replaces them.
 * Returns 0 or LIC_EINVAL. */
int lic_gpu_iconv_args_make(const lic_iconv_layer *L, const lic_itensor *in, const lic_itensor *out,
                            lic_gpu_iconv_args *a);

/* Checks the sizes and pointers of a pass (c, h, w >= 1, pass 0/1, levels >= 1, ctx_shift 0..8,
 * params, thresholds, symbols, index present; yfix only when encoding). Returns 0 or LIC_EINVAL. */
int lic_gpu_ypass_args_check(const lic_gpu_ypass_args *a);

/* The emulation of the integer conv kernel: lic_iconv2d's result, computed as the device computes it,
 * with at most max_blocks blocks per plane (LIC_GPU_INT_MAX_BLOCKS as the device; lower values
 * exercise the threads' stride loop). Returns 0 or LIC_EINVAL (as lic_iconv2d). */
int lic_gpu_emul_iconv(const lic_iconv_layer *L, const lic_itensor *in, lic_itensor *out, unsigned max_blocks);

/* The emulation of the pass kernel on host arrays. Returns 0 or LIC_EINVAL. */
int lic_gpu_emul_ypass(const lic_gpu_ypass_args *a, unsigned max_blocks);

/* ---- the device, for tests (LIC_EUNSUPPORTED without CUDA or a device) ---------------------------- */

/* lic_gpu_emul_iconv on device `device`: host tensors copied in and out, a stream of its own, nothing
 * kept. Returns 0, LIC_EINVAL, LIC_EUNSUPPORTED, LIC_ENOMEM or LIC_EBACKEND (logged through log). */
int lic_gpu_iconv_run(int device, const lic_iconv_layer *L, const lic_itensor *in, lic_itensor *out,
                      const lic_logger *log);

/* lic_gpu_emul_ypass on device `device` with host arrays (copied in and out). Same returns. */
int lic_gpu_ypass_run(int device, const lic_gpu_ypass_args *a, const lic_logger *log);

#endif /* LIC_GPU_INT_HOST_H */
