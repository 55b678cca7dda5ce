/* lic codec: parser of the .licw model container (docs/FORMAT.md §1.1).
 *
 * The whole file is untrusted. Every field is read with explicit little-endian loads through a
 * bounded cursor, so no read can leave [data, data + size) whatever the bytes are; all sizes are
 * checked for overflow in 64-bit arithmetic before they are used or allocated. Tensor data is not
 * copied: the directory entries point into the caller's buffer, which is why the host must be
 * little-endian and the buffer 64-byte aligned (every tensor offset is a multiple of 64 relative to
 * it, so f32/i16/i32 elements are naturally aligned). */
#include "codec/licw.h"

#include <string.h>

#include "util/hash.h"
#include "util/mem.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "lic reads model tensors in place: little-endian hosts only"
#endif

#define LICW_HEADER_SIZE 32u
#define LICW_VERSION 1u
#define LICW_MAX_KV 4096u
#define LICW_MAX_TENSORS 65536u
#define LICW_MAX_NAME 255u
#define LICW_MAX_STRING 65536u
#define LICW_ALIGN 64u
/* Smallest possible encoded entries, used to bound counts by the directory size before allocating:
 * kv = u16 len + 1 name byte + u8 type + u32 string length (an empty string); tensor = u16 len +
 * 1 name byte + u8 dtype + u8 n_dims + one u32 dim + u64 offset. */
#define LICW_MIN_KV_BYTES 8u
#define LICW_MIN_TENSOR_BYTES 17u

/* ---- bounded little-endian cursor ---- */

typedef struct cursor {
    const uint8_t *p;
    size_t pos, end; /* reads are allowed in [pos, end) */
} cursor;

static int cur_take(cursor *c, size_t n, const uint8_t **out)
{
    if (n > c->end - c->pos)
        return -1;
    *out = c->p + c->pos;
    c->pos += n;
    return 0;
}

static uint64_t load_le(const uint8_t *b, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

static int cur_u(cursor *c, int n, uint64_t *v)
{
    const uint8_t *b;
    if (cur_take(c, (size_t)n, &b))
        return -1;
    *v = load_le(b, n);
    return 0;
}

/* Reads u16 length + name; the name must be 1..255 ASCII bytes without NUL. */
static int cur_name(cursor *c, const char **name, size_t *len)
{
    uint64_t n;
    const uint8_t *b;
    if (cur_u(c, 2, &n) || n < 1 || n > LICW_MAX_NAME || cur_take(c, (size_t)n, &b))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (b[i] == 0 || b[i] > 127)
            return -1;
    *name = (const char *)b;
    *len = (size_t)n;
    return 0;
}

/* IEEE-754 binary32 / binary64 finiteness from the bit pattern: no float operations, so nothing
 * depends on the FPU mode or on signalling NaNs. */
static int f32_bits_finite(uint32_t u) { return (u & 0x7f800000u) != 0x7f800000u; }
static int f64_bits_finite(uint64_t u)
{
    return (u & 0x7ff0000000000000ull) != 0x7ff0000000000000ull;
}

static size_t dtype_size(int dtype)
{
    switch (dtype) {
    case LIC_DTYPE_F32: return 4;
    case LIC_DTYPE_I16: return 2;
    case LIC_DTYPE_I32: return 4;
    default: return 0;
    }
}

/* ---- uniqueness and overlap checks (sorting index arrays) ---- */

typedef struct name_ref {
    const char *s;
    size_t len;
} name_ref;

static int cmp_name(const void *a, const void *b)
{
    const name_ref *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->s, y->s, n);
    if (r)
        return r;
    return (x->len > y->len) - (x->len < y->len);
}

typedef struct span {
    uint64_t begin, end;
} span;

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return (x->begin > y->begin) - (x->begin < y->begin);
}

/* In-place heapsort: glibc's qsort may call malloc, which would bypass the allocator hook. */
static void swap_bytes(unsigned char *a, unsigned char *b, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        unsigned char t = a[i];
        a[i] = b[i];
        b[i] = t;
    }
}

static void sift_down(unsigned char *base, size_t root, size_t n, size_t size,
                      int (*cmp)(const void *, const void *))
{
    for (size_t child; (child = 2 * root + 1) < n; root = child) {
        if (child + 1 < n && cmp(base + child * size, base + (child + 1) * size) < 0)
            child++;
        if (cmp(base + root * size, base + child * size) >= 0)
            return;
        swap_bytes(base + root * size, base + child * size, size);
    }
}

