#include <config.h>

#include "util/files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *gs_read_text(const char *path, size_t max_bytes, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (len + n > max_bytes) {
            snprintf(err, errlen, "%s: larger than %zu bytes; not what was expected", path, max_bytes);
            goto fail;
        }
        if (len + n + 1 > cap) {
            cap = 2 * (len + n + 1);
            char *t = realloc(text, cap);
            if (!t) {
                snprintf(err, errlen, "%s: out of memory", path);
                goto fail;
            }
            text = t;
        }
        memcpy(text + len, buf, n);
        len += n;
    }
    if (ferror(f)) {
        struct stat sb;   /* fopen opens a folder for reading; its read fails (EISDIR) */
        if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode))
            snprintf(err, errlen, "%s: a folder, not a file; give the path of a file in it", path);
        else
            snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        goto fail;
    }
    fclose(f);
    if (!text && !(text = calloc(1, 1))) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    text[len] = '\0';
    if (strlen(text) != len) {
        snprintf(err, errlen, "%s: contains a NUL byte; not a text file", path);
        free(text);
        return NULL;
    }
    return text;
fail:
    fclose(f);
    free(text);
    return NULL;
}

int gs_mkdirs(const char *path, char *err, size_t errlen)
{
    char p[4096];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p) {
        snprintf(err, errlen, "%.200s...: path too long", path);
        return -1;
    }
    for (char *c = p + 1; *c; c++)
        if (*c == '/') {
            *c = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                snprintf(err, errlen, "%s: cannot create: %s", p, strerror(errno));
                return -1;
            }
            *c = '/';
        }
    if (mkdir(p, 0777) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create: %s", p, strerror(errno));
        return -1;
    }
    return 0;
}

int gs_mkdirs_for(const char *path, char *err, size_t errlen)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    return gs_mkdirs(dir, err, errlen);
}

FILE *gs_replace_open(const char *path, const char *mode, char *tmp, size_t tmplen, char *err,
                      size_t errlen)
{
    snprintf(tmp, tmplen, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, mode);
    if (!f)
        snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
    return f;
}

int gs_replace_close(FILE *f, const char *tmp, const char *path, int ok, char *err,
                     size_t errlen)
{
    ok = ok && !ferror(f);
    if (fclose(f) != 0 || !ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", path, errno ? strerror(errno) : "write error");
        remove(tmp);
        return -1;
    }
    return 0;
}
