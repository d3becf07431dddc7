/* `gradsweep compare A.db B.db [--csv]`: what changed between two sweep
 * databases - per experiment, how many paired cells changed their
 * diagnosis at init or at the end of training, diverged on one side
 * only, or moved their test accuracy; the median ratio of their
 * backpropagated gradients; the changed cells one by one; and the cells
 * present in one database only. Pairs come from store/compare.h. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "store/compare.h"
#include "store/store.h"
#include "util/csv.h"
#include "util/exit.h"

#define COMPARE_USAGE "gradsweep compare A.db B.db [--csv]"
#define ACC_MOVED 0.01      /* a test accuracy that moved more than this has changed */
#define LINES_SHOWN 40      /* changed cells and cells of one database listed as text */

/* Both NaN, or equal. */
static int same_real(double x, double y)
{
    return (isnan(x) && isnan(y)) || x == y;
}

static int diverged(const gs_cmp_cell_t *c)
{
    return strcmp(c->status, "diverged") == 0;
}

/* What differs between a pair, as flags. */
enum { CH_STATUS = 1, CH_DIAG = 2, CH_FINAL = 4, CH_DIVERGED = 8, CH_ACC = 16 };

static int changes(const gs_cmp_cell_t *x, const gs_cmp_cell_t *y)
{
    int f = 0;
    f |= strcmp(x->status, y->status) != 0 ? CH_STATUS : 0;
    f |= strcmp(x->diagnosis, y->diagnosis) != 0 ? CH_DIAG : 0;
    f |= strcmp(x->diagnosis_final, y->diagnosis_final) != 0 ? CH_FINAL : 0;
    f |= diverged(x) != diverged(y) ? CH_DIVERGED : 0;
    if (isnan(x->test_acc) != isnan(y->test_acc) || fabs(x->test_acc - y->test_acc) > ACC_MOVED)
        f |= CH_ACC;
    return f;
}

/* Every number equal, bit for bit: what a change that should not move
 * results (a refactoring, another rank count) must give. */
static int identical(const gs_cmp_cell_t *x, const gs_cmp_cell_t *y)
{
    return !changes(x, y) && same_real(x->grad_h_ratio, y->grad_h_ratio) &&
           same_real(x->grad_ratio, y->grad_ratio) && same_real(x->test_acc, y->test_acc) &&
           same_real(x->train_loss, y->train_loss) && x->diverged_step == y->diverged_step;
}

/* The pair's ratio B/A: of grad_h_ratio, else (a database from before it,
 * or a dead network) of grad_ratio; NaN when neither is positive on both
 * sides. */
static double ratio_change(const gs_cmp_cell_t *x, const gs_cmp_cell_t *y)
{
    if (x->grad_h_ratio > 0 && y->grad_h_ratio > 0)
        return y->grad_h_ratio / x->grad_h_ratio;
    if (x->grad_ratio > 0 && y->grad_ratio > 0)
        return y->grad_ratio / x->grad_ratio;
    return NAN;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* The experiments of both sets, each once, sorted (the sets are sorted
 * by experiment). */
static size_t experiments(const gs_cmp_set_t *a, const gs_cmp_set_t *b, char (*names)[64],
                          size_t cap)
{
    size_t n = 0;
    const gs_cmp_set_t *sets[2] = {a, b};
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < sets[s]->n; i++) {
            size_t k = 0;
            while (k < n && strcmp(names[k], sets[s]->cells[i].experiment) != 0)
                k++;
            if (k == n && n < cap)
                snprintf(names[n++], 64, "%s", sets[s]->cells[i].experiment);
        }
    qsort(names, n, sizeof *names, (int (*)(const void *, const void *))strcmp);
    return n;
}

/* The keys of a cell worth showing: those whose value differs among the
 * cells of its experiment in either set (its axes), "k=v k=v", but the
 * key a one-key pair changed (said apart). */
