/*
 * ms_path.h — file names inside a directory (a node's data directory, a
 * test's temporary one).
 */
#ifndef MS_PATH_H
#define MS_PATH_H

/* "dir/name" in a malloc'd string the caller frees; NULL when out of
 * memory. */
char *ms_path_join(const char *dir, const char *name);

#endif
