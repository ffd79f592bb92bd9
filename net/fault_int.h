/*
 * fault_int.h — what the fault core (net/fault.c) and its transport glue
 * (net/fault_link.c) share: the ms_fault object.  Not for other modules.
 */
#ifndef MS_FAULT_INT_H
#define MS_FAULT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "fault.h"
#include "rng.h"
#include "transport.h"

/* One message the glue holds (delay, reorder). */
typedef struct ms_fault_msg {
	uint64_t due;   /* wall ms it leaves the queue */
	uint64_t order; /* arrival order: equal dues leave in this order */
	int recv;       /* 1: to be delivered; 0: to be sent */
	int held;       /* reorder: waiting for the next message */
	int flags;      /* ms_transport_send flags */
	ms_conn conn;
	int has_curve;
	uint8_t curve[MS_CURVE_LEN];
	size_t len;
	uint8_t *buf; /* malloc'd (NULL when len is 0) */
} ms_fault_msg;

/* A node id a schedule names, with its CURVE key (inbound matching). */
typedef struct ms_fault_key {
	uint8_t id[MS_PK_LEN];
	uint8_t curve[MS_CURVE_LEN];
} ms_fault_key;

struct ms_fault {
	ms_fault_config c;
	ms_rng rng;
	uint64_t seed;
	uint64_t epoch_ms; /* schedules count from here */
	ms_fault_stats st;

	/* the glue (fault_link.c); t == NULL when not attached */
	ms_transport *t;
	ms_link_ops kept; /* the table found at attach */
	ms_fault_link_cbs cbs;
	ms_fault_msg *q; /* delay queue, unordered */
	size_t nq, capq, qbytes;
	uint64_t order;
	ms_fault_key *keys; /* listed ids whose key converts */
	size_t nkeys;
};

#endif
