/* apps: image file reading and writing. See image_io.h.
 *
 * Every decoder works on a complete in-memory copy of the file: it lets us detect the format from
 * magic bytes whatever the source (file or pipe), and makes "truncated" a simple bounds check.
 * libpng and libjpeg report fatal errors through callbacks that must not return; ours longjmp back
 * to the decoder, which frees what it allocated. */
#include "apps/image_io.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "apps/image_formats.h"

#define set_msg app_img_msg

void app_img_msg(char *msg, size_t msg_size, const char *fmt, ...)
{
    if (!msg || !msg_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msg_size, fmt, ap);
    va_end(ap);
}

const char *app_img_strerror(int code)
{
    switch (code) {
    case APP_IMG_OK: return "success";
    case APP_IMG_EIO: return "I/O error";
    case APP_IMG_ECORRUPT: return "invalid or corrupt image";
    case APP_IMG_EALPHA: return "image has an alpha channel";
    case APP_IMG_ELIMIT: return "image exceeds the size limits";
    case APP_IMG_ENOMEM: return "out of memory";
    case APP_IMG_EUNSUPPORTED: return "unsupported image kind";
    case APP_IMG_EINVAL: return "invalid argument";
    default: return "unknown error";
    }
}

void app_image_free(app_image *img)
{
    if (!img)
        return;
    free(img->data);
    memset(img, 0, sizeof(*img));
}

int app_img_check_dims(const char *kind, uint64_t w, uint64_t h, const app_read_opts *o, char *msg,
                       size_t msg_size)
{
    if (w == 0 || h == 0) {
        set_msg(msg, msg_size, "%s: zero width or height", kind);
        return APP_IMG_ECORRUPT;
    }
    if (o->max_side && (w > o->max_side || h > o->max_side)) {
        set_msg(msg, msg_size, "%s: %llux%llu exceeds the largest side %lu", kind,
                (unsigned long long)w, (unsigned long long)h, (unsigned long)o->max_side);
        return APP_IMG_ELIMIT;
    }
    if (o->max_pixels && w * h > o->max_pixels) { /* w, h < 2^32: no overflow in 64 bits */
        set_msg(msg, msg_size, "%s: %llux%llu exceeds the pixel limit %llu", kind,
                (unsigned long long)w, (unsigned long long)h, (unsigned long long)o->max_pixels);
        return APP_IMG_ELIMIT;
    }
    /* The output buffer (3 bytes per pixel) must be addressable whatever the limits are. */
    if (w * h > (uint64_t)(PTRDIFF_MAX / 8)) {
        set_msg(msg, msg_size, "%s: image too large", kind);
        return APP_IMG_ELIMIT;
    }
    return 0;
}

int app_img_alloc(app_image *out, uint32_t w, uint32_t h, int ch, char *msg, size_t msg_size)
{
    size_t stride = (size_t)w * (size_t)ch;
    out->data = malloc(stride * h);
    if (!out->data) {
        set_msg(msg, msg_size, "cannot allocate %lux%lu image", (unsigned long)w, (unsigned long)h);
        return APP_IMG_ENOMEM;
    }
    out->width = w;
    out->height = h;
    out->channels = ch;
    out->stride = (ptrdiff_t)stride;
    return 0;
}

/* ---- whole-file reading -------------------------------------------------------------------- */

int app_read_file(const char *path, size_t max_bytes, uint8_t **out, size_t *out_size, char *msg,
                  size_t msg_size)
{
    if (!path || !out || !out_size)
        return APP_IMG_EINVAL;
    *out = NULL;
    *out_size = 0;
    if (!max_bytes)
        max_bytes = APP_IMG_DEFAULT_MAX_FILE;
    const int is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "standard input" : path;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        set_msg(msg, msg_size, "cannot open '%s': %s", path, strerror(errno));
        return APP_IMG_EIO;
    }
    size_t cap = 1 << 16;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode)) {
        if ((uint64_t)st.st_size > max_bytes) {
            set_msg(msg, msg_size, "'%s' is larger than %zu bytes", name, max_bytes);
            if (!is_stdin)
                fclose(f);
            return APP_IMG_ELIMIT;
        }
        cap = (size_t)st.st_size + 1; /* +1 so that reaching EOF needs no second allocation */
    }
    int status = 0;
    size_t n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf)
        status = APP_IMG_ENOMEM;
    while (!status) {
        if (n == cap) {
            if (cap > max_bytes) { /* we hold max_bytes + 1 bytes: the file is too large */
                set_msg(msg, msg_size, "'%s' is larger than %zu bytes", name, max_bytes);
                status = APP_IMG_ELIMIT;
                break;
            }
            size_t ncap = cap > max_bytes / 2 ? max_bytes + 1 : cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                status = APP_IMG_ENOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                set_msg(msg, msg_size, "cannot read '%s': %s", name, strerror(errno));
                status = APP_IMG_EIO;
            }
            break;
        }
    }
    if (status == APP_IMG_ENOMEM)
        set_msg(msg, msg_size, "out of memory reading '%s'", name);
    if (!is_stdin)
        fclose(f);
    if (status) {
        free(buf);
        return status;
    }
    *out = buf;
    *out_size = n;
    return 0;
}

/* ---- format detection ------------------------------------------------------------------------ */

static int is_pnm_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

app_img_format app_image_detect(const uint8_t *d, size_t n)
{
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n >= 8 && memcmp(d, png_sig, 8) == 0)
        return APP_FMT_PNG;
    if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF)
        return APP_FMT_JPEG;
    if (n >= 3 && d[0] == 'P' && d[1] >= '2' && d[1] <= '6' && d[1] != '4' && (is_pnm_space(d[2]) || d[2] == '#'))
        return APP_FMT_PNM;
    return APP_FMT_UNKNOWN;
}

const char *app_img_format_name(app_img_format f)
{
    switch (f) {
    case APP_FMT_PNG: return "PNG";
    case APP_FMT_JPEG: return "JPEG";
    case APP_FMT_PNM: return "PGM/PPM";
    default: return "unknown";
    }
}

