/*
 * local.c — the workloads that need no daemon: durable single writes
 * (put: the API and the `meshsync-node put` process), the batch write
 * API (batch), and ops of other authors applied as the sync path applies
 * them (ingest: ms_store_ingest, decode + verify + store + state).
 */
#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "crypto.h"
#include "op.h"
#include "store.h"

/* Durable ms_node_put latencies on dir, each beside one durable single
 * put into the raw LMDB environment r, so both see the same load on a
 * shared machine: {lat..., writes_per_s} for meshsync, *rawj for raw. */
static json_t *put_api(const char *dir, msb_rawdb *r, size_t samples,
                       double *p50, double *p99, double *rp50, double *rp99,
                       json_t **rawj)
{
	ms_node *n = NULL;
	ms_errbuf eb = {0};
	double *lat = calloc(samples, sizeof *lat);
	double *rlat = calloc(samples, sizeof *rlat);
	uint8_t value[MSB_VALUE_LEN];
	double secs = 0;
	json_t *o = NULL;

	if (lat == NULL || rlat == NULL ||
	    ms_node_open(&n, dir, NULL, &eb) != MS_OK)
		goto out;
	randombytes_buf(value, sizeof value);
	for (size_t i = 0; i < samples; i++) {
		char key[48];
		int klen = snprintf(key, sizeof key, "put/api/%zu", i);
		uint64_t t = msb_now_ns();
		if (ms_node_put(n, key, (size_t)klen, value, sizeof value, 0,
		                NULL, &eb) != MS_OK)
			goto out;
		lat[i] = (double)(msb_now_ns() - t) / 1e6;
		secs += lat[i] / 1000;
		if ((rlat[i] = msb_rawdb_put(r)) < 0) {
			snprintf(eb.msg, sizeof eb.msg, "raw LMDB put failed");
			goto out;
		}
	}
	o = msb_lat_json(lat, samples);
	*p50 = msb_pct(lat, samples, 50);
	*p99 = msb_pct(lat, samples, 99);
	json_object_set_new(o, "writes_per_s",
	                    json_real((double)samples / secs));
	*rawj = msb_lat_json(rlat, samples);
	*rp50 = msb_pct(rlat, samples, 50);
	*rp99 = msb_pct(rlat, samples, 99);
out:
	if (o == NULL)
		msb_say("put through the API on %s: %s", dir, eb.msg);
	ms_node_close(&n);
	free(lat);
	free(rlat);
	return o != NULL ? o : json_null();
}

/* `meshsync-node put` processes, one per write, waited for in turn. */
static json_t *put_cli(const msb_ctx *c, const char *dir, size_t samples)
{
	double *lat = calloc(samples, sizeof *lat), secs;
	char value[MSB_VALUE_LEN + 1];
	uint64_t t0;
	json_t *o = NULL;

	if (lat == NULL)
		return json_null();
	for (size_t i = 0; i < MSB_VALUE_LEN; i++)
		value[i] = (char)('a' + i % 26);
	value[MSB_VALUE_LEN] = '\0';
	t0 = msb_now_ns();
	for (size_t i = 0; i < samples; i++) {
		char key[48];
		char *argv[] = {c->node_bin, "put", "--data", (char *)dir,
		                key,         value, NULL};
		uint64_t t = msb_now_ns();
		snprintf(key, sizeof key, "put/cli/%zu", i);
		if (msb_run(argv, 1) != 0) {
			msb_say("meshsync-node put on %s failed", dir);
			free(lat);
			return json_null();
		}
		lat[i] = (double)(msb_now_ns() - t) / 1e6;
	}
	secs = msb_secs_since(t0);
	o = msb_lat_json(lat, samples);
	json_object_set_new(o, "writes_per_s",
	                    json_real((double)samples / secs));
	free(lat);
	return o;
}

/* One store size of put: API, CLI, and raw LMDB single puts on an
 * environment of as many records, timed turn about with the API's. */
