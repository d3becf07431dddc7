# The fuzz targets (tests/fuzz/; README, "Fuzzing"). Included from the
# top Makefile.am, so paths are relative to the top.
#
# Every target is a `make check` test, replay_<name>.t: replay.c runs its
# committed corpus (tests/fuzz/corpus/<name>/) and seeded mutations of it.
# ./configure --enable-fuzz (clang) also builds each as a libFuzzer
# binary, tests/fuzz/fuzz_<name>, with the whole build instrumented.

FUZZ_TESTS = tests/fuzz/replay_config.t tests/fuzz/replay_keyval.t \
	tests/fuzz/replay_pack.t tests/fuzz/replay_report.t
check_PROGRAMS += $(FUZZ_TESTS)
TESTS += $(FUZZ_TESTS)
# replay.c once per target, told its name and its corpus folder
tests_fuzz_replay_config_t_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_config.c tests/fuzz/fuzz.h
tests_fuzz_replay_config_t_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"config"' \
	-DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/config"'
tests_fuzz_replay_config_t_LDADD = $(LIBGS)
tests_fuzz_replay_keyval_t_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_keyval.c tests/fuzz/fuzz.h
tests_fuzz_replay_keyval_t_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"keyval"' \
	-DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/keyval"'
tests_fuzz_replay_keyval_t_LDADD = $(LIBGS)
tests_fuzz_replay_pack_t_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_pack.c tests/fuzz/fuzz.h
tests_fuzz_replay_pack_t_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"pack"' \
	-DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/pack"'
tests_fuzz_replay_pack_t_LDADD = $(LIBGS)
tests_fuzz_replay_report_t_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_report.c \
	tests/fuzz/fuzz.h tests/fuzz/report_input.h
tests_fuzz_replay_report_t_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"report"' \
	-DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/report"'
tests_fuzz_replay_report_t_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
tests_fuzz_replay_report_t_LDADD = $(LIBGS)

# Writes the pack and report seeds from real runs (seed_corpus.c); built
# on request: make tests/fuzz/seed_corpus
EXTRA_PROGRAMS = tests/fuzz/seed_corpus
tests_fuzz_seed_corpus_SOURCES = tests/fuzz/seed_corpus.c tests/fuzz/report_input.h
tests_fuzz_seed_corpus_CPPFLAGS = $(AM_CPPFLAGS)
tests_fuzz_seed_corpus_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
tests_fuzz_seed_corpus_LDADD = $(LIBGS)

if GS_FUZZ
# the libFuzzer binaries: run one as
#   tests/fuzz/fuzz_config -max_total_time=600 CORPUS_COPY/ ../tests/fuzz/corpus/config
noinst_PROGRAMS += tests/fuzz/fuzz_config tests/fuzz/fuzz_keyval tests/fuzz/fuzz_pack \
	tests/fuzz/fuzz_report
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz_config.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_config_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_config_LDADD = $(LIBGS)
tests_fuzz_fuzz_keyval_SOURCES = tests/fuzz/fuzz_keyval.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_keyval_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_keyval_LDADD = $(LIBGS)
tests_fuzz_fuzz_pack_SOURCES = tests/fuzz/fuzz_pack.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_pack_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_pack_LDADD = $(LIBGS)
tests_fuzz_fuzz_report_SOURCES = tests/fuzz/fuzz_report.c tests/fuzz/fuzz.h \
	tests/fuzz/report_input.h
tests_fuzz_fuzz_report_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
tests_fuzz_fuzz_report_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_report_LDADD = $(LIBGS)
endif

EXTRA_DIST += tests/fuzz/corpus tests/fuzz/sweep.dict
CLEANFILES = fuzz-config-input.bin fuzz-keyval-input.bin fuzz-pack-input.bin \
	fuzz-report-input.bin