/* 16-bit sample to 8 bits, rounded to nearest. */
static inline uint8_t from16(unsigned v)
{
    return (uint8_t)((v * 255u + 32767u) / 65535u);
}

/* ---- PNG --------------------------------------------------------------------------------------- */

typedef struct png_src {
    const uint8_t *p;
    size_t left;
    char err[192]; /* libpng's last error message */
} png_src;

static void png_read_mem(png_structp png, png_bytep dst, size_t len)
{
    png_src *s = png_get_io_ptr(png);
    if (len > s->left)
        png_error(png, "truncated file");
    memcpy(dst, s->p, len);
    s->p += len;
    s->left -= len;
}

static void png_on_error(png_structp png, png_const_charp m)
{
    char *err = png_get_error_ptr(png);
    snprintf(err, 192, "%s", m ? m : "error");
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp m)
{
    (void)png;
    (void)m; /* warnings (bad ancillary chunks, ...) are recoverable: ignored */
}

/* Records the colour chunks libpng validated and parsed (they precede the image data). sRGB makes
 * gAMA and cHRM mere fallbacks for sRGB (libpng also sets them from sRGB itself). */
static void png_note_colour(png_structp png, png_infop info, app_image_info *ii)
{
    const int srgb = png_get_valid(png, info, PNG_INFO_sRGB) != 0;
    if (png_get_valid(png, info, PNG_INFO_iCCP))
        ii->meta |= APP_META_ICC;
    if (!srgb && png_get_valid(png, info, PNG_INFO_gAMA))
        ii->meta |= APP_META_GAMA;
    if (!srgb && png_get_valid(png, info, PNG_INFO_cHRM))
        ii->meta |= APP_META_CHRM;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Finds EXIF (eXIf) and XMP (iTXt "XML:com.adobe.xmp") by walking the chunks in place, before or
 * after the image data, without allocating: libpng is told to skip these chunks, since its eXIf
 * reader allocates what a damaged length claims. */
static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

/* The text of an uncompressed iTXt whose keyword (with its NUL, klen bytes) starts body: after the
 * compression flag and method, the language tag and the translated keyword, each NUL-ended. Returns
 * 0 and the text's place, or -1 for a compressed or malformed chunk. */
static int itxt_text(const uint8_t *body, size_t len, size_t klen, size_t *at)
{
    size_t p = klen;
    if (len - p < 2 || body[p] != 0) /* compression flag 0: uncompressed */
        return -1;
    p += 2;
    for (int field = 0; field < 2; field++) {
        const uint8_t *z = memchr(body + p, 0, len - p);
        if (!z)
            return -1;
        p = (size_t)(z - body) + 1;
    }
    *at = p;
    return 0;
}

/* Finds EXIF (eXIf) and XMP (iTXt "XML:com.adobe.xmp") by walking the chunks in place, before or
 * after the image data: libpng is told to skip these chunks, since its eXIf reader allocates what a
 * damaged length claims. Here a chunk's length is checked against the file before it is used, so a
 * copy (meta not NULL; the first of each kind) is bounded by the file. Returns 0 or APP_IMG_ENOMEM. */
static int png_scan_exif_xmp(const uint8_t *d, size_t n, app_image_info *ii, app_meta *meta)
{
    static const char xmp_key[] = "XML:com.adobe.xmp"; /* with its NUL: 18 bytes */
    for (size_t p = 8; n - p >= 12;) {
        const uint32_t len = be32(d + p);
        const uint8_t *type = d + p + 4, *body = d + p + 8;
        if (len > n - p - 12 || !memcmp(type, "IEND", 4))
            break;
        if (!memcmp(type, "eXIf", 4)) {
            ii->meta |= APP_META_EXIF;
            if (!ii->orientation)
                ii->orientation = app_exif_orientation(body, len);
            if (meta && !meta->exif && len) {
                if (!(meta->exif = dup_bytes(body, len)))
                    return APP_IMG_ENOMEM;
                meta->exif_size = len;
            }
        } else if (!memcmp(type, "iTXt", 4) && len >= sizeof(xmp_key) && !memcmp(body, xmp_key, sizeof(xmp_key))) {
            ii->meta |= APP_META_XMP;
            size_t at;
            if (meta && !meta->xmp && itxt_text(body, len, sizeof(xmp_key), &at) == 0 && len > at) {
                if (!(meta->xmp = dup_bytes(body + at, len - at)))
                    return APP_IMG_ENOMEM;
                meta->xmp_size = len - at;
            }
        }
        p += 12 + (size_t)len;
    }
    return 0;
}

void app_meta_free(app_meta *m)
{
    if (!m)
        return;
    free(m->icc);
    free(m->exif);
    free(m->xmp);
    memset(m, 0, sizeof(*m));
}

/* A PNG being read: the header and metadata by png_rd_open, then the pixels row by row (png_rd_row)
 * or, for an interlaced file, all at once (png_rd_image), then the chunks after them (png_rd_end).
 * Each step sets its own error return for libpng's longjmp. */
typedef struct png_rd {
    png_src src;
    png_structp png;
    png_infop info;
    uint32_t w, h;
    int interlaced;
    int ch, bps, och;    /* decoded samples per pixel (1..4), bytes per sample, output channels */
    size_t rowbytes;
    uint8_t *raw;        /* one decoded row; the whole image for an interlaced file */
} png_rd;

static void png_rd_close(png_rd *r)
{
    free(r->raw);
    r->raw = NULL;
    if (r->png)
        png_destroy_read_struct(&r->png, &r->info, NULL);
    r->png = NULL;
    r->info = NULL;
}

/* One decoded row (r->ch samples of r->bps bytes per pixel) to och 8-bit channels. */
static void png_convert_row(const png_rd *r, const uint8_t *s, uint8_t *d)
{
    for (png_uint_32 x = 0; x < r->w; x++, s += (size_t)r->ch * r->bps) {
        for (int c = 0; c < r->och; c++) /* 16-bit samples are big-endian */
            d[c] = r->bps == 2 ? from16((unsigned)s[2 * c] << 8 | s[2 * c + 1]) : s[c];
        d += r->och;
    }
}

static int png_rd_open(png_rd *r, const uint8_t *data, size_t size, const app_read_opts *o, int header_only,
                       app_image_info *ii, app_meta *meta, char *msg, size_t msg_size)
{
    memset(r, 0, sizeof(*r));
    r->src = (png_src){data, size, {0}};
    r->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, r->src.err, png_on_error, png_on_warning);
    if (!r->png || !(r->info = png_create_info_struct(r->png)))
        return set_msg(msg, msg_size, "out of memory"), APP_IMG_ENOMEM;
    png_structp png = r->png;
    png_infop info = r->info;
    if (setjmp(png_jmpbuf(png))) {
        set_msg(msg, msg_size, "PNG: %s", r->src.err);
        return APP_IMG_ECORRUPT;
    }
    png_set_read_fn(png, &r->src, png_read_mem);
    png_set_chunk_malloc_max(png, 8u << 20); /* ancillary chunks (iCCP): at most 8 MiB */
#ifdef PNG_HANDLE_AS_UNKNOWN_SUPPORTED
    /* Text and EXIF are not needed from libpng (png_scan_exif_xmp finds what we report). */
    static const png_byte skipped[] = {'t', 'E', 'X', 't', 0, 'z', 'T', 'X', 't', 0,
                                       'i', 'T', 'X', 't', 0, 'e', 'X', 'I', 'f', 0};
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, skipped, 4);
#endif
    png_read_info(png, info);

    png_uint_32 w, h;
    int depth, ctype, interlace;
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    const int has_alpha = (ctype & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS);
    ii->format = APP_FMT_PNG;
    ii->width = w;
    ii->height = h;
    ii->channels = (ctype & PNG_COLOR_MASK_COLOR) ? 3 : 1;
    ii->alpha = has_alpha;
    ii->bit_depth = depth;
    png_note_colour(png, info, ii);
    if (png_scan_exif_xmp(data, size, ii, header_only ? NULL : meta) < 0)
        return set_msg(msg, msg_size, "PNG: out of memory"), APP_IMG_ENOMEM;
    if (header_only)
        return 0;
    png_charp icc_name;
    png_bytep icc;
    png_uint_32 icc_len;
    int icc_comp;
    /* libpng checked the profile and inflated it (at most png_set_chunk_malloc_max bytes). */
    if (meta && png_get_iCCP(png, info, &icc_name, &icc_comp, &icc, &icc_len) && icc_len) {
        if (!(meta->icc = dup_bytes(icc, icc_len)))
            return set_msg(msg, msg_size, "PNG: out of memory"), APP_IMG_ENOMEM;
        meta->icc_size = icc_len;
    }
    int status = app_img_check_dims("PNG", w, h, o, msg, msg_size);
    if (status)
        return status;
    if (has_alpha && !o->drop_alpha) {
        set_msg(msg, msg_size, "PNG has an alpha channel (transparency); use --drop-alpha to discard it");
        return APP_IMG_EALPHA;
    }
    /* tRNS is never expanded, so it is dropped; an alpha channel is removed below. */
    if (ctype == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    r->interlaced = png_set_interlace_handling(png) > 1;
    png_read_update_info(png, info);

    r->w = w;
    r->h = h;
    r->ch = png_get_channels(png, info); /* 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
    r->bps = png_get_bit_depth(png, info) == 16 ? 2 : 1;
    r->och = r->ch >= 3 ? 3 : 1;
    r->rowbytes = png_get_rowbytes(png, info);
    if (r->ch < 1 || r->ch > 4 || r->rowbytes != (size_t)w * (size_t)r->ch * (size_t)r->bps) {
        set_msg(msg, msg_size, "PNG: unexpected row layout");
        return APP_IMG_ECORRUPT;
    }
    if (r->rowbytes > SIZE_MAX / h) {
        set_msg(msg, msg_size, "PNG: image too large");
        return APP_IMG_ELIMIT;
    }
    /* An interlaced image arrives in passes over the whole image: it is decoded whole. */
    if (!(r->raw = malloc(r->interlaced ? r->rowbytes * h : r->rowbytes)))
        return set_msg(msg, msg_size, "PNG: out of memory"), APP_IMG_ENOMEM;
    return 0;
}

