/*
 * public_api.c — compiled (never run) by public_headers.cmake against the
 * headers `cmake --install` puts in a fresh prefix, with no other include
 * directory, as strict C99.  It fails to compile when the public headers
 * need an internal header, declare a library-only helper, or renumber an
 * error code, and it uses every public call the way an embedder would.
 */
#include <meshsync.h>

/* Library-only names must not be visible: a typedef of the same name is an
 * error once a function of that name is declared. */
typedef int ms_errf;
#ifdef MS_ERR_COUNT
#error "MS_ERR_COUNT is internal (ms_err_int.h)"
#endif

/* The error codes' values are an ABI (C99 has no _Static_assert). */
#define ABI(name, value) typedef char abi_##name[(name) == (value) ? 1 : -1]
ABI(MS_OK, 0);
ABI(MS_ENOMEM, 1);
ABI(MS_EINVAL, 2);
ABI(MS_EIO, 3);
ABI(MS_ENOTFOUND, 4);
ABI(MS_EEXIST, 5);
ABI(MS_ECORRUPT, 6);
ABI(MS_ECRYPTO, 7);
ABI(MS_EPROTO, 8);
ABI(MS_EFULL, 9);
ABI(MS_EPERM, 10);
ABI(MS_ESTORE, 11);
ABI(MS_ENET, 12);
ABI(MS_EBUSY, 13);
ABI(MS_EDELETED, 14);

static int print_one(const ms_node_value *v, void *ctx)
{
	(void)ctx;
	return v->len == 0;
}

int public_api_example(const char *dir, const char *netkey_text);

int public_api_example(const char *dir, const char *netkey_text)
{
	ms_errbuf eb;
	ms_node *n = NULL;
	ms_node_write_result res;
	char id[MS_NODE_ID_HEX_LEN], net[MS_NODE_ID_HEX_LEN];
	char key[MS_NODE_NETKEY_TEXT_LEN];
	const uint8_t *raw;
	ms_err e;

	ms_errbuf_clear(&eb);
	if (ms_node_init(dir, netkey_text, &eb) != MS_OK)
		return 1;
	if (ms_node_open(&n, dir, NULL, &eb) != MS_OK)
		return 1;
	e = ms_node_put(n, "k", 1, "v", 1, MS_NODE_PUT_BACKGROUND, &res, &eb);
	if (e == MS_OK)
		e = ms_node_del(n, "k", 1, 0, NULL, &eb);
	if (e == MS_OK)
		e = ms_node_get(n, "k", 1, MS_NODE_GET_ALL, print_one, NULL,
		                &eb);
	if (e == MS_EDELETED || e == MS_ENOTFOUND)
		e = MS_OK;
	raw = ms_node_id(n);
	ms_node_id_hex(n, id);
	ms_node_network_id_hex(n, net);
	ms_node_network_key_text(n, key);
	ms_node_close(&n);
	return e != MS_OK || raw == NULL || res.seq == 0 ||
	       ms_strerror(e)[0] == '\0' ||
	       res.id[0] + id[0] + net[0] + key[0] == 0;
}
