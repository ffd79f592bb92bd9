/*
 * node.c — the ms_node context: creating a node's data directory (keys,
 * default config, store), opening it, and the key/value calls of the public
 * API (node/meshsync.h), including how counter keys turn decimal text into
 * 8-byte deltas and back.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ms_bytes.h"
#include "ms_path.h"
#include "node_int.h"

_Static_assert(MS_NODE_ID_LEN == MS_PK_LEN, "node id is the public key");
_Static_assert(MS_NODE_ID_HEX_LEN == 2 * MS_PK_LEN + 1, "hex id length");
_Static_assert(MS_NODE_ID_HEX_LEN == 2 * MS_NETID_LEN + 1, "hex netid length");
_Static_assert(MS_NODE_NETKEY_TEXT_LEN == MS_NETKEY_TEXT_LEN,
               "network key text length");
_Static_assert(MS_NODE_OP_ID_LEN == MS_HASH_LEN, "op id is a BLAKE2b-256 hash");

/* Longest decimal i64 with sign: enough room for counter text. */
#define COUNTER_TEXT_MAX 24

static int path_exists(const char *dir, const char *name)
{
	char *p = ms_path_join(dir, name);
	struct stat st;
	int r;

	if (p == NULL) {
		errno = ENOMEM;
		return -1;
	}
	r = lstat(p, &st) == 0 ? 1 : (errno == ENOENT ? 0 : -1);
	free(p);
	return r;
}

/*
 * mkdir -p for the parents (default mode, as mkdir(1) does), then dir itself
 * 0700.  An existing dir must be ours and is tightened to 0700, since the
 * key files' safety rests on it.  *created says whether we made dir.
 */
static ms_err make_data_dir(const char *dir, int *created, ms_errbuf *eb)
{
	char *buf = strdup(dir);
	struct stat st;
	ms_err e = MS_OK;

	*created = 0;
	if (buf == NULL)
		return ms_errf(eb, MS_ENOMEM, "init %s: out of memory", dir);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
			e = ms_errf(eb, MS_EIO, "mkdir %s: %s", buf,
			            strerror(errno));
			goto out;
		}
		*p = '/';
	}
	if (mkdir(dir, 0700) == 0) {
		*created = 1;
	} else if (errno != EEXIST) {
		e = ms_errf(eb, MS_EIO, "mkdir %s: %s", dir, strerror(errno));
		goto out;
	}
	if (stat(dir, &st) != 0) {
		e = ms_errf(eb, MS_EIO, "stat %s: %s", dir, strerror(errno));
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		e = ms_errf(eb, MS_EINVAL, "init %s: not a directory", dir);
		goto out;
	}
	if (st.st_uid != geteuid()) {
		e = ms_errf(
			eb, MS_EPERM,
			"init %s: directory belongs to uid %u, not to us (uid %u)",
			dir, (unsigned)st.st_uid, (unsigned)geteuid());
		goto out;
	}
	if ((st.st_mode & 07777) != 0700 && chmod(dir, 0700) != 0) {
		e = ms_errf(eb, MS_EPERM, "chmod 0700 %s: %s", dir,
		            strerror(errno));
		goto out;
	}
out:
	free(buf);
	return e;
}