/* Decodes the next row of a non-interlaced image into r->raw. */
static int png_rd_next(png_rd *r, char *msg, size_t msg_size)
{
    if (setjmp(png_jmpbuf(r->png))) {
        set_msg(msg, msg_size, "PNG: %s", r->src.err);
        return APP_IMG_ECORRUPT;
    }
    png_read_row(r->png, r->raw, NULL);
    return 0;
}

/* The next row of a non-interlaced image, converted into d (w * och bytes). */
static int png_rd_row(png_rd *r, uint8_t *d, char *msg, size_t msg_size)
{
    int status = png_rd_next(r, msg, msg_size);
    if (!status)
        png_convert_row(r, r->raw, d);
    return status;
}

/* The whole image into img (allocated here; the caller frees it also on failure). */
static int png_rd_image(png_rd *r, app_image *img, char *msg, size_t msg_size)
{
    int status = app_img_alloc(img, r->w, r->h, r->och, msg, msg_size);
    if (status)
        return status;
    if (!r->interlaced) {
        for (png_uint_32 y = 0; !status && y < r->h; y++)
            status = png_rd_row(r, img->data + (size_t)y * (size_t)img->stride, msg, msg_size);
        return status;
    }
    png_bytep *volatile rows = malloc(sizeof(png_bytep) * r->h);
    if (!rows)
        return set_msg(msg, msg_size, "PNG: out of memory"), APP_IMG_ENOMEM;
    if (setjmp(png_jmpbuf(r->png))) {
        free(rows);
        set_msg(msg, msg_size, "PNG: %s", r->src.err);
        return APP_IMG_ECORRUPT;
    }
    for (png_uint_32 y = 0; y < r->h; y++)
        rows[y] = r->raw + (size_t)y * r->rowbytes;
    png_read_image(r->png, rows);
    free(rows);
    for (png_uint_32 y = 0; y < r->h; y++)
        png_convert_row(r, r->raw + (size_t)y * r->rowbytes, img->data + (size_t)y * (size_t)img->stride);
    return 0;
}

