/*
 * ms_bytes.h — fixed-width unsigned integers to and from bytes in a stated
 * order: the one copy of this byte work for the whole tree (the op
 * encoding, the wire codec, the store's records, counter values).  Every
 * module may include it; it needs nothing but <stdint.h>.
 *
 * p points at the first byte; no alignment is needed and the host's own
 * byte order never matters.  The caller guarantees p has room for the
 * width (the wire codec's bounds-checked reader and writer do that).
 * Little-endian (ms_*_le*) is the order of every integer in the op
 * encoding, the wire format and store records; big-endian (ms_*_be64)
 * is for LMDB keys, whose byte order must be numeric order.
 */
#ifndef MS_BYTES_H
#define MS_BYTES_H

#include <stdint.h>

/* Store v at p, least significant byte first. */
static inline void ms_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void ms_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void ms_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Read the integer stored at p, least significant byte first. */
static inline uint16_t ms_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static inline uint32_t ms_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t ms_get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Store v at p, most significant byte first (LMDB keys sort by it). */
static inline void ms_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[7 - i] = (uint8_t)(v >> (8 * i));
}

/* Read the integer stored at p, most significant byte first. */
static inline uint64_t ms_get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

#endif
