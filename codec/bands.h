/* lic codec: band-by-band execution of the float chains on the CPU (docs/ARCHITECTURE.md, "Bands and
 * tiles").
 *
 * A chain of float layers (codec/tiles.h) whose ops can all compute a range of output rows
 * (lic_conv2d_rows, lic_gdn_rows, lic_pixel_shuffle_rows, and the element-wise ops) runs down the
 * image in bands of rows of the full width: each view between two layers lives in a ring of rows that
 * holds only what the next layer still reads, plus the band being made. A row is computed once — no
 * halo is recomputed, as the square tiles of codec/tiles.c must — and a band's rows stay in cache from
 * one layer to the next.
 * Memory grows with the image's width, not its height: for the shipped model and 32-pixel bands,
 * 7 KB per pixel of width (g_s, the largest chain).
 *
 * Each output element is computed by the same kernel chain as in an untiled run (the row-range
 * kernels are bit-identical to the whole-tensor ones), so results do not depend on the band height.
 * The chain's source is read from the caller's pixels (the analysis) or a whole buffer; its
 * destination is written to the caller's pixels (the synthesis) or a whole buffer. */
#ifndef LIC_CODEC_BANDS_H
#define LIC_CODEC_BANDS_H

#include <stdint.h>

#include "codec/tiles.h"

/* Rows of a band, in pixels of the image. On a 24 MP image (2 threads) 16, 32 and 64 rows took the
 * same time within the machine's noise; 32 keeps the rings of a 6000-pixel-wide image near 43 MB. */
#define LIC_BAND_ROWS 32

/* 1 when every op of chain c can run band by band. */
int lic_band_chain_ok(const lic_model_data *md, const lic_tile_chain *c);

/* What running the banded chains of p that start in ops r on a padded ph x pw image needs at most: floats of the rings
 * (the chains run one after another and share them), the float kernels' scratch (the largest shared
 * and per-thread parts of any layer, lic_scratch_parts), and the image rows one pixel load or store
 * spans. */
typedef struct lic_band_need {
    uint64_t floats;
    lic_scratch_parts scratch;
    uint32_t pixel_rows;
} lic_band_need;
void lic_band_measure(const lic_tile_plan *p, const lic_model_data *md, int ph, int pw, lic_op_range r,
                      lic_band_need *need);

struct lic_engine;
/* Runs banded chain c on the engine's image, its rings in e->band (sized by lic_band_measure). */
int lic_band_run(struct lic_engine *e, const lic_tile_chain *c, const float *gain);

#endif /* LIC_CODEC_BANDS_H */
