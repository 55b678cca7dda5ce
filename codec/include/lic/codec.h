/* lic: the public API of libcodec — models, encoders, decoders, images, bitstream info.
 *
 * Typical use (error handling shortened):
 * @code
 *   lic_config cfg;
 *   lic_config_init(&cfg);
 *   lic_model *model;
 *   lic_model_load_default(&model, &cfg);          // or lic_model_load_file(&model, "x.licw", &cfg)
 *   lic_encoder *enc;
 *   lic_encoder_open(&enc, model, &cfg);
 *   uint8_t *bits; size_t n;
 *   lic_encode(enc, &img, 75, &bits, &n);          // img: caller-owned RGB8 pixels
 *   lic_decoder *dec;
 *   lic_decoder_open(&dec, model, &cfg);
 *   lic_image out = {0};
 *   lic_decode(dec, bits, n, &out);                // out.data owned by the library
 *   lic_image_free(&out);
 *   lic_free(bits);
 *   lic_decoder_close(&dec);
 *   lic_encoder_close(&enc);
 *   lic_model_release(&model);                     // encoders/decoders keep their own reference
 * @endcode
 */
#ifndef LIC_CODEC_H
#define LIC_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "lic/common.h"
#include "lic/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A loaded model: immutable after load and reference-counted, so one model may be shared by any
 * number of encoders and decoders running in different threads. */
typedef struct lic_model lic_model;
/* An encoder or decoder: owns its buffers and threads; use one per thread. */
typedef struct lic_encoder lic_encoder;
typedef struct lic_decoder lic_decoder;

/* Which machine runs the analysis/synthesis transforms. The probability path is integer and runs
 * the same on every backend. Values are ABI. */
typedef enum lic_backend_kind {
    LIC_BACKEND_AUTO = 0, /* CUDA when built in and a GPU is present, else CPU (one INFO log line) */
    LIC_BACKEND_CPU = 1,
    LIC_BACKEND_CUDA = 2, /* LIC_EUNSUPPORTED when not built in or no usable GPU */
} lic_backend_kind;

/* Pixel formats. Values are written into .lic headers: append-only. */
typedef enum lic_pixfmt {
    LIC_PIXFMT_RGB8 = 0,  /* 3 bytes per pixel, R G B */
    LIC_PIXFMT_GRAY8 = 1, /* 1 byte per pixel; coded as RGB, decoded back to gray */
} lic_pixfmt;

/* An 8-bit image. For input it is caller-owned; lic_decode fills one whose data the library owns
 * (release it with lic_image_free). */
typedef struct lic_image {
    uint32_t width, height;
    lic_pixfmt fmt;
    uint8_t *data;
    ptrdiff_t stride; /* bytes from one row to the next, at least width * channels */
} lic_image;

/* CPU features the CPU kernels may use: bits of lic_config.cpu_features. Values are ABI. */
#define LIC_CPU_AVX2 (1u << 0)       /* AVX2 + FMA: float transforms and the integer probability path */
#define LIC_CPU_AVX512 (1u << 1)     /* AVX-512 (F, BW, VL) + FMA: float transforms */
#define LIC_CPU_AVX512VNNI (1u << 2) /* AVX-512 VNNI: integer probability path */
#define LIC_CPU_ALL (LIC_CPU_AVX2 | LIC_CPU_AVX512 | LIC_CPU_AVX512VNNI)

/* lic_config.tile_side and entropy_tile: no tiling. */
#define LIC_TILE_WHOLE 0xFFFFFFFFu

