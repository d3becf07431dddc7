/* The fuzz targets without libFuzzer: a `make check` test per target
 * (tests/fuzz/replay_<name>.t) that feeds it every file of its committed
 * corpus, then seeded random mutations of those files, and speaks TAP:
 * one line for the corpus, one for the mutations. A target that crashes
 * (under the sanitizer build: any memory error) or finds a property false
 * aborts the program, and the test fails; the input that did it is left
 * in fuzz-<name>-input.bin in the current folder.
 *
 *   replay_<name>.t              the corpus, then the mutations
 *   replay_<name>.t PATH...      only these files (or folders of files):
 *                                to replay what libFuzzer found
 *
 * GS_FUZZ_SEED (default 1) and GS_FUZZ_MUTATIONS (default 1000) choose the
 * mutations, and every one of them runs whatever the machine's speed:
 * mutation i depends on the seed and i alone, so a run tries the same
 * inputs on every machine and a failure is repeatable. An input that runs
 * longer than GS_FUZZ_TIMEOUT seconds (default 20) fails as a hang.
 *
 * Built once per target: FUZZ_NAME and FUZZ_CORPUS (its corpus folder)
 * come from the Makefile. */
#include <config.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "util/clock.h"

#define MAX_MUTANT (1u << 20)   /* mutations never grow past this */

typedef struct {
    uint8_t *data;
    size_t size;
    char *name;
} input_t;

typedef struct {
    input_t *items;
    size_t n;
} inputs_t;

/* ---- the input being run, kept in a file until the end ---- */

/* Each input is written to fuzz-<name>-input.bin before it runs, and the
 * file is removed when every input has run: a crash of any kind (a
 * sanitizer's report, an abort, a signal, a timeout's kill) leaves the
 * input that caused it behind. A page-cache write costs microseconds. */
static int keep_fd = -1;
static char keep_path[64];

static void keep_open(void)
{
    snprintf(keep_path, sizeof keep_path, "fuzz-%s-input.bin", FUZZ_NAME);
    keep_fd = open(keep_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
}

static void keep(const uint8_t *data, size_t size)
{
    if (keep_fd < 0)
        return;
    size_t off = 0;
    while (off < size) {
        ssize_t w = pwrite(keep_fd, data + off, size - off, (off_t)off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    if (off != size || ftruncate(keep_fd, (off_t)size) != 0) {
        close(keep_fd);   /* cannot keep inputs: run without */
        keep_fd = -1;
        unlink(keep_path);
    }
}

static void keep_close(void)
{
    if (keep_fd >= 0) {
        close(keep_fd);
        unlink(keep_path);
    }
}

/* An input that runs longer than GS_FUZZ_TIMEOUT seconds (default 20,
 * libFuzzer's -timeout in README's commands) is a failure too: a hang. */
static unsigned timeout_s = 20;

static void on_alarm(int sig)
{
    static const char msg[] = "replay: an input ran longer than GS_FUZZ_TIMEOUT seconds\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);   /* async-signal-safe */
    (void)w;
    (void)sig;
    _exit(1);
}

/* Run one input from a buffer of exactly its size, as libFuzzer does, so
 * that a read past the end is caught. */
static void run(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) {
        fprintf(stderr, "replay: out of memory\n");
        exit(1);
    }
    memcpy(copy, data, size);
    keep(copy, size);
    alarm(timeout_s);
    LLVMFuzzerTestOneInput(copy, size);
    alarm(0);
    free(copy);
}

/* ---- reading the corpus ---- */

static int add_file(inputs_t *in, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0, got;
    do {
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            uint8_t *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = b;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    int bad = ferror(f);
    fclose(f);
    input_t *items = realloc(in->items, (in->n + 1) * sizeof *items);
    char *name = strdup(path);
    if (bad || !items || !name) {
        free(buf);
        free(name);
        if (items)
            in->items = items;
        return -1;
    }
    in->items = items;
    in->items[in->n++] = (input_t){buf, n, name};
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const input_t *)a)->name, ((const input_t *)b)->name);
}

/* A file, or every file of a folder (not recursive), in name order. */
static int add_path(inputs_t *in, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return -1;
    if (!S_ISDIR(sb.st_mode))
        return add_file(in, path);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    size_t first = in->n;
    int rc = 0;
    for (struct dirent *e; (e = readdir(d)) && rc == 0;) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode))
            rc = add_file(in, p);
    }
    closedir(d);
    qsort(in->items + first, in->n - first, sizeof *in->items, cmp_name);
    return rc;
}

static void inputs_free(inputs_t *in)
{
    for (size_t i = 0; i < in->n; i++) {
        free(in->items[i].data);
        free(in->items[i].name);
    }
    free(in->items);
}

/* ---- mutations ---- */

/* splitmix64: a small generator whose stream depends on its seed alone */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t below(uint64_t *s, size_t n)
{
    return n ? (size_t)(next(s) % n) : 0;
}

/* Values worth writing over bytes: edges of the integer types, and the
 * doubles a parser must not trust (NaN, infinities, huge, tiny, -0). */