static void short_key(const gs_cmp_set_t *a, const gs_cmp_set_t *b, const gs_cmp_cell_t *c,
                      char *buf, size_t len)
{
    const char *skip = c->partner >= 0 && c->how == GS_CMP_ONE_KEY ? c->changed_key : "";
    const gs_cmp_set_t *sets[2] = {a, b};
    size_t used = 0;
    buf[0] = '\0';
    for (const char *p = c->key; *p && used < len;) {
        size_t il = strcspn(p, ";"), kl = strcspn(p, "=;");
        char k[64], mine[256], other[256];
        snprintf(k, sizeof k, "%.*s", (int)(kl < 63 ? kl : 63), p);
        gs_cmp_key_value(c->key, k, mine, sizeof mine);
        int varies = 0;
        for (int s = 0; s < 2 && !varies; s++)
            for (size_t i = 0; i < sets[s]->n && !varies; i++)
                if (strcmp(sets[s]->cells[i].experiment, c->experiment) == 0) {
                    gs_cmp_key_value(sets[s]->cells[i].key, k, other, sizeof other);
                    varies = strcmp(mine, other) != 0;
                }
        if (varies && strcmp(k, skip) != 0)
            used += (size_t)snprintf(buf + used, len - used, "%s%.*s", used ? " " : "", (int)il, p);
        p += il + (p[il] == ';');
    }
    if (c->repeat > 0 && used < len)
        snprintf(buf + used, len - used, "%srepeat=%ld", used ? " " : "", c->repeat);
    if (!buf[0])
        snprintf(buf, len, "(its only cell)");
}

/* Per experiment: pairs and what changed in them, the median ratio
 * change, cells of one side only. */
static void print_table(const gs_cmp_set_t *a, const gs_cmp_set_t *b, const char *la,
                        const char *lb)
{
    char names[256][64];
    size_t ne = experiments(a, b, names, 256);
    double *r = malloc((a->n + 1) * sizeof *r);
    printf("\n%-20s %6s %9s %9s %6s %8s %8s %13s %7s %7s\n", "experiment", "pairs", "identical",
           "diagnosis", "final", "diverged", "test_acc", "ratio B/A", "only A", "only B");
    for (size_t e = 0; e < ne; e++) {
        long pairs = 0, same = 0, diag = 0, fin = 0, div = 0, acc = 0, only_a = 0, only_b = 0;
        size_t nr = 0;
        for (size_t i = 0; i < a->n; i++) {
            const gs_cmp_cell_t *x = &a->cells[i];
            if (strcmp(x->experiment, names[e]) != 0)
                continue;
            if (x->partner < 0) {
                only_a++;
                continue;
            }
            const gs_cmp_cell_t *y = &b->cells[x->partner];
            int f = changes(x, y);
            pairs++;
            same += identical(x, y);
            diag += (f & CH_DIAG) != 0;
            fin += (f & CH_FINAL) != 0;
            div += (f & CH_DIVERGED) != 0;
            acc += (f & CH_ACC) != 0;
            double q = ratio_change(x, y);
            if (r && !isnan(q))
                r[nr++] = q;
        }
        for (size_t i = 0; i < b->n; i++)
            only_b += strcmp(b->cells[i].experiment, names[e]) == 0 && b->cells[i].partner < 0;
        char med[32] = "-";
        if (nr) {
            qsort(r, nr, sizeof *r, cmp_double);
            snprintf(med, sizeof med, "%.3g", nr % 2 ? r[nr / 2] : sqrt(r[nr / 2 - 1] * r[nr / 2]));
        }
        printf("%-20s %6ld %9ld %9ld %6ld %8ld %8ld %13s %7ld %7ld\n", names[e], pairs, same, diag,
               fin, div, acc, med, only_a, only_b);
    }
    free(r);
    printf("(diagnosis, final, diverged, test_acc: pairs where it changed - test_acc by more than "
           "%g; ratio B/A: median of %s's grad_h_ratio over %s's, or of grad_ratio where there "
           "is none)\n", ACC_MOVED, lb, la);
}

static const char *txt(const char *s)
{
    return s[0] ? s : "-";
}

/* One changed pair as a line. */
static void print_change(const gs_cmp_set_t *a, const gs_cmp_set_t *b, const gs_cmp_cell_t *x,
                         const gs_cmp_cell_t *y, int f)
{
    char key[1024], va[256], vb[256];
    short_key(a, b, x, key, sizeof key);
    printf("  [%s] %s:", x->experiment, key);
    if (x->how == GS_CMP_ONE_KEY) {
        gs_cmp_key_value(x->key, x->changed_key, va, sizeof va);
        gs_cmp_key_value(y->key, x->changed_key, vb, sizeof vb);
        printf(" (%s %s -> %s)", x->changed_key, txt(va), txt(vb));
    }
    if (f & (CH_STATUS | CH_DIVERGED))
        printf(" status %s -> %s;", x->status, y->status);
    if (f & CH_DIAG)
        printf(" diagnosis %s -> %s;", txt(x->diagnosis), txt(y->diagnosis));
    if (f & CH_FINAL)
        printf(" diagnosis_final %s -> %s;", txt(x->diagnosis_final), txt(y->diagnosis_final));
    if (f & CH_ACC)
        printf(" test_acc %.3f -> %.3f;", x->test_acc, y->test_acc);
    printf(" grad_h_ratio %.3g -> %.3g\n", x->grad_h_ratio, y->grad_h_ratio);
}

