/* lic codec: lic_batch_encoder and lic_batch_decoder — the public batch calls (lic/codec.h) on the
 * scheduler of codec/batch.h. A worker is a plain lic_encoder or lic_decoder and every item runs
 * through lic_encode_with_metadata / lic_decode_with_metadata, so a batch result is by construction
 * the result of the one-image call. */
#include <string.h>

#include "codec/batch.h"
#include "util/mem.h"

struct lic_batch_encoder {
    lic_batch_core core;
};

struct lic_batch_decoder {
    lic_batch_core core;
};

/* Both handles are a lic_batch_core and nothing else, so the calls below share one implementation on
 * the core; a handle converts to and from a pointer to its first member (C11 6.7.2.1p15). */

/* Allocates a handle of `size` bytes around a core running `ops`; *out is left NULL on failure. */
static int batch_open(lic_batch_core **out, size_t size, const lic_batch_ops *ops, lic_model *m,
                      const lic_config *cfg, int depth)
{
    *out = NULL;
    lic_allocator a;
    int ret = lic_config_allocator(cfg, &a);
    if (ret < 0)
        return ret;
    lic_batch_core *b = lic_mem_zalloc(&a, size);
    if (!b)
        return LIC_ENOMEM;
    if ((ret = lic_batch_core_init(b, ops, m, cfg, depth)) < 0) {
        lic_batch_core_release(b);
        lic_mem_free(&a, b);
        return ret;
    }
    *out = b;
    return LIC_OK;
}

static int batch_run(lic_batch_core *b, void *items, size_t n)
{
    if (!b || (!items && n))
        return LIC_EINVAL;
    return lic_batch_core_run(b, items, n);
}

/* Safe on NULL. */
static void batch_close(lic_batch_core *b)
{
    if (!b)
        return;
    /* the allocator lives inside the block it frees: copy it out first */
    lic_allocator a = b->cfg.allocator;
    lic_batch_core_release(b);
    lic_mem_free(&a, b);
}

/* lic_stats.backend of a context whose stats call returned `ret`; "cpu" when it has none. */
static const char *backend_name(int ret, const lic_stats *st)
{
    return ret == LIC_OK && st->backend ? st->backend : "cpu";
}

static int reserved_is_zero(const uint8_t *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (r[i])
            return 0;
    return 1;
}

/* ---- encoding ---- */

static int enc_open(void **ctx, lic_model *m, const lic_config *cfg)
{
    return lic_encoder_open((lic_encoder **)ctx, m, cfg);
}

static void enc_close(void **ctx)
{
    lic_encoder_close((lic_encoder **)ctx);
}

static uint64_t enc_estimate(void *ctx, const void *items, size_t i)
{
    const lic_image *img = ((const lic_batch_encode_item *)items)[i].image;
    lic_size_check chk;
    if (!img || lic_encoder_check_size(ctx, img->width, img->height, &chk) < 0)
        return 0;
    return chk.memory;
}

static void enc_fail(void *items, size_t i, int code)
{
    lic_batch_encode_item *it = &((lic_batch_encode_item *)items)[i];
    it->status = code;
    it->data = NULL;
    it->size = 0;
    memset(&it->stats, 0, sizeof(it->stats));
}

static void enc_run(void *ctx, void *items, size_t i)
{
    lic_batch_encode_item *it = &((lic_batch_encode_item *)items)[i];
    if (!reserved_is_zero(it->reserved, sizeof(it->reserved))) {
        enc_fail(items, i, LIC_EINVAL);
        return;
    }
    int ret = lic_encode_with_metadata(ctx, it->image, it->quality, it->meta, &it->data, &it->size);
    if (ret == LIC_OK)
        ret = lic_encoder_get_stats(ctx, &it->stats);
    if (ret < 0) {
        lic_free(it->data);
        enc_fail(items, i, ret);
        return;
    }
    it->status = LIC_OK;
}

static int enc_status(const void *items, size_t i)
{
    return ((const lic_batch_encode_item *)items)[i].status;
}

static const char *enc_backend(void *ctx)
{
    lic_stats st;
    int ret = lic_encoder_get_stats(ctx, &st);
    return backend_name(ret, &st);
}