ms_err ms_node_init(const char *dir, const char *netkey_text, ms_errbuf *eb)
{
	static const char *const node_files[] = {MS_IDENTITY_FILE,
	                                         MS_NETKEY_FILE,
	                                         MS_STORE_DATA_FILE};
	char *id_path = NULL, *nk_path = NULL, *conf_path = NULL;
	char *data_path = NULL, *lock_path = NULL;
	ms_identity *id = NULL;
	ms_netkey *nk = NULL;
	ms_config cfg;
	uint8_t netid[MS_NETID_LEN];
	int created_dir = 0, wrote_id = 0, wrote_nk = 0, wrote_conf = 0;
	int made_store = 0;
	ms_err e;

	if (dir == NULL || dir[0] == '\0')
		return ms_errf(eb, MS_EINVAL, "init: no data directory given");
	if ((e = ms_crypto_init(eb)) != MS_OK)
		return e;
	if ((e = make_data_dir(dir, &created_dir, eb)) != MS_OK)
		return e;
	for (size_t i = 0; i < sizeof node_files / sizeof node_files[0]; i++) {
		int r = path_exists(dir, node_files[i]);
		if (r != 0) {
			e = r > 0 ? ms_errf(eb, MS_EEXIST,
			                    "init %s: a node already exists here (%s); refusing to overwrite it",
			                    dir, node_files[i])
			          : ms_errf(eb,
			                    errno == ENOMEM ? MS_ENOMEM
			                                    : MS_EIO,
			                    "init %s: stat %s: %s", dir,
			                    node_files[i], strerror(errno));
			goto fail;
		}
	}
	id_path = ms_path_join(dir, MS_IDENTITY_FILE);
	nk_path = ms_path_join(dir, MS_NETKEY_FILE);
	conf_path = ms_path_join(dir, MS_NODE_CONF_FILE);
	data_path = ms_path_join(dir, MS_STORE_DATA_FILE);
	lock_path = ms_path_join(dir, "lock.mdb");
	if (!id_path || !nk_path || !conf_path || !data_path || !lock_path) {
		e = ms_errf(eb, MS_ENOMEM, "init %s: out of memory", dir);
		goto fail;
	}

	/* Everything that can be wrong with the input is checked before the
	 * first file is written, so a failed init leaves the dir as it was. */
	e = netkey_text != NULL ? ms_netkey_from_text(&nk, netkey_text, eb)
	                        : ms_netkey_generate(&nk, eb);
	if (e != MS_OK)
		goto fail;
	if ((e = ms_config_load_node(&cfg, dir, NULL, eb)) != MS_OK)
		goto fail;
	if ((e = ms_identity_generate(&id, eb)) != MS_OK)
		goto fail;

	if ((e = ms_identity_save(id, id_path, eb)) != MS_OK)
		goto fail;
	wrote_id = 1;
	if ((e = ms_netkey_save(nk, nk_path, eb)) != MS_OK)
		goto fail;
	wrote_nk = 1;
	if (path_exists(dir, MS_NODE_CONF_FILE) == 0) {
		if ((e = ms_config_write_default(conf_path, eb)) != MS_OK)
			goto fail;
		wrote_conf = 1;
	}
	ms_netkey_id(nk, netid);
	made_store = 1; /* from here a failure may leave store files behind */
	if ((e = ms_store_create(dir, ms_identity_pk(id), netid, &cfg.store,
	                         eb)) != MS_OK)
		goto fail;
	e = MS_OK;
	goto out;

fail:
	if (made_store) {
		unlink(data_path);
		unlink(lock_path);
	}
	if (wrote_conf)
		unlink(conf_path);
	if (wrote_nk)
		unlink(nk_path);
	if (wrote_id)
		unlink(id_path);
	if (created_dir)
		rmdir(dir);
out:
	ms_identity_free(&id);
	ms_netkey_free(&nk);
	free(lock_path);
	free(data_path);
	free(conf_path);
	free(nk_path);
	free(id_path);
	return e;
}