static const uint64_t interesting[] = {
    0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000u, 0xffffffffu,
    0x7fffffffffffffffull, 0x8000000000000000ull, 0xffffffffffffffffull,
    0x7ff8000000000000ull /* NaN */, 0x7ff0000000000000ull /* inf */,
    0xfff0000000000000ull /* -inf */, 0x7fefffffffffffffull /* DBL_MAX */,
    0x0000000000000001ull /* the smallest subnormal */, 0x8000000000000000ull /* -0 */,
    0x3ff0000000000000ull /* 1.0 */, 0xbff0000000000000ull /* -1.0 */,
};

/* One to four edits of a copy of corpus file `base` into buf (cap bytes);
 * returns the new size. Splices take a part of another corpus file. */
static size_t mutate(const inputs_t *in, size_t base, uint64_t *s, uint8_t *buf, size_t cap)
{
    size_t n = in->items[base].size < cap ? in->items[base].size : cap;
    memcpy(buf, in->items[base].data, n);
    for (int edits = 1 + (int)below(s, 4); edits > 0; edits--) {
        size_t at = below(s, n + 1), len = 1 + below(s, below(s, 2) ? 8 : 64);
        switch (below(s, 7)) {
        case 0:   /* flip a bit */
            if (n)
                buf[below(s, n)] ^= (uint8_t)(1u << below(s, 8));
            break;
        case 1:   /* a random byte */
            if (n)
                buf[below(s, n)] = (uint8_t)next(s);
            break;
        case 2: {   /* an interesting value of 1, 2, 4 or 8 bytes */
            size_t w = (size_t)1 << below(s, 4);
            uint64_t v = interesting[below(s, sizeof interesting / sizeof *interesting)];
            if (n >= w) {
                at = below(s, n - w + 1);
                memcpy(buf + at, &v, w);
            }
            break;
        }
        case 3:   /* insert random bytes */
            if (n + len <= cap) {
                memmove(buf + at + len, buf + at, n - at);
                for (size_t i = 0; i < len; i++)
                    buf[at + i] = (uint8_t)next(s);
                n += len;
            }
            break;
        case 4:   /* delete a range */
            if (at < n) {
                len = len < n - at ? len : n - at;
                memmove(buf + at, buf + at + len, n - at - len);
                n -= len;
            }
            break;
        case 5:   /* repeat a range */
            if (at < n && n + len <= cap) {
                len = len < n - at ? len : n - at;
                memmove(buf + at + len, buf + at, n - at);
                n += len;
            }
            break;
        case 6: {   /* splice: this file up to `at`, then another from a point */
            const input_t *o = &in->items[below(s, in->n)];
            size_t from = below(s, o->size + 1), take = o->size - from;
            if (at + take > cap)
                take = cap - at;
            memcpy(buf + at, o->data + from, take);
            n = at + take;
            break;
        }
        }
    }
    return n;
}

static unsigned long env_ulong(const char *name, unsigned long dflt)
{
    const char *v = getenv(name);
    char *end;
    unsigned long x = v ? strtoul(v, &end, 10) : dflt;
    return v && (*v == '\0' || *end != '\0') ? dflt : x;
}

int main(int argc, char **argv)
{
    inputs_t in = {0};
    timeout_s = (unsigned)env_ulong("GS_FUZZ_TIMEOUT", timeout_s);
    signal(SIGALRM, on_alarm);
    if (argc > 1) {   /* replay the files given */
        for (int i = 1; i < argc; i++)
            if (add_path(&in, argv[i]) != 0) {
                fprintf(stderr, "replay: %s: cannot read\n", argv[i]);
                return 2;
            }
        for (size_t i = 0; i < in.n; i++) {
            fprintf(stderr, "running %s (%zu bytes)\n", in.items[i].name, in.items[i].size);
            run(in.items[i].data, in.items[i].size);
        }
        printf("%zu inputs ran without a failure\n", in.n);
        inputs_free(&in);
        return 0;
    }
    printf("1..2\n");
    keep_open();
    printf("# each input is written to %s before it runs: a failure leaves it there\n",
           keep_path);
    if (add_path(&in, FUZZ_CORPUS) != 0 || in.n == 0) {
        printf("not ok 1 - corpus %s: cannot be read, or holds no file\n", FUZZ_CORPUS);
        printf("not ok 2 # SKIP no corpus to mutate\n");
        inputs_free(&in);
        return 1;
    }
    double t0 = gs_now();
    for (size_t i = 0; i < in.n; i++)
        run(in.items[i].data, in.items[i].size);
    printf("ok 1 - %s: the %zu files of %s (%.2f s)\n", FUZZ_NAME, in.n, FUZZ_CORPUS,
           gs_now() - t0);
    fflush(stdout);

    unsigned long seed = env_ulong("GS_FUZZ_SEED", 1), count = env_ulong("GS_FUZZ_MUTATIONS", 1000);
    uint8_t *buf = malloc(MAX_MUTANT);
    if (!buf) {
        printf("not ok 2 - out of memory\n");
        return 1;
    }
    t0 = gs_now();
    unsigned long done = 0;
    for (; done < count; done++) {
        uint64_t s = seed * 0x9e3779b97f4a7c15ull ^ done;
        next(&s);
        size_t n = mutate(&in, below(&s, in.n), &s, buf, MAX_MUTANT);
        run(buf, n);
    }
    printf("ok 2 - %s: %lu mutations (seed %lu) in %.2f s\n", FUZZ_NAME, done, seed,
           gs_now() - t0);
    free(buf);
    inputs_free(&in);
    keep_close();
    return 0;
}
