/* lic codec: private definitions of the public opaque types. */
#ifndef LIC_CODEC_INTERNAL_H
#define LIC_CODEC_INTERNAL_H

#include <stdatomic.h>

#include "codec/licw.h"
#include "codec/model.h"
#include "lic/codec.h"

struct lic_model {
    atomic_int refs;          /* the caller's reference plus one per open encoder/decoder */
    lic_allocator alloc;
    lic_logger log;
    uint8_t *owned_bytes;     /* the file copy; NULL for the embedded model, which is used in place */
    const uint8_t *bytes;
    size_t size;
    lic_licw file;
    lic_model_data data;
};

/* Checks the ABI field of a config (NULL is allowed and means defaults). */
int lic_config_check(const lic_config *cfg);

/* lic_config_check, then the config's allocator hook resolved into *a (defaults where cfg is NULL or
 * leaves a hook unset): the opening of every call that allocates before it has an object of its own to
 * keep the config in. *a is untouched on failure. */
int lic_config_allocator(const lic_config *cfg, lic_allocator *a);

#endif /* LIC_CODEC_INTERNAL_H */
