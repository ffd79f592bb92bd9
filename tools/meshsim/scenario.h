/*
 * scenario.h — a meshsim scenario: the mesh, the writes, the faults and
 * the events of one run, parsed from an INI file (docs/meshsim.md is the
 * format).  Both runners read it: meshsim on real meshsync-node processes
 * (run_real.c) and `meshsim --virtual` on session state machines with
 * simulated links and clock (run_virtual.c).
 *
 *   [mesh]
 *   nodes = 6                 ; 2..MSIM_MAX_NODES
 *   topology = line           ; line | ring | grid | full | random
 *   degree = 4                ; random: links per node
 *   seed = 1                  ; topology, writes, faults (0: picked)
 *   deadline = 60s            ; convergence deadline after the last heal
 *
 *   [writes]
 *   count = 200               ; ops written over all writers
 *   rate = 50                 ; ops per second over all writers
 *   writers = all             ; all | 0,2,5 (node indexes)
 *   background = 0.5          ; share written with MS_NODE_PUT_BACKGROUND
 *   shared_keys = 0.2         ; share written to keys every writer uses
 *   value_size = 64           ; bytes
 *   start = 0s                ; after the mesh is up
 *
 *   [faults]                  ; every link, both directions (net/fault.h
 *   drop = 0.3                ; keys: drop duplicate corrupt reorder
 *   delay = 100ms             ; delay jitter; as in a node's [faults])
 *   jitter = 50ms
 *
 *   [events]                  ; each key may repeat; times after start
 *   partition = 5s 20s 0,1,2 | 3,4,5   ; cut every link between the sets
 *   flap = 0-1 5s 10s         ; link 0-1 up 5s, down 10s, from start
 *   kill = 10s 3              ; SIGKILL node 3 (virtual: drop its
 *                             ;  session state, keep its committed store)
 *   restart = 12s 3           ; start it again
 *   term = 15s 4              ; SIGTERM (virtual: clean close)
 *
 *   [adversary]               ; real runs only
 *   mode = vv-flood           ; an ms-adversary mode (tests/hostile)
 *   target = 2                ; the node it attacks
 *   seconds = 10
 */
#ifndef MSIM_SCENARIO_H
#define MSIM_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#include "fault.h"
#include "ms_err.h"

#define MSIM_MAX_NODES 64
#define MSIM_MAX_EVENTS 64
#define MSIM_NAME_MAX 64

typedef enum msim_topology {
	MSIM_LINE = 1,
	MSIM_RING,
	MSIM_GRID,
	MSIM_FULL,
	MSIM_RANDOM,
} msim_topology;

typedef enum msim_event_kind {
	MSIM_EV_PARTITION = 1, /* t..t_end: sets a and b cut apart */
	MSIM_EV_FLAP,          /* link (i, j): up up_ms, down down_ms */
	MSIM_EV_KILL,          /* node i */
	MSIM_EV_RESTART,       /* node i */
	MSIM_EV_TERM,          /* node i */
} msim_event_kind;

typedef struct msim_event {
	int kind;                /* msim_event_kind */
	uint64_t t_ms;           /* after start (flap: from start) */
	uint64_t end_ms;         /* partition: when it heals */
	uint64_t up_ms, down_ms; /* flap */
	int i, j;                /* node(s) */
	uint64_t set_a, set_b;   /* partition: bit per node index */
} msim_event;

typedef struct msim_scenario {
	char name[MSIM_NAME_MAX]; /* file name without directory or .ini */
	/* [mesh] */
	int nodes;
	int topology; /* msim_topology */
	int degree;
	uint64_t seed;
	uint64_t deadline_ms;
	/* links: adjacency, filled by msim_scenario_links after parsing */
	uint8_t link[MSIM_MAX_NODES][MSIM_MAX_NODES];
	/* [writes] */
	uint32_t count;
	uint32_t rate;    /* ops per second, 0 = as fast as possible */
	uint64_t writers; /* bit per node index */
	uint32_t background_ppm, shared_ppm;
	uint32_t value_size;
	uint64_t start_ms;
	/* [faults]: probabilities and delays for every link (no schedules:
	 * those come from [events]) */
	ms_fault_config faults;
	/* [events] in file order */
	int nevents;
	msim_event ev[MSIM_MAX_EVENTS];
	/* [adversary] */
	char adv_mode[32]; /* "" = none */
	int adv_target;
	uint32_t adv_seconds;
} msim_scenario;

/* Parse path into *sc (defaults for what it omits).  MS_OK, or MS_EINVAL
 * with "FILE:LINE: reason" in eb; MS_EIO when unreadable.  seed_override
 * (non-zero) replaces [mesh] seed. */
ms_err msim_scenario_load(msim_scenario *sc, const char *path,
                          uint64_t seed_override, ms_errbuf *eb);

/* msim_scenario_load with overrides: each of sets[0..nsets) is
 * "SECTION.KEY=VALUE", applied after the file as if it were its last line
 * (a key replaces, an event adds one).  Errors name the override. */
ms_err msim_scenario_load_ex(msim_scenario *sc, const char *path,
                             uint64_t seed_override, const char *const *sets,
                             size_t nsets, ms_errbuf *eb);

/* When the last write is due: start + (count - 1) / rate seconds. */
uint64_t msim_scenario_writes_end_ms(const msim_scenario *sc);

/* Build sc->link from topology, degree and seed (random: connected, each
 * node about `degree` links, the same for the same seed). */
void msim_scenario_links(msim_scenario *sc);

/* The last time anything heals or restarts (partitions end, restarts,
 * the end of the writes): convergence is timed from here. */
uint64_t msim_scenario_last_heal_ms(const msim_scenario *sc);

#endif