/* Reads on to IEND: a file cut after the image data is still an error. */
static int png_rd_end(png_rd *r, char *msg, size_t msg_size)
{
    if (setjmp(png_jmpbuf(r->png))) {
        set_msg(msg, msg_size, "PNG: %s", r->src.err);
        return APP_IMG_ECORRUPT;
    }
    png_read_end(r->png, NULL);
    return 0;
}

static int read_png(const uint8_t *data, size_t size, const app_read_opts *o, int header_only,
                    app_image *out, app_image_info *ii, app_meta *meta, char *msg, size_t msg_size)
{
    png_rd r;
    app_image img = {0};
    int status = png_rd_open(&r, data, size, o, header_only, ii, meta, msg, msg_size);
    if (!status && !header_only && !(status = png_rd_image(&r, &img, msg, msg_size)) &&
        !(status = png_rd_end(&r, msg, msg_size))) {
        *out = img;
        img.data = NULL;
    }
    free(img.data);
    png_rd_close(&r);
    return status;
}

/* ---- JPEG -------------------------------------------------------------------------------------- */

typedef struct jpeg_err {
    struct jpeg_error_mgr mgr;
    jmp_buf jb;
    int corrupt; /* a warning that means the data is damaged or cut short */
    char text[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_on_error(j_common_ptr c)
{
    jpeg_err *e = (jpeg_err *)c->err;
    c->err->format_message(c, e->text);
    longjmp(e->jb, 1);
}

static void jpeg_on_message(j_common_ptr c, int level)
{
    if (level >= 0)
        return; /* trace messages */
    jpeg_err *e = (jpeg_err *)c->err;
    int code = c->err->msg_code;
    /* libjpeg recovers from these by inventing data; for a codec's input that is an error. Other
     * warnings (extraneous bytes between markers, odd APP markers) are harmless. */
    if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE ||
        code == JWRN_MUST_RESYNC) {
        if (!e->corrupt)
            c->err->format_message(c, e->text);
        e->corrupt = 1;
    }
    c->err->num_warnings++;
}

static void jpeg_silent(j_common_ptr c)
{
    (void)c; /* libjpeg must never print */
}

/* A progressive JPEG may hold thousands of tiny scans, each re-walking the whole image. */
#define APP_JPEG_MAX_SCANS 1000

static void jpeg_on_progress(j_common_ptr c)
{
    if (!c->is_decompressor)
        return;
    j_decompress_ptr d = (j_decompress_ptr)c;
    if (d->input_scan_number > APP_JPEG_MAX_SCANS) {
        jpeg_err *e = (jpeg_err *)c->err;
        snprintf(e->text, sizeof(e->text), "more than %d scans", APP_JPEG_MAX_SCANS);
        longjmp(e->jb, 1);
    }
}

/* Records the metadata markers saved by jpeg_save_markers; with meta, copies the first EXIF and XMP
 * and the ICC profile (libjpeg-turbo joins its APP2 parts and checks their numbering). Returns 0 or
 * APP_IMG_ENOMEM. */
static int jpeg_note_meta(j_decompress_ptr c, app_image_info *ii, app_meta *meta)
{
    static const char exif_id[6] = {'E', 'x', 'i', 'f', 0, 0};
    static const char xmp_id[] = "http://ns.adobe.com/xap/1.0/"; /* with its NUL: 29 bytes */
    static const char icc_id[] = "ICC_PROFILE";                  /* with its NUL: 12 bytes */
    for (jpeg_saved_marker_ptr m = c->marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 2 && m->data_length >= sizeof(icc_id) &&
            !memcmp(m->data, icc_id, sizeof(icc_id))) {
            ii->meta |= APP_META_ICC;
        } else if (m->marker == JPEG_APP0 + 1 && m->data_length >= sizeof(exif_id) &&
                   !memcmp(m->data, exif_id, sizeof(exif_id))) {
            ii->meta |= APP_META_EXIF;
            if (!ii->orientation)
                ii->orientation = app_exif_orientation(m->data + 6, m->data_length - 6);
            if (meta && !meta->exif && m->data_length > 6) {
                if (!(meta->exif = dup_bytes(m->data + 6, m->data_length - 6)))
                    return APP_IMG_ENOMEM;
                meta->exif_size = m->data_length - 6;
            }
        } else if (m->marker == JPEG_APP0 + 1 && m->data_length >= sizeof(xmp_id) &&
                   !memcmp(m->data, xmp_id, sizeof(xmp_id))) {
            ii->meta |= APP_META_XMP;
            if (meta && !meta->xmp && m->data_length > sizeof(xmp_id)) {
                if (!(meta->xmp = dup_bytes(m->data + sizeof(xmp_id), m->data_length - sizeof(xmp_id))))
                    return APP_IMG_ENOMEM;
                meta->xmp_size = m->data_length - sizeof(xmp_id);
            }
        }
    }
    JOCTET *icc = NULL;
    unsigned int icc_len = 0;
    /* FALSE for no profile or a damaged set of parts (then it is not carried and the tool warns). */
    if (meta && (ii->meta & APP_META_ICC) && jpeg_read_icc_profile(c, &icc, &icc_len) && icc) {
        meta->icc = icc; /* malloc'd by libjpeg-turbo */
        meta->icc_size = icc_len;
    }
    return 0;
}

/* After a progressive image is absorbed: 1 if every coefficient of every component got its last
 * refinement (coef_bits 0), which tells a complete file from one that stops between scans. */
static int jpeg_progressive_complete(j_decompress_ptr c)
{
    if (!c->progressive_mode)
        return 1;
    if (!c->coef_bits)
        return 0;
    for (int ci = 0; ci < c->num_components; ci++)
        for (int k = 0; k < DCTSIZE2; k++)
            if (c->coef_bits[ci][k] != 0)
                return 0;
    return 1;
}

/* A JPEG being read: the header and metadata by jpg_rd_open (which starts the decompression), the
 * scanlines by jpg_rd_row, the end checks by jpg_rd_end. Each step sets its own error return for
 * libjpeg's longjmp. The struct must not move once opened (libjpeg points into it). */
