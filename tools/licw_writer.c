/* lic tools: .licw writer (see licw_writer.h). All integers are stored little-endian byte by byte,
 * so the output does not depend on the host; tensor element data is taken in host order, which the
 * format (and the reader, which uses it in place) requires to be little-endian. */
#include "tools/licw_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 64u

typedef struct wkv {
    char *key;
    int type;
    int64_t i;
    double f;
    char *s;
    size_t s_len;
} wkv;

typedef struct wtensor {
    char *name;
    int dtype, n_dims;
    uint32_t dims[LIC_LICW_MAX_DIMS];
    uint8_t *data;
    size_t n_bytes;
} wtensor;

struct lic_licw_writer {
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
};

lic_licw_writer *lic_licw_writer_new(void)
{
    return calloc(1, sizeof(lic_licw_writer));
}

void lic_licw_writer_free(lic_licw_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].s);
    }
    for (size_t i = 0; i < w->n_t; i++) {
        free(w->t[i].name);
        free(w->t[i].data);
    }
    free(w->kv);
    free(w->t);
    free(w);
}

static char *dup_bytes(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        if (n)
            memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, c * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = c;
    return 0;
}

static wkv *new_kv(lic_licw_writer *w, const char *key, int type)
{
    size_t n = strlen(key);
    if (n < 1 || n > 255 || grow((void **)&w->kv, &w->cap_kv, w->n_kv, sizeof *w->kv))
        return NULL;
    wkv *kv = &w->kv[w->n_kv];
    memset(kv, 0, sizeof *kv);
    if (!(kv->key = dup_bytes(key, n)))
        return NULL;
    kv->type = type;
    w->n_kv++;
    return kv;
}

int lic_licw_writer_kv_int(lic_licw_writer *w, const char *key, int64_t v)
{
    wkv *kv = new_kv(w, key, LIC_KV_INT);
    if (!kv)
        return -1;
    kv->i = v;
    return 0;
}

int lic_licw_writer_kv_float(lic_licw_writer *w, const char *key, double v)
{
    wkv *kv = new_kv(w, key, LIC_KV_FLOAT);
    if (!kv)
        return -1;
    kv->f = v;
    return 0;
}

int lic_licw_writer_kv_string(lic_licw_writer *w, const char *key, const char *s, size_t len)
{
    if (len > 65536)
        return -1;
    char *copy = dup_bytes(s, len);
    if (!copy)
        return -1;
    wkv *kv = new_kv(w, key, LIC_KV_STRING);
    if (!kv) {
        free(copy);
        return -1;
    }
    kv->s = copy;
    kv->s_len = len;
    return 0;
}

static size_t elem_size(int dtype)
{
    return dtype == LIC_DTYPE_I16 ? 2 : (dtype == LIC_DTYPE_F32 || dtype == LIC_DTYPE_I32) ? 4 : 0;
}

int lic_licw_writer_tensor(lic_licw_writer *w, const char *name, int dtype, int n_dims,
                           const int64_t *dims, const void *data)
{
    size_t nl = strlen(name), bytes = elem_size(dtype);
    if (nl < 1 || nl > 255 || bytes == 0 || n_dims < 1 || n_dims > LIC_LICW_MAX_DIMS)
        return -1;
    wtensor t = { 0 };
    t.dtype = dtype;
    t.n_dims = n_dims;
    for (int i = 0; i < n_dims; i++) {
        if (dims[i] < 1 || dims[i] > UINT32_MAX || (size_t)dims[i] > SIZE_MAX / bytes)
            return -1;
        t.dims[i] = (uint32_t)dims[i];
        bytes *= (size_t)dims[i];
    }
    if (grow((void **)&w->t, &w->cap_t, w->n_t, sizeof *w->t))
        return -1;
    t.name = dup_bytes(name, nl);
    t.data = data ? malloc(bytes) : calloc(1, bytes);
    if (!t.name || !t.data) {
        free(t.name);
        free(t.data);
        return -1;
    }
    if (data)
        memcpy(t.data, data, bytes);
    t.n_bytes = bytes;
    w->t[w->n_t++] = t;
    return 0;
}

void *lic_licw_writer_tensor_data(lic_licw_writer *w, const char *name)
{
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return w->t[i].data;
    return NULL;
}

int lic_licw_writer_remove_kv(lic_licw_writer *w, const char *key)
{
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0) {
            free(w->kv[i].key);
            free(w->kv[i].s);
            memmove(&w->kv[i], &w->kv[i + 1], (w->n_kv - i - 1) * sizeof *w->kv);
            w->n_kv--;
            return 0;
        }
    return -1;
}

int lic_licw_writer_remove_tensor(lic_licw_writer *w, const char *name)
{
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0) {
            free(w->t[i].name);
            free(w->t[i].data);
            memmove(&w->t[i], &w->t[i + 1], (w->n_t - i - 1) * sizeof *w->t);
            w->n_t--;
            return 0;
        }
    return -1;
}