static json_t *put_size(msb_ctx *c, const char *dir, uint64_t ops, int big,
                        json_t *targets, const char *label)
{
	size_t sa = c->quick ? 100 : 1000, sc = c->quick ? 5 : 50;
	double p50 = NAN, p99 = NAN, rp50 = NAN, rp99 = NAN;
	json_t *o = json_object(), *api, *rawj = NULL;
	msb_rawdb *r;
	char name[64];

	msb_say("put: %zu API writes on a store of %" PRIu64
	        " ops, each beside a raw LMDB put on %" PRIu64 " records",
	        sa, ops, ops);
	if ((r = msb_rawdb_open(c, ops, sa)) == NULL) {
		json_decref(o);
		return json_null();
	}
	api = put_api(dir, r, sa, &p50, &p99, &rp50, &rp99, &rawj);
	msb_rawdb_close(&r);
	json_object_set_new(o, "store_ops", json_integer((json_int_t)ops));
	json_object_set_new(o, "api", api);
	json_object_set_new(o, "raw_lmdb", rawj != NULL ? rawj : json_null());
	msb_say("put: api p50 %.3f ms p99 %.3f ms (raw LMDB beside: %.3f / "
	        "%.3f)",
	        p50, p99, rp50, rp99);
	msb_say("put: %zu meshsync-node put processes", sc);
	json_object_set_new(o, "cli", put_cli(c, dir, sc));
	json_object_set_new(o, "raw_lmdb_start_of_run",
	                    json_pack("{s:f, s:f}", "p50_ms",
	                              c->lmdb_p50_ms[big], "p99_ms",
	                              c->lmdb_p99_ms[big]));
	json_object_set_new(o, "ratios",
	                    json_pack("{s:o, s:o}", "p50_vs_raw_lmdb",
	                              msb_ratio(p50, rp50), "p99_vs_raw_lmdb",
	                              msb_ratio(p99, rp99)));
	snprintf(name, sizeof name, "p99_vs_raw_lmdb_%s", label);
	json_object_set_new(targets, name,
	                    msb_target(rp99 > 0 ? p99 / rp99 : NAN,
	                               "<=", 1.25));
	snprintf(name, sizeof name, "p50_ms_%s", label);
	json_object_set_new(targets, name, msb_target(p50, "<=", 1.0));
	return o;
}

json_t *msb_put(msb_ctx *c)
{
	char dir[4096], label[32];
	json_t *o = json_object(), *targets = json_object();

	snprintf(dir, sizeof dir, "%s/put-small", c->dir);
	if (msb_node_create(dir, NULL, NULL) != 0)
		return json_null();
	json_object_set_new(o, "small",
	                    put_size(c, dir, 0, 0, targets, "small"));
	if (msb_big_store(c) != 0)
		return o;
	snprintf(label, sizeof label, "%" PRIu64, c->n);
	json_object_set_new(o, label,
	                    put_size(c, c->big_dir, c->big_ops, 1, targets,
	                             label));
	json_object_set_new(
		o, "params",
		json_pack("{s:i, s:i, s:i, s:I, s:s, s:f, s:s}", "value_bytes",
	                  MSB_VALUE_LEN, "api_samples", c->quick ? 100 : 1000,
	                  "cli_samples", c->quick ? 5 : 50, "big_store_ops",
	                  (json_int_t)c->big_ops, "big_store_fill",
	                  c->big_fill_method, "big_store_fill_seconds",
	                  c->big_fill_seconds, "latency",
	                  "one durable write: ms_node_put's call, each "
	                  "followed by one raw LMDB durable single put on an "
	                  "environment of as many records (raw_lmdb: the "
	                  "comparison, same moments, same load); for cli "
	                  "the whole meshsync-node put process"));
	json_object_set_new(o, "targets", targets);
	return o;
}

