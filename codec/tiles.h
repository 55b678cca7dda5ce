/* lic codec: tiled execution of op lists on the CPU, so that the transforms' working memory is
 * bounded by a tile rather than the image (docs/ARCHITECTURE.md, "Tiles").
 *
 * The analysis, synthesis and hyper-synthesis op ranges are cut into chains: runs of ops where each
 * reads what the one before wrote, from a source view to a destination view that stay whole in the
 * engine's buffers (the io views, or the range's ends). The views in between live only in tile
 * buffers. A chain runs tile by tile: the tile's source region, grown by a halo that covers the
 * receptive field of the chain's layers, is copied into the tile buffers; the ops run there as on a
 * small image; the tile's own part of the destination is copied out. The float chains of the analysis
 * and synthesis whose ops allow it are marked `banded` and run band by band instead (codec/bands.h):
 * the same chains, no halos.
 *
 * Regions are whole units of 2^smax pixels (smax: the coarsest scale of the chain's views), so each
 * intermediate tensor of a tile is exactly a sub-rectangle of the untiled one, and a region that stops
 * at the image edge pads with zeros there just as the untiled run does. A tile's output elements then
 * read the same inputs as untiled, and the float kernels compute each element with one fixed-order
 * chain whatever the tensor's size (transforms/cpu/xf_fast.c, xf_ref.c): tiled results are
 * bit-identical to untiled ones, floats included. */
#ifndef LIC_CODEC_TILES_H
#define LIC_CODEC_TILES_H

#include <stdint.h>

#include "codec/model.h"

#define LIC_TILE_MAX_CHAINS 8

typedef struct lic_tile_chain {
    int first, count;              /* ops of the model */
    lic_view src, dst;             /* whole views: the chain's input and output */
    int smax;                      /* tiles and halos are in units of 2^smax pixels */
    int halo;                      /* units a tile's region extends beyond the tile on each side */
    uint64_t units[LIC_MAX_BUFS];  /* elements of each tile buffer per unit x unit of region */
    int banded;                    /* 1: runs band by band (codec/bands.h) instead of in tiles */
} lic_tile_chain;

typedef struct lic_tile_plan {
    lic_tile_chain chain[LIC_TILE_MAX_CHAINS];
    int n_chains;
    /* Per 64 x 64 block (as lic_buf.units): what each engine buffer must hold when the chains run
     * tiled — the views that stay whole. */
    uint64_t whole_units[LIC_MAX_BUFS];
    /* The chain that reads the image (io.x) and the one that writes the reconstruction (io.x_out), or
     * -1. Their tiles load from and store to the caller's 8-bit pixels (codec/pixels.h), so neither
     * float image is in whole_units; they are when another op touches them. */
    int pixels_in, pixels_out;
} lic_tile_plan;

/* Cuts the model's analysis, synthesis and hyper-synthesis ranges into chains and sizes the whole
 * buffers. Returns 0, or LIC_EMODEL when the lists hold more chains than the plan has room for. */
int lic_tile_plan_build(const lic_model_data *md, lic_tile_plan *p);

/* The chain that starts at op i, or NULL. */
const lic_tile_chain *lic_tile_chain_at(const lic_tile_plan *p, int i);

/* The region side, in units, of chain c's tiles for tile side `tile` (pixels, a multiple of 64) on a
 * padded side of `side` pixels: at most the tile plus two halos, at most the image. */
int lic_tile_region(const lic_tile_chain *c, int tile, int side);

/* Elements of each tile buffer (count[0 .. md->n_bufs)) for tiles of `tile` pixels on a padded image
 * of ph x pw; and the largest scratch of one thread of the float kernels for those tiles (bytes).
 * Banded chains need neither (lic_band_measure). */
void lic_tile_counts(const lic_tile_plan *p, const lic_model_data *md, int tile, int ph, int pw,
                     uint64_t *count, uint64_t *scratch);

struct lic_frame;
/* Copies the h x w units (of 2^smax pixels) at (fy, fx) of view v in frame `from` to (ty, tx) in frame
 * `to`. */
void lic_tile_copy_units(const struct lic_frame *from, int fy, int fx, const struct lic_frame *to, int ty,
                         int tx, int h, int w, const lic_view *v, int smax);
/* Image rows a tile of the pixel chains spans at most (the ring of a streaming source or sink), for
 * those that run in tiles. */
uint32_t lic_tile_pixel_rows(const lic_tile_plan *p, int tile, int ph);

struct lic_engine;
/* Runs chain c over the engine's image tile by tile (tile side e->tile pixels) in e->tbuf. The chain
 * pixels_in loads its tiles from e->pix_in, and pixels_out stores to e->pix_out, flushing each row of
 * tiles (LIC_EINVAL when they are not set). */
int lic_tile_run(struct lic_engine *e, const lic_tile_chain *c, const float *gain);

#endif /* LIC_CODEC_TILES_H */
