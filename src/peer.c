/*
 * Who runs the server behind a loopback connection.
 *
 * Plain http is allowed to a loopback metadata service (a local proxy, the tests), and any
 * user may bind a free loopback port: one who binds it first could hand out keys of their
 * own, and with project_id left to the service, a project of their own in which their
 * secret says ENABLED. The kernel lists every TCP socket in /proc/net/tcp and tcp6, each
 * listening one with the uid that made it, and refuses a second listener that could take
 * the same connections (the same address, or a specific one and the wildcard) unless one
 * uid made both (SO_REUSEPORT). The server's end of the connection says which table its
 * listener is in (an IPv4 connection taken by a dual-stack IPv6 socket is listed in tcp6,
 * as ::ffff:a.b.c.d), so an IPv6-only socket elsewhere on the port is no candidate. When
 * root made every candidate listening there, root answers. The accepted socket's own uid
 * is not used: it becomes the uid of whoever accepts it, which a service that drops its
 * privileges after binding changes.
 */
#include "buildconf.h"

#include "peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TCP_ESTABLISHED 0x01
#define TCP_SYN_RECV 0x03 /* a connection waiting for data (TCP_DEFER_ACCEPT) */
#define TCP_LISTEN 0x0a

bool csms_ip_is_loopback(const char *ip)
{
	static const unsigned char one[16] = { [15] = 1 };
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
	unsigned char a[16];

	if (inet_pton(AF_INET, ip, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, ip, a) != 1)
		return false;
	return memcmp(a, one, 16) == 0 || (memcmp(a, mapped, 12) == 0 && a[12] == 127);
}

/* An address as /proc/net/tcp{,6} prints it: each 32-bit word of it in hex, as the host
 * holds it. len is 4 or 16; false unless hex has exactly 2 * len digits. */
static bool proc_address(const char *hex, size_t len, unsigned char *out)
{
	if (strlen(hex) != 2 * len || strspn(hex, "0123456789abcdefABCDEF") != 2 * len)
		return false;
	for (size_t w = 0; w < len / 4; w++) {
		char word[9];
		uint32_t v;

		memcpy(word, hex + 8 * w, 8);
		word[8] = '\0';
		v = (uint32_t)strtoul(word, NULL, 16);
		memcpy(out + 4 * w, &v, 4);
	}
	return true;
}

/* All of text as a number in base; false for anything else. */
static bool number(const char *text, int base, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(text, &end, base);
	return errno == 0 && end != text && *end == '\0' && text[0] != '-';
}

/* "HEX:PORT" into an address of len bytes and a port. */
static bool endpoint(char *field, size_t len, unsigned char *addr, unsigned long *port)
{
	char *colon = strchr(field, ':');

	if (colon == NULL)
		return false;
	*colon = '\0';
	return proc_address(field, len, addr) && number(colon + 1, 16, port) && *port <= 65535;
}

struct entry {
	unsigned char local[16], remote[16];
	unsigned long local_port, remote_port, state, uid;
};

/* What a search of one table wants and what it found. */
struct search {
	size_t len;                /* 4: tcp, 16: tcp6 */
	unsigned char want[3][16]; /* addresses: the server's end, or listeners' */
	size_t nwant;
	unsigned char client[16]; /* the server's end: the client's address */
	unsigned long port, client_port;
	uid_t trusted, foreign;
	int found, others;
};

static bool wanted(const struct search *s, const unsigned char *a)
{
	for (size_t i = 0; i < s->nwant; i++)
		if (memcmp(a, s->want[i], s->len) == 0)
			return true;
	return false;
}

/* The server's end of the connection: local = want[0]:port, remote = client:client_port. */
static void match_server_end(const struct entry *e, struct search *s)
{
	if ((e->state == TCP_ESTABLISHED || e->state == TCP_SYN_RECV) && e->local_port == s->port &&
	    e->remote_port == s->client_port && memcmp(e->local, s->want[0], s->len) == 0 &&
	    memcmp(e->remote, s->client, s->len) == 0)
		s->found++;
}

