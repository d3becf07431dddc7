/* Files and folders: whole-text reads and folder creation, with messages
 * that name the path. */
#ifndef GS_UTIL_FILES_H
#define GS_UTIL_FILES_H

#include <stddef.h>

/* The whole file as a NUL-terminated string (malloc'd), or NULL with a
 * message: missing, unreadable, larger than max_bytes, or holding a NUL. */
char *gs_read_text(const char *path, size_t max_bytes, char *err, size_t errlen);

/* mkdir -p of path; 0 or -1 with a message. */
int gs_mkdirs(const char *path, char *err, size_t errlen);

/* mkdir -p of the folder holding path (nothing when it has no folder). */
int gs_mkdirs_for(const char *path, char *err, size_t errlen);

#endif
