/*
 * State kept in cache_dir between checks: CSMS's last answer per secret (the verdict
 * cache) and, per endpoint and project, whether CSMS is currently failing (outage damping).
 * Nothing here ever denies: an entry that is missing, unreadable or doubtful is absent.
 */
#ifndef CSMS_CACHE_H
#define CSMS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "credentials.h"
#include "response.h"
#include "util.h"
#include "verdict.h" /* enum csms_reason */

/* "x-" and 64 hex digits of SHA-256 */
#define CSMS_CACHE_NAME_LEN (2 + 64 + 1)

struct csms_cache {
	int dirfd; /* -1: no cache for this check */
	const char *endpoint;
	const char *project;
	char scope[CSMS_CACHE_NAME_LEN]; /* o-HASH of endpoint and project: the outage file */
	char err[CSMS_ERRLEN];           /* why the cache could not be used, if it could not */
	bool holding_probe;              /* this check created the probe token */
	bool writer;                     /* may change cache_dir: never a setuid caller */
};

/* What CSMS said about one secret, and when it was asked (wall clock). */
struct csms_cache_entry {
	int64_t time_ms;
	struct csms_answer answer;
};

/* CSMS could not answer recently: checks until `until_ms` (wall clock) skip the network. */
struct csms_outage {
	enum csms_reason reason;
	int64_t window_ms;
	int64_t until_ms;
};

/*
 * Open and check `dir`. A `writer` creates it 0700 if missing and removes what it finds
 * dated ahead of the clock; a setuid caller opens it as a reader, which only ignores such
 * files. Returns 0, or a negative errno with c->err set; the cache is then unused
 * (c->dirfd is -1) and the check goes on without it.
 */
int csms_cache_open(struct csms_cache *c, const char *dir, const char *endpoint,
		    const char *project, bool writer);
void csms_cache_close(struct csms_cache *c);

/* Verdicts and outage windows are kept per endpoint and project: with auth=metadata and no
 * project_id in the config the project is known only once the credentials are (NULL at
 * csms_cache_open); until then those functions see no cache. */
void csms_cache_set_project(struct csms_cache *c, const char *project);

/*
 * 0 and *a, or -ENOENT when there is no usable entry (corrupt, foreign, or dated ahead of
 * the wall clock, which a writer removes: once the clock caught up it would pass for fresh).
 */
int csms_cache_get(const struct csms_cache *c, const char *secret, struct csms_cache_entry *e);
/* Replace the entry atomically (temporary file, then rename), mode 0600, unless the entry
 * there holds an answer asked for later. When the answer cannot be written the entry is
 * removed: an older answer must not stand in for it. */
int csms_cache_put(const struct csms_cache *c, const char *secret,
		   const struct csms_cache_entry *e);

/* Remove the entry, if there is one (an absent entry never lets anyone in). */
void csms_cache_forget(const struct csms_cache *c, const char *secret);

/*
 * Before asking CSMS: true when an outage window is in effect (*o says which) and this check
 * must not use the network. When a window has run out, exactly one check (the one that
 * creates the probe token; `may_probe` false never does) goes on to ask; the others stay off
 * the network. A token older than probe_stale_ms belongs to a check that died and is taken over.
 */
bool csms_outage_damped(struct csms_cache *c, int64_t now_ms, int64_t probe_stale_ms,
			bool may_probe, struct csms_outage *o);
/* CSMS could not answer: open the next window (1 s, doubling to 60 s while failures go on). */
void csms_outage_record(struct csms_cache *c, int64_t now_ms, enum csms_reason reason);
/* CSMS answered: the outage is over. */
void csms_outage_clear(struct csms_cache *c);

/*
 * The metadata service's temporary credentials for metadata_url (k-HASH, the same checks as
 * an entry; one dated ahead is removed by a writer). 0 and *out, or -ENOENT.
 */
int csms_cache_creds_get(const struct csms_cache *c, const char *metadata_url,
			 struct csms_credentials *out);
/* Remove them if they are still the keys with access_key (CSMS refused those); a reader
 * (setuid caller) never does. */
void csms_cache_creds_forget(const struct csms_cache *c, const char *metadata_url,
			     const char *access_key);
/* Replace them atomically, mode 0600; a reader (setuid caller) never writes. */
int csms_cache_creds_put(const struct csms_cache *c, const char *metadata_url,
			 const struct csms_credentials *in);
/* The fetcher's lock (flock on l-HASH): an fd, or -EWOULDBLOCK when another check holds it
 * (waited for until until_ms on csms_now_ms's clock when `wait`), or another negative
 * errno. Never for a reader. */
int csms_cache_creds_lock(const struct csms_cache *c, const char *metadata_url, bool wait,
			  int64_t until_ms);
void csms_cache_creds_unlock(int fd);

#endif
