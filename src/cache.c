/*
 * State kept in cache_dir between checks: CSMS's last answer per secret (the verdict
 * cache) and, per endpoint and project, whether CSMS is currently failing (outage damping).
 *
 * Files, all mode 0600 and replaced with rename(2) so a reader sees a whole file or none:
 *   v-HASH  one secret's last answer; HASH = sha256(endpoint \n project \n secret)
 *   o-HASH  the outage window of one endpoint and project; HASH = sha256(endpoint \n project)
 *   p-HASH  probe token: the one check allowed to ask CSMS once a window has run out
 *   k-HASH  the metadata service's temporary credentials; HASH = sha256(metadata_url)
 *   l-HASH  the lock a check holds while it fetches them (never removed; flock(2))
 * Each file repeats its key in full, so a hash collision or a file copied across would
 * read as absent. Nothing here ever denies: a doubtful entry is absent.
 */
#include "buildconf.h"

#include "cache.h"
#include "credentials.h"
#include "safefile.h"
#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAME_LEN CSMS_CACHE_NAME_LEN
#define ENTRY_MAX 1024 /* bytes, either kind of file */
#define WINDOW_MIN_MS 1000
#define WINDOW_MAX_MS 60000
/* Each file starts with its key in full; the reader matches exactly what the writer wrote. */
#define VERDICT_HEAD "pam_csms verdict 1\nendpoint %s\nproject %s\nsecret %s\ntime "
#define OUTAGE_HEAD "pam_csms outage 1\nendpoint %s\nproject %s\nreason "
_Static_assert(NAME_LEN == 2 + 2 * CSMS_SHA256_LEN + 1, "cache file names hold a SHA-256");

static void key_name(char *out, char prefix, const char *a, const char *b, const char *c)
{
	struct csms_sha256 h;

	csms_sha256_init(&h);
	csms_sha256_update(&h, a, strlen(a));
	csms_sha256_update(&h, "\n", 1);
	csms_sha256_update(&h, b, strlen(b));
	if (c != NULL) {
		csms_sha256_update(&h, "\n", 1);
		csms_sha256_update(&h, c, strlen(c));
	}
	out[0] = prefix;
	out[1] = '-';
	csms_sha256_final_hex(&h, out + 2);
}

int csms_cache_open(struct csms_cache *c, const char *dir, const char *endpoint,
		    const char *project, bool writer)
{
	char err[CSMS_ERRLEN];
	int fd;

	memset(c, 0, sizeof(*c));
	c->dirfd = -1;
	c->endpoint = endpoint;
	c->project = project;
	c->writer = writer;
	fd = csms_dir_open(dir, writer ? 0700 : 0, err, sizeof(err));
	if (fd < 0) {
		csms_errf(c->err, sizeof(c->err), "cache_dir not used: %s", err);
		return fd;
	}
	c->dirfd = fd;
	csms_cache_set_project(c, project);
	return 0;
}

void csms_cache_set_project(struct csms_cache *c, const char *project)
{
	c->project = project;
	/* an unopened cache (csms-check --no-cache) has no endpoint and no files to name */
	if (project != NULL && c->dirfd >= 0)
		key_name(c->scope, 'o', c->endpoint, project, NULL);
}

/* Verdicts and outages are kept per endpoint and project: none until the project is known. */
static bool scoped(const struct csms_cache *c)
{
	return c->dirfd >= 0 && c->project != NULL;
}

/* The probe token: p- and the outage file's hash. */
static void probe_name(const struct csms_cache *c, char *name)
{
	memcpy(name, c->scope, NAME_LEN);
	name[0] = 'p';
}

/* Give up the probe token, if this check holds it. */
static void outage_release(struct csms_cache *c)
{
	char name[NAME_LEN];

	if (!c->holding_probe) /* only ever set with the directory open */
		return;
	probe_name(c, name);
	(void)unlinkat(c->dirfd, name, 0);
	c->holding_probe = false;
}

void csms_cache_close(struct csms_cache *c)
{
	if (c->dirfd >= 0) {
		outage_release(c);
		close(c->dirfd);
	}
	c->dirfd = -1;
}

/* Write `name` whole or not at all. */
static int write_atomic(int dirfd, const char *name, const char *data, size_t len)
{
	char tmp[NAME_LEN + 48];
	size_t off = 0;
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), ".%s.%ld.%08" PRIx32, name, (long)getpid(),
		 csms_jitter(UINT32_MAX));
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) != 0)
		rc = -errno;
	while (rc == 0 && off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			rc = n < 0 ? -errno : -EIO;
		else
			off += (size_t)n;
	}
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(dirfd, tmp, dirfd, name) != 0)
		rc = -errno;
	if (rc != 0)
		(void)unlinkat(dirfd, tmp, 0);
	return rc;
}