/* Settings shared by model loading, encoders and decoders. Always start from lic_config_init(). */
typedef struct lic_config {
    uint32_t abi_version;     /* set by lic_config_init; checked by every call that takes a config */
    int n_threads;            /* worker threads for transforms and context model; 0 = all cores (default 0) */
    lic_backend_kind backend; /* default LIC_BACKEND_AUTO */
    uint32_t max_side;        /* largest accepted width or height (default 65535) */
    uint64_t max_pixels;      /* largest accepted width * height (default 2^32) */
    uint64_t max_memory;      /* cap on the estimated peak working memory in bytes, checked before any
                               * large allocation; 0 = no cap (default 4 GiB). On the CPU the
                               * transforms run in bands of rows (and, for the integer hyper-synthesis,
                               * tiles: tile_side) that read and write the 8-bit pixels directly, with
                               * rings whose size grows with the width only, and the probability path
                               * in entropy tiles
                               * (entropy_tile), so what grows with the image is the latents, the coded
                               * streams and the 8-bit image lic_decode returns (the _rows calls keep
                               * a band of rows instead): about 8 bytes per pixel with the shipped model
                               * (4 GiB: about 500 megapixels; docs/RESULTS.md §8). Untiled
                               * (LIC_TILE_WHOLE, an accelerator) the float image planes add 24 bytes
                               * per pixel */
    lic_allocator allocator;  /* default: aligned malloc */
    lic_logger logger;        /* default: silent */
    uint32_t cpu_features;    /* LIC_CPU_* bits the CPU kernels may use where the CPU has them (default
                               * LIC_CPU_ALL; 0 = the portable C kernels only; other bits: LIC_EINVAL).
                               * For testing and for pinning speed: the integer path, and so the
                               * bitstream's decodability, is the same under every mask; the float
                               * transforms may round differently. */
    uint32_t tile_side;       /* side in pixels of the tiles the CPU runs the transforms that cannot run
                               * in bands of rows over (the integer hyper-synthesis), rounded down to a
                               * multiple of 64 (at least 64); 0 = chosen by the library: 1024, smaller
                               * if max_memory needs it (default 0); LIC_TILE_WHOLE = the whole image in
                               * one piece, no bands or tiles (as before tiling). Results are identical
                               * for every value. */
    uint32_t entropy_tile;    /* encoders: side in pixels of the tiles the latent is entropy coded in
                               * (docs/FORMAT.md §3.2), each with its own stream, coded and decoded
                               * in parallel on the threads: a power of two from 128 to 4096; 0 = the
                               * library's choice, 2048 (default 0); LIC_TILE_WHOLE = one tile. An
                               * image whose latent fits in one tile is always written as one tile.
                               * Smaller tiles bound memory and add parallelism at a small rate cost;
                               * other values: LIC_EINVAL. Decoders read every tiling. */
    uint8_t reserved[52];     /* zero; room for later fields without an ABI break (this struct's size
                               * and the offsets of the fields above never change within an ABI major) */
} lic_config;

/* The exported half of lic_config_init: `abi_version` is the LIC_ABI_VERSION the caller was compiled
 * with. Call lic_config_init instead, which passes it. */
LIC_API int lic_config_init_abi(lic_config *cfg, uint32_t abi_version);

/* Fills *cfg with the defaults above.
 * @return 0, LIC_EINVAL if cfg is NULL, LIC_EABI if this header does not match the library. */
static inline int lic_config_init(lic_config *cfg)
{
    return lic_config_init_abi(cfg, LIC_ABI_VERSION);
}

/* Returns the library version as "MAJOR.MINOR.PATCH". */
LIC_API const char *lic_version_string(void);

/* ---- models ---------------------------------------------------------------------------------- */

/* Loads a .licw model file. Every size and offset in it is validated.
 * @param out  receives the model (reference count 1); NULL on failure
 * @param cfg  allocator and logger to use; NULL for defaults
 * @return 0; LIC_EIO if the file cannot be read; LIC_EMODEL if it is malformed or of an unknown
 *         architecture; LIC_ENOMEM; LIC_EINVAL on NULL arguments; LIC_EABI. */
LIC_API int lic_model_load_file(lic_model **out, const char *path, const lic_config *cfg);

/* Same as lic_model_load_file, from a memory buffer. The bytes are copied; the caller keeps
 * ownership of `data`. */
LIC_API int lic_model_load_memory(lic_model **out, const void *data, size_t size, const lic_config *cfg);

/* Loads the default model embedded in the library at build time. */
LIC_API int lic_model_load_default(lic_model **out, const lic_config *cfg);

/* A model is reference-counted: loading gives the caller one reference, every open encoder or
 * decoder holds one more, and the model is freed when the last reference is dropped. */

/* Takes one more reference, for a caller that shares the model (e.g. with another thread that will
 * release it on its own).
 * @return m (NULL if m is NULL). */
