/*
 * runner: spawn short-lived processes and time each one, for bench/run.
 *
 *   runner [-s SEED] ROUNDS VARIANTS
 *	Each of ROUNDS rounds runs every variant of the file VARIANTS once, in a freshly
 *	shuffled order, one at a time. VARIANTS has one variant a line:
 *	NAME<TAB>ARGV0<TAB>ARG1<TAB>...
 *   runner -c CONC [-n TOTAL] NAME ARGV0 [ARG...]
 *	Keeps CONC copies of ARGV0 running until TOTAL (default 640) have finished.
 *
 * ARGV0 is a path (no PATH search). Each finished run prints one line
 *	NAME NS MAXRSS_KB STATUS
 * NS: CLOCK_MONOTONIC nanoseconds from just before posix_spawn to just after wait4.
 * MAXRSS_KB: ru_maxrss from wait4. The child of a vfork-style posix_spawn starts on the
 * runner's memory, so this never reads below the runner's own peak (about 1 MiB).
 * STATUS: the exit code, or 128 + N after a death by signal N.
 * Children get /dev/null as fds 0, 1 and 2, and the runner's environment.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_VARIANTS 64
#define MAX_ARGS 64
#define MAX_CONC 1024

extern char **environ;

struct variant {
	char *line; /* owns the strings below */
	char *name;
	char *argv[MAX_ARGS + 1];
};

static posix_spawn_file_actions_t devnull_fds;

static void die(const char *what)
{
	fprintf(stderr, "runner: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void usage(void)
{
	fprintf(stderr, "usage: runner [-s SEED] ROUNDS VARIANTS\n"
			"       runner -c CONC [-n TOTAL] NAME ARGV0 [ARG...]\n");
	exit(64);
}

static long number(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		usage();
	return v;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* fds 0, 1 and 2 of every child: /dev/null, through a descriptor above 2 */
static void setup_devnull(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	int high;

	if (fd < 0)
		die("/dev/null");
	high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (high < 0)
		die("fcntl");
	close(fd);
	if (posix_spawn_file_actions_init(&devnull_fds) != 0)
		die("posix_spawn_file_actions_init");
	for (int i = 0; i < 3; i++)
		if (posix_spawn_file_actions_adddup2(&devnull_fds, high, i) != 0)
			die("posix_spawn_file_actions_adddup2");
}

static pid_t spawn(char *const argv[])
{
	pid_t pid;
	int rc = posix_spawn(&pid, argv[0], &devnull_fds, NULL, argv, environ);

	if (rc != 0) {
		errno = rc;
		die(argv[0]);
	}
	return pid;
}

static int exit_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void report(const char *name, int64_t ns, const struct rusage *ru, int status)
{
	printf("%s %lld %ld %d\n", name, (long long)ns, ru->ru_maxrss, exit_code(status));
}

/* one variant, alone: spawn, wait, print */
static void run_one(const struct variant *v)
{
	struct rusage ru;
	int status;
	int64_t t0 = now_ns();
	pid_t pid = spawn(v->argv);

	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			die("wait4");
	report(v->name, now_ns() - t0, &ru, status);
}

/* NAME<TAB>ARGV0<TAB>...; the strings are kept for the life of the process */
static int read_variants(const char *path, struct variant *vs)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	int n = 0;

	if (f == NULL)
		die(path);
	while (getline(&line, &cap, f) > 0) {
		struct variant *v = &vs[n];
		char *save = NULL, *copy;
		int argc = 0;

		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if (n == MAX_VARIANTS) {
			fprintf(stderr, "runner: %s: more than %d variants\n", path, MAX_VARIANTS);
			exit(2);
		}
		copy = strdup(line);
		if (copy == NULL)
			die("strdup");
		v->line = copy;
		v->name = strtok_r(copy, "\t", &save);
		for (char *a; (a = strtok_r(NULL, "\t", &save)) != NULL; argc++) {
			if (argc == MAX_ARGS) {
				fprintf(stderr, "runner: %s: too many arguments\n", v->name);
				free(copy);
				exit(2);
			}
			v->argv[argc] = a;
		}
		if (v->name == NULL || argc == 0) {
			fprintf(stderr, "runner: %s: a line without a command\n", path);
			free(copy);
			exit(2);
		}
		v->argv[argc] = NULL;
		n++;
	}
	free(line);
	fclose(f);
	return n;
}

static void run_rounds(long rounds, const char *path, unsigned seed)
{
	static struct variant vs[MAX_VARIANTS];
	int order[MAX_VARIANTS];
	int n = read_variants(path, vs);

	srandom(seed);
	for (int i = 0; i < n; i++)
		order[i] = i;
	for (long r = 0; r < rounds; r++) {
		for (int i = n - 1; i > 0; i--) { /* Fisher-Yates */
			int j = (int)(random() % (i + 1));
			int t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		for (int i = 0; i < n; i++)
			run_one(&vs[order[i]]);
	}
}

/* CONC in flight at all times (until the last ones), TOTAL in all */
static void run_concurrent(long conc, long total, const char *name, char *const argv[])
{
	static pid_t pids[MAX_CONC];
	static int64_t starts[MAX_CONC];
	long started = 0, done = 0;

	while (done < total) {
		struct rusage ru;
		int status, slot;
		pid_t pid;

		for (slot = 0; slot < conc && started < total; slot++) {
			if (pids[slot] != 0)
				continue;
			starts[slot] = now_ns();
			pids[slot] = spawn(argv);
			started++;
		}
		pid = wait4(-1, &status, 0, &ru);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			die("wait4");
		}
		for (slot = 0; slot < conc && pids[slot] != pid; slot++)
			;
		if (slot == conc)
			continue; /* not ours (cannot happen: we start no other children) */
		report(name, now_ns() - starts[slot], &ru, status);
		pids[slot] = 0;
		done++;
	}
}

int main(int argc, char **argv)
{
	unsigned seed = (unsigned)now_ns() ^ (unsigned)getpid();
	long conc = 0, total = 640;
	int opt;

	while ((opt = getopt(argc, argv, "+s:c:n:")) != -1) {
		switch (opt) {
		case 's':
			seed = (unsigned)number(optarg, 0, UINT32_MAX);
			break;
		case 'c':
			conc = number(optarg, 1, MAX_CONC);
			break;
		case 'n':
			total = number(optarg, 1, 100000000);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	setup_devnull();
	if (conc > 0) {
		if (argc < 2)
			usage();
		run_concurrent(conc, total, argv[0], argv + 1);
	} else {
		if (argc != 2)
			usage();
		run_rounds(number(argv[0], 1, 100000000), argv[1], seed);
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		die("stdout");
	return 0;
}