/* Read a cache file with the checks every file gets, and no group or other bits at all;
 * which file was read in *st. */
static int read_entry(int dirfd, const char *name, char **buf, size_t *len, struct stat *st)
{
	char err[CSMS_ERRLEN];

	return csms_file_read_at(dirfd, name, ENTRY_MAX, CSMS_FILE_SECRET, buf, len, st, err,
				 sizeof(err));
}

/* Parse a decimal int64 that ends at a newline; *p moves past the newline. */
static bool take_number(const char **p, const char *end, int64_t *out)
{
	int64_t v = 0;
	const char *s = *p;

	if (s >= end || *s < '0' || *s > '9')
		return false;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (v > (INT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (*s - '0');
	}
	if (s >= end || *s != '\n')
		return false;
	*p = s + 1;
	*out = v;
	return true;
}

/* Match the literal `lit` at *p and move past it. */
static bool take(const char **p, const char *end, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
		return false;
	*p += n;
	return true;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

static bool parse_answer(const char *p, const char *end, struct csms_answer *a)
{
	a->kind = CSMS_STATE_ABSENT;
	if (take(&p, end, "missing\n")) {
		a->missing = true;
		return p == end;
	}
	if (take(&p, end, "nostate\n"))
		return p == end;
	if (!take(&p, end, "state "))
		return false;
	a->kind = CSMS_STATE_STRING;
	while (p < end && *p != '\n') {
		int hi = hexval(p[0]), lo = end - p > 1 ? hexval(p[1]) : -1;

		if (hi < 0 || lo < 0 || a->state_len >= CSMS_STATE_MAX)
			return false;
		a->state[a->state_len++] = (char)(hi << 4 | lo);
		p += 2;
	}
	a->state[a->state_len] = '\0';
	return a->state_len > 0 && p + 1 == end && *p == '\n';
}

/* Remove `name` (a writer only) while it is still the file that was read (`read`): not one
 * another check renamed into place meanwhile. */
static void unlink_if_same(const struct csms_cache *c, const char *name, const struct stat *read)
{
	struct stat now;

	if (c->writer && fstatat(c->dirfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
	    now.st_dev == read->st_dev && now.st_ino == read->st_ino)
		(void)unlinkat(c->dirfd, name, 0);
}

/*
 * A file dated ahead of the wall clock was written while the clock was ahead (an RTC in
 * local time until chrony steps it back, a VM restored from a snapshot). Left in place it
 * would count as fresh once the clock caught up, however long ago CSMS said it: a writer
 * removes it. "Ahead" is against the clock read now, not at the start of the check, so an
 * answer another check wrote meanwhile is not mistaken for one; nor is a file another check
 * renamed into place since this one was read (`read` is the file read) removed.
 */
static bool dated_ahead(const struct csms_cache *c, const char *name, int64_t when_ms,
			const struct stat *read)
{
	if (when_ms <= csms_wall_ms())
		return false;
	unlink_if_same(c, name, read);
	return true;
}

/* The entry in file `name` (secret's key_name), or -ENOENT. */
static int get_named(const struct csms_cache *c, const char *name, const char *secret,
		     struct csms_cache_entry *e)
{
	char head[1024];
	char *buf;
	size_t len;
	const char *p, *end;
	struct stat st;
	bool ok;

	memset(e, 0, sizeof(*e));
	if (read_entry(c->dirfd, name, &buf, &len, &st) != 0)
		return -ENOENT;
	snprintf(head, sizeof(head), VERDICT_HEAD, c->endpoint, c->project, secret);
	p = buf;
	end = buf + len;
	ok = take(&p, end, head) && take_number(&p, end, &e->time_ms) && e->time_ms > 0 &&
	     take(&p, end, "answer ") && parse_answer(p, end, &e->answer) &&
	     !dated_ahead(c, name, e->time_ms, &st);
	free(buf);
	if (!ok) {
		memset(e, 0, sizeof(*e));
		return -ENOENT;
	}
	return 0;
}

int csms_cache_get(const struct csms_cache *c, const char *secret, struct csms_cache_entry *e)
{
	char name[NAME_LEN];

	if (!scoped(c)) {
		memset(e, 0, sizeof(*e));
		return -ENOENT;
	}
	key_name(name, 'v', c->endpoint, c->project, secret);
	return get_named(c, name, secret, e);
}

int csms_cache_put(const struct csms_cache *c, const char *secret, const struct csms_cache_entry *e)
{
	const struct csms_answer *a = &e->answer;
	bool has_state = !a->missing && a->kind == CSMS_STATE_STRING && a->state_len > 0;
	char name[NAME_LEN], text[ENTRY_MAX], *p;
	struct csms_cache_entry now;
	size_t room;
	int n, rc = -EINVAL;

	if (!scoped(c))
		return -ENOENT;
	key_name(name, 'v', c->endpoint, c->project, secret);
	/* two checks at once: the answer asked for later wins, whichever finishes last */
	if (get_named(c, name, secret, &now) == 0 && now.time_ms > e->time_ms)
		return 0;
	n = snprintf(text, sizeof(text), VERDICT_HEAD "%" PRId64 "\nanswer %s", c->endpoint,
		     c->project, secret, e->time_ms,
		     a->missing   ? "missing\n"
		     : !has_state ? "nostate\n"
				  : "state ");
	if (n < 0 || (size_t)n >= sizeof(text))
		goto failed;
	p = text + n;
	room = sizeof(text) - (size_t)n;
	if (has_state) {
		if (a->state_len > CSMS_STATE_MAX || room < 2 * a->state_len + 2)
			goto failed;
		for (size_t i = 0; i < a->state_len; i++)
			p += snprintf(p, 3, "%02x", (unsigned char)a->state[i]);
		*p++ = '\n';
	}
	rc = write_atomic(c->dirfd, name, text, (size_t)(p - text));
	if (rc == 0)
		return 0;
failed:
	/* the older answer must not stay in place of the one that could not be kept */
	(void)unlinkat(c->dirfd, name, 0);
	return rc;
}

void csms_cache_forget(const struct csms_cache *c, const char *secret)
{
	char name[NAME_LEN];

	if (!scoped(c))
		return;
	key_name(name, 'v', c->endpoint, c->project, secret);
	(void)unlinkat(c->dirfd, name, 0);
}

/* ---- outage damping ----------------------------------------------------------------- */

static bool parse_reason(const char **p, const char *end, enum csms_reason *out)
{
	for (int r = CSMS_REASON_STATE; r <= CSMS_REASON_MEMORY; r++) {
		const char *q = *p, *name = csms_reason_name((enum csms_reason)r);

		if (take(&q, end, name) && take(&q, end, "\n")) {
			*p = q;
			*out = (enum csms_reason)r;
			return true;
		}
	}
	return false;
}

/* The outage record, or false when there is none worth believing. */
static bool outage_get(const struct csms_cache *c, struct csms_outage *o)
{
	char head[512];
	char *buf;
	size_t len;
	const char *p, *end;
	struct stat st;
	bool ok;

	if (read_entry(c->dirfd, c->scope, &buf, &len, &st) != 0)
		return false;
	snprintf(head, sizeof(head), OUTAGE_HEAD, c->endpoint, c->project);
	p = buf;
	end = buf + len;
	ok = take(&p, end, head) && parse_reason(&p, end, &o->reason) && take(&p, end, "window ") &&
	     take_number(&p, end, &o->window_ms) && take(&p, end, "until ") &&
	     take_number(&p, end, &o->until_ms) && p == end && o->window_ms >= WINDOW_MIN_MS &&
	     o->window_ms <= WINDOW_MAX_MS &&
	     /* opened after now: the clock stepped back; it would hold the network off (and
	      * let fail_mode=open in) for as long as the step */
	     !dated_ahead(c, c->scope, o->until_ms - o->window_ms, &st);
	free(buf);
	return ok;
}

/* Create the probe token; false if another live check holds it. */
static bool probe_claim(struct csms_cache *c, int64_t now_ms, int64_t stale_ms)
{
	char name[NAME_LEN];
	struct stat st;

	probe_name(c, name);
	for (int attempt = 0; attempt < 2; attempt++) {
		int fd = openat(c->dirfd, name,
				O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0) {
			close(fd);
			c->holding_probe = true;
			return true;
		}
		if (errno != EEXIST)
			return true; /* cannot coordinate: asking is the safe side */
		if (fstatat(c->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue; /* released meanwhile */
		/* a token dated ahead (the clock stepped back) is as dead as an old one */
		if (csms_timespec_ms(&st.st_mtim) + stale_ms > now_ms &&
		    csms_timespec_ms(&st.st_mtim) <= csms_wall_ms() && S_ISREG(st.st_mode))
			return false;
		/* left behind by a check that died (or not a file at all): take it over */
		(void)unlinkat(c->dirfd, name, 0);
	}
	return false;
}

bool csms_outage_damped(struct csms_cache *c, int64_t now_ms, int64_t probe_stale_ms,
			bool may_probe, struct csms_outage *o)
{
	if (!scoped(c) || !outage_get(c, o))
		return false;
	if (now_ms < o->until_ms)
		return true;
	if (!may_probe)
		return false;
	return !probe_claim(c, now_ms, probe_stale_ms);
}

void csms_outage_record(struct csms_cache *c, int64_t now_ms, enum csms_reason reason)
{
	struct csms_outage prev, next = { .reason = reason, .window_ms = WINDOW_MIN_MS };
	char text[512];
	int n;

	if (!scoped(c))
		return;
	if (outage_get(c, &prev)) {
		if (now_ms < prev.until_ms && !c->holding_probe)
			return; /* another check already opened this window */
		/* failures have gone on since the last window: widen it */
		if (now_ms - prev.until_ms <= WINDOW_MAX_MS)
			next.window_ms = prev.window_ms * 2 > WINDOW_MAX_MS ? WINDOW_MAX_MS
									    : prev.window_ms * 2;
	}
	next.until_ms = now_ms + next.window_ms;
	n = snprintf(text, sizeof(text), OUTAGE_HEAD "%s\nwindow %" PRId64 "\nuntil %" PRId64 "\n",
		     c->endpoint, c->project, csms_reason_name(reason), next.window_ms,
		     next.until_ms);
	if (n > 0 && (size_t)n < sizeof(text))
		(void)write_atomic(c->dirfd, c->scope, text, (size_t)n);
}

void csms_outage_clear(struct csms_cache *c)
{
	if (!scoped(c))
		return;
	(void)unlinkat(c->dirfd, c->scope, 0);
}

/* ---- the metadata service's credentials ------------------------------------------------ */

/* The keys are this boot's: a clone of the disk (an image, a snapshot) or the same disk after
 * a reboot asks the metadata service afresh rather than sign with another boot's keys. */
#define CREDS_HEAD "pam_csms credentials 2\nmetadata %s\nboot %s\n"
#define BOOT_ID_LEN 36

/* The kernel's id of this boot, or "-" when it cannot be read. */
static void boot_id(char out[BOOT_ID_LEN + 1])
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC | O_NOCTTY);
	ssize_t n = fd >= 0 ? read(fd, out, BOOT_ID_LEN + 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n != BOOT_ID_LEN + 1 || out[BOOT_ID_LEN] != '\n' ||
	    strspn(out, "0123456789abcdef-") != BOOT_ID_LEN)
		csms_strlcpy(out, "-", BOOT_ID_LEN + 1);
	else
		out[BOOT_ID_LEN] = '\0';
}
#define CREDS_MAX (CSMS_SECURITY_TOKEN_MAX + 2048)

/* The text after `key ` up to the newline, at most max bytes; *p moves past the newline. */
static bool take_value(const char **p, const char *end, const char *key, const char **v, size_t *n,
		       size_t max)
{
	const char *nl;

	if (!take(p, end, key) || !take(p, end, " "))
		return false;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	if (nl == NULL || (size_t)(nl - *p) > max)
		return false;
	*v = *p;
	*n = (size_t)(nl - *p);
	*p = nl + 1;
	return true;
}

/* csms_cache_creds_get, with the file read in *st and its name in name */
static int creds_read(const struct csms_cache *c, const char *metadata_url,
		      struct csms_credentials *out, char name[NAME_LEN], struct stat *st_out)
{
	char head[512], err[CSMS_ERRLEN], boot[BOOT_ID_LEN + 1];
	const char *p, *end, *project, *access, *secret, *token;
	size_t len, pn, an, sn, tn;
	char *buf = NULL;
	struct stat st;
	bool ok;

	memset(out, 0, sizeof(*out));
	out->kind = CSMS_AUTH_METADATA;
	if (c->dirfd < 0)
		return -ENOENT;
	key_name(name, 'k', metadata_url, "", NULL);
	if (csms_file_read_at(c->dirfd, name, CREDS_MAX, CSMS_FILE_SECRET, &buf, &len, &st, err,
			      sizeof(err)) != 0)
		return -ENOENT;
	boot_id(boot);
	snprintf(head, sizeof(head), CREDS_HEAD, metadata_url, boot);
	p = buf;
	end = buf + len;
	ok = take(&p, end, head) && take(&p, end, "asked ") &&
	     take_number(&p, end, &out->asked_ms) && out->asked_ms > 0 &&
	     take(&p, end, "expires ") && take_number(&p, end, &out->expires_ms) &&
	     take_value(&p, end, "project", &project, &pn, CSMS_PROJECT_ID_MAX) && pn > 0 &&
	     take_value(&p, end, "access", &access, &an, CSMS_ACCESS_KEY_MAX) &&
	     csms_access_key_valid(access, an) &&
	     take_value(&p, end, "secret", &secret, &sn, CSMS_SECRET_KEY_MAX) &&
	     csms_printable_valid(secret, sn, CSMS_SECRET_KEY_MAX) &&
	     take_value(&p, end, "token", &token, &tn, CSMS_SECURITY_TOKEN_MAX) &&
	     csms_printable_valid(token, tn, CSMS_SECURITY_TOKEN_MAX) && p == end &&
	     !dated_ahead(c, name, out->asked_ms, &st);
	if (ok && !(pn == 1 && project[0] == '-')) {
		ok = strspn(project,
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") >=
		     pn;
		if (ok) {
			memcpy(out->project_id, project, pn);
			out->project_id[pn] = '\0';
		}
	}
	if (ok) {
		memcpy(out->access_key, access, an);
		out->access_key[an] = '\0';
		ok = csms_credentials_set_secret(out, secret, sn) == 0 &&
		     csms_credentials_set_security_token(out, token, tn) == 0;
	}
	explicit_bzero(buf, len);
	free(buf);
	if (!ok) {
		csms_credentials_free(out);
		out->kind = CSMS_AUTH_METADATA;
		return -ENOENT;
	}
	csms_errf(out->source, sizeof(out->source), "the metadata service %s, kept in cache_dir",
		  metadata_url);
	*st_out = st;
	return 0;
}

int csms_cache_creds_get(const struct csms_cache *c, const char *metadata_url,
			 struct csms_credentials *out)
{
	char name[NAME_LEN];
	struct stat st;

	return creds_read(c, metadata_url, out, name, &st);
}

int csms_cache_creds_put(const struct csms_cache *c, const char *metadata_url,
			 const struct csms_credentials *in)
{
	char name[NAME_LEN], *text, boot[BOOT_ID_LEN + 1];
	size_t cap;
	int n, rc;

	if (c->dirfd < 0 || !c->writer)
		return -ENOENT;
	key_name(name, 'k', metadata_url, "", NULL);
	boot_id(boot);
	cap = strlen(metadata_url) + in->security_token_len + in->secret_key_len + 512;
	text = malloc(cap);
	if (text == NULL)
		return -ENOMEM;
	n = snprintf(text, cap,
		     CREDS_HEAD "asked %" PRId64 "\nexpires %" PRId64
				"\nproject %s\naccess %s\nsecret %s\ntoken %s\n",
		     metadata_url, boot, in->asked_ms, in->expires_ms,
		     in->project_id[0] ? in->project_id : "-", in->access_key, in->secret_key,
		     in->security_token);
	rc = n > 0 && (size_t)n < cap ? write_atomic(c->dirfd, name, text, (size_t)n) : -EINVAL;
	explicit_bzero(text, cap);
	free(text);
	if (rc != 0)
		(void)unlinkat(c->dirfd, name, 0);
	return rc;
}

void csms_cache_creds_forget(const struct csms_cache *c, const char *metadata_url,
			     const char *access_key)
{
	struct csms_credentials kept;
	char name[NAME_LEN];
	struct stat st;

	if (c->dirfd < 0 || !c->writer)
		return;
	/* only the refused keys: another check may have fetched new ones meanwhile */
	if (creds_read(c, metadata_url, &kept, name, &st) == 0 &&
	    strcmp(kept.access_key, access_key) == 0)
		unlink_if_same(c, name, &st);
	csms_credentials_free(&kept);
}

int csms_cache_creds_lock(const struct csms_cache *c, const char *metadata_url, bool wait,
			  int64_t until_ms)
{
	char name[NAME_LEN];
	int fd;

	if (c->dirfd < 0 || !c->writer)
		return -ENOENT;
	key_name(name, 'l', metadata_url, "", NULL);
	fd = openat(c->dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK || !wait || csms_now_ms() >= until_ms)
			break;
		/* another check is fetching: it takes a few milliseconds */
		csms_sleep_until_ms(csms_now_ms() + 5);
	}
	close(fd);
	return -EWOULDBLOCK;
}

void csms_cache_creds_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}
