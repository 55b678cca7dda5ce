/* apps: writing an output file without ever losing a user's file — checks made before any work
 * (not the input, writable, a directory that exists) and atomic replacement through a temporary file
 * that keeps the replaced file's permissions. */
#ifndef LIC_APPS_OUTPUT_H
#define LIC_APPS_OUTPUT_H

#include <stddef.h>
#include <stdio.h>

/* 1 if path names standard output: "-" or "/dev/stdout". */
int app_out_is_stdout(const char *path);

/* 1 if a and b name the same existing file (same device and inode, through symbolic and hard
 * links); "-" stands for standard input in a and for standard output in b. */
int app_same_file(const char *in, const char *out);

/* Checks, before any work, that `path` may be written: not empty, not one of the n input files,
 * not a directory, its directory exists and is writable, and an existing file there is writable by
 * this user. Standard output, devices and pipes pass (they are written in place).
 * Returns 0, APP_EXIT_USAGE (empty name, an input file) or APP_EXIT_IO, with msg filled. */
int app_out_check(const char *path, const char *const *inputs, size_t n_inputs, char *msg, size_t msg_size);

/* An output being written. For a regular file path, bytes go to a temporary file created next to
 * the target (same directory, so rename() is atomic) and the target is replaced only by
 * app_out_commit; every failure path removes the temporary file, also on SIGINT/SIGTERM/SIGHUP.
 * An existing target keeps its permission bits (and owner and group, where the process may set
 * them); one this user may not write is refused, not replaced. A symbolic link is followed: its
 * target is replaced, the link stays. "-" and /dev/stdout write standard output; an existing
 * non-regular target (/dev/null, a FIFO, a terminal) is written in place, since it cannot be
 * replaced. */
typedef struct app_out {
    FILE *f;
    char *target; /* malloc'd copy of the path; NULL for stdout */
    char *tmp;    /* malloc'd temporary path; NULL when writing in place */
} app_out;

/* Returns 0 or an APP_EXIT_* code with msg filled. */
int app_out_open(app_out *o, const char *path, char *msg, size_t msg_size);
/* Flushes, syncs, closes and renames over the target. On failure the target is untouched, the
 * temporary file removed, and an APP_EXIT_* code returned. */
int app_out_commit(app_out *o, char *msg, size_t msg_size);
/* Abandons the output: closes and removes the temporary file. Safe to call twice. */
void app_out_abort(app_out *o);

/* open + write all bytes + commit. */
int app_out_write_all(const char *path, const void *data, size_t size, char *msg, size_t msg_size);

#endif /* LIC_APPS_OUTPUT_H */
