/* lic codec: the probability path over tiles of the latent (docs/FORMAT.md §3.2).
 *
 * After z is coded, the latent is cut into T x T tiles (T = 2^tile_log2 positions, the last row and
 * column smaller). Each tile is coded as §1.3 codes a whole image of the tile's size: its own y
 * stream, the context networks run on tile-sized frames (so they see zero padding at the tile's
 * edges, as a conv does at any buffer edge), and the hyper-synthesis output is computed for the
 * tile's window from z-hat with a halo (integer, so the same bits as a whole computation). Only
 * y-hat' goes back into the engine's whole buffers; everything else of the probability path lives in
 * a per-worker tile workspace, so its memory is bounded by the tile and the tiles run in parallel on
 * the engine's threads.
 *
 * One tile (tile_log2 0, or a latent that fits one tile) is the special case that runs in the
 * engine's whole buffers, exactly as before tiles: every single-tile stream and hash is unchanged. */
#ifndef LIC_CODEC_ENTROPY_TILES_H
#define LIC_CODEC_ENTROPY_TILES_H

#include <stddef.h>
#include <stdint.h>

#include "codec/container.h"
#include "codec/model.h"
#include "entropy/symbol_coder.h"

#define LIC_ETILE_LOG2_MIN 3 /* 8 latent positions, 128 pixels */
#define LIC_ETILE_LOG2_MAX 8 /* 256 latent positions, 4096 pixels */

/* What one tile produced: its hashes (seeded as the whole-image ones) and, when encoding, its stream. */
typedef struct lic_etile_result {
    uint64_t symbols_hash, params_hash, n_symbols;
    uint8_t *bytes; /* encode: the finished stream (allocated), freed at the next image or close */
    size_t size;
} lic_etile_result;

/* One worker's tile workspace. */
typedef struct lic_etile_ws {
    void *buf[LIC_MAX_BUFS];   /* the tile's frame: the context networks' buffers, tile-sized */
    uint64_t cap[LIC_MAX_BUFS];
    void *hbuf[LIC_MAX_BUFS];  /* the hyper-synthesis chain's frame: the tile's window plus its halo */
    uint64_t hcap[LIC_MAX_BUFS];
    lic_symbol_writer *w;      /* encode: the tile's symbols until its stream is finished */
} lic_etile_ws;

/* The engine's tiling of the probability path for the current image. */
typedef struct lic_etiles {
    int log2;                /* tile_log2 of the stream: 0 = one tile over the whole latent */
    int side;                /* tile side in latent positions (the latent's larger side when one tile) */
    int ny, nx;              /* tiles down and across */
    uint64_t n;              /* ny * nx */
    /* Model facts, set at engine open. */
    int hyper_step;          /* the schedule's hyper-synthesis step (LIC_STEP_RUN, hyper), or -1 */
    int hyper_chain;         /* its chain in the engine's tile plan, or -1 */
    uint64_t tile_units[LIC_MAX_BUFS];  /* per 64 x 64 pixels of a tile frame */
    /* Per 64 x 64 pixels: the engine buffers that stay whole with several tiles, [0] with the float
     * transforms untiled, [1] tiled (codec/tiles.h). */
    uint64_t whole_units[2][LIC_MAX_BUFS];
    /* Per image (several tiles only). */
    int workers;             /* tiles coded at once: the first `workers` workspaces */
    lic_etile_ws *ws;
    int n_ws;                /* workspaces allocated (kept for later images) */
    lic_etile_result *res;
    uint64_t res_cap;
} lic_etiles;

struct lic_engine;
struct lic_latent_coder;

/* Checks that the model's schedule can run by tile (a z step first; the hyper-synthesis step one chain
 * of the tile plan from z-hat; every other op integer at the latent's scale) and fills the model facts
 * of e->et. Returns 0 or LIC_EMODEL (logged). */
int lic_etiles_init(struct lic_engine *e);

/* Frees the per-image state (workspaces, results, finished streams). */
void lic_etiles_release(struct lic_engine *e);

/* Tiles of a latent of lh x lw positions for tile_log2 (0: one). */
uint64_t lic_etiles_count(int lh, int lw, int log2);

/* The tile_log2 an encoder writes for a padded latent of lh x lw under cfg.entropy_tile: 0 when the
 * latent fits in one tile. */
int lic_etiles_log2_for(uint32_t entropy_tile, int lh, int lw);

/* Bytes of one worker's tile workspace for tiles of 2^log2 positions on a latent of lh x lw (several
 * tiles), symbol writer included (encode) or not (decode). */
uint64_t lic_etiles_worker_bytes(const struct lic_engine *e, int lh, int lw, int log2, int encode);

/* Workers coding tiles at once for n tiles on this engine: one per thread, at most one per tile. */
int lic_etiles_workers(const struct lic_engine *e, uint64_t n);

/* Sets the tiling for the engine's current size (e->lh, e->lw) and, when there are several tiles,
 * allocates `workers` workspaces (1 .. lic_etiles_workers). Returns 0 or LIC_ENOMEM. */
int lic_etiles_prepare(struct lic_engine *e, int log2, int workers);

/* Codes the schedule's steps after z over the tiles (in parallel when several), reading or writing
 * y symbols; combines the tiles' hashes into e->stats in tile order. With several tiles, io->tiles
 * gives (decode) the tiles' streams; encoding leaves them in e->et.res. */
int lic_etiles_code(struct lic_engine *e, struct lic_latent_coder *io, int first_step);

#endif /* LIC_CODEC_ENTROPY_TILES_H */
