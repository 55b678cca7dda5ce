/* lic gpu: the only header of gpu/ that other modules see — the CUDA/cuDNN backend of the float
 * transforms g_a, h_a and g_s (docs/GPU.md).
 *
 * The backend runs the float transforms; the integer probability path stays on the CPU unless asked
 * for (lic_gpu_int_requested), and on the device it is bit-exact, so a bitstream encoded with it
 * decodes anywhere (docs/ARCHITECTURE.md, the determinism rule). Every call works on host
 * buffers: the caller hands planar float tensors in and gets planar float tensors back.
 *
 * Without CUDA (LIC_CUDA=OFF, or AUTO with no toolkit or cuDNN found) gpu/stub.c implements it: no
 * devices, every request LIC_EUNSUPPORTED. With CUDA built in but no driver or GPU present,
 * lic_gpu_device_count() is 0 and creating a context is LIC_EUNSUPPORTED: nothing crashes or prints. */
#ifndef LIC_GPU_GPU_H
#define LIC_GPU_GPU_H

#include <stdint.h>

#include "lic/common.h"
#include "transforms/ilayers.h"
#include "transforms/layers.h"
#include "transforms/oplist.h"
#include "transforms/tensor.h"

/* Number of usable CUDA devices (compute capability 8.0 or newer); 0 when CUDA is not built in, or
 * there is no driver or GPU. Never prints and never fails. */
int lic_gpu_device_count(void);

/* 1 when the library was built with the CUDA backend. */
int lic_gpu_built_in(void);

/* Arithmetic of the float transforms on the device. Values are stable (may reach a config field). */
enum lic_gpu_precision {
    LIC_GPU_FP32 = 0,        /* float storage; convolutions may use TF32 tensor cores (default) */
    LIC_GPU_FP32_STRICT = 1, /* float storage and FMA-only math: no TF32 (parity tests) */
    LIC_GPU_FP16 = 2,        /* half storage of activations and conv weights, float accumulation;
                              * GDN, bias, gains in float */
};

/* The float layers of a model, borrowed: the context copies what it needs to the device when it is
 * created, so the layers may go away afterwards. */
typedef struct lic_gpu_model {
    const lic_conv_layer *g_a;      /* [4]: 3 -> ... -> M, stride 2 */
    const lic_gdn_layer *g_a_gdn;   /* [3] after g_a[0..2] */
    const lic_conv_layer *h_a;      /* [3]: M -> ... -> N_z; leaky ReLU after h_a[0..1] */
    const lic_conv_layer *g_s;      /* [4]: M -> ... -> 3 (transposed convs, or see subpel) */
    const lic_gdn_layer *g_s_igdn;  /* [3] after g_s[0..2] */
    int subpel;                     /* 1: each g_s layer is a stride-1 conv to 4*c channels followed by
                                     * a pixel shuffle by 2; 0: stride-2 transposed convs */
    float relu_slope;               /* leaky ReLU slope of h_a */
} lic_gpu_model;

/* Storage for the layers of a lic_gpu_model made from op lists. */
typedef struct lic_gpu_layers {
    lic_conv_layer g_a[4], h_a[3], g_s[4];
    lic_gdn_layer g_a_gdn[3], g_s_igdn[3];
} lic_gpu_layers;

/* Recognises the analysis (g_a, gain, h_a) and synthesis (g_s) op lists of a model
 * (transforms/oplist.h) as the transforms this backend implements, copying their layers into `layers`
 * (weights stay borrowed) and pointing *out at them. Returns 0, or LIC_EUNSUPPORTED for lists of any
 * other shape, which then run on the CPU. Pure host code, built with or without CUDA. */
int lic_gpu_model_from_ops(const lic_op *analysis, int n_analysis, const lic_op *synthesis, int n_synthesis,
                           lic_gpu_layers *layers, lic_gpu_model *out);

/* Options of a context. Start from lic_gpu_options_init(). */
typedef struct lic_gpu_options {
    int device;                      /* CUDA device index (default 0) */
    enum lic_gpu_precision precision; /* default LIC_GPU_FP32 */
    int analysis, synthesis;         /* which halves to upload: g_a + h_a, g_s (default both 1) */
    uint64_t max_memory;             /* device bytes the transforms may use; 0 = 80% of the memory
                                      * free when an image size is planned (default 0) */
    int force_tile;                  /* tests: core tile side in pixels (a multiple of 64); 0 = from
                                      * the memory budget (default 0) */
    const lic_logger *logger;        /* borrowed, may be NULL: device errors are logged through it */
    int integer;                     /* 1: the context also runs integer convs of the probability path
                                      * (lic_gpu_iconv); default 0, see lic_gpu_int_requested */
} lic_gpu_options;

