/*
 * endpoint.h — the endpoints a node binds, dials, announces in HELLO and
 * passes on in PEERS: "tcp://HOST:PORT" text, HOST a name, an IPv4 address
 * or a bracketed IPv6 address (with a %zone for link-local ones).
 *
 * Every rule about which endpoint may be used for what lives here, so the
 * config parser, the session, the peer table and peer exchange agree:
 * the operator's config may name hosts (ms_endpoint_check); what a peer
 * or the LAN tells us is dialled only when ms_endpoint_dialable.
 */
#ifndef MS_ENDPOINT_H
#define MS_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of an endpoint, NUL included (the peer records' address size). */
#define MS_ENDPOINT_MAX 128

/* 0 when text is an endpoint as accepted for listen/peer: "tcp://" then
 * HOST:PORT, printable without spaces, with a port after the last colon,
 * shorter than MS_ENDPOINT_MAX; -1 otherwise. */
int ms_endpoint_check(const char *text);

/* The port after the last colon (1..65535), or 0 when there is none. */
uint16_t ms_endpoint_port(const char *ep);

/* 1 when ep binds every address (0.0.0.0, *, [::]): useless to dial. */
int ms_endpoint_is_wildcard(const char *ep);

/* 1 when ep is worth passing to another host: dialable (so no name and no
 * wildcard) and without an IPv6 zone (an interface name means nothing
 * elsewhere). */
int ms_endpoint_passable(const char *ep);

/*
 * 1 when ep may be dialled although it came from the network (a peer's
 * HELLO, a PEERS entry, an mDNS answer): "tcp://" then a numeric host,
 * IPv4 dotted quad or bracketed IPv6 (a %zone allowed: mDNS gives
 * link-local addresses with their interface), and a port 1..65535 in
 * decimal; the host neither unspecified (0.0.0.0, ::), multicast
 * (224.0.0.0/4, ff00::/8) nor the broadcast 255.255.255.255, IPv4 inside
 * IPv6 (::ffff:a.b.c.d) judged as IPv4.  No DNS names: ZeroMQ resolves
 * names inside its I/O thread, and one slow lookup stalls every link.
 * Names stay allowed in the operator's own config (ms_endpoint_check).
 */
int ms_endpoint_dialable(const char *ep);

/* Copy an endpoint received as bytes (not NUL-terminated) into out; 0, or
 * -1 when it does not fit in MS_ENDPOINT_MAX (out is then ""). */
int ms_endpoint_copy(char out[MS_ENDPOINT_MAX], const uint8_t *bytes,
                     size_t len);

#endif
