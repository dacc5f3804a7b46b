/* Who runs the server behind a loopback connection. */
#ifndef CSMS_PEER_H
#define CSMS_PEER_H

#include <stdbool.h>
#include <sys/types.h>

/* ip (as libcurl gives it: dotted quad or IPv6 text) is 127.0.0.0/8, ::1 or ::ffff:127.x. */
bool csms_ip_is_loopback(const char *ip);

/*
 * The TCP sockets listening where the connection from client_ip:client_port to ip:port
 * landed, as /proc/net/tcp and /proc/net/tcp6 list them: the table the server's end of the
 * connection is in (IPv4, or a dual-stack IPv6 socket), that address or the wildcard. 0 when
 * there is one at least and root or `trusted` made each; -EPERM with the first other owner
 * in *foreign; -ENOENT when the connection or its listener is not listed; -EINVAL for a bad
 * address or port; or a negative errno from reading the tables.
 */
int csms_loopback_listeners(const char *ip, long port, const char *client_ip, long client_port,
			    uid_t trusted, uid_t *foreign);

#endif
