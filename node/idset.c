/* idset.c — a set of op ids (see idset.h). */
#include <stdlib.h>
#include <string.h>

#include "idset.h"

#define IDSET_FIRST_CAP 1024

static const uint8_t zero_id[MS_HASH_LEN];

static int is_zero(const uint8_t *id)
{
	return memcmp(id, zero_id, MS_HASH_LEN) == 0;
}

static size_t home(const ms_idset *s, const uint8_t *id)
{
	uint64_t h;

	memcpy(&h, id, sizeof h);
	return (size_t)h & (s->cap - 1);
}

int ms_idset_has(const ms_idset *s, const uint8_t id[MS_HASH_LEN])
{
	if (is_zero(id))
		return s->has_zero;
	if (s->cap == 0)
		return 0;
	/* the load is at most one half, so an empty slot ends every probe */
	for (size_t i = home(s, id);; i = (i + 1) & (s->cap - 1)) {
		if (is_zero(s->slot[i]))
			return 0;
		if (memcmp(s->slot[i], id, MS_HASH_LEN) == 0)
			return 1;
	}
}

/* Place id, known absent and non-zero, in a set with room. */
static void place(ms_idset *s, const uint8_t *id)
{
	size_t i = home(s, id);

	while (!is_zero(s->slot[i]))
		i = (i + 1) & (s->cap - 1);
	memcpy(s->slot[i], id, MS_HASH_LEN);
}

int ms_idset_add(ms_idset *s, const uint8_t id[MS_HASH_LEN])
{
	if (is_zero(id)) {
		s->n += !s->has_zero;
		s->has_zero = 1;
		return 0;
	}
	if (ms_idset_has(s, id))
		return 0;
	if ((s->n + 1) * 2 > s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : IDSET_FIRST_CAP;
		ms_idset g = {.cap = ncap, .n = s->n, .has_zero = s->has_zero};

		if ((g.slot = calloc(ncap, MS_HASH_LEN)) == NULL)
			return -1;
		for (size_t i = 0; i < s->cap; i++)
			if (!is_zero(s->slot[i]))
				place(&g, s->slot[i]);
		free(s->slot);
		*s = g;
	}
	place(s, id);
	s->n++;
	return 0;
}

void ms_idset_clear(ms_idset *s)
{
	free(s->slot);
	memset(s, 0, sizeof *s);
}
