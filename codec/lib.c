/* lic codec: public entry points that are not encoding or decoding — configuration, errors, models,
 * memory. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/default_model.h"
#include "codec/internal.h"
#include "util/log.h"
#include "util/mem.h"

const char *lic_strerror(int code)
{
    switch (code) {
    case LIC_OK: return "success";
    case LIC_EINVAL: return "invalid argument";
    case LIC_ENOMEM: return "out of memory";
    case LIC_EIO: return "input/output error";
    case LIC_EBITSTREAM: return "corrupt or truncated bitstream";
    case LIC_EMODEL: return "malformed or unsupported model file";
    case LIC_EMODEL_MISMATCH: return "bitstream was encoded with a different model";
    case LIC_EUNSUPPORTED: return "feature or backend not available";
    case LIC_EBACKEND: return "backend (device) failure";
    case LIC_EABI: return "library and header versions are incompatible";
    case LIC_ELIMIT: return "image exceeds the configured limits";
    default: return "unknown error";
    }
}

const char *lic_version_string(void)
{
    return LIC_VERSION_STRING;
}

int lic_config_init_abi(lic_config *cfg, uint32_t abi_version)
{
    if (!cfg)
        return LIC_EINVAL;
    if ((abi_version >> 8) != (LIC_ABI_VERSION >> 8))
        return LIC_EABI;
    memset(cfg, 0, sizeof(*cfg));
    cfg->abi_version = abi_version;
    cfg->backend = LIC_BACKEND_AUTO;
    cfg->max_side = 65535;
    cfg->max_pixels = (uint64_t)1 << 32;
    cfg->max_memory = (uint64_t)4 << 30;
    cfg->cpu_features = LIC_CPU_ALL;
    return LIC_OK;
}

int lic_config_check(const lic_config *cfg)
{
    if (!cfg)
        return LIC_OK;
    if ((cfg->abi_version >> 8) != (LIC_ABI_VERSION >> 8))
        return LIC_EABI;
    if (cfg->n_threads < 0 || cfg->max_side == 0 || cfg->max_pixels == 0 || (cfg->cpu_features & ~LIC_CPU_ALL))
        return LIC_EINVAL;
    const uint32_t et = cfg->entropy_tile;
    if (et != 0 && et != LIC_TILE_WHOLE && (et < 128 || et > 4096 || (et & (et - 1))))
        return LIC_EINVAL;
    return LIC_OK;
}

int lic_config_allocator(const lic_config *cfg, lic_allocator *a)
{
    int ret = lic_config_check(cfg);
    if (ret < 0)
        return ret;
    lic_mem_resolve(a, cfg ? &cfg->allocator : NULL);
    return LIC_OK;
}

/* ---- models ---- */

/* Largest model file accepted: far above any sensible model, far below what would exhaust memory. */
#define LIC_MAX_MODEL_BYTES ((uint64_t)1 << 31)

lic_model *lic_model_retain(lic_model *m)
{
    if (m)
        atomic_fetch_add(&m->refs, 1);
    return m;
}

void lic_model_release(lic_model **m)
{
    if (!m || !*m)
        return;
    lic_model *model = *m;
    *m = NULL;
    if (atomic_fetch_sub(&model->refs, 1) != 1)
        return;
    /* the allocator lives inside the block it frees: copy it out first */
    lic_allocator a = model->alloc;
    lic_licw_release(&model->file, &a);
    lic_mem_free(&a, model->owned_bytes);
    lic_mem_free(&a, model);
}

