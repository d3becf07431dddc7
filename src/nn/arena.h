/* Memory for the models' arenas (parameters, gradients, activations) and
 * the optimizer's state.
 *
 * gs_arena_alloc returns n zeroed doubles, 64-byte aligned. An arena of
 * 4 MiB or more starts on a 2 MiB boundary and asks Linux for transparent
 * huge pages (madvise; honoured where THP is "madvise" or "always"): a
 * 2 GiB model then takes ~1,000 page faults instead of ~500,000, which on
 * a virtual machine was 6 s of system time (docs/architecture.md,
 * "Models and arenas"). The zeroing - the first touch of every page - is shared among
 * OpenMP threads. NULL when memory is short; gs_arena_free(NULL) is fine. */
#ifndef GS_NN_ARENA_H
#define GS_NN_ARENA_H

#include <stddef.h>

double *gs_arena_alloc(size_t n);
void gs_arena_free(double *p);

/* Laying out an arena: its fields carved one after another from its
 * start. A model counts its arena with one function (arena_sizes) and
 * carves it with another; the cursor asserts that the carving takes no
 * more than was counted, and gs_arena_end that it took exactly that. */
typedef struct {
    double *next, *end;
} gs_arena_cursor_t;

gs_arena_cursor_t gs_arena_cursor(double *arena, size_t n);
double *gs_arena_take(gs_arena_cursor_t *c, size_t n);   /* the next n doubles */
void gs_arena_end(const gs_arena_cursor_t *c);            /* asserts all n are taken */

#endif
