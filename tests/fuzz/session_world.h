/*
 * session_world.h — the world of fuzz_session, shared with the generator of
 * its seed corpus (gen_corpus.c) so that a recorded session replays exactly:
 * the identities, the fuzzed node's store content, the session parameters
 * an input selects, the simulated clock, the input's record format and the
 * local writes an input may ask for.
 *
 * The fuzzed node ("self", seed byte SW_SELF) holds three ops of its own
 * and two of a third author (SW_THIRD, seq 1 and 2).  The peer (SW_PEER)
 * is whoever sent the input's messages; the generator gives it ops of its
 * own and a different op for the third author's seq 2 (a fork).
 *
 * Input format (docs/testing.md, "Fuzzing"):
 *   byte 0      flags: SW_F_OUTBOUND (self dialled: it sends HELLO first),
 *               SW_F_BUSY (every third send finds the link full),
 *               SW_F_SMALL (batch_ops 2, credit 3, lacking_window 2),
 *               SW_F_TIGHT (budgets and timeouts near their minimum)
 *   then records, each: u16 big-endian len, u8 dt, then len bytes
 *     dt        the simulated clock moves first: dt ms when dt < 128,
 *               else (dt - 127) s (timeouts are seconds to minutes)
 *     len 0     no message: time passes
 *     len SW_REC_WRITE  a local write on self, offered to the session
 *     otherwise one message received (fewer bytes when the input ends)
 *   after each record the session is ticked.
 */
#ifndef MS_SESSION_WORLD_H
#define MS_SESSION_WORLD_H

#include <stddef.h>
#include <stdint.h>

#include "ms_clock.h"
#include "session.h"
#include "store.h"

#define SW_SELF 0xa1
#define SW_PEER 0xb2
#define SW_THIRD 0xc3

#define SW_F_OUTBOUND 0x01
#define SW_F_BUSY 0x02
#define SW_F_SMALL 0x04
#define SW_F_TIGHT 0x08

#define SW_REC_WRITE 0xffffu
#define SW_REC_HDR 3

#define SW_MONO0 1000ull
#define SW_WALL0 1700000000000ull

extern const uint8_t sw_netid[MS_NETID_LEN];

/* The identity whose seed is 32 bytes of fill (aborts on failure). */
ms_identity *sw_identity(uint8_t fill);

/* A signed parentless PUT by who, malloc'd into *buf (caller frees). */
void sw_op(uint8_t **buf, size_t *len, const ms_identity *who, uint64_t seq,
           uint64_t hlc, const char *key, const char *value);

/* Ingest one encoded op as if from no peer (aborts unless applied). */
void sw_ingest(ms_store *s, const uint8_t *buf, size_t len);

/* Store options: defaults, one verify thread (the fuzz run stays on one
 * thread and deterministic), the wall clock read from *wall_ms. */
void sw_store_opts(ms_store_opts *o, uint64_t *wall_ms);

/* Create the fuzzed node's store in dir (which exists and is empty), with
 * its content, and close it. */
void sw_make_self(const char *dir, uint64_t *wall_ms);

/* Session parameters for an input's flags byte. */
void sw_params(ms_session_params *p, unsigned flags);

/* The clock step of a record's dt byte, in ms. */
uint64_t sw_step_ms(uint8_t dt);

/* Local write number n on store s by id (key "local/<n>"), then offer what
 * arrived since to session s.  MS_OK or the store's error. */
ms_err sw_local_write(ms_store *st, const ms_identity *id, ms_session *s,
                      unsigned n, ms_errbuf *eb);

/* gen_session.c (gen_corpus only): record real sessions between self and
 * a peer as fuzz_session inputs into dir.  0, or -1 with a message. */
int sw_gen_corpus(const char *dir);

#endif
