#include <config.h>

#include "nn/vmath.h"

#include <math.h>

#if defined(HAVE_LIBMVEC) && defined(__x86_64__)
#include <immintrin.h>

/* glibc's vector ABI names (x86-64 vector function ABI): b = SSE, 2
 * lanes; d = AVX2, 4 lanes; v = one vector argument. */
__m128d _ZGVbN2v_exp(__m128d x);
__m128d _ZGVbN2v_tanh(__m128d x);
__m128d _ZGVbN2v_log(__m128d x);
__m128d _ZGVbN2v_sin(__m128d x);
__m128d _ZGVbN2v_cos(__m128d x);
__m128d _ZGVbN2v_erfc(__m128d x);
__m256d _ZGVdN4v_exp(__m256d x);
__m256d _ZGVdN4v_tanh(__m256d x);
__m256d _ZGVdN4v_log(__m256d x);
__m256d _ZGVdN4v_sin(__m256d x);
__m256d _ZGVdN4v_cos(__m256d x);
__m256d _ZGVdN4v_erfc(__m256d x);

typedef __m128d (*fn2_t)(__m128d);
typedef __m256d (*fn4_t)(__m256d);

static void map2(fn2_t f, double *y, const double *x, size_t n)
{
    size_t i = 0;
    for (; i + 2 <= n; i += 2)
        _mm_storeu_pd(y + i, f(_mm_loadu_pd(x + i)));
    if (i < n) {
        double in[2] = {x[i], 0.0}, out[2];
        _mm_storeu_pd(out, f(_mm_loadu_pd(in)));
        y[i] = out[0];
    }
}

__attribute__((target("avx2,fma"))) static void map4(fn4_t f, double *y, const double *x,
                                                     size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        _mm256_storeu_pd(y + i, f(_mm256_loadu_pd(x + i)));
    if (i < n) {
        double in[4] = {0.0, 0.0, 0.0, 0.0}, out[4];
        for (size_t k = 0; i + k < n; k++)
            in[k] = x[i + k];
        _mm256_storeu_pd(out, f(_mm256_loadu_pd(in)));
        for (size_t k = 0; i + k < n; k++)
            y[i + k] = out[k];
    }
}

static int have_avx2(void)
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

#define VECTOR_FORM(name)                                  \
    void gs_v##name(double *y, const double *x, size_t n) \
    {                                                      \
        if (have_avx2())                                   \
            map4(_ZGVdN4v_##name, y, x, n);                \
        else                                               \
            map2(_ZGVbN2v_##name, y, x, n);                \
    }
VECTOR_FORM(exp)
VECTOR_FORM(tanh)
VECTOR_FORM(log)
VECTOR_FORM(sin)
VECTOR_FORM(cos)
VECTOR_FORM(erfc)

const char *gs_vmath_name(void)
{
    return have_avx2() ? "libmvec avx2" : "libmvec sse";
}

#else

#define LIBM_FORM(name)                                    \
    void gs_v##name(double *y, const double *x, size_t n) \
    {                                                      \
        for (size_t i = 0; i < n; i++)                     \
            y[i] = name(x[i]);                             \
    }
LIBM_FORM(exp)
LIBM_FORM(tanh)
LIBM_FORM(log)
LIBM_FORM(sin)
LIBM_FORM(cos)
LIBM_FORM(erfc)

const char *gs_vmath_name(void)
{
    return "libm";
}

#endif

/* Chunk of gs_vsigmoid's scratch, on the stack (kernels never allocate). */
#define SIGMOID_CHUNK 256

void gs_vsigmoid(double *y, const double *x, size_t n)
{
    /* 1/(1 + e^-x): e^-x overflows to +inf for x < -709, giving 0 */
    double e[SIGMOID_CHUNK];
    for (size_t lo = 0; lo < n; lo += SIGMOID_CHUNK) {
        size_t len = n - lo < SIGMOID_CHUNK ? n - lo : SIGMOID_CHUNK;
#pragma omp simd
        for (size_t i = 0; i < len; i++)
            e[i] = -x[lo + i];
        gs_vexp(e, e, len);
#pragma omp simd
        for (size_t i = 0; i < len; i++)
            y[lo + i] = 1.0 / (1.0 + e[i]);
    }
}
