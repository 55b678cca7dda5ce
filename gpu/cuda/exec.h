/* lic gpu, internal to gpu/cuda/: the op-list executor (docs/GPU.md §9) that a transforms context
 * (backend.c) holds when it was made with lic_gpu_transforms_create_ops. It runs the chains of a
 * graph's ranges (gpu/gpu_oplan.c) on the device with cuDNN convolutions and the kernels of
 * gpu_kernels.cu, tile by tile within a memory budget, on the host buffers of the caller. */
#ifndef LIC_GPU_CUDA_EXEC_H
#define LIC_GPU_CUDA_EXEC_H

#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "gpu/gpu.h"

typedef struct lic_gpu_exec lic_gpu_exec;

/* What the executor borrows from its context: the device's stream and cuDNN handle (already on the
 * current device), the allocator and logger, and the context's options. */
typedef struct lic_gpu_exec_env {
    cudaStream_t stream;
    cudnnHandle_t dnn;
    enum lic_gpu_precision precision;
    int ranges[2];         /* which of the graph's ranges to upload (LIC_GPU_ANALYSIS, LIC_GPU_SYNTHESIS) */
    uint64_t max_memory;   /* 0: 80% of the free device memory */
    int force_tile;
    const lic_allocator *alloc;
    const lic_logger *log;
} lic_gpu_exec_env;

/* Plans the graph (LIC_EUNSUPPORTED for lists lic_gpu_oplan_build refuses) and uploads the layers of
 * the selected ranges. The graph's ops and layers are borrowed; the graph struct and its kept views
 * are copied. Returns 0, LIC_EUNSUPPORTED, LIC_EINVAL, LIC_ENOMEM or LIC_EBACKEND (logged). */
int lic_gpu_exec_create(lic_gpu_exec **out, const lic_gpu_graph *g, const lic_gpu_exec_env *env);

/* Frees the device memory and the executor; sets *ex to NULL. Safe on NULL. The stream must be idle. */
void lic_gpu_exec_free(lic_gpu_exec **ex);

/* lic_gpu_run_range on this executor (the current device must be the executor's). */
int lic_gpu_exec_run(lic_gpu_exec *ex, int range, void *const *host, int ph, int pw, const float *gain);

/* The plan of the last padded size (grid.ph == 0 before the first) and the device bytes it holds. */
void lic_gpu_exec_memory(const lic_gpu_exec *ex, lic_gpu_plan *plan, uint64_t *device_bytes);

#endif /* LIC_GPU_CUDA_EXEC_H */