static void sort_in_place(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    unsigned char *b = base;
    for (size_t i = n / 2; i-- > 0;)
        sift_down(b, i, n, size, cmp);
    for (size_t end = n; end-- > 1;) {
        swap_bytes(b, b + end * size, size);
        sift_down(b, 0, end, size, cmp);
    }
}

/* 0 if the n names are pairwise distinct. `tmp` holds n entries. */
static int names_unique(name_ref *tmp, size_t n)
{
    if (n < 2)
        return 0;
    sort_in_place(tmp, n, sizeof *tmp, cmp_name);
    for (size_t i = 1; i < n; i++)
        if (cmp_name(&tmp[i - 1], &tmp[i]) == 0)
            return -1;
    return 0;
}

/* ---- directory entries ---- */

static int parse_kv(cursor *c, lic_licw_kv *kv)
{
    uint64_t type, v;
    memset(kv, 0, sizeof *kv);
    if (cur_name(c, &kv->key, &kv->key_len) || cur_u(c, 1, &type))
        return -1;
    kv->type = (int)type;
    switch (type) {
    case LIC_KV_INT:
        if (cur_u(c, 8, &v))
            return -1;
        kv->i = (int64_t)v; /* two's complement on every supported host */
        return 0;
    case LIC_KV_FLOAT:
        if (cur_u(c, 8, &v) || !f64_bits_finite(v))
            return -1;
        memcpy(&kv->f, &v, sizeof v);
        return 0;
    case LIC_KV_STRING: {
        const uint8_t *b;
        if (cur_u(c, 4, &v) || v > LICW_MAX_STRING || cur_take(c, (size_t)v, &b))
            return -1;
        kv->s = (const char *)b;
        kv->s_len = (size_t)v;
        return 0;
    }
    default:
        return -1;
    }
}

/* Parses one tensor entry; `blob` is the data blob ([data_offset, size) of the file). Leaves the
 * tensor's span inside the blob in *sp for the overlap check. */
static int parse_tensor(cursor *c, lic_licw_tensor *t, const uint8_t *blob, uint64_t blob_size, span *sp)
{
    uint64_t dtype, n_dims, d, off;
    memset(t, 0, sizeof *t);
    if (cur_name(c, &t->name, &t->name_len) || cur_u(c, 1, &dtype) || cur_u(c, 1, &n_dims))
        return -1;
    uint64_t bytes = dtype_size((int)(dtype & 0xff));
    if (dtype > 2 || bytes == 0 || n_dims < 1 || n_dims > LIC_LICW_MAX_DIMS)
        return -1;
    t->dtype = (int)dtype;
    t->n_dims = (int)n_dims;
    for (int i = 0; i < t->n_dims; i++) {
        if (cur_u(c, 4, &d) || d < 1)
            return -1;
        /* bytes <= blob_size <= SIZE_MAX at every step, so the product never wraps. */
        if (d > blob_size / bytes)
            return -1;
        bytes *= d;
        t->dims[i] = (int64_t)d;
    }
    if (cur_u(c, 8, &off) || off % LICW_ALIGN != 0 || off > blob_size || bytes > blob_size - off)
        return -1;
    t->data = blob + off;
    t->n_bytes = (size_t)bytes;
    sp->begin = off;
    sp->end = off + bytes;
    if (t->dtype == LIC_DTYPE_F32) {
        const uint8_t *b = blob + off;
        for (uint64_t i = 0; i < bytes; i += 4)
            if (!f32_bits_finite((uint32_t)load_le(b + i, 4)))
                return -1;
    }
    return 0;
}

static void *alloc_array(const lic_allocator *a, size_t n, size_t elem)
{
    return lic_mem_alloc_array(a, n ? n : 1, elem); /* a valid pointer for empty directories too */
}