/* Builds a model over `bytes` (64-byte aligned). Takes ownership of `owned` (freed on failure too). */
static int model_create(lic_model **out, const uint8_t *bytes, size_t size, uint8_t *owned, const lic_config *cfg)
{
    lic_allocator a;
    lic_mem_resolve(&a, cfg ? &cfg->allocator : NULL);
    lic_model *m = lic_mem_alloc(&a, sizeof(*m));
    if (!m) {
        lic_mem_free(&a, owned);
        return LIC_ENOMEM;
    }
    memset(m, 0, sizeof(*m));
    atomic_init(&m->refs, 1);
    m->alloc = a;
    if (cfg)
        m->log = cfg->logger;
    m->owned_bytes = owned;
    m->bytes = bytes;
    m->size = size;
    int ret = lic_licw_parse(&m->file, bytes, size, &m->alloc);
    if (ret < 0) {
        lic_log(&m->log, LIC_LOG_ERROR, "model file: invalid container (%s)", lic_strerror(ret));
        lic_mem_free(&a, owned);
        lic_mem_free(&a, m);
        return ret;
    }
    if ((ret = lic_model_data_build(&m->data, &m->file, &m->log)) < 0) {
        lic_model_release(&m);
        return ret;
    }
    *out = m;
    return LIC_OK;
}

int lic_model_load_memory(lic_model **out, const void *data, size_t size, const lic_config *cfg)
{
    if (!out)
        return LIC_EINVAL;
    *out = NULL;
    if (!data)
        return LIC_EINVAL;
    lic_allocator a;
    int ret = lic_config_allocator(cfg, &a);
    if (ret < 0)
        return ret;
    if (size == 0 || size > LIC_MAX_MODEL_BYTES)
        return LIC_EMODEL;
    uint8_t *copy = lic_mem_alloc(&a, size);
    if (!copy)
        return LIC_ENOMEM;
    memcpy(copy, data, size);
    return model_create(out, copy, size, copy, cfg);
}

/* Reads a whole regular file into a buffer from the allocator hook (no stdio: its buffers would bypass
 * the hook). */
static int read_model_file(const char *path, const lic_allocator *a, uint8_t **out, size_t *size)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is then refused as not regular. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return LIC_EIO;
    struct stat st;
    int ret = LIC_EIO;
    uint8_t *buf = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto done;
    ret = LIC_EMODEL;
    if (st.st_size <= 0 || (uint64_t)st.st_size > LIC_MAX_MODEL_BYTES)
        goto done;
    ret = LIC_ENOMEM;
    if (!(buf = lic_mem_alloc(a, (size_t)st.st_size)))
        goto done;
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    ret = got == (size_t)st.st_size ? LIC_OK : LIC_EIO;
done:
    close(fd);
    if (ret < 0) {
        lic_mem_free(a, buf);
        return ret;
    }
    *out = buf;
    *size = got;
    return LIC_OK;
}

int lic_model_load_file(lic_model **out, const char *path, const lic_config *cfg)
{
    if (!out)
        return LIC_EINVAL;
    *out = NULL;
    if (!path)
        return LIC_EINVAL;
    lic_allocator a;
    int ret = lic_config_allocator(cfg, &a);
    if (ret < 0)
        return ret;
    uint8_t *buf;
    size_t size;
    if ((ret = read_model_file(path, &a, &buf, &size)) < 0)
        return ret;
    return model_create(out, buf, size, buf, cfg);
}

int lic_model_load_default(lic_model **out, const lic_config *cfg)
{
    if (!out)
        return LIC_EINVAL;
    *out = NULL;
    int ret = lic_config_check(cfg);
    if (ret < 0)
        return ret;
    return model_create(out, lic_default_model, lic_default_model_size, NULL, cfg);
}

int lic_model_get_info(const lic_model *m, lic_model_info *info)
{
    if (!m || !info)
        return LIC_EINVAL;
    info->fingerprint = m->file.fingerprint;
    info->arch = m->data.arch.name;
    info->n_channels_y = m->data.arch.M;
    info->n_channels_z = m->data.arch.N;
    return LIC_OK;
}

/* ---- memory ---- */

void lic_free(void *p)
{
    lic_mem_free_owned(p);
}

void lic_image_free(lic_image *img)
{
    if (!img)
        return;
    lic_mem_free_owned(img->data);
    memset(img, 0, sizeof(*img));
}
