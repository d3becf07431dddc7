/* When elementwise work is shared among OpenMP threads.
 *
 * A loop over fewer than GS_PAR_MIN values runs on one thread: starting a
 * parallel region costs about as much as ~16k simple double operations.
 * Both thresholds are chosen, not tuned: pipeline/bench's figures are
 * measured with them, and a 64-wide RNN step (4,096 values per loop) ran
 * no faster on two threads than on one. Elementwise loops give the same numbers for any
 * split, so this threshold never changes a result. */
#ifndef GS_NN_PAR_H
#define GS_NN_PAR_H

#define GS_PAR_MIN 16384

/* The same for loops that call an elementary function (exp, tanh: ~1-4
 * ns a value through nn/vmath.h) on every value: sigmoid, tanh and the
 * recurrent gates. Also the chunk those loops are cut into. */
#define GS_PAR_MIN_HEAVY 4096

#endif