int lic_licw_parse(lic_licw *out, const uint8_t *data, size_t size, const lic_allocator *alloc)
{
    if (!out || !alloc || !alloc->alloc || !alloc->free || (!data && size))
        return LIC_EINVAL;
    memset(out, 0, sizeof *out);
    if (!data || size < LICW_HEADER_SIZE)
        return LIC_EMODEL;
    if (((uintptr_t)data & (LICW_ALIGN - 1)) != 0)
        return LIC_EINVAL; /* API contract: tensors are read in place */

    if (memcmp(data, "LICW", 4) != 0)
        return LIC_EMODEL;
    uint64_t version = load_le(data + 4, 4);
    uint64_t n_kv = load_le(data + 8, 4);
    uint64_t n_tensors = load_le(data + 12, 4);
    uint64_t data_offset = load_le(data + 16, 8);
    uint64_t data_size = load_le(data + 24, 8);
    if (version != LICW_VERSION || n_kv > LICW_MAX_KV || n_tensors > LICW_MAX_TENSORS)
        return LIC_EMODEL;
    if (data_offset < LICW_HEADER_SIZE || data_offset % LICW_ALIGN != 0 || data_offset > size ||
        data_size != size - data_offset)
        return LIC_EMODEL;
    /* Bound the counts by the directory space before allocating anything. */
    uint64_t dir_space = data_offset - LICW_HEADER_SIZE;
    if (n_kv * LICW_MIN_KV_BYTES + n_tensors * LICW_MIN_TENSOR_BYTES > dir_space)
        return LIC_EMODEL;

    lic_licw_kv *kv = alloc_array(alloc, (size_t)n_kv, sizeof *kv);
    lic_licw_tensor *tensors = alloc_array(alloc, (size_t)n_tensors, sizeof *tensors);
    size_t n_tmp = (size_t)(n_kv > n_tensors ? n_kv : n_tensors);
    name_ref *names = alloc_array(alloc, n_tmp, sizeof *names);
    span *spans = alloc_array(alloc, (size_t)n_tensors, sizeof *spans);
    int ret = LIC_ENOMEM;
    if (!kv || !tensors || !names || !spans)
        goto fail;

    ret = LIC_EMODEL;
    cursor c = { data, LICW_HEADER_SIZE, (size_t)data_offset };
    const uint8_t *blob = data + data_offset;
    for (uint64_t i = 0; i < n_kv; i++)
        if (parse_kv(&c, &kv[i]))
            goto fail;
    for (uint64_t i = 0; i < n_tensors; i++)
        if (parse_tensor(&c, &tensors[i], blob, data_size, &spans[i]))
            goto fail;
    /* The rest of the directory region is zero padding. */
    for (size_t i = c.pos; i < c.end; i++)
        if (data[i] != 0)
            goto fail;

    for (uint64_t i = 0; i < n_kv; i++)
        names[i] = (name_ref){ kv[i].key, kv[i].key_len };
    if (names_unique(names, (size_t)n_kv))
        goto fail;
    for (uint64_t i = 0; i < n_tensors; i++)
        names[i] = (name_ref){ tensors[i].name, tensors[i].name_len };
    if (names_unique(names, (size_t)n_tensors))
        goto fail;
    if (n_tensors > 1) {
        sort_in_place(spans, (size_t)n_tensors, sizeof *spans, cmp_span);
        for (uint64_t i = 1; i < n_tensors; i++)
            if (spans[i].begin < spans[i - 1].end)
                goto fail;
    }

    lic_mem_free(alloc, names);
    lic_mem_free(alloc, spans);
    out->version = (uint32_t)version;
    out->n_kv = (uint32_t)n_kv;
    out->n_tensors = (uint32_t)n_tensors;
    out->kv = kv;
    out->tensors = tensors;
    out->fingerprint = lic_fnv1a64(data, size);
    return 0;

fail:
    lic_mem_free(alloc, kv);
    lic_mem_free(alloc, tensors);
    lic_mem_free(alloc, names);
    lic_mem_free(alloc, spans);
    return ret;
}

void lic_licw_release(lic_licw *f, const lic_allocator *alloc)
{
    if (!f)
        return;
    if (alloc && alloc->free) {
        lic_mem_free(alloc, f->kv);
        lic_mem_free(alloc, f->tensors);
    }
    memset(f, 0, sizeof *f);
}

static int name_eq(const char *s, size_t len, const char *key)
{
    size_t n = strlen(key);
    return n == len && memcmp(s, key, n) == 0;
}

const lic_licw_kv *lic_licw_find_kv(const lic_licw *f, const char *key)
{
    if (!f || !key)
        return NULL;
    for (uint32_t i = 0; i < f->n_kv; i++)
        if (name_eq(f->kv[i].key, f->kv[i].key_len, key))
            return &f->kv[i];
    return NULL;
}

const lic_licw_tensor *lic_licw_find_tensor(const lic_licw *f, const char *name)
{
    if (!f || !name)
        return NULL;
    for (uint32_t i = 0; i < f->n_tensors; i++)
        if (name_eq(f->tensors[i].name, f->tensors[i].name_len, name))
            return &f->tensors[i];
    return NULL;
}
