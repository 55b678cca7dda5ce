/* lic codec: the default model, built into the library. The build generates its definition from the
 * .licw file with tools/lic_embed.c (codec/CMakeLists.txt says which file). */
#ifndef LIC_CODEC_DEFAULT_MODEL_H
#define LIC_CODEC_DEFAULT_MODEL_H

#include <stddef.h>
#include <stdint.h>

/* The whole .licw file, 64-byte aligned as the .licw parser requires of its buffer. */
extern const uint8_t lic_default_model[];
extern const size_t lic_default_model_size;

#endif /* LIC_CODEC_DEFAULT_MODEL_H */
