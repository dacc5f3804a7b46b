/*
 * A main() for the fuzz harnesses without libFuzzer: feeds every file named on the command line
 * (or every regular file in a named directory, in name order) to LLVMFuzzerTestOneInput once.
 * Each input gets its own heap buffer of exactly its size, so a sanitizer build still sees
 * reads past the end. An invariant violation traps and kills the process (the replay test
 * then reports the input); an unreadable input exits 2.
 *
 *   fuzz/replay_response fuzz/corpus/response        # a directory
 *   fuzz/replay_config crash-1234 seed.conf          # single files
 */
#include "buildconf.h"

#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REPLAY_MAX_INPUT ((size_t)16 * 1024 * 1024)

static int run_file(const char *path, size_t *ran)
{
	struct stat st;
	uint8_t *buf;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 2;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > REPLAY_MAX_INPUT) {
		fprintf(stderr, "%s: not a regular file of at most %zu bytes\n", path,
			REPLAY_MAX_INPUT);
		close(fd);
		return 2;
	}
	/* malloc(0) may give NULL; libFuzzer never passes NULL, so keep one spare byte */
	buf = malloc((size_t)st.st_size > 0 ? (size_t)st.st_size : 1);
	if (buf == NULL) {
		fprintf(stderr, "%s: out of memory\n", path);
		close(fd);
		return 2;
	}
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "%s: %s\n", path, r < 0 ? strerror(errno) : "file shrank");
			free(buf);
			close(fd);
			return 2;
		}
		n += (size_t)r;
	}
	close(fd);
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "running %s (%zu bytes)\n", path, n);
	(void)LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	(*ran)++;
	return 0;
}

static int skip_entry(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static int run_dir(const char *dir, size_t *ran)
{
	struct dirent **names;
	int n = scandir(dir, &names, skip_entry, alphasort), rc = 0;

	if (n < 0) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return 2;
	}
	for (int i = 0; i < n; i++) {
		size_t len = strlen(dir) + strlen(names[i]->d_name) + 2;
		char *path = malloc(len);
		struct stat st;

		if (path == NULL) {
			rc = 2;
		} else {
			snprintf(path, len, "%s/%s", dir, names[i]->d_name);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && run_file(path, ran) != 0)
				rc = 2;
			free(path);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	size_t ran = 0;
	int rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 64;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		int r;

		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			rc = 2;
			continue;
		}
		r = S_ISDIR(st.st_mode) ? run_dir(argv[i], &ran) : run_file(argv[i], &ran);
		if (r != 0)
			rc = r;
	}
	printf("%s: ran %zu inputs\n", argv[0], ran);
	return rc;
}