static void print_text(const gs_cmp_set_t *a, const gs_cmp_set_t *b, const char *la, const char *lb)
{
    long by[3] = {0}, changed = 0, shown = 0;
    for (size_t i = 0; i < a->n; i++)
        if (a->cells[i].partner >= 0) {
            by[a->cells[i].how]++;
            changed += changes(&a->cells[i], &b->cells[a->cells[i].partner]) != 0;
        }
    long only_a = (long)a->n - by[0] - by[1] - by[2], only_b = (long)b->n - by[0] - by[1] - by[2];
    char keys[512] = "";   /* the keys one-key pairs changed, each once */
    for (size_t i = 0; i < a->n; i++) {
        const char *k = a->cells[i].changed_key;
        size_t l = strlen(keys), kl = strlen(k);
        int seen = 0;
        for (const char *p = keys; kl && (p = strstr(p, k)); p += kl)
            seen |= (p == keys || p[-1] == ' ') && (p[kl] == ',' || p[kl] == '\0');
        if (a->cells[i].partner >= 0 && a->cells[i].how == GS_CMP_ONE_KEY && !seen)
            snprintf(keys + l, sizeof keys - l, "%s%s", l ? ", " : "", k);
    }
    printf("A = %s (%zu cells), B = %s (%zu cells)\n", la, a->n, lb, b->n);
    printf("paired %ld cells: %ld by config hash, %ld by experiment, keys and repeat (another "
           "base seed or thresholds), %ld by all keys but one%s%s%s; %ld only in A, %ld only in "
           "B\n", by[0] + by[1] + by[2], by[0], by[1], by[2], keys[0] ? " (" : "", keys,
           keys[0] ? " changed)" : "", only_a, only_b);
    print_table(a, b, la, lb);
    printf("\n%ld changed pair%s (status, diagnosis, diagnosis_final or test_acc)%s\n", changed,
           changed == 1 ? "" : "s", changed ? ":" : "");
    for (size_t i = 0; i < a->n && shown < LINES_SHOWN; i++)
        if (a->cells[i].partner >= 0) {
            const gs_cmp_cell_t *y = &b->cells[a->cells[i].partner];
            int f = changes(&a->cells[i], y);
            if (f) {
                print_change(a, b, &a->cells[i], y, f);
                shown++;
            }
        }
    if (changed > shown)
        printf("  ... and %ld more (--csv lists every pair)\n", changed - shown);
    const gs_cmp_set_t *sets[2] = {a, b};
    const long only[2] = {only_a, only_b};
    for (int s = 0; s < 2; s++) {
        if (!only[s])
            continue;
        printf("\nonly in %s (%ld):\n", s ? lb : la, only[s]);
        shown = 0;
        for (size_t i = 0; i < sets[s]->n && shown < LINES_SHOWN; i++)
            if (sets[s]->cells[i].partner < 0) {
                char key[1024];
                short_key(a, b, &sets[s]->cells[i], key, sizeof key);
                printf("  [%s] %s (%s, %s)\n", sets[s]->cells[i].experiment, key,
                       sets[s]->cells[i].hash, sets[s]->cells[i].status);
                shown++;
            }
        if (only[s] > shown)
            printf("  ... and %ld more (--csv lists every cell)\n", only[s] - shown);
    }
}

/* ---- --csv: one row per pair and per cell of one side ---- */

static void csv_real(double v)
{
    if (!isnan(v))
        printf("%.17g", v);
}

/* The fields of one side (x NULL: empty ones). */
static void csv_side(const gs_cmp_cell_t *x, int field)
{
    if (!x)
        return;
    switch (field) {
    case 0: gs_csv_field(stdout, x->hash); break;
    case 1: gs_csv_field(stdout, x->key); break;
    case 2: gs_csv_field(stdout, x->status); break;
    case 3: gs_csv_field(stdout, x->diagnosis); break;
    case 4: gs_csv_field(stdout, x->diagnosis_final); break;
    case 5: csv_real(x->grad_h_ratio); break;
    case 6: csv_real(x->grad_ratio); break;
    case 7: csv_real(x->test_acc); break;
    case 8: if (diverged(x)) printf("%ld", x->diverged_step); break;
    }
}

