/* lic codec: lic_encoder — pixels in, .lic bytes out. */
#include <string.h>

#include "codec/container.h"
#include "codec/engine.h"
#include "util/mem.h"

struct lic_encoder {
    lic_engine eng;
    lic_symbol_writer *zw, *yw;
    float *gain; /* [M] for the current quality */
};

int lic_encoder_open(lic_encoder **out, lic_model *m, const lic_config *cfg)
{
    if (!out)
        return LIC_EINVAL;
    lic_engine *g;
    int ret = lic_engine_open(&g, sizeof(lic_encoder), m, cfg, LIC_ENGINE_ENCODER);
    if (ret < 0) {
        *out = NULL;
        return ret;
    }
    lic_encoder *e = (lic_encoder *)g; /* the engine is the first member */
    const lic_allocator *a = &g->cfg.allocator;
    e->gain = lic_mem_alloc(a, sizeof(float) * (size_t)m->data.arch.M);
    if (!e->gain || (ret = lic_symbol_writer_create(&e->zw, a)) < 0 || (ret = lic_symbol_writer_create(&e->yw, a)) < 0) {
        lic_encoder_close(&e);
        *out = NULL;
        return ret < 0 ? ret : LIC_ENOMEM;
    }
    *out = e;
    return LIC_OK;
}

void lic_encoder_close(lic_encoder **pe)
{
    if (!pe || !*pe)
        return;
    lic_encoder *e = *pe;
    lic_symbol_writer_free(&e->zw);
    lic_symbol_writer_free(&e->yw);
    lic_mem_free(&e->eng.cfg.allocator, e->gain);
    lic_engine_close(&e->eng);
    *pe = NULL;
}

/* Checks the caller's metadata (lic_encode_with_metadata's rules) and copies its items into the
 * container description. */
static int take_metadata(const lic_metadata *meta, lic_container_content *cc)
{
    cc->source_bit_depth = 8;
    if (!meta)
        return LIC_OK;
    for (size_t i = 0; i < sizeof(meta->reserved); i++)
        if (meta->reserved[i])
            return LIC_EINVAL;
    if (meta->source_bit_depth != 0 && meta->source_bit_depth != 8 && meta->source_bit_depth != 16)
        return LIC_EINVAL;
    if (meta->source_bit_depth)
        cc->source_bit_depth = meta->source_bit_depth;
    const uint8_t *ptr[LIC_META_COUNT] = {meta->icc, meta->exif, meta->xmp};
    const size_t len[LIC_META_COUNT] = {meta->icc_size, meta->exif_size, meta->xmp_size};
    for (int i = 0; i < LIC_META_COUNT; i++) {
        if (len[i] && !ptr[i])
            return LIC_EINVAL;
        if (len[i] > LIC_METADATA_MAX_ITEM)
            return LIC_ELIMIT;
        cc->meta[i] = ptr[i];
        cc->meta_size[i] = len[i];
    }
    return LIC_OK;
}

/* The y streams for the container: the one writer's (one tile), or the tiles' finished streams, listed
 * in tile order in an array the caller frees. cc->y_size becomes the total of the y payloads. */
static int take_tiles(lic_engine *g, lic_symbol_writer *yw, lic_container_content *cc)
{
    const lic_etiles *et = &g->et;
    cc->tile_log2 = et->n > 1 ? et->log2 : 0;
    if (et->n == 1)
        return lic_symbol_writer_finish(yw, &cc->y, &cc->y_size);
    lic_span *tiles = et->n > SIZE_MAX ? NULL : lic_mem_alloc_array(&g->cfg.allocator, (size_t)et->n, sizeof(*tiles));
    if (!tiles)
        return LIC_ENOMEM;
    cc->y_size = 0;
    for (uint64_t k = 0; k < et->n; k++) {
        tiles[k] = (lic_span){et->res[k].bytes, et->res[k].size};
        cc->y_size += et->res[k].size;
    }
    cc->n_tiles = et->n;
    cc->tiles = tiles;
    return LIC_OK;
}

int lic_encode(lic_encoder *e, const lic_image *img, int quality, uint8_t **out, size_t *out_size)
{
    return lic_encode_with_metadata(e, img, quality, NULL, out, out_size);
}

/* The encoder behind the public calls: pixels from px (a whole image or a row reader), checked
 * arguments. */
