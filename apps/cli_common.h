/* apps: what lic-encode, lic-decode and lic-eval share — exit codes, status mapping, a small option
 * parser, the library options (--model, --threads, --max-memory, --backend), a stderr logger for the
 * library and atomic ("never a partial file") output. */
#ifndef LIC_APPS_CLI_COMMON_H
#define LIC_APPS_CLI_COMMON_H

#include <stddef.h>
#include <stdio.h>

#include <lic/codec.h>

/* Process exit codes. Documented in every tool's --help; scripts depend on them: never renumber. */
enum app_exit {
    APP_EXIT_OK = 0,
    APP_EXIT_USAGE = 1,   /* bad command line */
    APP_EXIT_IO = 2,      /* cannot read an input or write the output */
    APP_EXIT_INVALID = 3, /* invalid or corrupt input: bad image, corrupt .lic, alpha without --drop-alpha */
    APP_EXIT_LIMIT = 4,   /* the image exceeds a size or memory limit */
    APP_EXIT_MODEL = 5,   /* malformed model file, or the stream was made with another model */
    APP_EXIT_FAILURE = 6, /* anything else: out of memory, backend unavailable, internal error */
};

/* The --help paragraph listing the codes above. */
#define APP_EXIT_HELP                                                                              \
    "Exit status:\n"                                                                                \
    "  0  success\n"                                                                                \
    "  1  usage error (bad option or argument)\n"                                                   \
    "  2  I/O error (cannot read an input, model or write the output)\n"                            \
    "  3  invalid or corrupt input (bad image file, corrupt .lic, alpha without --drop-alpha)\n"    \
    "  4  size or memory limit exceeded\n"                                                          \
    "  5  model error (malformed model file, or the stream was made with another model)\n"          \
    "  6  other failure (out of memory, backend unavailable, internal error)\n"

/* Exit code for a lic_status (LIC_OK -> 0). */
int app_exit_from_lic(int status);
/* Exit code for an app_img_status (image_io.h). */
int app_exit_from_img(int status);

/* Prints "<prog>: <formatted message>\n" to stderr. */
void app_err(const char *prog, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* lic_logger callback: prints "lic: <level>: <msg>" to stderr. opaque is unused. */
void app_log_stderr(void *opaque, int level, const char *msg);

/* ---- option parsing ------------------------------------------------------------------------- */

typedef struct app_opt {
    const char *long_name; /* without "--"; NULL ends the table */
    char short_name;       /* 0 if none */
    int has_arg;
    int id;                /* > 0 */
} app_opt;

typedef struct app_args {
    int argc;
    char **argv;
    int i;          /* next argv index */
    int cluster;    /* position inside a "-abc" cluster, 0 if none */
    int positional; /* after "--" every argument is positional */
} app_args;

#define APP_OPT_END 0
#define APP_OPT_POSITIONAL (-1)
#define APP_OPT_ERROR (-2)

void app_args_init(app_args *a, int argc, char **argv);
/* Returns the next option id with *arg its value (or NULL), APP_OPT_POSITIONAL with *arg the
 * argument, APP_OPT_END, or APP_OPT_ERROR with msg filled. Accepts -x V, -xV, -xyz, --name V,
 * --name=V and "--"; "-" alone is positional. */
int app_next_opt(app_args *a, const app_opt *opts, const char **arg, char *msg, size_t msg_size);

/* Parses a whole decimal integer in [min, max]; returns 0 or -1. */
int app_parse_int(const char *s, long min, long max, long *out);
/* "cpu", "cuda", "auto" -> the backend; returns 0 or -1. */
int app_parse_backend(const char *s, lic_backend_kind *out);

/* Prints "<prog>: <what>" and "Try '<prog> --help'." to stderr; returns APP_EXIT_USAGE. */
int app_usage_error(const char *prog, const char *what);

/* Monotonic wall clock in seconds (for stage and total times). */
double app_now(void);

/* ---- library options: --model, --threads, --max-memory, --backend ---------------------------- */

/* Their option ids: a tool numbers its own options from 1, so these start well above. */
enum { APP_LIB_OPT_MODEL = 0x100, APP_LIB_OPT_THREADS, APP_LIB_OPT_MAX_MEMORY, APP_LIB_OPT_BACKEND };

/* Their rows, for a tool's app_opt table. */
#define APP_LIB_OPT_ROWS                                                                           \
    {"model", 0, 1, APP_LIB_OPT_MODEL}, {"threads", 0, 1, APP_LIB_OPT_THREADS},                    \
        {"max-memory", 0, 1, APP_LIB_OPT_MAX_MEMORY}, {"backend", 0, 1, APP_LIB_OPT_BACKEND}

/* Their --help lines (the "Options:" column layout of every tool). */
#define APP_LIB_OPT_HELP                                                                           \
    "      --model FILE    .licw model file; default: the model built into the library\n"           \
    "      --threads N     worker threads, 0 = all cores; default 0\n"                              \
    "      --max-memory MB refuse images whose estimated working memory exceeds MB\n"               \
    "                      megabytes, before allocating; 0 = no cap; default 4096\n"                \
    "      --backend B     cpu, cuda or auto; default auto (CUDA if usable, else CPU)\n"

typedef struct app_lib_opts {
    const char *model_path;   /* --model; NULL = the model built into the library */
    long threads;             /* --threads; 0 = all cores */
    long max_memory_mb;       /* --max-memory in megabytes; -1 = not given (library default) */
    lic_backend_kind backend; /* --backend */
} app_lib_opts;

#define APP_LIB_OPTS_INIT {NULL, 0, -1, LIC_BACKEND_AUTO}

/* For an APP_LIB_OPT_* id: stores arg and returns 1, or returns -1 with *bad set to the usage
 * message when arg is invalid. Returns 0 (nothing touched) for any other id. */
int app_lib_opts_parse(app_lib_opts *o, int id, const char *arg, const char **bad);

/* lic-encode/lic-decode mapping of the -v count to the library's log level: warnings by default,
 * -v info, -vv debug. */
int app_log_level(int verbose);

/* lic_config_init, then the options and the stderr logger at log_level (a LIC_LOG_* value).
 * Returns 0, or prints "<prog>: cannot initialize the library: ..." and returns the exit code. */
int app_lib_config(const char *prog, const app_lib_opts *o, int log_level, lic_config *cfg);

/* Loads the --model file, or the built-in model. On failure prints why and returns the exit code. */
int app_load_model(const char *prog, const app_lib_opts *o, const lic_config *cfg, lic_model **model);

/* Prints the stream sizes and the hashes of the coded symbols and of the entropy parameters (means,
 * scale indexes): equal hashes from lic-encode -v and lic-decode -v prove the decoder reproduced
 * exactly what the encoder coded. */
void app_print_coding_stats(const char *prog, const lic_stats *st);

#endif /* LIC_APPS_CLI_COMMON_H */
