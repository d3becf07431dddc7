/* Files and folders: whole-text reads and folder creation, with messages
 * that name the path. */
#ifndef GS_UTIL_FILES_H
#define GS_UTIL_FILES_H

#include <stddef.h>
#include <stdio.h>

/* The whole file as a NUL-terminated string (malloc'd), or NULL with a
 * message: missing, unreadable, larger than max_bytes, or holding a NUL. */
char *gs_read_text(const char *path, size_t max_bytes, char *err, size_t errlen);

/* mkdir -p of path; 0 or -1 with a message. */
int gs_mkdirs(const char *path, char *err, size_t errlen);

/* mkdir -p of the folder holding path (nothing when it has no folder). */
int gs_mkdirs_for(const char *path, char *err, size_t errlen);

/* A file written whole or not at all: gs_replace_open opens a temporary
 * name beside path (tmp, of tmplen bytes, receives it); gs_replace_close
 * closes it and renames it over path when ok and nothing failed, else
 * removes it. A crash leaves the old file or the new one, never half of
 * one. NULL / -1 with a message naming the path. */
FILE *gs_replace_open(const char *path, const char *mode, char *tmp, size_t tmplen, char *err,
                      size_t errlen);
int gs_replace_close(FILE *f, const char *tmp, const char *path, int ok, char *err,
                     size_t errlen);

#endif