static const char *const csv_sides[] = {"config_hash", "canonical_key", "status", "diagnosis",
                                        "diagnosis_final", "grad_h_ratio", "grad_ratio",
                                        "test_acc", "diverged_step"};
#define N_SIDES (sizeof csv_sides / sizeof *csv_sides)

static void csv_row(const gs_cmp_cell_t *x, const gs_cmp_cell_t *y)
{
    const gs_cmp_cell_t *c = x ? x : y;
    gs_csv_field(stdout, c->experiment);
    printf(",%s,", x && y ? gs_cmp_how_names[x->how] : x ? "only_a" : "only_b");
    gs_csv_field(stdout, x && y ? x->changed_key : "");
    printf(",%ld", c->repeat);
    for (size_t f = 0; f < N_SIDES; f++) {
        putchar(',');
        csv_side(x, (int)f);
        putchar(',');
        csv_side(y, (int)f);
    }
    int ch = x && y ? changes(x, y) : 0;
    printf(",%d,", x && y ? identical(x, y) : 0);
    const char *names[] = {"status", "diagnosis", "diagnosis_final", "diverged", "test_acc"};
    for (int k = 0, first = 1; k < 5; k++)
        if (ch & (1 << k)) {
            printf("%s%s", first ? "" : ";", names[k]);
            first = 0;
        }
    putchar('\n');
}

static void print_csv(const gs_cmp_set_t *a, const gs_cmp_set_t *b)
{
    printf("experiment,match,changed_key,repeat");
    for (size_t f = 0; f < N_SIDES; f++)
        printf(",%s_a,%s_b", csv_sides[f], csv_sides[f]);
    printf(",identical,changed\n");
    for (size_t i = 0; i < a->n; i++)
        csv_row(&a->cells[i], a->cells[i].partner >= 0 ? &b->cells[a->cells[i].partner] : NULL);
    for (size_t i = 0; i < b->n; i++)
        if (b->cells[i].partner < 0)
            csv_row(NULL, &b->cells[i]);
}

int gs_cmd_compare(int argc, char **argv)
{
    static const char help[] =
        "Pairs the cells of two sweep databases - by config hash; else by experiment,\n"
        "canonical key and repeat (another base seed); else by every key but one (a\n"
        "changed key, named) - and prints per experiment how many pairs are identical\n"
        "(every number equal), changed their diagnosis at init or at the end of\n"
        "training, diverged on one side only, or moved their test accuracy by more\n"
        "than 0.01, with the median ratio of their grad_h_ratio (B over A); then the\n"
        "changed pairs and the cells present in one database only. It is how to see\n"
        "what a code change, a new seed or an override did to a whole sweep:\n"
        "  gradsweep run small.ini seed=7 --db seed7.db\n"
        "  gradsweep compare results/small.db seed7.db\n"
        "--csv: one row per pair and per unpaired cell, both sides' fields (_a, _b),\n"
        "how it was paired (hash, keys, one_key with changed_key, only_a, only_b),\n"
        "identical (1/0) and what changed. Exit status 0 whatever differs: it reports,\n"
        "it does not judge.\n\n";
    static const char *const flags[] = {"--csv"};
    const char *da, *db;
    int csv = -1, code;
    if (gs_cli_db_and_name(argc, argv, "compare", COMPARE_USAGE, help, "second database", flags,
                           1, &csv, &da, &db, &code) != 0)
        return code;
    char err[8192];
    gs_cmp_set_t a = {0}, b = {0};
    gs_store_t *sa = gs_cli_open("compare", da, 1, &code), *sb = NULL;
    if (!sa || !(sb = gs_cli_open("compare", db, 1, &code)))
        goto out;
    code = GS_EXIT_RUNTIME;
    if (gs_cmp_load(gs_store_handle(sa), da, &a, err, sizeof err) != 0 ||
        gs_cmp_load(gs_store_handle(sb), db, &b, err, sizeof err) != 0) {
        fprintf(stderr, "gradsweep compare: %s\n", err);
        goto out;
    }
    if (gs_cmp_match(&a, &b) != 0) {
        fprintf(stderr, "gradsweep compare: out of memory\n");
        goto out;
    }
    if (csv == 0)
        print_csv(&a, &b);
    else
        print_text(&a, &b, da, db);
    code = fflush(stdout) == 0 ? GS_EXIT_OK : GS_EXIT_RUNTIME;
out:
    gs_cmp_free(&a);
    gs_cmp_free(&b);
    gs_store_close(sa);
    gs_store_close(sb);
    return code;
}
