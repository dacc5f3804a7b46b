/*
 * Who runs the server behind a loopback address and port.
 *
 * Plain http is allowed to a loopback metadata service (a local proxy, the tests), and any
 * user may bind a free loopback port: one who binds it first could hand out keys of their
 * own, and with project_id left to the service, a project of their own in which their
 * secret says ENABLED. The kernel lists every listening socket with the uid that made it,
 * and refuses a second listener on a port (the same address, or the wildcard and a
 * specific one) unless both were made by one uid (SO_REUSEPORT). So when root made every
 * socket listening where the connection lands, root answers it. The accepted socket's own
 * uid is not used: it becomes the uid of whoever accepts it, which a service that drops its
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

struct search {
	long port;
	uid_t trusted, foreign;
	int found, others;
};

/* The listeners on s->port in one table whose address is one of want[0..nwant) (each len
 * bytes), counted into s. */
static int scan(const char *table, size_t len, unsigned char (*want)[16], size_t nwant,
		struct search *s)
{
	FILE *f = fopen(table, "re");
	char *line = NULL;
	size_t cap = 0;

	if (f == NULL)
		return errno == ENOENT ? 0 : -errno; /* no IPv6 in this kernel */
	while (getline(&line, &cap, f) > 0) {
		/* sl local rem st tx:rx tr:when retrnsmt uid ... */
		char *field[8], *save = NULL, *colon;
		unsigned long port, state, owner;
		unsigned char a[16];
		bool match = false;
		size_t n = 0;

		for (char *w = strtok_r(line, " \t\n", &save); w != NULL && n < 8;
		     w = strtok_r(NULL, " \t\n", &save))
			field[n++] = w;
		if (n < 8 || (colon = strchr(field[1], ':')) == NULL)
			continue;
		*colon = '\0';
		if (!number(colon + 1, 16, &port) || !number(field[3], 16, &state) ||
		    !number(field[7], 10, &owner) || state != TCP_LISTEN ||
		    port != (unsigned long)s->port || !proc_address(field[1], len, a))
			continue;
		for (size_t i = 0; i < nwant && !match; i++)
			match = memcmp(a, want[i], len) == 0;
		if (!match)
			continue;
		s->found++;
		if (owner != 0 && owner != (unsigned long)s->trusted && s->others++ == 0)
			s->foreign = (uid_t)owner;
	}
	free(line);
	fclose(f);
	return 0;
}

int csms_loopback_listeners(const char *ip, long port, uid_t trusted, uid_t *foreign)
{
	unsigned char v4[4], want[2][16] = { { 0 } }; /* the address, then the wildcard */
	struct search s = { .port = port, .trusted = trusted };
	int rc;

	if (port <= 0 || port > 65535)
		return -EINVAL;
	if (inet_pton(AF_INET, ip, v4) == 1) {
		memcpy(want[0], v4, 4);
		rc = scan("/proc/net/tcp", 4, want, 2, &s);
		/* a dual-stack [::] listener takes IPv4 too, as ::ffff:a.b.c.d */
		memset(want[0], 0, sizeof(want[0]));
		want[0][10] = want[0][11] = 0xff;
		memcpy(want[0] + 12, v4, 4);
	} else if (inet_pton(AF_INET6, ip, want[0]) == 1) {
		rc = 0;
	} else {
		return -EINVAL;
	}
	if (rc == 0)
		rc = scan("/proc/net/tcp6", 16, want, 2, &s);
	if (rc != 0)
		return rc;
	if (s.found == 0)
		return -ENOENT;
	*foreign = s.foreign;
	return s.others > 0 ? -EPERM : 0;
}