typedef struct jpg_rd {
    struct jpeg_decompress_struct cinfo;
    jpeg_err err;
    struct jpeg_progress_mgr prog;
    uint8_t *with_eoi; /* the file with an end-of-image marker appended, when it had none */
    int created;
} jpg_rd;

static void jpg_rd_close(jpg_rd *r)
{
    free(r->with_eoi);
    r->with_eoi = NULL;
    if (r->created)
        jpeg_destroy_decompress(&r->cinfo);
    r->created = 0;
}

static int jpg_rd_open(jpg_rd *r, const uint8_t *data, size_t size, const app_read_opts *o, int header_only,
                       app_image_info *ii, app_meta *meta, char *msg, size_t msg_size)
{
    memset(r, 0, sizeof(*r));
    struct jpeg_decompress_struct *c = &r->cinfo;
    c->err = jpeg_std_error(&r->err.mgr);
    r->err.mgr.error_exit = jpeg_on_error;
    r->err.mgr.emit_message = jpeg_on_message;
    r->err.mgr.output_message = jpeg_silent;
    if (setjmp(r->err.jb)) {
        set_msg(msg, msg_size, "JPEG: %s", r->err.text);
        return APP_IMG_ECORRUPT;
    }
    jpeg_create_decompress(c);
    r->created = 1;
    r->prog.progress_monitor = jpeg_on_progress;
    c->progress = &r->prog;
    if (size > ULONG_MAX - 2) {
        set_msg(msg, msg_size, "JPEG: file too large");
        return APP_IMG_ELIMIT;
    }
    /* libjpeg's tools read a file that lacks its end-of-image marker with a warning. We give it its
     * marker: if the image then decodes without any warning, all that was missing was the marker,
     * and info->missing_eoi says so; a file cut inside its image data still fails (a warning). */
    const int eoi_present = size >= 2 && data[size - 2] == 0xFF && data[size - 1] == JPEG_EOI;
    unsigned long src_size = (unsigned long)size;
    const uint8_t *src = data;
    if (!header_only && !eoi_present) {
        if (!(r->with_eoi = malloc(size + 2))) {
            set_msg(msg, msg_size, "JPEG: out of memory");
            return APP_IMG_ENOMEM;
        }
        memcpy(r->with_eoi, data, size);
        r->with_eoi[size] = 0xFF;
        r->with_eoi[size + 1] = JPEG_EOI;
        src = r->with_eoi;
        src_size += 2;
    }
    jpeg_mem_src(c, src, src_size);
    /* Probing: enough of each APP1 for the EXIF IFD0 or the XMP name, of each APP2 for the ICC name.
     * Keeping the metadata: whole markers (at most 64 KiB each, all of them inside the file). */
    const int keep = meta && !header_only;
    jpeg_save_markers(c, JPEG_APP0 + 1, keep ? 0xFFFF : 4096);
    jpeg_save_markers(c, JPEG_APP0 + 2, keep ? 0xFFFF : 16);
    jpeg_read_header(c, TRUE);
    ii->format = APP_FMT_JPEG;
    ii->width = c->image_width;
    ii->height = c->image_height;
    ii->channels = c->jpeg_color_space == JCS_GRAYSCALE ? 1 : 3;
    ii->bit_depth = c->data_precision;
    if (jpeg_note_meta(c, ii, keep ? meta : NULL) < 0) {
        set_msg(msg, msg_size, "JPEG: out of memory");
        return APP_IMG_ENOMEM;
    }
    switch (c->jpeg_color_space) {
    case JCS_GRAYSCALE:
        c->out_color_space = JCS_GRAYSCALE;
        break;
    case JCS_YCbCr:
    case JCS_RGB:
        c->out_color_space = JCS_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        set_msg(msg, msg_size, "JPEG: CMYK images are not supported; convert to RGB first");
        return APP_IMG_EUNSUPPORTED;
    default:
        set_msg(msg, msg_size, "JPEG: unsupported color space (%d components)", c->num_components);
        return APP_IMG_EUNSUPPORTED;
    }
    if (header_only)
        return 0;
    int status = app_img_check_dims("JPEG", c->image_width, c->image_height, o, msg, msg_size);
    if (status)
        return status;
    c->dct_method = JDCT_ISLOW; /* the accurate IDCT: same pixels on every machine */
    jpeg_start_decompress(c);
    const int ch = c->output_components;
    if ((ch != 1 && ch != 3) || c->output_width != c->image_width || c->output_height != c->image_height) {
        set_msg(msg, msg_size, "JPEG: unexpected output layout");
        return APP_IMG_ECORRUPT;
    }
    return 0;
}

/* The next scanline into row (width * channels bytes). */
static int jpg_rd_row(jpg_rd *r, uint8_t *row, char *msg, size_t msg_size)
{
    if (setjmp(r->err.jb)) {
        set_msg(msg, msg_size, "JPEG: %s", r->err.text);
        return APP_IMG_ECORRUPT;
    }
    JSAMPROW rows[1] = {row};
    jpeg_read_scanlines(&r->cinfo, rows, 1);
    return 0;
}

/* After the last scanline: reads to the end of the image and tells damage and truncation. */
static int jpg_rd_end(jpg_rd *r, app_image_info *ii, char *msg, size_t msg_size)
{
    if (setjmp(r->err.jb)) {
        set_msg(msg, msg_size, "JPEG: %s", r->err.text);
        return APP_IMG_ECORRUPT;
    }
    /* coef_bits lives in the image pool, which jpeg_finish_decompress releases: look first. */
    const int complete = jpeg_progressive_complete(&r->cinfo);
    jpeg_finish_decompress(&r->cinfo); /* reads up to EOI: truncation shows up as a warning */
    if (r->err.corrupt) {
        set_msg(msg, msg_size, "JPEG: %s", r->err.text);
        return APP_IMG_ECORRUPT;
    }
    /* Our marker was the one reached (nothing left after it): the file had none of its own. */
    if (r->with_eoi && r->cinfo.src->bytes_in_buffer == 0) {
        if (!complete) {
            set_msg(msg, msg_size, "JPEG: the file ends before its last progressive scan (truncated)");
            return APP_IMG_ECORRUPT;
        }
        ii->missing_eoi = 1;
    }
    return 0;
}

