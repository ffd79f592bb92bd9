/* peerlist.c — a growing array of peer records copied out of a read
 * snapshot, for the commands that look at the peer table more than once
 * (graph, why). */
#include <stdlib.h>

#include "inspect.h"

int ins_peer_list_add(ins_peer_list *l, const ms_peer_rec *p)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		ms_peer_rec *nv = realloc(l->v, nc * sizeof *nv);
		if (nv == NULL)
			return -1;
		l->v = nv;
		l->cap = nc;
	}
	l->v[l->n++] = *p;
	return 0;
}

void ins_peer_list_free(ins_peer_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}
