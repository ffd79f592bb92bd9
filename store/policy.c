/*
 * policy.c — conflict policies per key prefix: names, the table stored in
 * meta (so read-only openers resolve keys exactly as the writer does), and
 * longest-prefix lookup.
 *
 * Stored layout (meta "policies"): u32 LE count, then per rule
 * u8 policy, u8 prefix length, prefix bytes.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#define POLICY_BLOB_MAX (4 + MS_POLICY_MAX * (2 + MS_POLICY_PREFIX_MAX))

const char *ms_policy_name(ms_policy p)
{
	switch (p) {
	case MS_POLICY_LWW:
		return "lww";
	case MS_POLICY_MV:
		return "mv";
	case MS_POLICY_COUNTER:
		return "counter";
	}
	return "unknown";
}

int ms_policy_parse(const char *name, ms_policy *out)
{
	static const ms_policy all[] = {MS_POLICY_LWW, MS_POLICY_MV,
	                                MS_POLICY_COUNTER};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		if (strcmp(name, ms_policy_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return -1;
}

ms_policy ms_store_policy_for(const ms_store *s, const uint8_t *key,
                              size_t klen)
{
	ms_policy best = MS_POLICY_LWW;
	size_t best_len = 0;
	int found = 0;

	for (size_t i = 0; i < s->nrules; i++) {
		size_t pl = strlen(s->rules[i].prefix);
		if (pl > klen || memcmp(s->rules[i].prefix, key, pl) != 0)
			continue;
		/* Longest prefix wins; among equal prefixes the first listed. */
		if (!found || pl > best_len) {
			best = s->rules[i].policy;
			best_len = pl;
			found = 1;
		}
	}
	return best;
}

const ms_policy_rule *ms_store_policies(const ms_store *s, size_t *n)
{
	*n = s->nrules;
	return s->rules;
}

/* Serialise a table; -1 if it breaks a limit. */
static long policy_blob(uint8_t *out, const ms_policy_rule *r, size_t n)
{
	size_t off = 4;

	if (n > MS_POLICY_MAX)
		return -1;
	ms_put_le16(out, (uint16_t)n);
	out[2] = out[3] = 0;
	for (size_t i = 0; i < n; i++) {
		size_t pl = strnlen(r[i].prefix, MS_POLICY_PREFIX_MAX + 1);
		if (pl > MS_POLICY_PREFIX_MAX ||
		    (unsigned)r[i].policy > MS_POLICY_COUNTER)
			return -1;
		out[off++] = (uint8_t)r[i].policy;
		out[off++] = (uint8_t)pl;
		memcpy(out + off, r[i].prefix, pl);
		off += pl;
	}
	return (long)off;
}

int st_policy_differs(ms_store *s, MDB_txn *txn, const ms_policy_rule *r,
                      size_t n)
{
	uint8_t blob[POLICY_BLOB_MAX];
	MDB_val k = {strlen(ST_META_POLICIES), (void *)ST_META_POLICIES}, v;
	long len = policy_blob(blob, r, n);

	if (len < 0)
		return 1; /* let st_policy_store report the bad table */
	if (mdb_get(txn, s->dbi[ST_DB_META], &k, &v) != 0)
		return 1;
	return v.mv_size != (size_t)len ||
	       memcmp(v.mv_data, blob, (size_t)len) != 0;
}

ms_err st_policy_store(ms_store *s, MDB_txn *txn, const ms_policy_rule *r,
                       size_t n, ms_errbuf *eb)
{
	uint8_t blob[POLICY_BLOB_MAX];
	MDB_val k = {strlen(ST_META_POLICIES), (void *)ST_META_POLICIES}, v;
	long len = policy_blob(blob, r, n);
	int rc;

	if (len < 0)
		return ms_errf(eb, MS_EINVAL,
		               "policy table: at most %d rules, prefixes of at "
		               "most %d bytes, policies lww|mv|counter",
		               MS_POLICY_MAX, MS_POLICY_PREFIX_MAX);
	v.mv_size = (size_t)len;
	v.mv_data = blob;
	rc = mdb_put(txn, s->dbi[ST_DB_META], &k, &v, 0);
	return rc ? st_mdb(s, eb, rc, "write policy table") : MS_OK;
}

ms_err st_policy_read(ms_store *s, MDB_txn *txn, ms_policy_rule **out,
                      size_t *nout, ms_errbuf *eb)
{
	MDB_val k = {strlen(ST_META_POLICIES), (void *)ST_META_POLICIES}, v;
	const uint8_t *p;
	ms_policy_rule *rules = NULL;
	size_t n, off = 4;
	int rc;

	*out = NULL;
	*nout = 0;
	rc = mdb_get(txn, s->dbi[ST_DB_META], &k, &v);
	if (rc == MDB_NOTFOUND)
		return MS_OK;
	if (rc != 0)
		return st_mdb(s, eb, rc, "read policy table");
	p = v.mv_data;
	if (v.mv_size < 4)
		goto bad;
	n = ms_get_le16(p);
	if (n > MS_POLICY_MAX)
		goto bad;
	if (n > 0) {
		rules = calloc(n, sizeof *rules);
		if (rules == NULL)
			return ms_errf(eb, MS_ENOMEM,
			               "policy table: out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		size_t pl;
		if (off + 2 > v.mv_size || p[off] > MS_POLICY_COUNTER)
			goto bad;
		rules[i].policy = (ms_policy)p[off];
		pl = p[off + 1];
		off += 2;
		if (off + pl > v.mv_size)
			goto bad;
		memcpy(rules[i].prefix, p + off, pl);
		rules[i].prefix[pl] = '\0';
		off += pl;
	}
	if (off != v.mv_size)
		goto bad;
	*out = rules;
	*nout = n;
	return MS_OK;
bad:
	free(rules);
	return ms_errf(eb, MS_ECORRUPT, "policy table in meta is malformed");
}

void st_policy_install(ms_store *s, ms_policy_rule *rules, size_t n)
{
	free(s->rules);
	s->rules = rules;
	s->nrules = n;
}

ms_err st_policy_load(ms_store *s, MDB_txn *txn, ms_errbuf *eb)
{
	ms_policy_rule *rules;
	size_t n;
	ms_err e = st_policy_read(s, txn, &rules, &n, eb);

	if (e == MS_OK)
		st_policy_install(s, rules, n);
	return e;
}