static ms_err node_open(ms_node **out, const char *dir, const char *config_path,
                        int readonly, ms_errbuf *eb)
{
	ms_node *n = NULL;
	char *path = NULL;
	ms_err e;
	int r;

	*out = NULL;
	if (dir == NULL || dir[0] == '\0')
		return ms_errf(eb, MS_EINVAL, "open: no data directory given");
	if ((e = ms_crypto_init(eb)) != MS_OK)
		return e;
	r = path_exists(dir, MS_IDENTITY_FILE);
	if (r == 0)
		return ms_errf(
			eb, MS_ENOTFOUND,
			"open %s: no such node (run meshsync-node init --data %s)",
			dir, dir);
	if (r < 0)
		return ms_errf(eb,
		               errno == EACCES   ? MS_EPERM
		               : errno == ENOMEM ? MS_ENOMEM
		                                 : MS_EIO,
		               "open %s: %s", dir, strerror(errno));

	n = calloc(1, sizeof *n);
	if (n == NULL || (n->dir = strdup(dir)) == NULL) {
		e = ms_errf(eb, MS_ENOMEM, "open %s: out of memory", dir);
		goto fail;
	}
	if ((e = ms_config_load_node(&n->cfg, dir, config_path, eb)) != MS_OK)
		goto fail;

	if ((path = ms_path_join(dir, MS_IDENTITY_FILE)) == NULL) {
		e = ms_errf(eb, MS_ENOMEM, "open %s: out of memory", dir);
		goto fail;
	}
	if ((e = ms_identity_load(&n->id, path, eb)) != MS_OK)
		goto fail;
	free(path);
	if ((path = ms_path_join(dir, MS_NETKEY_FILE)) == NULL) {
		e = ms_errf(eb, MS_ENOMEM, "open %s: out of memory", dir);
		goto fail;
	}
	if ((e = ms_netkey_load(&n->netkey, path, eb)) != MS_OK)
		goto fail;
	free(path);
	path = NULL;
	ms_netkey_id(n->netkey, n->netid);

	n->cfg.store.readonly = readonly;
	if ((e = ms_store_open(&n->store, dir, &n->cfg.store, eb)) != MS_OK)
		goto fail;
	if (memcmp(ms_store_node_id(n->store), ms_identity_pk(n->id),
	           MS_PK_LEN) != 0) {
		e = ms_errf(
			eb, MS_ECORRUPT,
			"open %s: %s is not the identity this store was created with",
			dir, MS_IDENTITY_FILE);
		goto fail;
	}
	if (memcmp(ms_store_network_id(n->store), n->netid, MS_NETID_LEN) !=
	    0) {
		e = ms_errf(
			eb, MS_ECORRUPT,
			"open %s: %s is not the network key this store was created with",
			dir, MS_NETKEY_FILE);
		goto fail;
	}
	*out = n;
	return MS_OK;

fail:
	free(path);
	ms_node_close(&n);
	return e;
}

ms_err ms_node_open(ms_node **out, const char *dir, const char *config_path,
                    ms_errbuf *eb)
{
	return node_open(out, dir, config_path, 0, eb);
}

ms_err ms_node_open_for_read(ms_node **out, const char *dir,
                             const char *config_path, ms_errbuf *eb)
{
	struct statvfs v;
	ms_err e = node_open(out, dir, config_path, 0, eb);

	/* only where writing is impossible: a read-write open is what
	 * migrates an older store, and it reports a read-only file system
	 * as such to every other command */
	if (e == MS_EIO && statvfs(dir, &v) == 0 && (v.f_flag & ST_RDONLY))
		e = node_open(out, dir, config_path, 1, eb);
	return e;
}

void ms_node_close(ms_node **np)
{
	ms_node *n;

	if (np == NULL || (n = *np) == NULL)
		return;
	ms_wake_free(&n->wake);
	ms_store_close(&n->store);
	ms_netkey_free(&n->netkey);
	ms_identity_free(&n->id);
	free(n->dir);
	free(n);
	*np = NULL;
}

/* The priority a write's flags ask for; MS_EINVAL for bits this version
 * does not know, so a caller built against a newer header is told rather
 * than silently given something else. */
static ms_err write_prio(const char *what, unsigned flags, ms_prio *prio,
                         ms_errbuf *eb)
{
	*prio = (flags & MS_NODE_PUT_BACKGROUND) ? MS_PRIO_BACKGROUND
	                                         : MS_PRIO_USER;
	if ((flags & ~MS_NODE_PUT_BACKGROUND) != 0)
		return ms_errf(eb, MS_EINVAL, "%s: unknown flags 0x%x", what,
		               flags & ~MS_NODE_PUT_BACKGROUND);
	return MS_OK;
}

