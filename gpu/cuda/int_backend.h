/* lic gpu, internal to gpu/cuda/: the device state of the integer kernels — buffers and uploaded
 * layers — that a transforms context (backend.c) holds for lic_gpu_iconv. */
#ifndef LIC_GPU_CUDA_INT_BACKEND_H
#define LIC_GPU_CUDA_INT_BACKEND_H

#include <cuda_runtime_api.h>

#include "gpu/int_host.h"
#include "lic/common.h"

typedef struct lic_gpu_int lic_gpu_int;

/* State on the current device that enqueues on `stream` (borrowed). `alloc` and `log` are borrowed
 * for its lifetime. Returns 0 or LIC_ENOMEM. */
int lic_gpu_int_create(lic_gpu_int **out, cudaStream_t stream, const lic_allocator *alloc, const lic_logger *log);
/* Frees the device memory and the state; sets *s to NULL. Safe on NULL. The stream must be idle. */
void lic_gpu_int_free(lic_gpu_int **s);
/* out = iconv(in) on the device, host tensors in and out (copied through device buffers), the
 * layer's weights uploaded at its first use and kept (keyed by the layer's address, which must stay
 * valid and unchanged while the state lives). Synchronous. Returns 0, LIC_EINVAL, LIC_ENOMEM or
 * LIC_EBACKEND (logged). */
int lic_gpu_int_iconv(lic_gpu_int *s, const lic_iconv_layer *L, const lic_itensor *in, lic_itensor *out);

#endif /* LIC_GPU_CUDA_INT_BACKEND_H */