LIC_API lic_model *lic_model_retain(lic_model *m);

/* Drops the caller's reference and sets *m to NULL; frees the model if that was the last reference
 * (encoders and decoders opened on it keep theirs until they are closed). Safe on NULL and on
 * *m == NULL. */
LIC_API void lic_model_release(lic_model **m);

/* Describes a model: the fingerprint written into every .lic it makes, and its architecture name
 * (a static string owned by the library). */
typedef struct lic_model_info {
    uint64_t fingerprint;
    const char *arch;
    int n_channels_y; /* M: latent channels */
    int n_channels_z; /* N: hyper-latent channels */
} lic_model_info;
/* Fills *info for model m. @return 0, or LIC_EINVAL on NULL arguments. */
LIC_API int lic_model_get_info(const lic_model *m, lic_model_info *info);

/* ---- encoding -------------------------------------------------------------------------------- */

/* Opens an encoder on a model. The encoder takes its own reference to the model, so the caller may
 * free its model reference at any time. cfg may be NULL for defaults; it is copied.
 * @return 0; LIC_EINVAL; LIC_EABI; LIC_ENOMEM; LIC_EUNSUPPORTED if cfg->backend is CUDA and no GPU is
 *         usable; LIC_EBACKEND if the GPU fails while CUDA was asked for. */
LIC_API int lic_encoder_open(lic_encoder **out, lic_model *m, const lic_config *cfg);

/* Encodes one image at quality 1 (smallest) .. 100 (best) into a container-version-2 file without
 * metadata (lic_encode_with_metadata adds some).
 * @param out       receives a buffer holding the complete .lic file; release with lic_free()
 * @return 0; LIC_EINVAL (bad image fields or quality); LIC_ELIMIT (size or memory over the limits,
 *         checked before any large allocation); LIC_ENOMEM; LIC_EBACKEND when the GPU fails and the
 *         backend is CUDA (under AUTO the encoder falls back to the CPU). On failure *out is NULL and
 *         *out_size 0. The encoder stays usable after an error. */
LIC_API int lic_encode(lic_encoder *e, const lic_image *img, int quality, uint8_t **out, size_t *out_size);

/* Closes the encoder, releases its model reference and sets *e to NULL. Safe on NULL. */
LIC_API void lic_encoder_close(lic_encoder **e);

/* ---- metadata ------------------------------------------------------------------------------- */

/* Largest metadata item (ICC profile, EXIF or XMP) a .lic file may carry: 16 MiB each, so one file
 * carries at most 48 MiB of metadata. A larger item is LIC_ELIMIT when encoding; a file that claims
 * one is LIC_EBITSTREAM when decoding (no encoder writes it). */
#define LIC_METADATA_MAX_ITEM ((size_t)16 << 20)

/* Metadata carried next to the pixels (container version 2, docs/FORMAT.md §3). The library does not
 * interpret the bytes: it stores what it is given and returns what it stored.
 *
 * Given to lic_encode_with_metadata: the caller owns every buffer; they are read during the call
 * only. An item with size 0 is absent (its pointer may be NULL).
 * Filled by lic_decode_with_metadata: every non-NULL buffer is a copy the library allocated
 * (through the decoder's allocator) and the caller owns; release them all with lic_metadata_free. A
 * version-1 file, or one without metadata, gives NULL pointers and sizes 0.
 *
 * ABI: new fields are carved out of `reserved`, so the size and the offsets of this struct never
 * change within an ABI major. */
typedef struct lic_metadata {
    uint8_t *icc;             /* ICC colour profile, uncompressed, as in the source file */
    size_t icc_size;
    uint8_t *exif;            /* EXIF from the TIFF header ("II*\0" or "MM\0*") on. The EXIF
                               * orientation stays in here: the library never rotates pixels, an
                               * application that displays the image applies it. */
    size_t exif_size;
    uint8_t *xmp;             /* the XMP packet (XML text, no terminating NUL needed) */
    size_t xmp_size;
    int source_bit_depth;     /* bits per sample of the source (8 or 16; informative, the codec
                               * codes 8 bits); 0 when encoding means 8 */
    uint8_t reserved[36];     /* zero when encoding (else LIC_EINVAL); zeroed when decoding */
} lic_metadata;