static int encode_pixels(lic_encoder *e, lic_pixels *px, lic_pixfmt fmt, int quality, lic_container_content *cc,
                         uint8_t **out, size_t *out_size)
{
    lic_engine *g = &e->eng;
    lic_stats *st = &g->stats;
    st->t_analysis = st->t_hyper = st->t_entropy = st->t_synthesis = 0;

    double t0 = lic_now();
    lic_engine_gains(g, quality, 0, e->gain);
    float *z;
    int ret = lic_engine_analysis_pixels(g, px, e->gain, &z);
    if (ret < 0)
        return ret;
    st->t_analysis = lic_now() - t0;

    lic_symbol_writer_reset(e->zw);
    lic_symbol_writer_reset(e->yw);
    lic_latent_coder io = {.encode = 1, .z = z, .zw = e->zw, .yw = e->yw};
    if ((ret = lic_engine_code_latents(g, &io)) < 0)
        return ret;

    double t1 = lic_now();
    if ((ret = lic_symbol_writer_finish(e->zw, &cc->z, &cc->z_size)) < 0 || (ret = take_tiles(g, e->yw, cc)) < 0)
        return ret;
    size_t total = lic_container_v2_size(cc);
    uint8_t *buf = total ? lic_mem_alloc_owned(&g->cfg.allocator, total) : NULL;
    if (!buf) {
        lic_mem_free(&g->cfg.allocator, (void *)cc->tiles);
        return total ? LIC_ENOMEM : LIC_ELIMIT;
    }
    cc->info = (lic_stream_info){.width = px->width,
                                 .height = px->height,
                                 .fmt = fmt,
                                 .quality = quality,
                                 .model_fingerprint = g->model->file.fingerprint};
    lic_container_v2_write(buf, cc);
    lic_mem_free(&g->cfg.allocator, (void *)cc->tiles);
    st->t_entropy += lic_now() - t1;
    st->stream_bytes[0] = cc->z_size;
    st->stream_bytes[1] = cc->y_size;
    *out = buf;
    *out_size = total;
    return LIC_OK;
}

/* The checks every encode call starts with; clears the outputs. */
static int check_call(lic_encoder *e, uint32_t width, uint32_t height, lic_pixfmt fmt, int quality,
                      const lic_metadata *meta, uint8_t **out, size_t *out_size, lic_container_content *cc)
{
    if (out)
        *out = NULL;
    if (out_size)
        *out_size = 0;
    if (!e || !out || !out_size || quality < 1 || quality > 100)
        return LIC_EINVAL;
    if ((fmt != LIC_PIXFMT_RGB8 && fmt != LIC_PIXFMT_GRAY8) || width == 0 || height == 0)
        return LIC_EINVAL;
    memset(cc, 0, sizeof(*cc));
    int ret = take_metadata(meta, cc);
    if (ret < 0)
        return ret;
    return lic_engine_prepare(&e->eng, width, height);
}

int lic_encode_with_metadata(lic_encoder *e, const lic_image *img, int quality, const lic_metadata *meta,
                             uint8_t **out, size_t *out_size)
{
    if (out)
        *out = NULL;
    if (out_size)
        *out_size = 0;
    if (!img || !img->data)
        return LIC_EINVAL;
    const int ch = img->fmt == LIC_PIXFMT_GRAY8 ? 1 : 3;
    if (img->stride < (ptrdiff_t)img->width * ch)
        return LIC_EINVAL;
    lic_container_content cc;
    int ret = check_call(e, img->width, img->height, img->fmt, quality, meta, out, out_size, &cc);
    if (ret < 0)
        return ret;
    lic_pixels px;
    lic_pixels_whole(&px, img);
    return encode_pixels(e, &px, img->fmt, quality, &cc, out, out_size);
}

int lic_encode_rows(lic_encoder *e, uint32_t width, uint32_t height, lic_pixfmt fmt, lic_row_reader read,
                    void *user, int quality, const lic_metadata *meta, uint8_t **out, size_t *out_size)
{
    if (!read) {
        if (out)
            *out = NULL;
        if (out_size)
            *out_size = 0;
        return LIC_EINVAL;
    }
    lic_container_content cc;
    int ret = check_call(e, width, height, fmt, quality, meta, out, out_size, &cc);
    if (ret < 0)
        return ret;
    lic_pixels px;
    ret = lic_pixels_stream(&px, width, height, fmt, read, NULL, user, lic_engine_pixel_rows(&e->eng),
                            &e->eng.cfg.allocator);
    if (ret == LIC_OK)
        ret = encode_pixels(e, &px, fmt, quality, &cc, out, out_size);
    lic_pixels_release(&px);
    return ret;
}

int lic_encoder_check_size(const lic_encoder *e, uint32_t width, uint32_t height, lic_size_check *out)
{
    if (!e || !out)
        return LIC_EINVAL;
    return lic_engine_check_size(&e->eng, width, height, out);
}

int lic_encoder_get_stats(const lic_encoder *e, lic_stats *stats)
{
    if (!e || !stats)
        return LIC_EINVAL;
    *stats = e->eng.stats;
    return LIC_OK;
}