static int read_jpeg(const uint8_t *data, size_t size, const app_read_opts *o, int header_only,
                     app_image *out, app_image_info *ii, app_meta *meta, char *msg, size_t msg_size)
{
    jpg_rd r;
    app_image img = {0};
    int status = jpg_rd_open(&r, data, size, o, header_only, ii, meta, msg, msg_size);
    if (!status && !header_only)
        status = app_img_alloc(&img, r.cinfo.output_width, r.cinfo.output_height, r.cinfo.output_components, msg,
                               msg_size);
    for (uint32_t y = 0; !status && !header_only && y < img.height; y++)
        status = jpg_rd_row(&r, img.data + (size_t)y * (size_t)img.stride, msg, msg_size);
    if (!status && !header_only && !(status = jpg_rd_end(&r, ii, msg, msg_size))) {
        *out = img;
        img.data = NULL;
    }
    free(img.data);
    jpg_rd_close(&r);
    return status;
}

/* ---- entry points ------------------------------------------------------------------------------ */

/* Probe (header_only) or decode; info always non-NULL here. */
static int read_any(const uint8_t *data, size_t size, const app_read_opts *o, int header_only,
                    app_image *out, app_image_info *info, app_meta *meta, char *msg, size_t msg_size)
{
    memset(info, 0, sizeof(*info));
    switch (app_image_detect(data, size)) {
    case APP_FMT_PNG: return read_png(data, size, o, header_only, out, info, meta, msg, msg_size);
    case APP_FMT_JPEG: return read_jpeg(data, size, o, header_only, out, info, meta, msg, msg_size);
    case APP_FMT_PNM: return app_pnm_read(data, size, o, header_only, out, info, msg, msg_size);
    default:
        set_msg(msg, msg_size, size ? "unrecognized image format (expected PNG, JPEG, PGM or PPM)"
                                    : "empty file");
        return APP_IMG_ECORRUPT;
    }
}

int app_image_probe(const uint8_t *data, size_t size, app_image_info *info, char *msg, size_t msg_size)
{
    if (!info || (!data && size))
        return APP_IMG_EINVAL;
    app_read_opts none = {0, 0, 0, 0};
    app_image unused = {0};
    return read_any(data, size, &none, 1, &unused, info, NULL, msg, msg_size);
}

int app_image_decode_meta(const uint8_t *data, size_t size, const app_read_opts *opts, app_image *out,
                          app_image_info *info, app_meta *meta, char *msg, size_t msg_size)
{
    if (meta)
        memset(meta, 0, sizeof(*meta));
    if (!out || (!data && size))
        return APP_IMG_EINVAL;
    memset(out, 0, sizeof(*out));
    app_read_opts none = {0, 0, 0, 0};
    app_image_info scratch;
    int r = read_any(data, size, opts ? opts : &none, 0, out, info ? info : &scratch, meta, msg, msg_size);
    if (r)
        app_meta_free(meta);
    return r;
}

int app_image_decode_info(const uint8_t *data, size_t size, const app_read_opts *opts, app_image *out,
                          app_image_info *info, char *msg, size_t msg_size)
{
    return app_image_decode_meta(data, size, opts, out, info, NULL, msg, msg_size);
}

int app_image_decode(const uint8_t *data, size_t size, const app_read_opts *opts, app_image *out,
                     char *msg, size_t msg_size)
{
    return app_image_decode_info(data, size, opts, out, NULL, msg, msg_size);
}

int app_image_read(const char *path, const app_read_opts *opts, app_image *out, char *msg,
                   size_t msg_size)
{
    if (!out)
        return APP_IMG_EINVAL;
    memset(out, 0, sizeof(*out));
    uint8_t *buf;
    size_t n;
    int r = app_read_file(path, opts ? opts->max_file_bytes : 0, &buf, &n, msg, msg_size);
    if (r)
        return r;
    r = app_image_decode(buf, n, opts, out, msg, msg_size);
    free(buf);
    return r;
}

/* ---- row by row ------------------------------------------------------------------------------ */

struct app_row_reader {
    app_img_format fmt;
    png_rd png;
    jpg_rd jpg;
    app_image whole; /* an interlaced PNG or a PGM/PPM, decoded when opened */
    uint32_t y, height;
};

int app_rows_open(const uint8_t *data, size_t size, const app_read_opts *opts, app_row_reader **out,
                  app_image_info *info, app_meta *meta, char *msg, size_t msg_size)
{
    if (meta)
        memset(meta, 0, sizeof(*meta));
    if (!out || !info || (!data && size))
        return APP_IMG_EINVAL;
    *out = NULL;
    memset(info, 0, sizeof(*info));
    app_read_opts none = {0, 0, 0, 0};
    const app_read_opts *o = opts ? opts : &none;
    app_row_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return set_msg(msg, msg_size, "out of memory"), APP_IMG_ENOMEM;
    int status;
    switch ((r->fmt = app_image_detect(data, size))) {
    case APP_FMT_PNG:
        status = png_rd_open(&r->png, data, size, o, 0, info, meta, msg, msg_size);
        if (!status && r->png.interlaced && !(status = png_rd_image(&r->png, &r->whole, msg, msg_size)))
            status = png_rd_end(&r->png, msg, msg_size);
        break;
    case APP_FMT_JPEG: status = jpg_rd_open(&r->jpg, data, size, o, 0, info, meta, msg, msg_size); break;
    case APP_FMT_PNM: status = app_pnm_read(data, size, o, 0, &r->whole, info, msg, msg_size); break;
    default:
        set_msg(msg, msg_size, size ? "unrecognized image format (expected PNG, JPEG, PGM or PPM)" : "empty file");
        status = APP_IMG_ECORRUPT;
        break;
    }
    if (status) {
        app_rows_close(&r);
        app_meta_free(meta);
        return status;
    }
    r->height = info->height;
    *out = r;
    return 0;
}