/* lic_encode that also stores *meta (NULL: none) in the file. The metadata does not change the coded
 * symbols, only the container around them.
 * @return the codes of lic_encode; LIC_EINVAL if an item has a size but a NULL pointer, the bit depth is
 *         not 0, 8 or 16, or `reserved` is not zero; LIC_ELIMIT if an item exceeds
 *         LIC_METADATA_MAX_ITEM. */
LIC_API int lic_encode_with_metadata(lic_encoder *e, const lic_image *img, int quality, const lic_metadata *meta,
                                     uint8_t **out, size_t *out_size);

/* Releases the buffers of a lic_metadata filled by lic_decode_with_metadata (through the allocator
 * that made them, also after the decoder is closed) and zeroes the struct. Safe on NULL and on an
 * empty struct; never pass a struct whose buffers the caller allocated. */
LIC_API void lic_metadata_free(lic_metadata *meta);

/* ---- streaming pixels ------------------------------------------------------------------------ */

/* Row callbacks of lic_encode_rows / lic_decode_rows, so that neither the library nor the caller has
 * to hold the whole 8-bit image.
 *
 * A row is width * channels bytes (3 for LIC_PIXFMT_RGB8, 1 for GRAY8), packed. The library asks for
 * (or hands out) rows strictly in order: y = 0, 1, ..., height - 1, each exactly once, until the call
 * ends or fails; an error stops the sequence where it is. The row buffer belongs to the library and is
 * valid during the callback only: a reader fills it, a writer reads it. The library keeps the rows
 * one band of its transforms needs (on the CPU, under 64 rows of the image's width; with the whole
 * image in one piece, as on an accelerator or with LIC_TILE_WHOLE, the rows go straight into the
 * float image of the transforms and one row is kept).
 *
 * A callback returns 0 to go on, or a negative value to stop: the call then returns that value
 * unchanged (use a LIC_E* code, such as LIC_EIO, so that lic_strerror can name it); a positive value
 * is taken as LIC_EIO. */
typedef int (*lic_row_reader)(void *user, uint32_t y, uint8_t *row);
typedef int (*lic_row_writer)(void *user, uint32_t y, const uint8_t *row);

/* lic_encode_with_metadata for an image of width x height in format fmt whose rows come from `read`
 * (called with `user`); meta may be NULL. The sizes are checked against the limits before the first
 * row is read. The output and every other rule are those of lic_encode_with_metadata: for the same
 * pixels the .lic bytes are identical.
 * @return the codes of lic_encode_with_metadata, or the reader's error. */
LIC_API int lic_encode_rows(lic_encoder *e, uint32_t width, uint32_t height, lic_pixfmt fmt, lic_row_reader read,
                            void *user, int quality, const lic_metadata *meta, uint8_t **out, size_t *out_size);

/* lic_decode_with_metadata whose pixels go to `write` (called with `user`) instead of a lic_image: the
 * rows are those lic_decode would return, in the stream's size and format (lic_peek_info tells them
 * before the call). The whole file is checked and the symbols decoded before the first row is written,
 * so a damaged file writes no row; a writer that fails stops the call with its error. *meta (NULL:
 * not wanted) is filled before the first row is written, so that the writer can put it in its file's
 * header (pass the same lic_metadata through `user`); on failure it is released and zeroed.
 * @return the codes of lic_decode_with_metadata, or the writer's error. */
LIC_API int lic_decode_rows(lic_decoder *d, const uint8_t *data, size_t size, lic_row_writer write, void *user,
                            lic_metadata *meta);

/* Which limit of lic_config an image size exceeds. Values are ABI. */
typedef enum lic_limit {
    LIC_LIMIT_NONE = 0,   /* the size fits every limit */
    LIC_LIMIT_SIDE = 1,   /* width or height above max_side (or above 2^20, the library's own bound) */
    LIC_LIMIT_PIXELS = 2, /* width * height above max_pixels */
    LIC_LIMIT_MEMORY = 3, /* estimated peak working memory above max_memory */
} lic_limit;