void lic_gpu_options_init(lic_gpu_options *opt);

/* Device-resident weights, cuDNN handle and descriptors, and the per-image-size workspace. One per
 * encoder or decoder; not shared between threads. */
typedef struct lic_gpu_transforms lic_gpu_transforms;

/* Creates a context on opt->device and uploads the weights once.
 * @param alloc  filled allocator for host-side structures, borrowed for the context's lifetime
 * @return 0; LIC_EUNSUPPORTED when CUDA is not built in or no usable device is present;
 *         LIC_EINVAL for a malformed model or options; LIC_ENOMEM; LIC_EBACKEND on a CUDA/cuDNN
 *         failure (logged). */
int lic_gpu_transforms_create(lic_gpu_transforms **out, const lic_gpu_model *m, const lic_gpu_options *opt,
                              const lic_allocator *alloc);

/* Frees the context and all its device memory, sets *ctx to NULL. Safe on NULL. */
void lic_gpu_transforms_free(lic_gpu_transforms **ctx);

/* g_a then the per-channel gain, then h_a, on host buffers.
 * @param x      3 planes of ph x pw floats (the padded image, [0, 1]); ph, pw multiples of 64
 * @param gain   [M] per-channel gain applied to y
 * @param y_out  receives M planes of ph/16 x pw/16: y' = g_a(x) * gain (what the CPU engine leaves in y)
 * @param z_out  receives N_z planes of ph/64 x pw/64: h_a(y')
 * @return 0; LIC_EINVAL; LIC_EUNSUPPORTED if the context holds no analysis weights; LIC_ELIMIT if the
 *         image does not fit the memory budget even tiled; LIC_ENOMEM; LIC_EBACKEND. */
int lic_gpu_analysis(lic_gpu_transforms *ctx, const float *x, int ph, int pw, const float *gain, float *y_out,
                     float *z_out);

/* g_s on host buffers: yhat is M planes of lh x lw (gain_inv already applied), x_out receives 3 planes
 * of 16*lh x 16*lw. lh, lw multiples of 4. Same return codes as lic_gpu_analysis. */
int lic_gpu_synthesis(lic_gpu_transforms *ctx, const float *yhat, int lh, int lw, float *x_out);

/* ---- the integer probability path on the device (opt-in; docs/GPU.md §8) ------------------------ */

/* 1 when the environment asks for the integer ops on the GPU: LIC_GPU_INT=1. The kernels are
 * bit-exact (tested against the CPU kernels through their host emulation, and on a device by
 * tests/test_gpu_int.c --device) but not measured yet, so they are off unless asked for. Pure host
 * code, never fails; 0 in builds without CUDA. */
int lic_gpu_int_requested(void);

/* 1 when ctx was created with opt->integer (and CUDA is built in). Safe on NULL (0). */
int lic_gpu_int_enabled(const lic_gpu_transforms *ctx);

/* out = iconv(in), lic_iconv2d's result bit for bit (transforms/ilayers.h), computed on ctx's device:
 * host tensors copied in and out, the layer's weights uploaded at its first use and kept while ctx
 * lives (keyed by the layer's address: layers must outlive ctx, as a model's do). Synchronous.
 * @return 0; LIC_EINVAL (as lic_iconv2d); LIC_EUNSUPPORTED without opt->integer; LIC_ENOMEM;
 *         LIC_EBACKEND (logged). */
int lic_gpu_iconv(lic_gpu_transforms *ctx, const lic_iconv_layer *L, const lic_itensor *in, lic_itensor *out);

/* ---- memory plan: pure host code, built with or without CUDA (so CI tests it) ---------------------- */

#define LIC_GPU_MAX_TILES 4096

/* How one padded image size is run: a grid of core tiles, each computed from a window that adds `halo`
 * pixels of context on every side (clipped at the image border), so that the tiled result equals the
 * whole-image one; and the device buffers that serve every tile. */
typedef struct lic_gpu_plan {
    int ph, pw;               /* padded image size (multiples of 64) */
    int tile;                 /* core tile side in pixels, a multiple of 64 */
    int halo;                 /* context pixels around a core, a multiple of 16 (0 when one tile) */
    int tiles_y, tiles_x;
    int elem_size;            /* bytes of a stored activation: 4 (FP32) or 2 (FP16) */
    uint64_t act_count[3];    /* elements of the activation buffers act[0..2] (act[2]: subpel only) */
    uint64_t y_count;         /* elements of the whole latent y (M x ph/16 x pw/16) */
    uint64_t staging_count;   /* floats of the host-transfer staging buffer */
    uint64_t weight_bytes;    /* device weights, all layers in the plan's precision */
    uint64_t bytes;           /* all of the above on the device, without the cuDNN workspace */
} lic_gpu_plan;

