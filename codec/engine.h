/* lic codec: what encoders and decoders share — threads, kernels, per-image-size workspace, and the
 * interpreter of the model's op lists: the float transforms, and the coding schedule of the integer
 * probability path that must run identically on both sides. */
#ifndef LIC_CODEC_ENGINE_H
#define LIC_CODEC_ENGINE_H

#include "codec/entropy_tiles.h"
#include "codec/internal.h"
#include "codec/pixels.h"
#include "codec/tiles.h"
#include "entropy/symbol_coder.h"
#include "gpu/gpu.h"
#include "transforms/layers.h"
#include "transforms/threadpool.h"

/* What an engine codes: it plans (and the memory estimate counts) the float transforms of that side,
 * or of both (a harness that runs analysis and synthesis on one engine). */
typedef enum lic_engine_role { LIC_ENGINE_ENCODER, LIC_ENGINE_DECODER, LIC_ENGINE_BOTH } lic_engine_role;

typedef struct lic_engine {
    lic_model *model;
    const lic_model_data *md;
    lic_engine_role role;
    lic_config cfg;           /* resolved copy: allocator and logger filled */
    lic_threadpool *pool;
    lic_xf_ctx *xf;           /* float kernels, chosen under cfg.cpu_features */
    int ikernel;              /* integer kernel (lic_iconv_kernel_for(cfg.cpu_features)), chosen once */
    lic_gpu_transforms *gpu;  /* the CUDA context of lic_backend_cuda */
    const struct lic_backend *accel; /* where ops run when it can run them (NULL: all on the CPU) */

    /* Workspace: the model's buffers (md->bufs), sized for the padded size (ph x pw) from the op
     * lists and reused while later images fit. */
    int ph, pw;               /* padded image size, multiples of 64 */
    int lh, lw;               /* latent size = padded / 16 */
    void *buf[LIC_MAX_BUFS];
    uint64_t buf_cap[LIC_MAX_BUFS]; /* elements allocated */
    /* Tiling (codec/tiles.h): on the CPU the chains of the transforms run over tiles of `tile` pixels
     * in tbuf, and buf holds only the views that stay whole. tiled = 0: everything in buf, as the
     * accelerator needs. */
    lic_tile_plan tiles;
    int tiled, tile;
    void *tbuf[LIC_MAX_BUFS];
    uint64_t tbuf_cap[LIC_MAX_BUFS];
    /* The rings of the chains that run band by band (codec/bands.h), and the image rows one tile or
     * band of the pixel chains spans (the ring of a streaming source or sink). */
    float *band;
    uint64_t band_cap;        /* floats */
    uint32_t pixel_rows;
    /* The probability path by tile of the latent (codec/entropy_tiles.h): the current image's tiling,
     * per-worker tile workspaces and per-tile results. */
    lic_etiles et;
    /* The caller's pixels while a tiled analysis reads them or a tiled synthesis writes them
     * (tiles.pixels_in / pixels_out); NULL otherwise. */
    lic_pixels *pix_in, *pix_out;
    /* The buffers the callers know by role (md->io), set by lic_engine_prepare. */
    float *x;                 /* 3 x ph x pw: the padded image, filled by the encoder; NULL when the
                               * tiles read the caller's pixels instead */
    float *y;                 /* M x lh x lw: y' (encoder) or y-hat (decoder, filled by it) */
    int32_t *yq;              /* M x lh x lw: y-hat' in 1/256 units */
    int32_t *yctx;            /* M x lh x lw: y-hat in the context networks' format (one tile only;
                               * with several tiles it lives in the tile workspaces) */
    int32_t *zhat;            /* N x lh/4 x lw/4 */

    lic_stats stats;
} lic_engine;

/* Allocates a zeroed context of `size` bytes whose first member is a lic_engine and initializes that
 * engine on model m (taking a reference). Checks m and cfg. Returns 0 or an error; *out NULL on failure. */