/* The result of a size check, for messages that say which limit, by how much, and what lifts it. */
typedef struct lic_size_check {
    lic_limit exceeded; /* the first limit exceeded, in the order side, pixels, memory */
    uint64_t value;     /* what was compared: the longer side, width * height, or bytes of memory */
    uint64_t limit;     /* the limit it exceeded (same unit as value); 0 when none is exceeded */
    uint64_t memory;    /* estimated peak working memory in bytes for this context (its model and
                         * thread count); 0 when a side or pixel limit is exceeded */
} lic_size_check;

/* Checks whether lic_encode of a width x height image would pass the encoder's limits, exactly as
 * lic_encode itself checks them, without allocating anything: lets a caller refuse an image from its
 * file header, before reading its pixels. *out is filled in every case except LIC_EINVAL.
 * @return 0 if the size fits; LIC_ELIMIT if a limit is exceeded; LIC_EINVAL on NULL arguments or a
 *         zero width or height. */
LIC_API int lic_encoder_check_size(const lic_encoder *e, uint32_t width, uint32_t height, lic_size_check *out);

/* ---- decoding -------------------------------------------------------------------------------- */

/* What a .lic header says. */
typedef struct lic_stream_info {
    uint32_t width, height;
    lic_pixfmt fmt;            /* what lic_decode returns */
    int quality;               /* 1..100 */
    int version;               /* container version */
    uint64_t model_fingerprint;
    uint32_t n_streams;
    uint64_t header_size;      /* bytes before the first payload */
} lic_stream_info;

/* Parses only the header of a .lic buffer and needs no model. Version 1: the fixed header and the
 * stream table (payloads are not checked: a file with a damaged tail still reports its header).
 * Version 2: the HEAD chunk, its CRC included (later chunks are not read); n_streams counts the z
 * stream and the y tiles, header_size is the bytes up to the end of HEAD.
 * @return 0; LIC_EBITSTREAM if the header is malformed, damaged or truncated; LIC_EINVAL. */
LIC_API int lic_peek_info(const uint8_t *data, size_t size, lic_stream_info *info);

/* Tells a .lic file from any other kind of file: checks only the magic bytes at its start, so a
 * damaged or truncated .lic, or one of another container version, still counts as a .lic.
 * @return 0 if data starts with the .lic magic; LIC_EBITSTREAM if it does not (or size is below 4);
 *         LIC_EINVAL if data is NULL and size is not 0. */
LIC_API int lic_check_magic(const uint8_t *data, size_t size);

/* Opens a decoder on a model; same rules and return codes as lic_encoder_open. */
LIC_API int lic_decoder_open(lic_decoder **out, lic_model *m, const lic_config *cfg);

/* Decodes a whole .lic buffer into *out (whose previous contents are ignored, not freed). Reads
 * container versions 2 (what lic_encode writes) and 1 (legacy, read only). Metadata in the file is
 * checked and skipped (lic_decode_with_metadata returns it).
 * @return 0; LIC_EMODEL_MISMATCH if the stream was made with another model; LIC_EBITSTREAM if it is
 *         corrupt or truncated: in version 2 every byte is covered by a CRC-32C or checked against
 *         the format, so damage is detected before any pixel is produced (version 1 has no
 *         checksums: damage there may still yield an image of the declared size); LIC_EUNSUPPORTED
 *         for a valid version-2 file this library cannot decode (several tiles, an unknown critical
 *         chunk; the reason is logged); LIC_ELIMIT; LIC_ENOMEM; LIC_EBACKEND as for lic_encode. On
 *         failure out->data is NULL. The decoder stays usable after an error. */
LIC_API int lic_decode(lic_decoder *d, const uint8_t *data, size_t size, lic_image *out);

/* lic_decode that also returns the file's metadata in *meta (whose previous contents are ignored,
 * not freed; NULL: not wanted). The metadata is copied only when the whole file is valid and the
 * image decoded; on failure *meta is zeroed and nothing needs freeing.
 * @return the codes of lic_decode (LIC_ENOMEM also when a metadata copy fails). */
LIC_API int lic_decode_with_metadata(lic_decoder *d, const uint8_t *data, size_t size, lic_image *out,
                                     lic_metadata *meta);

