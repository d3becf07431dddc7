/* When elementwise work is shared among OpenMP threads.
 *
 * A loop over fewer than GS_PAR_MIN values runs on one thread: starting a
 * parallel region costs about a microsecond, which is what ~16k simple
 * double operations take. Elementwise loops give the same numbers for any
 * split, so this threshold never changes a result. */
#ifndef GS_NN_PAR_H
#define GS_NN_PAR_H

#define GS_PAR_MIN 16384

/* The same for loops that call an elementary function (exp, tanh: ~1-4
 * ns a value through nn/vmath.h) on every value: sigmoid, tanh and the
 * recurrent gates. Also the chunk those loops are cut into. */
#define GS_PAR_MIN_HEAVY 4096

#endif