json_t *msb_batch(msb_ctx *c)
{
	size_t per = c->quick ? 200 : 1000, calls = c->quick ? 3 : 20;
	char dir[4096];
	ms_node *n = NULL;
	ms_errbuf eb = {0};
	ms_node_write *w = calloc(per, sizeof *w);
	char(*keys)[32] = calloc(per, sizeof *keys);
	double *lat = calloc(calls, sizeof *lat), rate = 0, secs;
	uint8_t value[MSB_VALUE_LEN];
	uint64_t t0;
	json_t *o = NULL, *recheck = NULL;

	snprintf(dir, sizeof dir, "%s/batch", c->dir);
	if (w == NULL || keys == NULL || lat == NULL ||
	    msb_node_create(dir, NULL, NULL) != 0 ||
	    ms_node_open(&n, dir, NULL, &eb) != MS_OK)
		goto out;
	randombytes_buf(value, sizeof value);
	recheck = msb_raw_recheck(c);
	msb_say("batch: %zu calls of %zu writes", calls, per);
	t0 = msb_now_ns();
	for (size_t k = 0; k < calls; k++) {
		uint64_t t = msb_now_ns();
		/* a slow batch path (the stand-in) gets a time budget, not
		 * every call: the default run stays within its minutes */
		if (k > 0 && msb_secs_since(t0) > (c->quick ? 5 : 20)) {
			calls = k;
			break;
		}
		for (size_t i = 0; i < per; i++)
			w[i] = (ms_node_write){.key = keys[i],
			                       .klen = (size_t)
			                               snprintf(keys[i],
			                                        sizeof keys[i],
			                                        "batch/%zu/%zu",
			                                        k, i),
			                       .value = value,
			                       .vlen = sizeof value};
		if (ms_node_write_batch(n, w, per, 0, NULL, &eb) != MS_OK)
			goto out;
		lat[k] = (double)(msb_now_ns() - t) / 1e6;
	}
	secs = msb_secs_since(t0);
	rate = (double)(per * calls) / secs;
	msb_say("batch: %.0f ops/s (2-thread sign rate %.0f/s)", rate,
	        c->sign2_rate);
	o = json_object();
	json_object_set_new(o, "params",
	                    json_pack("{s:I, s:I, s:i, s:s}", "writes_per_call",
	                              (json_int_t)per, "calls",
	                              (json_int_t)calls, "value_bytes",
	                              MSB_VALUE_LEN, "durable",
	                              "every op on disk when the call "
	                              "returns"));
	json_object_set_new(o, "ops_per_s", json_real(rate));
	json_object_set_new(o, "call", msb_lat_json(lat, calls));
	json_object_set_new(o, "limits_rechecked", recheck);
	recheck = NULL;
	json_object_set_new(o, "ratios",
	                    json_pack("{s:o}", "vs_sign_2t",
	                              msb_ratio(rate, c->sign2_rate)));
	json_object_set_new(o, "targets",
	                    json_pack("{s:o}", "vs_sign_2t",
	                              msb_target(c->sign2_rate > 0
	                                                 ? rate / c->sign2_rate
	                                                 : NAN,
	                                         ">=", 0.7)));
out:
	if (o == NULL)
		msb_say("batch: %s", eb.msg[0] ? eb.msg : "setup failed");
	json_decref(recheck);
	ms_node_close(&n);
	free(w);
	free(keys);
	free(lat);
	return o != NULL ? o : json_null();
}

#define ING_BATCH 256
#define ING_AUTHORS 4

