/* apps: shared CLI helpers. See cli_common.h. */
#include "apps/cli_common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apps/image_io.h"
#include "apps/notes.h"

int app_exit_from_lic(int status)
{
    switch (status) {
    case LIC_OK: return APP_EXIT_OK;
    case LIC_EIO: return APP_EXIT_IO;
    case LIC_EBITSTREAM: return APP_EXIT_INVALID;
    case LIC_ELIMIT: return APP_EXIT_LIMIT;
    case LIC_EMODEL:
    case LIC_EMODEL_MISMATCH: return APP_EXIT_MODEL;
    default: return APP_EXIT_FAILURE; /* EINVAL (our bug), ENOMEM, EUNSUPPORTED, EBACKEND, EABI */
    }
}

int app_exit_from_img(int status)
{
    switch (status) {
    case APP_IMG_OK: return APP_EXIT_OK;
    case APP_IMG_EIO: return APP_EXIT_IO;
    case APP_IMG_ECORRUPT:
    case APP_IMG_EALPHA:
    case APP_IMG_EUNSUPPORTED: return APP_EXIT_INVALID; /* the file is not one we can use */
    case APP_IMG_ELIMIT: return APP_EXIT_LIMIT;
    default: return APP_EXIT_FAILURE;
    }
}

void app_err(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void app_log_stderr(void *opaque, int level, const char *msg)
{
    (void)opaque;
    static const char *const names[] = {"error", "warning", "info", "debug"};
    const char *name = level >= 0 && level <= 3 ? names[level] : "log";
    /* One fprintf per line: stdio locks the stream, so lines from library threads do not mix. */
    fprintf(stderr, "lic: %s: %s\n", name, msg ? msg : "");
}

/* ---- option parsing ----------------------------------------------------------------------------- */

void app_args_init(app_args *a, int argc, char **argv)
{
    a->argc = argc;
    a->argv = argv;
    a->i = 1;
    a->cluster = 0;
    a->positional = 0;
}

int app_next_opt(app_args *a, const app_opt *opts, const char **arg, char *msg, size_t msg_size)
{
    *arg = NULL;
    if (a->cluster) { /* continue "-abc" */
        const char *s = a->argv[a->i];
        char c = s[a->cluster];
        const app_opt *o = opts;
        while (o->long_name && o->short_name != c)
            o++;
        if (!o->long_name) {
            snprintf(msg, msg_size, "unknown option '-%c'", c);
            return APP_OPT_ERROR;
        }
        a->cluster++;
        if (o->has_arg) {
            if (s[a->cluster]) { /* -q75 */
                *arg = s + a->cluster;
            } else if (a->i + 1 < a->argc) { /* -q 75 */
                *arg = a->argv[++a->i];
            } else {
                snprintf(msg, msg_size, "option '-%c' needs an argument", c);
                return APP_OPT_ERROR;
            }
            a->cluster = 0;
            a->i++;
        } else if (!s[a->cluster]) {
            a->cluster = 0;
            a->i++;
        }
        return o->id;
    }
    if (a->i >= a->argc)
        return APP_OPT_END;
    const char *s = a->argv[a->i];
    if (a->positional || s[0] != '-' || s[1] == '\0') { /* "-" is stdin/stdout */
        *arg = s;
        a->i++;
        return APP_OPT_POSITIONAL;
    }
    if (s[1] != '-') {
        a->cluster = 1;
        return app_next_opt(a, opts, arg, msg, msg_size);
    }
    if (s[2] == '\0') { /* "--" */
        a->positional = 1;
        a->i++;
        return app_next_opt(a, opts, arg, msg, msg_size);
    }
    const char *name = s + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const app_opt *o = opts;
    while (o->long_name && (strlen(o->long_name) != len || strncmp(o->long_name, name, len)))
        o++;
    if (!o->long_name) {
        snprintf(msg, msg_size, "unknown option '--%.*s'", (int)len, name);
        return APP_OPT_ERROR;
    }
    a->i++;
    if (o->has_arg) {
        if (eq) {
            *arg = eq + 1;
        } else if (a->i < a->argc) {
            *arg = a->argv[a->i++];
        } else {
            snprintf(msg, msg_size, "option '--%s' needs an argument", o->long_name);
            return APP_OPT_ERROR;
        }
    } else if (eq) {
        snprintf(msg, msg_size, "option '--%s' takes no argument", o->long_name);
        return APP_OPT_ERROR;
    }
    return o->id;
}

int app_parse_int(const char *s, long min, long max, long *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int app_parse_backend(const char *s, lic_backend_kind *out)
{
    if (!strcmp(s, "cpu"))
        *out = LIC_BACKEND_CPU;
    else if (!strcmp(s, "cuda"))
        *out = LIC_BACKEND_CUDA;
    else if (!strcmp(s, "auto"))
        *out = LIC_BACKEND_AUTO;
    else
        return -1;
    return 0;
}

int app_usage_error(const char *prog, const char *what)
{
    app_err(prog, "%s", what);
    fprintf(stderr, "Try '%s --help'.\n", prog);
    return APP_EXIT_USAGE;
}

double app_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- library options ---------------------------------------------------------------------------- */

int app_lib_opts_parse(app_lib_opts *o, int id, const char *arg, const char **bad)
{
    switch (id) {
    case APP_LIB_OPT_MODEL: o->model_path = arg; return 1;
    case APP_LIB_OPT_THREADS:
        if (app_parse_int(arg, 0, 1024, &o->threads)) {
            *bad = "--threads must be an integer from 0 to 1024";
            return -1;
        }
        return 1;
    case APP_LIB_OPT_MAX_MEMORY:
        /* 2^24 MB = 16 TiB: far above any real cap, and << 20 still fits in 64 bits. */
        if (app_parse_int(arg, 0, 1L << 24, &o->max_memory_mb)) {
            *bad = "--max-memory must be a number of megabytes from 0 to 16777216";
            return -1;
        }
        return 1;
    case APP_LIB_OPT_BACKEND:
        if (app_parse_backend(arg, &o->backend)) {
            *bad = "--backend must be cpu, cuda or auto";
            return -1;
        }
        return 1;
    default: return 0;
    }
}

int app_log_level(int verbose)
{
    return verbose >= 2 ? LIC_LOG_DEBUG : verbose ? LIC_LOG_INFO : LIC_LOG_WARN;
}

int app_lib_config(const char *prog, const app_lib_opts *o, int log_level, lic_config *cfg)
{
    int r = lic_config_init(cfg);
    if (r) {
        app_err(prog, "cannot initialize the library: %s", lic_strerror(r));
        return app_exit_from_lic(r);
    }
    cfg->n_threads = (int)o->threads;
    if (o->max_memory_mb >= 0)
        cfg->max_memory = (uint64_t)o->max_memory_mb << 20;
    cfg->backend = o->backend;
    cfg->logger.callback = app_log_stderr;
    cfg->logger.max_level = log_level;
    return APP_EXIT_OK;
}

int app_load_model(const char *prog, const app_lib_opts *o, const lic_config *cfg, lic_model **model)
{
    int r = o->model_path ? lic_model_load_file(model, o->model_path, cfg) : lic_model_load_default(model, cfg);
    if (!r)
        return APP_EXIT_OK;
    /* The library says only "I/O error"; the OS knows which: no such file, no permission, ... */
    const char *why = r == LIC_EIO && o->model_path ? app_unreadable_reason(o->model_path) : NULL;
    if (o->model_path)
        app_err(prog, "cannot load model '%s': %s", o->model_path, why ? why : lic_strerror(r));
    else
        app_err(prog, "cannot load the built-in model: %s", lic_strerror(r));
    return app_exit_from_lic(r);
}

void app_print_coding_stats(const char *prog, const lic_stats *st)
{
    fprintf(stderr, "%s: streams: z %zu bytes, y %zu bytes; %llu symbols, symbols hash %016llx, params hash %016llx\n",
            prog, st->stream_bytes[0], st->stream_bytes[1], (unsigned long long)st->n_symbols,
            (unsigned long long)st->symbols_hash, (unsigned long long)st->params_hash);
}