/* One tile of a plan, in pixels of the padded image (latent units: divide by 16; all are multiples
 * of 16). The window [wy, wy+wh) x [wx, wx+ww) is what is computed; the core [cy, cy+ch) x
 * [cx, cx+cw) is what is kept. */
typedef struct lic_gpu_tile {
    int wy, wx, wh, ww;
    int cy, cx, ch, cw;
} lic_gpu_tile;

/* Context each side of a tile needs, in pixels (a multiple of 16): the depth to which zero padding at a
 * tile edge changes results in g_a (forward convs) and g_s (transposed or sub-pixel convs), rounded up
 * with one latent of margin. */
int lic_gpu_halo(const lic_gpu_model *m);

/* Chooses the largest tile whose buffers fit `budget` bytes (plan->bytes <= budget) and whose every
 * tensor has fewer than 2^31 elements (cuDNN's limit), whole image first. force_tile > 0 imposes the core tile side instead (multiple of 64).
 * @return 0; LIC_EINVAL for bad sizes; LIC_ELIMIT when even the smallest tile does not fit. */
int lic_gpu_plan_make(const lic_gpu_model *m, int ph, int pw, int elem_size, uint64_t budget, int force_tile,
                      lic_gpu_plan *plan);

/* Tile i (0 <= i < tiles_y * tiles_x, row-major) of a plan. */
void lic_gpu_plan_tile(const lic_gpu_plan *plan, int i, lic_gpu_tile *t);

/* The plan of a context's last image size (plan->ph == 0 before the first image) and the device bytes it
 * holds: plan->bytes plus the cuDNN workspace. */
int lic_gpu_transforms_memory(const lic_gpu_transforms *ctx, lic_gpu_plan *plan, uint64_t *device_bytes);

/* ---- the op-list executor (opt-in: LIC_GPU_OPLIST=1; docs/GPU.md §9) ------------------------------
 *
 * The general path: the device runs a model's op lists (transforms/oplist.h) as the CPU interpreter
 * does, whatever the architecture, instead of the fixed g_a / h_a / g_s arrays above. Its plan is pure
 * host code built from the op list alone (gpu/gpu_oplan.c, built with or without CUDA); its executor
 * is gpu/cuda/exec.c. */

#define LIC_GPU_MAX_CHAINS 8
#define LIC_GPU_MAX_OPS 160   /* as many as a model holds (codec/model.h LIC_MAX_OPS) */
#define LIC_GPU_MAX_BUFS 16
#define LIC_GPU_GDN_MAX_C 1024 /* the GDN kernel's largest channel count */
#define LIC_GPU_WHOLE_SCALE 4  /* chains whose views are all at 1/16 or coarser run untiled */

enum { LIC_GPU_ANALYSIS = 0, LIC_GPU_SYNTHESIS = 1 };

/* The float transforms of a model as op lists, borrowed (the ops and their layers must outlive
 * whatever is made from the graph, as a model's do). */
typedef struct lic_gpu_graph {
    const lic_op *ops;
    int n_ops;
    int n_bufs;
    struct { int first, count; } range[2]; /* LIC_GPU_ANALYSIS, LIC_GPU_SYNTHESIS: op ranges */
    const lic_view *kept;  /* views the host reads or writes whole (a model's io views): chains end there */
    int n_kept;
} lic_gpu_graph;

/* A chain of a range (transforms/oplist.h, lic_op_chain): ops from src to dst. Its intermediate and
 * final tensors live in the activation slots (act_count of the plan); src comes from the host or, when
 * an earlier chain of the range wrote it, from that chain's whole device buffer. */
typedef struct lic_gpu_chain {
    int range, first, count;
    lic_view src, dst;
    int tiled;    /* 1: runs tile by tile over the plan's grid; 0: on the whole image at once */
    int src_from; /* index of the chain whose whole device buffer holds src; -1: src is on the host */
    int dst_dev;  /* 1: dst is kept whole on the device (a later chain of the range reads it) */
    int dst_host; /* 1: dst is copied to the host (a kept view, or nothing on the device reads it) */
} lic_gpu_chain;

/* The size-independent part of an op-list plan, and, once sized, the grid and buffers of one padded
 * size (grid: the same fields as the fixed-layer plan; act_count are the three activation slots,
 * y_count the whole device buffers of the chains with dst_dev). */
typedef struct lic_gpu_oplan {
    lic_gpu_chain chain[LIC_GPU_MAX_CHAINS];
    int n_chains;
    signed char slot[LIC_GPU_MAX_OPS]; /* activation slot (0..2) of each op's output; -1 outside */
    int halo;      /* context pixels of a tile, for every tiled chain (a multiple of `unit`) */
    int unit;      /* pixels that every tiled chain's windows are multiples of (2^coarsest scale) */
    lic_gpu_plan grid;
} lic_gpu_oplan;