int app_rows_read(app_row_reader *r, uint8_t *row, char *msg, size_t msg_size)
{
    if (!r || !row || r->y >= r->height)
        return set_msg(msg, msg_size, "no more rows"), APP_IMG_EINVAL;
    int status = 0;
    if (r->whole.data)
        memcpy(row, r->whole.data + (size_t)r->y * (size_t)r->whole.stride, (size_t)r->whole.width * r->whole.channels);
    else if (r->fmt == APP_FMT_PNG)
        status = png_rd_row(&r->png, row, msg, msg_size);
    else
        status = jpg_rd_row(&r->jpg, row, msg, msg_size);
    r->y++;
    return status;
}

int app_rows_finish(app_row_reader *r, app_image_info *info, char *msg, size_t msg_size)
{
    if (!r || !info || r->y != r->height)
        return set_msg(msg, msg_size, "rows left unread"), APP_IMG_EINVAL;
    if (r->whole.data)
        return 0;
    if (r->fmt == APP_FMT_PNG)
        return png_rd_end(&r->png, msg, msg_size);
    return jpg_rd_end(&r->jpg, info, msg, msg_size);
}

void app_rows_close(app_row_reader **pr)
{
    if (!pr || !*pr)
        return;
    app_row_reader *r = *pr;
    png_rd_close(&r->png);
    jpg_rd_close(&r->jpg);
    app_image_free(&r->whole);
    free(r);
    *pr = NULL;
}

/* ---- writing ----------------------------------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    if (n < m)
        return 0;
    for (size_t i = 0; i < m; i++) {
        char c = s[n - m + i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != suffix[i])
            return 0;
    }
    return 1;
}

app_out_format app_out_format_from_path(const char *path)
{
    if (!path)
        return APP_OUT_NONE;
    if (ends_with(path, ".png"))
        return APP_OUT_PNG;
    if (ends_with(path, ".ppm"))
        return APP_OUT_PPM;
    if (ends_with(path, ".pgm"))
        return APP_OUT_PGM;
    if (ends_with(path, ".pnm"))
        return APP_OUT_PNM;
    return APP_OUT_NONE;
}

app_out_format app_out_format_from_name(const char *name)
{
    if (!name)
        return APP_OUT_NONE;
    if (!strcmp(name, "png"))
        return APP_OUT_PNG;
    if (!strcmp(name, "ppm"))
        return APP_OUT_PPM;
    if (!strcmp(name, "pgm"))
        return APP_OUT_PGM;
    if (!strcmp(name, "pnm"))
        return APP_OUT_PNM;
    return APP_OUT_NONE;
}

static int finish_stream(FILE *f, char *msg, size_t msg_size)
{
    if (fflush(f) != 0 || ferror(f)) {
        set_msg(msg, msg_size, "write failed: %s", strerror(errno));
        return APP_IMG_EIO;
    }
    return 0;
}

static void png_on_write_error(png_structp png, png_const_charp m)
{
    char *err = png_get_error_ptr(png);
    snprintf(err, 192, "%s", m ? m : "error");
    png_longjmp(png, 1);
}

/* Hands the metadata to libpng, which writes it before the image data. */
static void png_put_meta(png_structp png, png_infop info, app_meta *meta, char *xmp_text)
{
    if (meta->icc_size && meta->icc_size <= UINT32_MAX) {
        /* libpng checks the profile; a bad one is an "app error": made a warning, the chunk skipped. */
        png_set_benign_errors(png, 1);
        /* A small profile deflates below the size libpng's reader accepts for iCCP (it wants the
         * compressed data to hold at least a profile header): store small ones uncompressed. */
        if (meta->icc_size < 1024)
            png_set_text_compression_level(png, 0);
        png_set_iCCP(png, info, "ICC profile", PNG_COMPRESSION_TYPE_BASE, meta->icc, (png_uint_32)meta->icc_size);
        png_set_benign_errors(png, 0);
        meta->icc_refused = !png_get_valid(png, info, PNG_INFO_iCCP);
    }
    if (meta->exif_size && meta->exif_size <= UINT32_MAX)
        png_set_eXIf_1(png, info, (png_uint_32)meta->exif_size, meta->exif);
    if (xmp_text) {
        png_text t;
        memset(&t, 0, sizeof(t));
        t.compression = PNG_ITXT_COMPRESSION_NONE;
        t.key = (png_charp) "XML:com.adobe.xmp";
        t.text = xmp_text;
        t.itxt_length = meta->xmp_size;
        t.lang = (png_charp) "";
        t.lang_key = (png_charp) "";
        png_set_text(png, info, &t, 1);
    }
}

struct app_row_writer {
    FILE *f;
    app_out_format fmt;
    uint32_t width, height, y;
    int ch, out_ch;   /* channels of the rows given, and of the file */
    uint8_t *conv;    /* PGM/PPM: a row converted to out_ch */
    png_structp png;
    png_infop info;
    char *xmp_text;
    char err[192];    /* libpng's last error message */
};

/* PNG: the header and metadata. iTXt text is a C string to libpng: a NUL-terminated copy, refused if
 * the packet holds a NUL. */
static int png_wr_open(app_row_writer *w, app_meta *meta, char *msg, size_t msg_size)
{
    if (meta)
        meta->xmp_refused = meta->xmp_size && memchr(meta->xmp, 0, meta->xmp_size) != NULL;
    if (meta && meta->xmp_size && !meta->xmp_refused) {
        if (!(w->xmp_text = malloc(meta->xmp_size + 1)))
            return set_msg(msg, msg_size, "out of memory"), APP_IMG_ENOMEM;
        memcpy(w->xmp_text, meta->xmp, meta->xmp_size);
        w->xmp_text[meta->xmp_size] = 0;
    }
    w->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, w->err, png_on_write_error, png_on_warning);
    if (!w->png || !(w->info = png_create_info_struct(w->png)))
        return set_msg(msg, msg_size, "out of memory"), APP_IMG_ENOMEM;
    if (setjmp(png_jmpbuf(w->png))) {
        set_msg(msg, msg_size, "PNG write failed: %s", w->err);
        return APP_IMG_EIO;
    }
    png_init_io(w->png, w->f);
    png_set_IHDR(w->png, w->info, w->width, w->height, 8, w->ch == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    /* zlib level 1 for the pixels: at the default level 6 deflate took longer than the whole decode
     * of a 24 MP image (7.3 s against 6.4 s on 2 cores); level 1 takes 1.4 s for a file 4 % larger
     * (docs/RESULTS.md §9). */
    png_set_compression_level(w->png, 1);
    if (meta)
        png_put_meta(w->png, w->info, meta, w->xmp_text);
    png_write_info(w->png, w->info);
    return 0;
}

