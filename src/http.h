/* ShowSecret over HTTPS with libcurl, set up to live inside someone else's process. */
#ifndef CSMS_HTTP_H
#define CSMS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define CSMS_REQUEST_ID_MAX 128

enum csms_http_result {
	CSMS_HTTP_OK,        /* a final HTTP response arrived (any status) */
	CSMS_HTTP_NETWORK,   /* DNS, refused, reset */
	CSMS_HTTP_TLS,       /* handshake, certificate, host name */
	CSMS_HTTP_TIMEOUT,   /* the overall budget ran out */
	CSMS_HTTP_TOO_BIG,   /* body or headers over the cap */
	CSMS_HTTP_TRUNCATED, /* the body was cut short */
	CSMS_HTTP_PROTOCOL,  /* not a usable HTTP exchange */
	CSMS_HTTP_CA,        /* the CA file could not be used */
	CSMS_HTTP_MEMORY,
	CSMS_HTTP_REFUSED, /* not asked: SSLKEYLOGFILE is set */
	CSMS_HTTP_LIBRARY, /* not asked: libcurl cannot be loaded or started here */
	CSMS_HTTP_SIGN,    /* not asked: the headers could not be made (a credential) */
	CSMS_HTTP_PEER,    /* not asked: plain http to a loopback server another user runs */
};

/*
 * The header lines ("Name: value") of one attempt, NULL-terminated, asked for afresh before
 * each (an AK/SK signature carries the time); they stay valid until the next call and are
 * wiped from libcurl's copies after the attempt. 0, or a negative errno to give up.
 */
typedef int (*csms_http_headers_fn)(void *ctx, const char *const **lines);

struct csms_http_request {
	const char *url;
	const char *method; /* NULL for GET; "PUT" sends an empty body */
	/* http:// allowed (a link-local metadata service); else https only. A loopback server
	 * must then be run by root or this process's euid (src/peer.c), or nothing is sent. */
	bool plain_http;
	const char *accept;           /* the Accept header's value, or NULL for none */
	csms_http_headers_fn headers; /* may be NULL */
	void *headers_ctx;
	const char *ca_blob; /* PEM bundle already read and checked by the caller, or NULL */
	size_t ca_blob_len;
	const char *ca_path; /* directory of hashed certificates, or NULL */
	const char *proxy;   /* from the config only; NULL means no proxy at all */
	int64_t deadline_ms; /* absolute, on csms_now_ms()'s clock: covers retries and sleeps */
	int64_t connect_timeout_ms;
	int retries;
};

struct csms_http_response {
	enum csms_http_result result;
	long status;
	char content_type[128];
	char request_id[CSMS_REQUEST_ID_MAX + 1];
	char date[64]; /* the server's Date header, for clock checks */
	char *body;    /* NUL-terminated, at most CSMS_BODY_MAX bytes */
	size_t body_len;
	int attempts;
	char detail[CSMS_ERRLEN]; /* what went wrong; never holds a credential */
	char trace[256];          /* one entry per attempt, for debug logging */
};

/* Load libcurl.so.4 and initialise it, once it works (a failure is tried again by the next
 * call). 0, or -EPERM when SSLKEYLOGFILE is set, -ENOENT when the library cannot be loaded,
 * -ENOMEM when memory ran out, -EIO when it fails to initialise, with why libcurl cannot be
 * used put into why (emptied on success). */
int csms_http_ready(char *why, size_t len);

/* What an admin should do about csms_http_ready's result rc, in words. */
const char *csms_http_ready_fix(int rc);

/* Before the first request: bind every symbol of libcurl's libraries when it is loaded
 * (RTLD_NOW), not only those of the libraries linked -z now. For csms-check. */
void csms_http_bind_now(void);

/* The requests of one check, on one libcurl handle: they share its connection (keep-alive).
 * NULL when out of memory. Free it (closing the connection) at the end of the check. */
struct csms_http_session;
struct csms_http_session *csms_http_session_new(void);
void csms_http_session_free(struct csms_http_session *s);

/* Run the request with the retry policy, on the session's connection (NULL: a connection of
 * its own). Always fills resp; free it with the function below. */
void csms_http_get(struct csms_http_session *s, const struct csms_http_request *rq,
		   struct csms_http_response *resp);
void csms_http_response_free(struct csms_http_response *resp);

/*
 * Retry-After: delta-seconds or an IMF-fixdate. Returns the wait in milliseconds, or -1
 * when the value is missing or malformed. now is the wall clock (time(NULL)).
 */
int64_t csms_retry_after_ms(const char *value, int64_t now);

/* An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") as seconds since the epoch, or -1. */
int64_t csms_http_date_parse(const char *s);

#endif
