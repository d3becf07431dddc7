# pipeline/bench's measuring programs (owned by the benchmark; see
# pipeline/bench). Built by `make`, not installed. Included from the top
# Makefile.am, so paths are relative to the top.

# blas_limit: every matrix product of one MLP training step through the
# BLAS alone, the floor the engine's kernels are compared with.
# Makefile.am does not set noinst_PROGRAMS; if it ever does (before the
# include), make this `+=` (automake refuses += before the first =).
noinst_PROGRAMS = src/bench/blas_limit
src_bench_blas_limit_SOURCES = src/bench/blas_limit.c
src_bench_blas_limit_CFLAGS = $(AM_CFLAGS) $(BLAS_CFLAGS)
src_bench_blas_limit_LDADD = $(ENGINE_LIBS)

# transformer_probe: issue 21's effects at init from the engine alone
# (the table, rank collapse) and the transformer's step time, beside
# tests/reference/torch_transformer_bench.py.
noinst_PROGRAMS += src/bench/transformer_probe
src_bench_transformer_probe_SOURCES = src/bench/transformer_probe.c
src_bench_transformer_probe_LDADD = $(ENGINE_LIBS)