static const lic_batch_ops ENCODE_OPS = {enc_open, enc_close, enc_estimate, enc_run, enc_fail, enc_status, enc_backend};

int lic_batch_encoder_open(lic_batch_encoder **out, lic_model *m, const lic_config *cfg, int depth)
{
    if (!out)
        return LIC_EINVAL;
    lic_batch_core *b;
    int ret = batch_open(&b, sizeof(lic_batch_encoder), &ENCODE_OPS, m, cfg, depth);
    *out = (lic_batch_encoder *)b;
    return ret;
}

int lic_encode_batch(lic_batch_encoder *b, lic_batch_encode_item *items, size_t n)
{
    return batch_run(b ? &b->core : NULL, items, n);
}

int lic_batch_encoder_depth(const lic_batch_encoder *b)
{
    return b ? b->core.depth : 0;
}

void lic_batch_encoder_close(lic_batch_encoder **pb)
{
    if (!pb || !*pb)
        return;
    batch_close(&(*pb)->core);
    *pb = NULL;
}

/* ---- decoding ---- */

static int dec_open(void **ctx, lic_model *m, const lic_config *cfg)
{
    return lic_decoder_open((lic_decoder **)ctx, m, cfg);
}

static void dec_close(void **ctx)
{
    lic_decoder_close((lic_decoder **)ctx);
}

/* From the header alone, as lic_decode checks the size after parsing it. */
static uint64_t dec_estimate(void *ctx, const void *items, size_t i)
{
    const lic_batch_decode_item *it = &((const lic_batch_decode_item *)items)[i];
    lic_stream_info info;
    lic_size_check chk;
    if (!it->data || lic_peek_info(it->data, it->size, &info) < 0 ||
        lic_decoder_check_size(ctx, info.width, info.height, &chk) < 0)
        return 0;
    return chk.memory;
}

static void dec_fail(void *items, size_t i, int code)
{
    lic_batch_decode_item *it = &((lic_batch_decode_item *)items)[i];
    it->status = code;
    memset(&it->image, 0, sizeof(it->image));
    memset(&it->meta, 0, sizeof(it->meta));
    memset(&it->stats, 0, sizeof(it->stats));
}

static void dec_run(void *ctx, void *items, size_t i)
{
    lic_batch_decode_item *it = &((lic_batch_decode_item *)items)[i];
    if (!reserved_is_zero(it->reserved, sizeof(it->reserved))) {
        dec_fail(items, i, LIC_EINVAL);
        return;
    }
    memset(&it->meta, 0, sizeof(it->meta));
    int ret = lic_decode_with_metadata(ctx, it->data, it->size, &it->image, it->want_metadata ? &it->meta : NULL);
    if (ret == LIC_OK)
        ret = lic_decoder_get_stats(ctx, &it->stats);
    if (ret < 0) {
        lic_image_free(&it->image);
        lic_metadata_free(&it->meta);
        dec_fail(items, i, ret);
        return;
    }
    it->status = LIC_OK;
}

static int dec_status(const void *items, size_t i)
{
    return ((const lic_batch_decode_item *)items)[i].status;
}

static const char *dec_backend(void *ctx)
{
    lic_stats st;
    int ret = lic_decoder_get_stats(ctx, &st);
    return backend_name(ret, &st);
}

static const lic_batch_ops DECODE_OPS = {dec_open, dec_close, dec_estimate, dec_run, dec_fail, dec_status, dec_backend};

int lic_batch_decoder_open(lic_batch_decoder **out, lic_model *m, const lic_config *cfg, int depth)
{
    if (!out)
        return LIC_EINVAL;
    lic_batch_core *b;
    int ret = batch_open(&b, sizeof(lic_batch_decoder), &DECODE_OPS, m, cfg, depth);
    *out = (lic_batch_decoder *)b;
    return ret;
}

int lic_decode_batch(lic_batch_decoder *b, lic_batch_decode_item *items, size_t n)
{
    return batch_run(b ? &b->core : NULL, items, n);
}

int lic_batch_decoder_depth(const lic_batch_decoder *b)
{
    return b ? b->core.depth : 0;
}

void lic_batch_decoder_close(lic_batch_decoder **pb)
{
    if (!pb || !*pb)
        return;
    batch_close(&(*pb)->core);
    *pb = NULL;
}
