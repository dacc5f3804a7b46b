/* Opening files that decide who may log in: no symlinks, no FIFOs, checked on the open fd. */
#include "buildconf.h"

#include "safefile.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CA_FILE_MAX ((size_t)4 * 1024 * 1024)

static int open_error(const char *path, int e, char *err, size_t errlen)
{
	switch (e) {
	case ENOENT:
		csms_errf(err, errlen, "%s: file not found", path);
		break;
	case ELOOP:
		csms_errf(err, errlen, "%s: is a symbolic link; point to the real file", path);
		break;
	case EACCES:
		csms_errf(err, errlen, "%s: permission denied", path);
		break;
	case ENOTDIR:
		csms_errf(err, errlen, "%s: a parent is not a directory", path);
		break;
	default:
		csms_errf(err, errlen, "%s: cannot open: %s", path, strerror(e));
		break;
	}
	return -e;
}

static int check_owner_mode(const char *path, const struct stat *st, unsigned flags, char *err,
			    size_t errlen)
{
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		csms_errf(err, errlen, "%s: owned by uid %lu; it must be owned by root", path,
			  (unsigned long)st->st_uid);
		return -EPERM;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		csms_errf(err, errlen,
			  "%s: writable by group or others (mode %04o); run chmod go-w", path,
			  (unsigned)(st->st_mode & 07777));
		return -EPERM;
	}
	if ((flags & CSMS_FILE_SECRET) && (st->st_mode & (S_IRWXG | S_IRWXO))) {
		csms_errf(err, errlen, "%s: readable by group or others (mode %04o); run chmod 600",
			  path, (unsigned)(st->st_mode & 07777));
		return -EPERM;
	}
	if ((flags & CSMS_FILE_SECRET) && S_ISREG(st->st_mode) && st->st_nlink != 1) {
		csms_errf(err, errlen, "%s: has %lu hard links; it must have exactly one", path,
			  (unsigned long)st->st_nlink);
		return -EPERM;
	}
	return 0;
}

/*
 * Open `path` walking down from "/", refusing any directory on the way that someone other
 * than root (or the effective uid) could change: not owned by them, or writable by group or
 * others without the sticky bit. The last component is opened with `oflags` (O_NOFOLLOW);
 * with mkdir_mode, a missing last component is first created as a directory.
 * Returns the fd or a negative errno.
 */
static int open_checked_path(const char *path, int oflags, mode_t mkdir_mode, char *err,
			     size_t errlen)
{
	char buf[PATH_MAX];
	char *p, *slash;
	int dirfd, fd, e;

	if (strlen(path) >= sizeof(buf)) {
		csms_errf(err, errlen, "%.64s...: path too long", path);
		return -ENAMETOOLONG;
	}
	csms_strlcpy(buf, path, sizeof(buf));
	dirfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return open_error("/", errno, err, errlen);
	for (p = buf + 1;; p = slash + 1) {
		struct stat st;
		int len = p - buf > 1 ? (int)(p - buf - 1) : 1; /* the directory p is in */

		if (fstat(dirfd, &st) != 0) {
			e = errno;
			close(dirfd);
			return open_error(path, e, err, errlen);
		}
		if (st.st_uid != 0 && st.st_uid != geteuid()) {
			csms_errf(err, errlen, "%s: directory %.*s is owned by uid %lu, not root",
				  path, len, buf, (unsigned long)st.st_uid);
			close(dirfd);
			return -EPERM;
		}
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
			csms_errf(
				err, errlen,
				"%s: directory %.*s is writable by group or others; run chmod go-w",
				path, len, buf);
			close(dirfd);
			return -EPERM;
		}
		slash = strchr(p, '/');
		if (slash == NULL)
			break;
		*slash = '\0';
		/* symbolic links on the way are followed; each directory they lead to is checked */
		fd = *p ? openat(dirfd, p, O_PATH | O_DIRECTORY | O_CLOEXEC)
			: fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
		e = errno;
		*slash = '/';
		if (fd < 0) {
			close(dirfd);
			return open_error(path, e, err, errlen);
		}
		close(dirfd);
		dirfd = fd;
	}
	fd = openat(dirfd, p, oflags);
	e = errno;
	if (fd < 0 && e == ENOENT && mkdir_mode != 0 && *p != '\0') {
		if (mkdirat(dirfd, p, mkdir_mode) == 0 || errno == EEXIST)
			fd = openat(dirfd, p, oflags);
		e = errno;
	}
	close(dirfd);
	if (fd >= 0)
		return fd;
	if (e == ENOTDIR && (oflags & O_DIRECTORY)) {
		csms_errf(err, errlen, "%s: not a directory (or a symbolic link)", path);
		return -ENOTDIR;
	}
	return open_error(path, e, err, errlen);
}

