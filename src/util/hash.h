/* 64-bit hashes of text and sorted sets of them (config hashes). */
#ifndef GS_UTIL_HASH_H
#define GS_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a of n bytes, continuing from h (start with GS_FNV_OFFSET). */
#define GS_FNV_OFFSET 0xCBF29CE484222325ull
uint64_t gs_fnv1a(uint64_t h, const void *data, size_t n);

/* splitmix64 step: a good 64-bit mixer (the generator's seeding, the
 * cells' seeds, the sweep's config hashes). */
uint64_t gs_mix64(uint64_t x);

/* A config hash as the database and the crash log spell it: 16 lowercase
 * hex digits (GS_HASH_HEX_LEN with the NUL). Returns out. */
#define GS_HASH_HEX_LEN 17
char *gs_hash_hex(uint64_t h, char out[GS_HASH_HEX_LEN]);

/* Sort ascending; binary search in a sorted array. */
void gs_u64_sort(uint64_t *v, size_t n);
int gs_u64_contains(const uint64_t *sorted, size_t n, uint64_t x);

#endif
