/*
 * ms_path.h — file names inside a directory (a node's data directory, a
 * test's temporary one).
 */
#ifndef MS_PATH_H
#define MS_PATH_H

/* "dir/name" in a malloc'd string the caller frees; NULL when out of
 * memory. */
char *ms_path_join(const char *dir, const char *name);

/* An executable `name` in the directory of the running program (an
 * installed tool finds the installed node), else `built` (the build
 * tree's) when it is executable: a malloc'd path, or NULL when neither
 * is there (or out of memory).  built may be NULL. */
char *ms_path_beside_exe(const char *name, const char *built);

/* Remove dir and everything below it, not following symbolic links;
 * best effort (what cannot be removed stays). */
void ms_path_remove_tree(const char *dir);

#endif
