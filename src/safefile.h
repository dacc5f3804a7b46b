/* Opening files that decide who may log in: no symlinks, no FIFOs, checked on the open fd. */
#ifndef CSMS_SAFEFILE_H
#define CSMS_SAFEFILE_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* The file holds a secret: no group or other permission bits and a single link. */
#define CSMS_FILE_SECRET 0x1u

/*
 * Read the whole of `path` into a new NUL-terminated buffer after checking, on the
 * descriptor that was opened, that it is a regular file owned by root or the effective
 * uid, not writable by group or others, and at most `max` bytes.
 * Returns 0, or a negative errno (-ENOENT, -ELOOP, -EPERM, -EFBIG, -ENOMEM, ...) with
 * the reason in err. The caller frees *out (and wipes it first for secrets).
 */
int csms_file_read(const char *path, size_t max, unsigned flags, char **out, size_t *outlen,
		   char *err, size_t errlen);

/* The same, for `name` in the directory dirfd (not followed if a symbolic link); the file
 * read, when st is not NULL, in *st. */
int csms_file_read_at(int dirfd, const char *name, size_t max, unsigned flags, char **out,
		      size_t *outlen, struct stat *st, char *err, size_t errlen);

/*
 * The CA trust for the endpoint: the bundle `ca_file` (read like any other file, at most
 * 4 MiB, not empty) into *blob, and the directory `ca_path` checked like a file's parents.
 * Either may be NULL; *blob is NULL when only ca_path is given. 0 or a negative errno.
 */
int csms_ca_load(const char *ca_file, const char *ca_path, char **blob, size_t *len, char *err,
		 size_t errlen);

/* The same ownership and mode checks for a directory (ca_path). */
int csms_dir_check(const char *path, char *err, size_t errlen);

/* Open a directory with those checks, creating it with mkdir_mode (if not 0) when missing.
 * Returns an O_RDONLY descriptor or a negative errno. */
int csms_dir_open(const char *path, mode_t mkdir_mode, char *err, size_t errlen);

#endif
