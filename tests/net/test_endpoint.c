/*
 * test_endpoint.c — which endpoints may be used for what (net/endpoint.h):
 * the config's syntax check, and what a peer or the LAN may make us dial
 * (numeric hosts only, a real port, no unspecified, multicast or
 * broadcast address) and pass on.
 */
#include <check.h>
#include <string.h>

#include "endpoint.h"
#include "ms_test.h"

typedef struct ep_case {
	const char *ep;
	int check;    /* ms_endpoint_check == 0 */
	int dialable; /* ms_endpoint_dialable */
	int passable; /* ms_endpoint_passable */
} ep_case;

static const ep_case cases[] = {
	/* numeric, usable */
	{"tcp://10.0.0.7:7700", 1, 1, 1},
	{"tcp://127.0.0.1:1", 1, 1, 1},
	{"tcp://192.168.1.20:65535", 1, 1, 1},
	{"tcp://[::1]:7700", 1, 1, 1},
	{"tcp://[2001:db8::5]:7700", 1, 1, 1},
	{"tcp://[::ffff:10.0.0.1]:7700", 1, 1, 1},
	/* link-local with its zone: dialable here, meaningless elsewhere */
	{"tcp://[fe80::1%eth0]:7700", 1, 1, 0},
	/* names: the operator's config only (ZeroMQ would resolve them in
	 * its I/O thread) */
	{"tcp://node-b.local:7700", 1, 0, 0},
	{"tcp://localhost:7700", 1, 0, 0},
	{"tcp://10.0.0.7.example:7700", 1, 0, 0},
	/* not dotted quads inet_pton takes */
	{"tcp://010.0.0.1:7700", 1, 0, 0},
	{"tcp://0x7f.0.0.1:7700", 1, 0, 0},
	{"tcp://127.1:7700", 1, 0, 0},
	{"tcp://1.2.3.4.5:7700", 1, 0, 0},
	/* unspecified, multicast, broadcast */
	{"tcp://0.0.0.0:7700", 1, 0, 0},
	{"tcp://*:7700", 1, 0, 0},
	{"tcp://[::]:7700", 1, 0, 0},
	{"tcp://224.0.0.251:7700", 1, 0, 0},
	{"tcp://239.255.255.250:7700", 1, 0, 0},
	{"tcp://255.255.255.255:7700", 1, 0, 0},
	{"tcp://[ff02::1]:7700", 1, 0, 0},
	{"tcp://[::ffff:224.0.0.1]:7700", 1, 0, 0},
	{"tcp://[::ffff:0.0.0.0]:7700", 1, 0, 0},
	/* ports */
	{"tcp://10.0.0.7:0", 1, 0, 0},
	{"tcp://10.0.0.7:65536", 1, 0, 0},
	{"tcp://10.0.0.7:099999", 1, 0, 0},
	{"tcp://10.0.0.7:77a", 1, 0, 0},
	{"tcp://10.0.0.7:-1", 1, 0, 0},
	{"tcp://10.0.0.7:*", 1, 0, 0},
	{"tcp://[::1]7700", 1, 0, 0},
	{"tcp://[::1%]:7700", 1, 0, 0},
	{"tcp://[::1:7700", 1, 0, 0},
	/* not endpoints at all */
	{"udp://10.0.0.7:7700", 0, 0, 0},
	{"tcp://10.0.0.7", 0, 0, 0},
	{"tcp://10.0.0.7:", 0, 0, 0},
	{"tcp://10.0.0.7 :7700", 0, 0, 0},
	{"tcp://10.0.0.7:7700\n", 0, 0, 0},
	{"", 0, 0, 0},
};

START_TEST(endpoint_rules)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const ep_case *c = &cases[i];
		ck_assert_msg((ms_endpoint_check(c->ep) == 0) == c->check,
		              "check(%s)", c->ep);
		ck_assert_msg(ms_endpoint_dialable(c->ep) == c->dialable,
		              "dialable(%s) = %d", c->ep,
		              ms_endpoint_dialable(c->ep));
		ck_assert_msg(ms_endpoint_passable(c->ep) == c->passable,
		              "passable(%s)", c->ep);
	}
}
END_TEST

START_TEST(longest_endpoint)
{
	char ep[MS_ENDPOINT_MAX + 8];

	/* a full-length IPv6 address with a long zone still fits */
	snprintf(ep, sizeof ep, "%s",
	         "tcp://[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
	         "%abcdefghijklmno]:65535");
	ck_assert_uint_lt(strlen(ep), MS_ENDPOINT_MAX);
	ck_assert_int_eq(ms_endpoint_check(ep), 0);
	ck_assert_int_eq(ms_endpoint_dialable(ep), 0); /* ff..: multicast */
	ep[7] = '2';                                   /* 2fff:... */
	ck_assert_int_eq(ms_endpoint_dialable(ep), 1);
	/* one byte too long for the records: refused everywhere */
	memset(ep, 0, sizeof ep);
	memcpy(ep, "tcp://", 6);
	memset(ep + 6, 'a', MS_ENDPOINT_MAX - 6 - 5);
	memcpy(ep + MS_ENDPOINT_MAX - 5, ":7700", 5);
	ck_assert_uint_eq(strlen(ep), MS_ENDPOINT_MAX);
	ck_assert_int_eq(ms_endpoint_check(ep), -1);
	ck_assert_int_eq(ms_endpoint_dialable(ep), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("endpoint");
	TCase *tc = tcase_create("endpoint");

	tcase_add_test(tc, endpoint_rules);
	tcase_add_test(tc, longest_endpoint);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(suite());
}
