#include <config.h>

#include "nn/arena.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#define ARENA_ALIGN 64                     /* a cache line */
#define HUGE_PAGE ((size_t)2 << 20)        /* x86-64 and arm64 THP size */
#define HUGE_MIN ((size_t)4 << 20)         /* smaller arenas: plain pages */
#define ZERO_BLOCK ((size_t)1 << 20)       /* bytes zeroed per thread task */

double *gs_arena_alloc(size_t n)
{
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX / sizeof(double))
        return NULL;
    size_t bytes = n * sizeof(double);
    size_t align = bytes >= HUGE_MIN ? HUGE_PAGE : ARENA_ALIGN;
    void *p = NULL;
    if (posix_memalign(&p, align, bytes) != 0)
        return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (align == HUGE_PAGE)
        (void)madvise(p, bytes / HUGE_PAGE * HUGE_PAGE, MADV_HUGEPAGE);   /* advice only */
#endif
    char *c = p;
    size_t blocks = (bytes + ZERO_BLOCK - 1) / ZERO_BLOCK;
#pragma omp parallel for schedule(static) if (blocks > 4)
    for (size_t b = 0; b < blocks; b++) {
        size_t lo = b * ZERO_BLOCK, len = bytes - lo < ZERO_BLOCK ? bytes - lo : ZERO_BLOCK;
        memset(c + lo, 0, len);
    }
    return p;
}

void gs_arena_free(double *p)
{
    free(p);
}

gs_arena_cursor_t gs_arena_cursor(double *arena, size_t n)
{
    return (gs_arena_cursor_t){arena, arena + n};
}

double *gs_arena_take(gs_arena_cursor_t *c, size_t n)
{
    assert(n <= (size_t)(c->end - c->next));   /* the layout fits what was counted */
    double *p = c->next;
    c->next += n;
    return p;
}

void gs_arena_end(const gs_arena_cursor_t *c)
{
    assert(c->next == c->end);   /* ... and takes all of it */
    (void)c;
}