/* Append one local op (with the parents the caller names, when it names
 * them: ms_node_resolve); copy its id, seq and hlc to res (if any) only
 * once it is committed. */
ms_err ms_node_write_op(ms_node *n, ms_op_type type, ms_prio prio,
                        const void *key, size_t klen, const void *value,
                        size_t vlen, const uint8_t (*parents)[MS_HASH_LEN],
                        size_t nparents, uint64_t *heads_now,
                        ms_node_write_result *res, ms_errbuf *eb)
{
	ms_append_result ar;
	ms_err e;

	e = ms_store_append_resolve(n->store, n->id, type, prio, key, klen,
	                            value, vlen, parents, nparents, heads_now,
	                            &ar, eb);
	if (e == MS_OK && res != NULL) {
		memcpy(res->id, ar.id, sizeof res->id);
		res->seq = ar.seq;
		res->hlc = ar.hlc;
	}
	return e;
}

/* Strict decimal i64 with optional sign and surrounding whitespace (so a
 * value piped from `echo 5` works). */
static int counter_parse(const void *value, size_t vlen, int64_t *out)
{
	char buf[COUNTER_TEXT_MAX + 1];
	const char *p;
	char *end;
	long long v;

	if (vlen == 0 || vlen > COUNTER_TEXT_MAX || memchr(value, '\0', vlen))
		return -1;
	memcpy(buf, value, vlen);
	buf[vlen] = '\0';
	for (p = buf; *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'; p++)
		;
	if (!((*p >= '0' && *p <= '9') ||
	      ((*p == '-' || *p == '+') && p[1] >= '0' && p[1] <= '9')))
		return -1;
	errno = 0;
	v = strtoll(p, &end, 10);
	if (errno != 0)
		return -1;
	for (; *end == ' ' || *end == '\t' || *end == '\n' || *end == '\r';
	     end++)
		;
	if (*end != '\0')
		return -1;
	*out = (int64_t)v;
	return 0;
}

ms_err ms_node_put(ms_node *n, const void *key, size_t klen, const void *value,
                   size_t vlen, unsigned flags, ms_node_write_result *res,
                   ms_errbuf *eb)
{
	uint8_t delta[8];
	ms_prio prio;
	ms_err e;

	if ((e = write_prio("put", flags, &prio, eb)) != MS_OK)
		return e;
	if (klen == 0)
		return ms_errf(eb, MS_EINVAL, "put: key is empty");
	if (ms_store_policy_for(n->store, key, klen) == MS_POLICY_COUNTER) {
		int64_t d;
		if (counter_parse(value, vlen, &d) != 0)
			return ms_errf(
				eb, MS_EINVAL,
				"put: counter key needs a decimal integer delta (e.g. 5 or -3)");
		ms_put_le64(delta, (uint64_t)d);
		value = delta;
		vlen = sizeof delta;
	}
	return ms_node_write_op(n, MS_OP_PUT, prio, key, klen, value, vlen,
	                        NULL, 0, NULL, res, eb);
}

ms_err ms_node_del(ms_node *n, const void *key, size_t klen, unsigned flags,
                   ms_node_write_result *res, ms_errbuf *eb)
{
	ms_prio prio;
	ms_err e;

	if ((e = write_prio("del", flags, &prio, eb)) != MS_OK)
		return e;
	if (klen == 0)
		return ms_errf(eb, MS_EINVAL, "del: key is empty");
	if (ms_store_policy_for(n->store, key, klen) == MS_POLICY_COUNTER)
		return ms_errf(
			eb, MS_EINVAL,
			"del: counter keys cannot be deleted; put a negative delta");
	return ms_node_write_op(n, MS_OP_DEL, prio, key, klen, NULL, 0, NULL, 0,
	                        NULL, res, eb);
}

/* Hand one head to the callback, counter deltas as decimal text. */
static int emit_head(const ms_key_state *ks, size_t i, int deleted,
                     ms_node_value_fn fn, void *ctx)
{
	const ms_head *h = &ks->heads[i];
	char text[COUNTER_TEXT_MAX];
	ms_node_value v = {
		.data = h->value,
		.len = h->value_len,
		.author = h->author,
		.seq = h->seq,
		.hlc = h->hlc,
		.deleted = deleted,
		.winner = i == 0,
		.id = h->id,
	};

	if (ks->policy == MS_POLICY_COUNTER && h->type == MS_OP_PUT &&
	    h->value_len == 8) {
		int len = snprintf(text, sizeof text, "%" PRId64,
		                   (int64_t)ms_get_le64(h->value));
		v.data = text;
		v.len = (size_t)len;
	}
	return fn(&v, ctx);
}

ms_err ms_node_values(const ms_key_state *ks, unsigned flags,
                      ms_node_value_fn fn, void *ctx)
{
	if (flags & MS_NODE_GET_ALL) {
		for (size_t i = 0; i < ks->nheads; i++)
			if (emit_head(ks, i, ks->heads[i].type == MS_OP_DEL, fn,
			              ctx))
				break;
		return MS_OK;
	}
	if (!ms_key_state_live(ks))
		return MS_EDELETED;
	switch (ks->policy) {
	case MS_POLICY_COUNTER: {
		char text[COUNTER_TEXT_MAX];
		int len = snprintf(text, sizeof text, "%" PRId64, ks->counter);
		ms_node_value v = {.data = text,
		                   .len = (size_t)len,
		                   .winner = 1};
		fn(&v, ctx);
		break;
	}
	case MS_POLICY_MV:
		for (size_t i = 0; i < ks->nheads; i++)
			if (ks->heads[i].type == MS_OP_PUT &&
			    emit_head(ks, i, 0, fn, ctx))
				break;
		break;
	case MS_POLICY_LWW:
	default:
		emit_head(ks, 0, 0, fn, ctx);
		break;
	}
	return MS_OK;
}

ms_err ms_node_get(ms_node *n, const void *key, size_t klen, unsigned flags,
                   ms_node_value_fn fn, void *ctx, ms_errbuf *eb)
{
	ms_store_rtxn *rt = NULL;
	ms_key_state ks;
	ms_err e;

	if ((flags & ~MS_NODE_GET_ALL) != 0)
		return ms_errf(eb, MS_EINVAL, "get: unknown flags 0x%x",
		               flags & ~MS_NODE_GET_ALL);
	if (klen == 0)
		return ms_errf(eb, MS_EINVAL, "get: key is empty");
	if (fn == NULL)
		return ms_errf(eb, MS_EINVAL, "get: no callback given");
	if ((e = ms_store_read_begin(n->store, &rt, eb)) != MS_OK)
		return e;
	if ((e = ms_store_get(rt, key, klen, &ks, eb)) != MS_OK) {
		if (e == MS_ENOTFOUND)
			ms_errf(eb, e, "get: no such key");
		goto out;
	}
	if ((e = ms_node_values(&ks, flags, fn, ctx)) == MS_EDELETED)
		ms_errf(eb, e, "get: key is deleted");
out:
	ms_store_read_end(&rt);
	return e;
}

const uint8_t *ms_node_id(const ms_node *n)
{
	return ms_identity_pk(n->id);
}

void ms_node_id_hex(const ms_node *n, char out[MS_NODE_ID_HEX_LEN])
{
	ms_hex(out, ms_identity_pk(n->id), MS_PK_LEN);
}

void ms_node_network_id_hex(const ms_node *n, char out[MS_NODE_ID_HEX_LEN])
{
	ms_hex(out, n->netid, MS_NETID_LEN);
}

void ms_node_network_key_text(const ms_node *n,
                              char out[MS_NODE_NETKEY_TEXT_LEN])
{
	ms_netkey_to_text(n->netkey, out);
}

/*
 * The batch goes to the store as one ms_store_append_batch: one
 * transaction, one durable commit, signatures on both cores.  Everything
 * about each write is checked first (the message names its index), so a
 * bad write leaves the store untouched.  Counter deltas and the store's
 * item array live in one allocation for the call.
 */
ms_err ms_node_write_batch(ms_node *n, const ms_node_write *w, size_t nw,
                           unsigned flags, ms_node_write_result *res,
                           ms_errbuf *eb)
{
	ms_append_item *items = NULL;
	ms_append_result *ar = NULL;
	uint8_t(*delta)[8] = NULL;
	ms_prio prio;
	size_t bytes;
	ms_err e;

	if ((e = write_prio("write_batch", flags, &prio, eb)) != MS_OK)
		return e;
	if (w == NULL || nw == 0 || nw > MS_NODE_BATCH_MAX)
		return ms_errf(eb, MS_EINVAL,
		               "write_batch: %zu writes: a batch holds 1..%u",
		               w == NULL ? 0 : nw, MS_NODE_BATCH_MAX);
	bytes = nw * (sizeof *items + sizeof *delta +
	              (res != NULL ? sizeof *ar : 0));
	items = malloc(bytes);
	if (items == NULL)
		return ms_errf(eb, MS_ENOMEM,
		               "write_batch: out of memory for %zu writes", nw);
	delta = (uint8_t(*)[8])(items + nw);
	if (res != NULL)
		ar = (ms_append_result *)(delta + nw);
	for (size_t i = 0; i < nw; i++) {
		ms_append_item *it = &items[i];
		int counter;

		if (w[i].klen == 0 || w[i].key == NULL) {
			e = ms_errf(eb, MS_EINVAL,
			            "write_batch: write %zu: key is empty", i);
			goto out;
		}
		if (w[i].vlen > 0 && w[i].value == NULL) {
			e = ms_errf(eb, MS_EINVAL,
			            "write_batch: write %zu: value is NULL", i);
			goto out;
		}
		counter = ms_store_policy_for(n->store, w[i].key, w[i].klen) ==
		          MS_POLICY_COUNTER;
		it->prio = (uint8_t)prio;
		it->key = w[i].key;
		it->klen = w[i].klen;
		if (w[i].del) {
			if (counter) {
				e = ms_errf(eb, MS_EINVAL,
				            "write_batch: write %zu: counter "
				            "keys cannot be deleted; put a "
				            "negative delta",
				            i);
				goto out;
			}
			if (w[i].vlen != 0) {
				e = ms_errf(eb, MS_EINVAL,
				            "write_batch: write %zu: a delete "
				            "carries no value",
				            i);
				goto out;
			}
			it->type = MS_OP_DEL;
			it->value = NULL;
			it->vlen = 0;
			continue;
		}
		it->type = MS_OP_PUT;
		it->value = w[i].value;
		it->vlen = w[i].vlen;
		if (counter) {
			int64_t d;
			if (counter_parse(w[i].value, w[i].vlen, &d) != 0) {
				e = ms_errf(eb, MS_EINVAL,
				            "write_batch: write %zu: counter "
				            "key needs a decimal integer delta "
				            "(e.g. 5 or -3)",
				            i);
				goto out;
			}
			ms_put_le64(delta[i], (uint64_t)d);
			it->value = delta[i];
			it->vlen = sizeof delta[i];
		}
	}
	e = ms_store_append_batch(n->store, n->id, items, nw, ar, eb);
	if (e == MS_OK && res != NULL)
		for (size_t i = 0; i < nw; i++) {
			memcpy(res[i].id, ar[i].id, sizeof res[i].id);
			res[i].seq = ar[i].seq;
			res[i].hlc = ar[i].hlc;
		}
out:
	free(items);
	return e;
}
