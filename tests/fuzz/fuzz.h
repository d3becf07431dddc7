/* What the fuzz targets share (tests/fuzz/, README "Fuzzing"). Each
 * fuzz_<name>.c defines the libFuzzer entry point below; it is linked
 * either with libFuzzer (./configure --enable-fuzz: tests/fuzz/fuzz_<name>)
 * or with replay.c (tests/fuzz/replay_<name>.t, a `make check` test that
 * runs the committed corpus and seeded mutations of it).
 *
 * A target returns 0 for every input, valid or not. A memory error is
 * the sanitizers' to catch; a property the target checks and finds false
 * is FUZZ_CHECK's: it prints what failed and aborts, which both libFuzzer
 * and the replay driver count as a crash. */
#ifndef GS_TESTS_FUZZ_FUZZ_H
#define GS_TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                    \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: property does not hold: %s: ", __FILE__,     \
                    __LINE__, #cond);                                            \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
            abort();                                                             \
        }                                                                        \
    } while (0)

#endif
