/* lic codec: lic_decoder — .lic bytes in, pixels out. */
#include <string.h>

#include "codec/container.h"
#include "codec/engine.h"
#include "util/log.h"
#include "util/mem.h"

struct lic_decoder {
    lic_engine eng;
    float *gain_inv; /* [M] for the stream's quality */
};

int lic_decoder_open(lic_decoder **out, lic_model *m, const lic_config *cfg)
{
    if (!out)
        return LIC_EINVAL;
    lic_engine *g;
    int ret = lic_engine_open(&g, sizeof(lic_decoder), m, cfg, LIC_ENGINE_DECODER);
    if (ret < 0) {
        *out = NULL;
        return ret;
    }
    lic_decoder *d = (lic_decoder *)g; /* the engine is the first member */
    d->gain_inv = lic_mem_alloc(&g->cfg.allocator, sizeof(float) * (size_t)m->data.arch.M);
    if (!d->gain_inv) {
        lic_decoder_close(&d);
        *out = NULL;
        return LIC_ENOMEM;
    }
    *out = d;
    return LIC_OK;
}

void lic_decoder_close(lic_decoder **pd)
{
    if (!pd || !*pd)
        return;
    lic_decoder *d = *pd;
    lic_mem_free(&d->eng.cfg.allocator, d->gain_inv);
    lic_engine_close(&d->eng);
    *pd = NULL;
}

int lic_peek_info(const uint8_t *data, size_t size, lic_stream_info *info)
{
    if (!data || !info)
        return LIC_EINVAL;
    lic_container c;
    int ret = lic_container_parse_header(&c, data, size);
    if (ret < 0)
        return ret;
    *info = c.info;
    return LIC_OK;
}

int lic_check_magic(const uint8_t *data, size_t size)
{
    if (!data && size)
        return LIC_EINVAL;
    return lic_container_has_magic(data, size) ? LIC_OK : LIC_EBITSTREAM;
}

/* A new image of the stream's size and format, owned by the caller (lic_image_free). */
static int alloc_image(lic_engine *g, const lic_stream_info *info, lic_image *out)
{
    int ch = info->fmt == LIC_PIXFMT_GRAY8 ? 1 : 3;
    size_t stride = (size_t)info->width * ch, bytes;
    if (lic_size_mul(stride, info->height, &bytes) < 0)
        return LIC_ELIMIT;
    uint8_t *px = lic_mem_alloc_owned(&g->cfg.allocator, bytes);
    if (!px)
        return LIC_ENOMEM;
    out->width = info->width;
    out->height = info->height;
    out->fmt = info->fmt;
    out->data = px;
    out->stride = (ptrdiff_t)stride;
    return LIC_OK;
}

/* Copies the container's metadata into caller-owned buffers (lic_decode_with_metadata). */
static int copy_metadata(lic_engine *g, const lic_container *c, lic_metadata *meta)
{
    uint8_t **dst[LIC_META_COUNT] = {&meta->icc, &meta->exif, &meta->xmp};
    size_t *dst_size[LIC_META_COUNT] = {&meta->icc_size, &meta->exif_size, &meta->xmp_size};
    meta->source_bit_depth = c->source_bit_depth;
    for (int i = 0; i < LIC_META_COUNT; i++) {
        if (!c->meta_size[i])
            continue;
        /* Bounded: the item lies inside the caller's buffer and the parser capped it. */
        if (!(*dst[i] = lic_mem_alloc_owned(&g->cfg.allocator, c->meta_size[i]))) {
            lic_metadata_free(meta);
            return LIC_ENOMEM;
        }
        memcpy(*dst[i], c->meta[i], c->meta_size[i]);
        *dst_size[i] = c->meta_size[i];
    }
    return LIC_OK;
}

void lic_metadata_free(lic_metadata *meta)
{
    if (!meta)
        return;
    lic_mem_free_owned(meta->icc);
    lic_mem_free_owned(meta->exif);
    lic_mem_free_owned(meta->xmp);
    memset(meta, 0, sizeof(*meta));
}

int lic_decode(lic_decoder *d, const uint8_t *data, size_t size, lic_image *out)
{
    return lic_decode_with_metadata(d, data, size, out, NULL);
}

/* Where decoded pixels go: a new whole image (img) or a row writer. */
typedef struct pixel_target {
    lic_image *img;
    lic_row_writer write;
    void *user;
} pixel_target;