int lic_licw_writer_copy(lic_licw_writer *w, const lic_licw *f)
{
    char name[256];
    for (uint32_t i = 0; i < f->n_kv; i++) {
        const lic_licw_kv *kv = &f->kv[i];
        memcpy(name, kv->key, kv->key_len);
        name[kv->key_len] = 0;
        int r = kv->type == LIC_KV_INT     ? lic_licw_writer_kv_int(w, name, kv->i)
                : kv->type == LIC_KV_FLOAT ? lic_licw_writer_kv_float(w, name, kv->f)
                                           : lic_licw_writer_kv_string(w, name, kv->s, kv->s_len);
        if (r)
            return -1;
    }
    for (uint32_t i = 0; i < f->n_tensors; i++) {
        const lic_licw_tensor *t = &f->tensors[i];
        memcpy(name, t->name, t->name_len);
        name[t->name_len] = 0;
        if (lic_licw_writer_tensor(w, name, t->dtype, t->n_dims, t->dims, t->data))
            return -1;
    }
    return 0;
}

/* ---- serialization ---- */

static size_t align_up(size_t v) { return (v + ALIGN - 1) / ALIGN * ALIGN; }

static uint8_t *put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return p + n;
}

static size_t kv_size(const wkv *kv)
{
    size_t n = 2 + strlen(kv->key) + 1;
    return n + (kv->type == LIC_KV_STRING ? 4 + kv->s_len : 8);
}

int lic_licw_writer_serialize(const lic_licw_writer *w, uint8_t **out, size_t *size)
{
    size_t dir = 32;
    for (size_t i = 0; i < w->n_kv; i++)
        dir += kv_size(&w->kv[i]);
    for (size_t i = 0; i < w->n_t; i++)
        dir += 2 + strlen(w->t[i].name) + 2 + 4 * (size_t)w->t[i].n_dims + 8;
    size_t data_offset = align_up(dir), blob = 0;
    for (size_t i = 0; i < w->n_t; i++)
        blob = align_up(blob) + w->t[i].n_bytes;
    size_t total = data_offset + blob;
    /* aligned_alloc wants a multiple of the alignment; the extra bytes are not part of the file. */
    uint8_t *buf = aligned_alloc(ALIGN, align_up(total ? total : 1));
    if (!buf)
        return -1;
    memset(buf, 0, align_up(total ? total : 1));

    uint8_t *p = buf;
    memcpy(p, "LICW", 4);
    p = put_le(p + 4, 1, 4);
    p = put_le(p, w->n_kv, 4);
    p = put_le(p, w->n_t, 4);
    p = put_le(p, data_offset, 8);
    p = put_le(p, blob, 8);
    for (size_t i = 0; i < w->n_kv; i++) {
        const wkv *kv = &w->kv[i];
        size_t n = strlen(kv->key);
        p = put_le(p, n, 2);
        memcpy(p, kv->key, n);
        p = put_le(p + n, (uint64_t)kv->type, 1);
        if (kv->type == LIC_KV_INT) {
            p = put_le(p, (uint64_t)kv->i, 8);
        } else if (kv->type == LIC_KV_FLOAT) {
            uint64_t bits;
            memcpy(&bits, &kv->f, 8);
            p = put_le(p, bits, 8);
        } else {
            p = put_le(p, kv->s_len, 4);
            if (kv->s_len)
                memcpy(p, kv->s, kv->s_len);
            p += kv->s_len;
        }
    }
    size_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        size_t n = strlen(t->name);
        off = align_up(off);
        p = put_le(p, n, 2);
        memcpy(p, t->name, n);
        p = put_le(p + n, (uint64_t)t->dtype, 1);
        p = put_le(p, (uint64_t)t->n_dims, 1);
        for (int d = 0; d < t->n_dims; d++)
            p = put_le(p, t->dims[d], 4);
        p = put_le(p, off, 8);
        memcpy(buf + data_offset + off, t->data, t->n_bytes);
        off += t->n_bytes;
    }
    *out = buf;
    *size = total;
    return 0;
}

int lic_licw_writer_save(const lic_licw_writer *w, const char *path)
{
    uint8_t *buf;
    size_t size;
    if (lic_licw_writer_serialize(w, &buf, &size))
        return -1;
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 5);
    if (!tmp) {
        free(buf);
        return -1;
    }
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp", 5);
    FILE *fp = fopen(tmp, "wb");
    int ok = fp && fwrite(buf, 1, size, fp) == size;
    if (fp && fclose(fp) != 0)
        ok = 0;
    if (ok && rename(tmp, path) != 0)
        ok = 0;
    if (!ok)
        remove(tmp);
    free(tmp);
    free(buf);
    return ok ? 0 : -1;
}
