/* lic codec: the backends the interpreter runs a model's op lists on (docs/ARCHITECTURE.md, "The
 * network as data").
 *
 * The CPU backend runs every op on the float and integer kernels of transforms/ and owns the engine's
 * buffers (host memory). An accelerator runs what it supports: whole op ranges it recognises
 * (run_range; the CUDA context runs g_a + gain + h_a and g_s fused and tiled, on host buffers that it
 * copies in and out itself) or single ops (supports_op / run_op); the interpreter runs everything else
 * on the CPU, op by op. */
#ifndef LIC_CODEC_BACKEND_H
#define LIC_CODEC_BACKEND_H

#include "codec/model.h"

struct lic_engine;

typedef struct lic_backend {
    const char *name;
    /* Memory for `count` elements of a buffer of the model; NULL when it cannot be had. */
    void *(*alloc)(struct lic_engine *e, const lic_buf *b, uint64_t count);
    void (*free)(struct lic_engine *e, void *p);
    /* 1 when run_op can run this op. */
    int (*supports_op)(const struct lic_engine *e, const lic_op *op);
    /* Runs one op on the engine's buffers (gain: the per-channel gain of LIC_OP_GAIN). */
    int (*run_op)(struct lic_engine *e, const lic_op *op, const float *gain);
    /* Optional (NULL): runs a whole range, or returns LIC_EUNSUPPORTED for ranges it does not fuse. */
    int (*run_range)(struct lic_engine *e, lic_op_range r, const float *gain);
} lic_backend;

extern const lic_backend lic_backend_cpu;

/* Buffers of the model's ids laid out for a frame of padded size ph x pw (a view at scale s has planes
 * of (ph >> s) x (pw >> s)): the engine's whole buffers, or one tile's (codec/tiles.h). */
typedef struct lic_frame {
    void *const *buf;
    int ph, pw;
} lic_frame;

/* The data of view v in frame f: channel v->c0 of its buffer, planes of the frame's size at v's scale. */
void *lic_frame_data(const lic_frame *f, const lic_view *v);

/* The CPU backend's run_op on the buffers of frame f. */
int lic_backend_cpu_run_in(struct lic_engine *e, const lic_frame *f, const lic_op *op, const float *gain);

/* An integer op (LIC_OP_ICONV, LIC_OP_IZERO) on the buffers of frame f, its kernel split over `pool`
 * (NULL: this thread only, for callers that run several frames in parallel). Any other kind:
 * LIC_EUNSUPPORTED. */
struct lic_threadpool;
int lic_backend_cpu_run_int(struct lic_engine *e, const lic_frame *f, const lic_op *op, struct lic_threadpool *pool);
extern const lic_backend lic_backend_cuda;

/* Opens the CUDA context for the engine's model when its configuration asks for it (or, under AUTO,
 * when a device is usable) and sets e->accel. Failing is an error only when CUDA was asked for
 * explicitly; under AUTO the engine stays on the CPU with one logged line. */
int lic_backend_cuda_open(struct lic_engine *e);
void lic_backend_cuda_close(struct lic_engine *e);

/* The interpreter: runs the ops of range r on the engine's accelerator where it can and on the CPU
 * otherwise. Under AUTO, an accelerator that fails mid-image is dropped for good and the range is run
 * again on the CPU (its inputs are host buffers that it only read). */
int lic_interp_run(struct lic_engine *e, lic_op_range r, const float *gain);

#endif /* LIC_CODEC_BACKEND_H */
