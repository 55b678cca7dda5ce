/* lic tools: writer of .licw model files (docs/FORMAT.md §1.1), for lic-mkmodel and for tests that
 * build valid or deliberately broken files in memory. Offline code: it uses malloc/free, not the
 * library allocator.
 *
 * The writer keeps key/values and tensors in insertion order and serializes them canonically:
 * header, key/values, tensor entries, zero padding to a multiple of 64, then each tensor's bytes at
 * the next multiple of 64 (zero padding between). The same calls always give the same bytes. */
#ifndef LIC_TOOLS_LICW_WRITER_H
#define LIC_TOOLS_LICW_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "codec/licw.h"

typedef struct lic_licw_writer lic_licw_writer;

/* Returns a new empty writer, or NULL when out of memory. Free with lic_licw_writer_free. */
lic_licw_writer *lic_licw_writer_new(void);
void lic_licw_writer_free(lic_licw_writer *w);

/* Appends a key/value (the key is copied; duplicates are not checked, so tests can write them).
 * Return 0 or -1 (out of memory, or a key/string longer than the format allows). */
int lic_licw_writer_kv_int(lic_licw_writer *w, const char *key, int64_t v);
int lic_licw_writer_kv_float(lic_licw_writer *w, const char *key, double v);
int lic_licw_writer_kv_string(lic_licw_writer *w, const char *key, const char *s, size_t len);

/* Appends a tensor; copies the name and dims[0..n_dims-1] and the element data (host little-endian
 * layout, product(dims) elements of the dtype; `data` NULL gives zeros). Returns 0 or -1. */
int lic_licw_writer_tensor(lic_licw_writer *w, const char *name, int dtype, int n_dims,
                           const int64_t *dims, const void *data);

/* Mutable access to a tensor's element data (NULL if absent), for tests that corrupt values. */
void *lic_licw_writer_tensor_data(lic_licw_writer *w, const char *name);
/* Removes the key/value or tensor `name`; returns 0, or -1 if absent. */
int lic_licw_writer_remove_kv(lic_licw_writer *w, const char *key);
int lic_licw_writer_remove_tensor(lic_licw_writer *w, const char *name);

/* Copies every key/value and tensor of a parsed file into an empty writer, in file order, so a test
 * can modify one entry and write the file again. Returns 0 or -1. */
int lic_licw_writer_copy(lic_licw_writer *w, const lic_licw *f);

/* Serializes into a new buffer (malloc'd, 64-byte aligned: release with free()). Returns 0 or -1. */
int lic_licw_writer_serialize(const lic_licw_writer *w, uint8_t **out, size_t *size);

/* Serializes and writes `path` through a temporary file renamed into place, so a failed run never
 * leaves a partial file. Returns 0 or -1. */
int lic_licw_writer_save(const lic_licw_writer *w, const char *path);

#endif /* LIC_TOOLS_LICW_WRITER_H */