/* Closes the decoder, releases its model reference and sets *d to NULL. Safe on NULL. */
LIC_API void lic_decoder_close(lic_decoder **d);

/* The decoder's counterpart of lic_encoder_check_size: whether lic_decode of a stream whose header
 * (lic_peek_info) declares width x height would pass this decoder's limits. Same return codes. */
LIC_API int lic_decoder_check_size(const lic_decoder *d, uint32_t width, uint32_t height, lic_size_check *out);

/* ---- results of the last call ---------------------------------------------------------------- */

/* Statistics of the last successful lic_encode / lic_decode on a context: per-stage wall times and a
 * hash of everything the entropy coder saw, so a decoder can be checked against its encoder. */
typedef struct lic_stats {
    double t_analysis;   /* seconds: pad, g_a (and h_a when encoding); lic_encode_rows: with the
                          * reader's time, since the tiles ask for rows as they go */
    double t_hyper;      /* seconds: z coding, integer hyper-synthesis (with several entropy tiles
                          * the hyper-synthesis runs per tile and counts as t_entropy) */
    double t_entropy;    /* seconds: context model and y coding */
    double t_synthesis;  /* seconds: g_s and crop; lic_decode_rows: with the writer's time */
    uint64_t symbols_hash; /* hash of all coded z and y symbols, in coding order; with several
                            * entropy tiles, per tile and combined in tile order (docs/FORMAT.md
                            * §3.2), the same for any thread count */
    uint64_t params_hash;  /* hash of all means and scale indexes, likewise */
    uint64_t n_symbols;
    size_t stream_bytes[4]; /* payload sizes: [0] z, [1] y (all tiles) */
    const char *backend;   /* "cpu" or "cuda": static string */
} lic_stats;
LIC_API int lic_encoder_get_stats(const lic_encoder *e, lic_stats *stats);
LIC_API int lic_decoder_get_stats(const lic_decoder *d, lic_stats *stats);

/* ---- batches: many images in flight at once ------------------------------------------------ */

/* A batch encoder or decoder codes an array of independent images in one call, several at once, so
 * that a server keeps the whole machine busy with a stream of images. Every image's result is exactly
 * what lic_encode / lic_decode of that image alone would give (the same bytes, pixels, statistics and
 * return code; for the memory limit, see below), whatever the depth; results come back in input
 * order, one return code per image, and one image's failure (a bad size, a corrupt stream, no memory)
 * does not stop the others.
 *
 * On the CPU, a batch of depth K runs K images at a time, each on its own encoder or decoder (its own
 * workspace) with n_threads / K threads (at least one): the symbols of one image are coded in
 * sequence, so K images side by side keep K threads busy where one image on K threads leaves all
 * but one idle during its coding. Memory: lic_config.max_memory
 * caps the whole batch. Before a call allocates anything, each image is size-checked as lic_encode
 * checks it on an encoder with one worker's thread count (an image over a limit fails at its index
 * with LIC_ELIMIT, the others go on), and the call runs at most max_memory / (largest estimate among
 * its images) images at once (at least one); a worker that still holds a larger workspace from an
 * earlier call is released first when the total would exceed the cap. So the memory is at most depth
 * times one image's workspace, and within max_memory.
 *
 * With the CUDA backend (asked for, or found by LIC_BACKEND_AUTO) this revision runs the images one at
 * a time on one GPU encoder or decoder with all n_threads, through the same calls. The API is made for
 * a pipelined GPU implementation behind it: the batch object owns its K slots between calls, so each
 * slot can keep a pinned host staging buffer and its CUDA stream and device workspace, and since a
 * call hands over the whole array up front, slot s can copy image i + K in while image i computes and
 * the CPU threads entropy-code earlier images.
 *
 * One call at a time per batch object; different batch objects may run in different threads. The
 * allocator and logger of cfg are called from several threads at once (as lic/common.h allows). */
typedef struct lic_batch_encoder lic_batch_encoder;
typedef struct lic_batch_decoder lic_batch_decoder;

/* Largest depth of a batch. */
#define LIC_BATCH_MAX_DEPTH 256

