/* endpoint.c — what an endpoint may be used for (see endpoint.h). */
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

int ms_endpoint_passable(const char *ep)
{
	return ms_endpoint_check(ep) == 0 && !ms_endpoint_is_wildcard(ep) &&
	       strchr(ep, '%') == NULL;
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