/* A listener on port at one of the wanted addresses: counted, its owner weighed. */
static void match_listener(const struct entry *e, struct search *s)
{
	if (e->state != TCP_LISTEN || e->local_port != s->port || !wanted(s, e->local))
		return;
	s->found++;
	if (e->uid != 0 && e->uid != (unsigned long)s->trusted && s->others++ == 0)
		s->foreign = (uid_t)e->uid;
}

/* Every entry of table (tcp or tcp6, by s->len) through fn. 0, or a negative errno. */
static int scan(const char *table, struct search *s,
		void (*fn)(const struct entry *, struct search *))
{
	FILE *f = fopen(table, "re");
	char *line = NULL;
	size_t cap = 0;

	if (f == NULL)
		return errno == ENOENT ? 0 : -errno; /* no IPv6 in this kernel */
	while (getline(&line, &cap, f) > 0) {
		/* sl local rem st tx:rx tr:when retrnsmt uid ... */
		char *field[8], *save = NULL;
		struct entry e;
		size_t n = 0;

		for (char *w = strtok_r(line, " \t\n", &save); w != NULL && n < 8;
		     w = strtok_r(NULL, " \t\n", &save))
			field[n++] = w;
		if (n == 8 && endpoint(field[1], s->len, e.local, &e.local_port) &&
		    endpoint(field[2], s->len, e.remote, &e.remote_port) &&
		    number(field[3], 16, &e.state) && number(field[7], 10, &e.uid))
			fn(&e, s);
	}
	free(line);
	fclose(f);
	return 0;
}

/* An IPv4 address as the tcp6 table shows it, ::ffff:a.b.c.d */
static void v4_mapped(unsigned char out[16], const unsigned char v4[4])
{
	memset(out, 0, 16);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, v4, 4);
}

int csms_loopback_listeners(const char *ip, long port, const char *client_ip, long client_port,
			    uid_t trusted, uid_t *foreign)
{
	static const unsigned char any[16] = { 0 };
	unsigned char peer4[4], client4[4];
	struct search s = { .port = (unsigned long)port,
			    .client_port = (unsigned long)client_port,
			    .trusted = trusted,
			    .nwant = 1 };
	const char *table = "/proc/net/tcp6";
	int rc;

	if (port <= 0 || port > 65535 || client_port <= 0 || client_port > 65535)
		return -EINVAL;
	if (inet_pton(AF_INET, ip, peer4) == 1 && inet_pton(AF_INET, client_ip, client4) == 1) {
		/* taken by an IPv4 socket, or by a dual-stack IPv6 one? */
		s.len = 4;
		memcpy(s.want[0], peer4, 4);
		memcpy(s.client, client4, 4);
		rc = scan("/proc/net/tcp", &s, match_server_end);
		if (rc != 0)
			return rc;
		if (s.found > 0) {
			table = "/proc/net/tcp";
			memset(s.want[1], 0, sizeof(s.want[1])); /* 0.0.0.0 */
			s.nwant = 2;
		} else {
			s.len = 16;
			v4_mapped(s.want[0], peer4);
			v4_mapped(s.client, client4);
			rc = scan(table, &s, match_server_end);
			if (rc != 0)
				return rc;
			memcpy(s.want[1], any, 16); /* :: */
			v4_mapped(s.want[2], any);  /* ::ffff:0.0.0.0 */
			s.nwant = 3;
		}
	} else if (inet_pton(AF_INET6, ip, s.want[0]) == 1 &&
		   inet_pton(AF_INET6, client_ip, s.client) == 1) {
		s.len = 16;
		rc = scan(table, &s, match_server_end);
		if (rc != 0)
			return rc;
		memcpy(s.want[1], any, 16);
		s.nwant = 2;
	} else {
		return -EINVAL;
	}
	if (s.found == 0)
		return -ENOENT; /* the connection is gone, or not ours to see */
	s.found = 0;
	rc = scan(table, &s, match_listener);
	if (rc != 0)
		return rc;
	if (s.found == 0)
		return -ENOENT;
	*foreign = s.foreign;
	return s.others > 0 ? -EPERM : 0;
}