/* One image of lic_encode_batch. ABI: new fields are carved out of `reserved`, so the size and the
 * offsets of this struct never change within an ABI major (arrays of it are passed). */
typedef struct lic_batch_encode_item {
    /* in: caller-owned, read during the call only */
    const lic_image *image;
    int quality;                /* 1..100 */
    const lic_metadata *meta;   /* NULL: none (as lic_encode_with_metadata) */
    /* out */
    int status;                 /* 0, or the code lic_encode_with_metadata returns for this image alone */
    uint8_t *data;              /* the complete .lic file, released with lic_free(); NULL on failure */
    size_t size;                /* its bytes; 0 on failure */
    lic_stats stats;            /* lic_encoder_get_stats after this image; zeroed on failure */
    uint8_t reserved[32];       /* zero (else the item fails with LIC_EINVAL) */
} lic_batch_encode_item;

/* One stream of lic_decode_batch. ABI: as lic_batch_encode_item. */
typedef struct lic_batch_decode_item {
    /* in: caller-owned, read during the call only */
    const uint8_t *data;
    size_t size;
    int want_metadata;          /* nonzero: fill `meta` as lic_decode_with_metadata does */
    /* out */
    int status;                 /* 0, or the code lic_decode(_with_metadata) returns for this stream alone */
    lic_image image;            /* the decoded pixels, owned by the library: lic_image_free(); zeroed on
                                 * failure */
    lic_metadata meta;          /* want_metadata: the file's metadata, released with lic_metadata_free();
                                 * zeroed otherwise and on failure */
    lic_stats stats;            /* lic_decoder_get_stats after this stream; zeroed on failure */
    uint8_t reserved[32];       /* zero (else the item fails with LIC_EINVAL) */
} lic_batch_decode_item;

/* Opens a batch encoder of `depth` images in flight (1..LIC_BATCH_MAX_DEPTH; 0 = the configured
 * thread count: n_threads, or all cores when that is 0). It takes its own reference to the model;
 * cfg (NULL: defaults) is copied.
 * @return 0; LIC_EINVAL (NULL arguments, depth out of range, a bad cfg); LIC_EABI; LIC_ENOMEM;
 *         LIC_EUNSUPPORTED and LIC_EBACKEND as lic_encoder_open. */
LIC_API int lic_batch_encoder_open(lic_batch_encoder **out, lic_model *m, const lic_config *cfg, int depth);

/* Encodes items[0..n) (n = 0 does nothing). Every item's outputs are written, on success and failure
 * alike (their previous contents are ignored, not freed).
 * @return 0 when every image was encoded; otherwise the status of the first item that failed, in
 *         input order; LIC_EINVAL when b is NULL, or items is NULL and n is not 0 (then nothing is
 *         written). The batch stays usable after any error. */
LIC_API int lic_encode_batch(lic_batch_encoder *b, lic_batch_encode_item *items, size_t n);

/* The number of images a call runs at once at most (depth; 1 on the GPU in this revision). 0 for NULL. */
LIC_API int lic_batch_encoder_depth(const lic_batch_encoder *b);

/* Closes the batch encoder (and its threads), releases its model reference and sets *b to NULL. Safe
 * on NULL. */
LIC_API void lic_batch_encoder_close(lic_batch_encoder **b);

/* The decoding counterparts, with the same rules: depth, memory, order, per-item codes. */
LIC_API int lic_batch_decoder_open(lic_batch_decoder **out, lic_model *m, const lic_config *cfg, int depth);
LIC_API int lic_decode_batch(lic_batch_decoder *b, lic_batch_decode_item *items, size_t n);
LIC_API int lic_batch_decoder_depth(const lic_batch_decoder *b);
LIC_API void lic_batch_decoder_close(lic_batch_decoder **b);

/* ---- memory ---------------------------------------------------------------------------------- */

/* Frees an image filled by lic_decode and zeroes it. Safe on NULL and on an empty image. */
LIC_API void lic_image_free(lic_image *img);
/* Frees a buffer the library returned (lic_encode's output). Safe on NULL. */
LIC_API void lic_free(void *p);

#ifdef __cplusplus
}
#endif
#endif /* LIC_CODEC_H */