json_t *msb_ingest(msb_ctx *c)
{
	uint64_t nops = c->n > 200000 ? 200000 : c->n;
	char dir[4096], key[48];
	ms_store_opts so;
	ms_store *s = NULL;
	ms_identity *id[ING_AUTHORS] = {0};
	ms_errbuf eb = {0};
	uint8_t *buf = NULL, value[MSB_VALUE_LEN];
	size_t *len = calloc(nops, sizeof *len), slot = 512;
	ms_ingest_item items[ING_BATCH];
	ms_ingest_totals tot = {0}, one;
	uint64_t seq[ING_AUTHORS] = {0}, t0, enc = 0;
	double secs, rate;
	json_t *o = NULL, *recheck = NULL;

	snprintf(dir, sizeof dir, "%s/ingest", c->dir);
	ms_store_opts_default(&so);
	if (len == NULL || (buf = malloc(nops * slot)) == NULL ||
	    msb_node_create(dir, NULL, NULL) != 0 ||
	    ms_store_open(&s, dir, &so, &eb) != MS_OK)
		goto out;
	for (int a = 0; a < ING_AUTHORS; a++)
		if (ms_identity_generate(&id[a], &eb) != MS_OK)
			goto out;
	msb_say("ingest: signing %" PRIu64 " ops of %d other authors", nops,
	        ING_AUTHORS);
	randombytes_buf(value, sizeof value);
	for (uint64_t k = 0; k < nops; k++) {
		int a = (int)(k % ING_AUTHORS);
		ms_op op = {.type = MS_OP_PUT,
		            .priority = MS_PRIO_USER,
		            .seq = ++seq[a],
		            .hlc = (uint64_t)(1700000000000ull + k) << 16,
		            .key = (const uint8_t *)key,
		            .value = value,
		            .value_len = sizeof value};
		memcpy(op.author, ms_identity_pk(id[a]), MS_PK_LEN);
		op.key_len = (uint16_t)snprintf(key, sizeof key,
		                                "ingest/%010" PRIu64, k);
		if (ms_op_sign_encode(&op, id[a], ms_store_network_id(s),
		                      buf + k * slot, slot, &len[k],
		                      &eb) != MS_OK)
			goto out;
		enc += len[k];
	}
	recheck = msb_raw_recheck(c);
	msb_say("ingest: applying them, %d per call", ING_BATCH);
	t0 = msb_now_ns();
	for (uint64_t k = 0; k < nops;) {
		size_t m = 0;
		for (; m < ING_BATCH && k < nops; m++, k++)
			items[m] = (ms_ingest_item){buf + k * slot, len[k]};
		if (ms_store_ingest(s, items, m, NULL, NULL, &one, &eb) !=
		    MS_OK)
			goto out;
		/* totals are per call */
		tot.applied += one.applied;
		tot.rejected += one.rejected;
	}
	secs = msb_secs_since(t0);
	rate = (double)nops / secs;
	msb_say("ingest: %.0f ops/s (2-thread verify rate %.0f/s)", rate,
	        c->verify2_rate);
	o = json_object();
	json_object_set_new(
		o, "params",
		json_pack("{s:I, s:i, s:i, s:f, s:s}", "ops", (json_int_t)nops,
	                  "ops_per_call", ING_BATCH, "authors", ING_AUTHORS,
	                  "encoded_bytes_per_op", (double)enc / (double)nops,
	                  "note",
	                  "ops signed before timing; each call verifies, "
	                  "stores and applies and commits once"));
	json_object_set_new(o, "ops_per_s", json_real(rate));
	json_object_set_new(o, "limits_rechecked", recheck);
	recheck = NULL;
	json_object_set_new(o, "applied",
	                    json_integer((json_int_t)tot.applied));
	json_object_set_new(o, "rejected",
	                    json_integer((json_int_t)tot.rejected));
	json_object_set_new(o, "ratios",
	                    json_pack("{s:o, s:o}", "vs_verify_2t",
	                              msb_ratio(rate, c->verify2_rate),
	                              "vs_sign_2t",
	                              msb_ratio(rate, c->sign2_rate)));
	json_object_set_new(o, "targets", json_object());
out:
	if (o == NULL)
		msb_say("ingest: %s", eb.msg[0] ? eb.msg : "setup failed");
	json_decref(recheck);
	for (int a = 0; a < ING_AUTHORS; a++)
		ms_identity_free(&id[a]);
	ms_store_close(&s);
	free(buf);
	free(len);
	return o != NULL ? o : json_null();
}