static int read_checked(int fd, const char *path, size_t max, unsigned flags, char **out,
			size_t *outlen, struct stat *st, char *err, size_t errlen);

int csms_file_read(const char *path, size_t max, unsigned flags, char **out, size_t *outlen,
		   char *err, size_t errlen)
{
	int fd;

	*out = NULL;
	*outlen = 0;
	if (path == NULL || path[0] != '/') {
		csms_errf(err, errlen, "%s: not an absolute path", path ? path : "(null)");
		return -EINVAL;
	}
	/* O_NONBLOCK: a FIFO planted at the path must not hang the login. */
	fd = open_checked_path(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0,
			       err, errlen);
	if (fd < 0)
		return fd;
	return read_checked(fd, path, max, flags, out, outlen, NULL, err, errlen);
}

int csms_file_read_at(int dirfd, const char *name, size_t max, unsigned flags, char **out,
		      size_t *outlen, struct stat *st, char *err, size_t errlen)
{
	int fd;

	*out = NULL;
	*outlen = 0;
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return open_error(name, errno, err, errlen);
	return read_checked(fd, name, max, flags, out, outlen, st, err, errlen);
}

/* The checks and the read behind csms_file_read; closes fd. The file's stat in *st_out when
 * that is not NULL. */
static int read_checked(int fd, const char *path, size_t max, unsigned flags, char **out,
			size_t *outlen, struct stat *st_out, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fl, rc;

	if (fstat(fd, &st) != 0) {
		rc = -errno;
		csms_errf(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		csms_errf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	rc = check_owner_mode(path, &st, flags, err, errlen);
	if (rc != 0)
		goto out;
	if (st.st_size < 0 || (unsigned long long)st.st_size > max) {
		rc = -EFBIG;
		csms_errf(err, errlen, "%s: larger than %zu bytes", path, max);
		goto out;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);

	/* Room for what fstat said, plus a byte to see a file that grew meanwhile (the cap
	 * still holds then): a 4 MiB bound is no reason to allocate 4 MiB for every CA file. */
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap + 1);
	if (buf == NULL) {
		rc = -ENOMEM;
		csms_errf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *bigger;

			if (cap > max) {
				rc = -EFBIG;
				csms_errf(err, errlen, "%s: larger than %zu bytes", path, max);
				goto out;
			}
			bigger = malloc(2 * cap + 1);
			if (bigger == NULL) {
				rc = -ENOMEM;
				csms_errf(err, errlen, "%s: out of memory", path);
				goto out;
			}
			memcpy(bigger, buf, len);
			explicit_bzero(buf, cap + 1);
			free(buf);
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			csms_errf(err, errlen, "%s: read error: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		rc = -EFBIG;
		csms_errf(err, errlen, "%s: larger than %zu bytes", path, max);
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
	if (st_out != NULL)
		*st_out = st;
	rc = 0;
out:
	if (buf != NULL) {
		explicit_bzero(buf, cap + 1);
		free(buf);
	}
	close(fd);
	return rc;
}

int csms_ca_load(const char *ca_file, const char *ca_path, char **blob, size_t *len, char *err,
		 size_t errlen)
{
	int rc;

	*blob = NULL;
	*len = 0;
	if (ca_path != NULL) {
		rc = csms_dir_check(ca_path, err, errlen);
		if (rc != 0)
			return rc;
	}
	if (ca_file == NULL)
		return 0;
	rc = csms_file_read(ca_file, CA_FILE_MAX, 0, blob, len, err, errlen);
	if (rc == 0 && *len == 0) {
		csms_errf(err, errlen, "%s: empty CA bundle", ca_file);
		free(*blob);
		*blob = NULL;
		rc = -EINVAL;
	}
	return rc;
}

int csms_dir_check(const char *path, char *err, size_t errlen)
{
	int fd;
	fd = csms_dir_open(path, 0, err, errlen);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

int csms_dir_open(const char *path, mode_t mkdir_mode, char *err, size_t errlen)
{
	struct stat st;
	int fd, rc;

	if (path == NULL || path[0] != '/') {
		csms_errf(err, errlen, "%s: not an absolute path", path ? path : "(null)");
		return -EINVAL;
	}
	fd = open_checked_path(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_DIRECTORY | O_NONBLOCK,
			       mkdir_mode, err, errlen);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		csms_errf(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
	} else {
		rc = check_owner_mode(path, &st, 0, err, errlen);
	}
	if (rc != 0) {
		close(fd);
		return rc;
	}
	return fd;
}