int lic_engine_open(lic_engine **out, size_t size, lic_model *m, const lic_config *cfg, lic_engine_role role);
/* Releases the engine's resources and frees the context allocated by lic_engine_open. Safe on NULL. */
void lic_engine_close(lic_engine *e);

/* Checks an image size against the limits (side, pixels, memory estimate) without allocating;
 * fills *out (lic_encoder_check_size). Returns 0, LIC_ELIMIT, or LIC_EINVAL for a zero side. */
int lic_engine_check_size(const lic_engine *e, uint32_t width, uint32_t height, lic_size_check *out);

/* Validates an image size against the limits (side, pixels, memory estimate) and makes the
 * workspace fit it, for the probability path cut into tiles of 2^tile_log2 latent positions (0: one
 * tile; -1: the tiling an encoder chooses under cfg.entropy_tile). Nothing is allocated when a limit is
 * exceeded. Returns 0, LIC_ELIMIT, LIC_ENOMEM. */
int lic_engine_prepare_tiles(lic_engine *e, uint32_t width, uint32_t height, int tile_log2);
/* lic_engine_prepare_tiles with the encoder's tiling (-1). */
int lic_engine_prepare(lic_engine *e, uint32_t width, uint32_t height);

/* Per-channel gains for quality q (1..100): gain_out[M] (encoder) or, with inverse = 1, gain_inv. */
void lic_engine_gains(const lic_engine *e, int quality, int inverse, float *out);

/* The analysis op list: g_a on e->x (filled by the caller) into e->y, the gain, then h_a into z
 * (N x ph/64 x pw/64, a float buffer of the engine's). Returns 0 or an error. */
int lic_engine_analysis(lic_engine *e, const float *gain, float **z_out);

/* The synthesis op list: g_s from e->y into a buffer of the engine's (3 x ph x pw); *out points at it,
 * or is NULL when the tiles write the caller's pixels (then this fails: use the _pixels form). */
int lic_engine_synthesis(lic_engine *e, float **out);

/* lic_engine_analysis on the caller's pixels p: loaded into e->x when it exists, else by the tiles. */
int lic_engine_analysis_pixels(lic_engine *e, lic_pixels *p, const float *gain, float **z_out);

/* lic_engine_synthesis into the caller's pixels p (every row flushed to it on success). */
int lic_engine_synthesis_pixels(lic_engine *e, lic_pixels *p);

/* Rows the ring of a streaming lic_pixels needs for the current size (lic_pixels_stream). */
uint32_t lic_engine_pixel_rows(const lic_engine *e);

/* The probability path. In encode mode it quantizes z (from analysis) and e->y (y'), writes symbols;
 * in decode mode it reads them. Either way it leaves y-hat' in e->yq and updates the stats hashes.
 * With one tile (e->et.n == 1) the y symbols go through yw / yr; with several, each tile has its own
 * stream: read from tiles[0 .. e->et.n) when decoding, left in e->et.res when encoding. The symbol
 * and parameter hashes of one tile are those of the whole-latent coding; with several, each tile's
 * hashes start where z's ended (symbols) or from the FNV basis (parameters), and tile k > 0 is folded
 * into tile 0's as two 32-bit words, low first, in tile order. */
typedef struct lic_latent_coder {
    int encode;
    const float *z;                 /* encode: h_a output */
    lic_symbol_writer *zw, *yw;     /* encode */
    lic_symbol_reader *zr, *yr;     /* decode */
    const lic_span *tiles;          /* decode, several tiles */
} lic_latent_coder;
int lic_engine_code_latents(lic_engine *e, lic_latent_coder *io);

/* The data of a view of one of the engine's buffers, for the current size (tests). */
void *lic_engine_view_data(const lic_engine *e, const lic_view *v);

/* round(v * 2^frac) as int64, saturated far outside any useful range; NaN becomes 0: the encoder's
 * conversion of y' and z to fixed point. */
int64_t lic_engine_to_fixed(double v, int frac);

/* Monotonic wall clock in seconds. */
double lic_now(void);

#endif /* LIC_CODEC_ENGINE_H */
