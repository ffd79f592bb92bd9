/* endpoint.c — what an endpoint may be used for (see endpoint.h). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"

int ms_endpoint_check(const char *text)
{
	size_t n = strlen(text);
	const char *colon;

	if (n < 7 || n >= MS_ENDPOINT_MAX || strncmp(text, "tcp://", 6) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (text[i] <= 0x20 || text[i] >= 0x7f)
			return -1;
	/* host:port, the port after the last colon */
	colon = strrchr(text + 6, ':');
	if (colon == NULL || colon[1] == '\0')
		return -1;
	return 0;
}

uint16_t ms_endpoint_port(const char *ep)
{
	const char *c = strrchr(ep, ':');
	unsigned long v;
	char *end;

	if (c == NULL || c[1] < '0' || c[1] > '9')
		return 0;
	v = strtoul(c + 1, &end, 10);
	return *end == '\0' && v > 0 && v <= 65535 ? (uint16_t)v : 0;
}

int ms_endpoint_is_wildcard(const char *ep)
{
	return strstr(ep, "://0.0.0.0:") != NULL ||
	       strstr(ep, "://*:") != NULL || strstr(ep, "://[::]:") != NULL;
}

int ms_endpoint_copy(char out[MS_ENDPOINT_MAX], const uint8_t *bytes,
                     size_t len)
{
	if (len >= MS_ENDPOINT_MAX) {
		out[0] = '\0';
		return -1;
	}
	memcpy(out, bytes, len);
	out[len] = '\0';
	return 0;
}

/* The port text after the host: decimal 1..65535, nothing else. */
static int port_ok(const char *s)
{
	unsigned long v = 0;
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		if (s[n] < '0' || s[n] > '9' || n == 5)
			return 0;
		v = v * 10 + (unsigned long)(s[n] - '0');
	}
	return n > 0 && v > 0 && v <= 65535;
}

/* An IPv4 address (network order) no one should be dialled at. */
static int v4_refused(const uint8_t a[4])
{
	uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 |
	             (uint32_t)a[2] << 8 | a[3];

	return v == 0 || (a[0] & 0xf0) == 0xe0 || v == 0xffffffffu;
}

int ms_endpoint_dialable(const char *ep)
{
	char host[MS_ENDPOINT_MAX];
	const char *h, *end;
	uint8_t a[16];
	size_t hl;

	if (ms_endpoint_check(ep) != 0)
		return 0;
	h = ep + 6;
	if (h[0] == '[') {
		/* [v6 or v6%zone]:port */
		const char *pct;
		if ((end = strchr(h, ']')) == NULL || end[1] != ':' ||
		    !port_ok(end + 2))
			return 0;
		hl = (size_t)(end - h - 1);
		memcpy(host, h + 1, hl);
		host[hl] = '\0';
		if ((pct = strchr(host, '%')) != NULL) {
			if (pct[1] == '\0')
				return 0;
			host[pct - host] = '\0';
		}
		if (inet_pton(AF_INET6, host, a) != 1)
			return 0;
		if (a[0] == 0xff)
			return 0; /* multicast */
		if (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
			return !v4_refused(a + 12);
		for (size_t i = 0; i < 16; i++)
			if (a[i] != 0)
				return 1;
		return 0; /* :: */
	}
	if ((end = strchr(h, ':')) == NULL || !port_ok(end + 1))
		return 0;
	hl = (size_t)(end - h);
	memcpy(host, h, hl);
	host[hl] = '\0';
	/* inet_pton takes only the dotted quad: no names, no 0x or octal */
	return inet_pton(AF_INET, host, a) == 1 && !v4_refused(a);
}

int ms_endpoint_passable(const char *ep)
{
	return ms_endpoint_dialable(ep) && strchr(ep, '%') == NULL;
}