static int decode_to(lic_decoder *d, const uint8_t *data, size_t size, const pixel_target *to, lic_metadata *meta)
{
    lic_engine *g = &d->eng;
    lic_container c;
    int ret = lic_container_parse(&c, data, size);
    if (ret == LIC_EUNSUPPORTED)
        lic_log(&g->cfg.logger, LIC_LOG_ERROR,
                "the stream has a critical chunk this decoder does not know: it needs a newer decoder");
    if (ret < 0)
        return ret;
    if (c.info.model_fingerprint != g->model->file.fingerprint)
        return LIC_EMODEL_MISMATCH;
    int zi = lic_container_find(&c, LIC_STREAM_Z), yi = lic_container_find(&c, LIC_STREAM_Y);
    if (zi < 0 || yi < 0)
        return LIC_EBITSTREAM;
    if ((ret = lic_engine_prepare_tiles(g, c.info.width, c.info.height, c.tile_log2)) < 0)
        return ret;
    if (g->et.n != c.n_tiles) /* the container and the engine count tiles alike (FORMAT.md §3.1) */
        return LIC_EBITSTREAM;
    lic_stats *st = &g->stats;
    st->t_analysis = st->t_hyper = st->t_entropy = st->t_synthesis = 0;
    st->stream_bytes[0] = c.stream_size[zi];
    st->stream_bytes[1] = c.stream_size[yi];

    lic_symbol_reader zr, yr;
    lic_symbol_reader_init(&zr, c.stream_data[zi], c.stream_size[zi]);
    lic_symbol_reader_init(&yr, c.stream_data[yi], c.stream_size[yi]);
    lic_latent_coder io = {.encode = 0, .zr = &zr, .yr = &yr};
    lic_span *tiles = NULL;
    if (c.n_tiles > 1) {
        /* Bounded by the file: each tile is a chunk of at least 16 bytes of it. */
        if (!(tiles = lic_mem_alloc_array(&g->cfg.allocator, (size_t)c.n_tiles, sizeof(*tiles))))
            return LIC_ENOMEM;
        lic_container_tiles(&c, tiles);
        st->stream_bytes[1] = 0;
        for (uint64_t k = 0; k < c.n_tiles; k++)
            st->stream_bytes[1] += tiles[k].size;
        io.tiles = tiles;
    }
    ret = lic_engine_code_latents(g, &io);
    lic_mem_free(&g->cfg.allocator, tiles);
    if (ret < 0)
        return ret;
    if (lic_symbol_reader_status(&zr) < 0 || (c.n_tiles == 1 && lic_symbol_reader_status(&yr) < 0))
        return LIC_EBITSTREAM;

    double t0 = lic_now();
    const struct lic_model_arch *a = &g->md->arch;
    lic_engine_gains(g, c.info.quality, 1, d->gain_inv);
    size_t hw = (size_t)g->lh * g->lw;
    for (int ch = 0; ch < a->M; ch++) {
        float s = d->gain_inv[ch] * (1.0f / 256.0f);
        for (size_t p = 0; p < hw; p++)
            g->y[ch * hw + p] = (float)g->yq[ch * hw + p] * s;
    }
    lic_pixels px;
    if (to->img) {
        if ((ret = alloc_image(g, &c.info, to->img)) < 0)
            return ret;
        lic_pixels_whole(&px, to->img);
    } else if ((ret = lic_pixels_stream(&px, c.info.width, c.info.height, c.info.fmt, NULL, to->write, to->user,
                                        lic_engine_pixel_rows(g), &g->cfg.allocator)) < 0) {
        return ret;
    }
    /* The metadata is there before the first row, for a writer that puts it in its file's header. */
    if (meta && (ret = copy_metadata(g, &c, meta)) < 0) {
        lic_pixels_release(&px);
        lic_image_free(to->img);
        return ret;
    }
    ret = lic_engine_synthesis_pixels(g, &px);
    lic_pixels_release(&px);
    if (ret < 0) {
        lic_image_free(to->img);
        lic_metadata_free(meta);
        return ret;
    }
    st->t_synthesis = lic_now() - t0;
    return LIC_OK;
}

int lic_decode_with_metadata(lic_decoder *d, const uint8_t *data, size_t size, lic_image *out, lic_metadata *meta)
{
    if (out)
        memset(out, 0, sizeof(*out));
    if (meta)
        memset(meta, 0, sizeof(*meta));
    if (!d || !data || !out)
        return LIC_EINVAL;
    const pixel_target to = {out, NULL, NULL};
    return decode_to(d, data, size, &to, meta);
}

int lic_decode_rows(lic_decoder *d, const uint8_t *data, size_t size, lic_row_writer write, void *user,
                    lic_metadata *meta)
{
    if (meta)
        memset(meta, 0, sizeof(*meta));
    if (!d || !data || !write)
        return LIC_EINVAL;
    const pixel_target to = {NULL, write, user};
    return decode_to(d, data, size, &to, meta);
}

int lic_decoder_check_size(const lic_decoder *d, uint32_t width, uint32_t height, lic_size_check *out)
{
    if (!d || !out)
        return LIC_EINVAL;
    return lic_engine_check_size(&d->eng, width, height, out);
}

int lic_decoder_get_stats(const lic_decoder *d, lic_stats *stats)
{
    if (!d || !stats)
        return LIC_EINVAL;
    *stats = d->eng.stats;
    return LIC_OK;
}