static int png_wr_row(app_row_writer *w, const uint8_t *row, char *msg, size_t msg_size)
{
    if (setjmp(png_jmpbuf(w->png))) {
        set_msg(msg, msg_size, "PNG write failed: %s", w->err);
        return APP_IMG_EIO;
    }
    png_write_row(w->png, row);
    return 0;
}

static int png_wr_end(app_row_writer *w, char *msg, size_t msg_size)
{
    if (setjmp(png_jmpbuf(w->png))) {
        set_msg(msg, msg_size, "PNG write failed: %s", w->err);
        return APP_IMG_EIO;
    }
    png_write_end(w->png, NULL);
    return 0;
}

int app_rows_write_open(FILE *f, uint32_t width, uint32_t height, int channels, app_out_format fmt, app_meta *meta,
                        app_row_writer **out, char *msg, size_t msg_size)
{
    if (!out)
        return APP_IMG_EINVAL;
    *out = NULL;
    if (!f || !width || !height || (channels != 1 && channels != 3)) {
        set_msg(msg, msg_size, "invalid image");
        return APP_IMG_EINVAL;
    }
    if (fmt != APP_OUT_PNG && fmt != APP_OUT_PPM && fmt != APP_OUT_PGM && fmt != APP_OUT_PNM) {
        set_msg(msg, msg_size, "unknown output format");
        return APP_IMG_EINVAL;
    }
    app_row_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return set_msg(msg, msg_size, "out of memory"), APP_IMG_ENOMEM;
    *w = (app_row_writer){.f = f, .fmt = fmt, .width = width, .height = height, .ch = channels};
    w->out_ch = fmt == APP_OUT_PPM ? 3 : fmt == APP_OUT_PGM ? 1 : channels;
    int status = 0;
    if (fmt == APP_OUT_PNG) {
        status = png_wr_open(w, meta, msg, msg_size);
    } else {
        if (w->out_ch != channels && !(w->conv = malloc((size_t)width * (size_t)w->out_ch)))
            status = APP_IMG_ENOMEM, set_msg(msg, msg_size, "out of memory");
        /* Header on two lines, "P6\nW H\n255\n": simple for scripts to parse. */
        else if (fprintf(f, "P%c\n%lu %lu\n255\n", w->out_ch == 3 ? '6' : '5', (unsigned long)width,
                         (unsigned long)height) < 0)
            status = finish_stream(f, msg, msg_size);
    }
    if (status) {
        app_rows_write_close(&w);
        return status;
    }
    *out = w;
    return 0;
}

int app_rows_write(app_row_writer *w, const uint8_t *s, char *msg, size_t msg_size)
{
    if (!w || !s || w->y >= w->height)
        return set_msg(msg, msg_size, "no more rows"), APP_IMG_EINVAL;
    w->y++;
    if (w->fmt == APP_OUT_PNG)
        return png_wr_row(w, s, msg, msg_size);
    const size_t n = w->width;
    const uint8_t *src = s;
    if (w->out_ch == 3 && w->ch == 1) {
        for (size_t x = 0; x < n; x++)
            w->conv[3 * x] = w->conv[3 * x + 1] = w->conv[3 * x + 2] = s[x];
        src = w->conv;
    } else if (w->out_ch == 1 && w->ch == 3) {
        /* BT.601 luma in 8.8 fixed point; the weights sum to 256 so white stays 255. */
        for (size_t x = 0; x < n; x++)
            w->conv[x] = (uint8_t)((77u * s[3 * x] + 150u * s[3 * x + 1] + 29u * s[3 * x + 2] + 128u) >> 8);
        src = w->conv;
    }
    if (fwrite(src, (size_t)w->out_ch, n, w->f) == n)
        return 0;
    if (finish_stream(w->f, msg, msg_size) == 0) /* it names the error when the stream knows it */
        set_msg(msg, msg_size, "write failed");
    return APP_IMG_EIO;
}

int app_rows_write_finish(app_row_writer *w, char *msg, size_t msg_size)
{
    if (!w || w->y != w->height)
        return set_msg(msg, msg_size, "rows left unwritten"), APP_IMG_EINVAL;
    int status = w->fmt == APP_OUT_PNG ? png_wr_end(w, msg, msg_size) : 0;
    return status ? status : finish_stream(w->f, msg, msg_size);
}

void app_rows_write_close(app_row_writer **pw)
{
    if (!pw || !*pw)
        return;
    app_row_writer *w = *pw;
    if (w->png)
        png_destroy_write_struct(&w->png, &w->info);
    free(w->xmp_text);
    free(w->conv);
    free(w);
    *pw = NULL;
}

int app_image_write(FILE *f, const app_image *img, app_out_format fmt, char *msg, size_t msg_size)
{
    return app_image_write_meta(f, img, fmt, NULL, msg, msg_size);
}

int app_image_write_meta(FILE *f, const app_image *img, app_out_format fmt, app_meta *meta, char *msg,
                         size_t msg_size)
{
    if (!f || !img || !img->data || !img->width || !img->height ||
        (img->channels != 1 && img->channels != 3) ||
        img->stride < (ptrdiff_t)img->width * img->channels) {
        set_msg(msg, msg_size, "invalid image");
        return APP_IMG_EINVAL;
    }
    app_row_writer *w;
    int status = app_rows_write_open(f, img->width, img->height, img->channels, fmt, meta, &w, msg, msg_size);
    for (uint32_t y = 0; !status && y < img->height; y++)
        status = app_rows_write(w, img->data + (ptrdiff_t)y * img->stride, msg, msg_size);
    if (!status)
        status = app_rows_write_finish(w, msg, msg_size);
    app_rows_write_close(&w);
    return status;
}