/* Cuts the graph's two ranges into chains, assigns activation slots and the halo. Returns 0, or
 * LIC_EUNSUPPORTED for lists the executor does not run (an op kind other than float conv, GDN,
 * leaky ReLU, gain and pixel shuffle; a chain that cannot be fed from the host or an earlier chain;
 * more chains than LIC_GPU_MAX_CHAINS), LIC_EINVAL for a malformed graph. */
int lic_gpu_oplan_build(const lic_gpu_graph *g, lic_gpu_oplan *p);

/* Sizes a built plan for a padded size, as lic_gpu_plan_make does (largest tile within budget, whole
 * image first; force_tile > 0 imposes the core tile side). Fills p->grid. Same return codes. */
int lic_gpu_oplan_size(lic_gpu_oplan *p, const lic_gpu_graph *g, int ph, int pw, int elem_size, uint64_t budget,
                       int force_tile);

/* The window of chain c for tile t of a sized plan, in pixels: the tile's window for tiled chains, the
 * whole image otherwise (core = window). */
void lic_gpu_oplan_window(const lic_gpu_oplan *p, const lic_gpu_chain *c, int tile, lic_gpu_tile *t);

/* 1 when the environment asks for the op-list executor: LIC_GPU_OPLIST=1 (0 in builds without CUDA).
 * The fixed-layer context stays the default until the device tests pass with it (docs/GPU.md §9). */
int lic_gpu_oplist_requested(void);

/* Creates a context that runs the graph's ranges (the graph and its ops are borrowed for the
 * context's lifetime). opt: as lic_gpu_transforms_create (analysis/synthesis select the ranges
 * uploaded). Returns 0; LIC_EUNSUPPORTED (no CUDA or device, or a graph lic_gpu_oplan_build refuses);
 * LIC_EINVAL; LIC_ENOMEM; LIC_EBACKEND. Freed with lic_gpu_transforms_free; lic_gpu_transforms_memory
 * reports its plan. */
int lic_gpu_transforms_create_ops(lic_gpu_transforms **out, const lic_gpu_graph *g, const lic_gpu_options *opt,
                                  const lic_allocator *alloc);

/* 1 when ctx runs op lists (was made by lic_gpu_transforms_create_ops). Safe on NULL. */
int lic_gpu_is_oplist(const lic_gpu_transforms *ctx);

/* Runs range `range` (LIC_GPU_ANALYSIS or LIC_GPU_SYNTHESIS) of an op-list context on host buffers:
 * host[b] is the model's buffer b laid out for a padded ph x pw frame (a view at scale s has planes of
 * (ph >> s) x (pw >> s)); gain: the per-channel gain of the range's GAIN op (may be NULL without one).
 * Reads the chains' host sources, writes their host destinations, as the CPU interpreter does.
 * Synchronous. Returns 0; LIC_EINVAL; LIC_EUNSUPPORTED (range not uploaded, or not an op-list
 * context); LIC_ELIMIT; LIC_ENOMEM; LIC_EBACKEND. */
int lic_gpu_run_range(lic_gpu_transforms *ctx, int range, void *const *host, int ph, int pw, const float *gain);

/* ---- single layers, for tests and benchmarks ------------------------------------------------------ */

enum lic_gpu_op_kind {
    LIC_GPU_OP_CONV = 0,          /* conv or transposed conv, bias included */
    LIC_GPU_OP_GDN = 1,           /* in place GDN / IGDN */
    LIC_GPU_OP_LEAKY_RELU = 2,
    LIC_GPU_OP_PIXEL_SHUFFLE = 3, /* by 2 */
};

typedef struct lic_gpu_op {
    enum lic_gpu_op_kind kind;
    const lic_conv_layer *conv;   /* LIC_GPU_OP_CONV */
    const lic_gdn_layer *gdn;     /* LIC_GPU_OP_GDN */
    float slope;                  /* LIC_GPU_OP_LEAKY_RELU */
} lic_gpu_op;

/* Runs one layer on device `device` with the kernels the transforms use: in and out are host tensors
 * with their shapes set as for the CPU layers (transforms/layers.h); for GDN and leaky ReLU out may
 * equal in. Slow (creates and destroys a cuDNN handle): tests only.
 * @return 0; LIC_EUNSUPPORTED without CUDA or device; LIC_EINVAL; LIC_ENOMEM; LIC_EBACKEND. */
int lic_gpu_run_op(int device, enum lic_gpu_precision precision, const lic_gpu_op *op, const lic_tensor *in,
                   lic_tensor *out, const lic_logger *logger);

#endif /* LIC_GPU_GPU_H */
