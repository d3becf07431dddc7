#include <config.h>

#include "sweep/sweep.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/rng.h"
#include "util/files.h"
#include "util/hash.h"

#define MAX_CELLS 1000000

/* One key = value line as inih delivered it. */
typedef struct {
    char section[GS_NAME_MAX + 32];
    char key[64];
    char *value;
    int line;
} entry_t;

typedef struct {
    const char *text;   /* reader position */
    int line;           /* lines handed to inih so far */
    int cont;           /* the current line starts with whitespace */
    int too_long;       /* a line did not fit inih's buffer */
    entry_t *entries;
    size_t n, cap;
    char err[512];
    const char *path;
    struct {
        char name[GS_NAME_MAX + 32];
        int line;
    } headers[256];   /* [section] lines, for messages about a section */
    size_t n_headers;
} parse_t;

/* inih reads through this, a line at a time: count lines (for file:line
 * messages) and note continuation lines. */
static char *reader(char *str, int num, void *stream)
{
    parse_t *p = stream;
    if (!*p->text)
        return NULL;
    const char *nl = strchr(p->text, '\n');
    size_t len = nl ? (size_t)(nl - p->text) + 1 : strlen(p->text);
    p->line++;
    p->cont = p->text[0] == ' ' || p->text[0] == '\t';
    const char *b = p->text;
    while (b < p->text + len && (*b == ' ' || *b == '\t'))
        b++;
    if (*b == '[' && p->n_headers < sizeof p->headers / sizeof p->headers[0]) {
        size_t nl_ = strcspn(b + 1, "]\n");
        snprintf(p->headers[p->n_headers].name, sizeof p->headers[0].name, "%.*s",
                 (int)(nl_ < sizeof p->headers[0].name - 1 ? nl_ : sizeof p->headers[0].name - 1),
                 b + 1);
        p->headers[p->n_headers++].line = p->line;
    }
    if (len >= (size_t)num) {
        if (!p->too_long)
            p->too_long = p->line;
        len = (size_t)num - 1;
    }
    memcpy(str, p->text, len);
    str[len] = '\0';
    p->text = nl ? nl + 1 : p->text + strlen(p->text);
    return str;
}

/* Messages echo a value cut to this many characters: a long continued
 * list would otherwise fill the screen. */
#define ECHO_MAX 72

/* v as a message echoes it: whole when short, else its start and "...". */
static const char *echo(const char *v, char *buf, size_t len)
{
    size_t n = strlen(v);
    if (n <= ECHO_MAX)
        snprintf(buf, len, "%s", v);
    else
        snprintf(buf, len, "%.*s... (%zu characters)", ECHO_MAX - 8, v, n);
    return buf;
}

/* What to add to a value's error when the value holds a '#': INI inline
 * comments start with ';' (a '#' starts a comment only at the start of a
 * line), so "depth = 2  # two" reads "2  # two". */
static const char *comment_hint(const char *value)
{
    return strchr(value, '#') ? " (an inline comment starts with ';', not '#': '#' starts a "
                                "comment only at the beginning of a line)" : "";
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    parse_t *p = user;
    if (p->err[0])
        return 0;
    if (strlen(section) >= sizeof p->entries->section || strlen(name) >= sizeof p->entries->key) {
        snprintf(p->err, sizeof p->err, "%s:%d: section or key name too long", p->path, p->line);
        return 0;
    }
    /* a continuation line adds to the previous value of the same key */
    if (p->cont && p->n > 0 && strcmp(p->entries[p->n - 1].key, name) == 0 &&
        strcmp(p->entries[p->n - 1].section, section) == 0) {
        entry_t *e = &p->entries[p->n - 1];
        /* no value of the vocabulary holds '=': this is a key line that
         * was indented by mistake, not more of the list */
        if (strchr(value, '=')) {
            char b[128];
            snprintf(p->err, sizeof p->err, "%s:%d: [%s] '%s': this line is indented, so INI reads "
                     "it as more of the value of %s (line %d); start a key at the beginning of "
                     "its line", p->path, p->line, section, echo(value, b, sizeof b), name, e->line);
            return 0;
        }
        /* inih leaves inline comments on continuation lines: cut them */
        size_t vl = strlen(value);
        for (size_t i = 1; i < vl; i++)
            if (value[i] == ';' && (value[i - 1] == ' ' || value[i - 1] == '\t')) {
                vl = i;
                break;
            }
        while (vl > 0 && (value[vl - 1] == ' ' || value[vl - 1] == '\t'))
            vl--;
        size_t l = strlen(e->value);
        int comma = l > 0 && e->value[l - 1] != ',';
        char *v = realloc(e->value, l + vl + 3);
        if (!v)
            return 0;
        snprintf(v + l, vl + 3, "%s%.*s", comma ? ", " : " ", (int)vl, value);
        e->value = v;
        return 1;
    }
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->entries[i].section, section) == 0 && strcmp(p->entries[i].key, name) == 0) {
            snprintf(p->err, sizeof p->err, "%s:%d: [%s] %s: set twice (first at line %d); %s",
                     p->path, p->line, section, name, p->entries[i].line,
                     strcmp(section, GS_OVERRIDES_SECTION) == 0
                         ? "the config's [" GS_OVERRIDES_SECTION "] and a KEY=VALUE word of the "
                           "command line (appended to the text) may not both set it"
                         : "write one axis as a comma list");
            return 0;
        }
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 64;
        entry_t *e = realloc(p->entries, cap * sizeof *e);
        if (!e)
            return 0;
        p->entries = e;
        p->cap = cap;
    }
    entry_t *e = &p->entries[p->n++];
    snprintf(e->section, sizeof e->section, "%s", section);
    snprintf(e->key, sizeof e->key, "%s", name);
    e->value = strdup(value);
    e->line = p->line;
    return e->value != NULL;
}

int gs_valid_name(const char *s)
{
    if (!*s || strlen(s) >= GS_NAME_MAX)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

void gs_slug(const char *name, char *out, size_t len)
{
    size_t o = 0;
    for (; *name && o + 1 < len; name++)
        out[o++] = isalnum((unsigned char)*name) || *name == '_' || *name == '-' ? *name : '_';
    out[o] = '\0';
}

/* Split "a, b(1, 2), c" on commas outside parentheses; trims blanks.
 * Returns the count, or 0 when a value is empty. */
static size_t split_values(const char *v, char ***out)
{
    size_t n = 1, depth = 0;
    for (const char *c = v; *c; c++) {
        depth += *c == '(';
        depth -= *c == ')' && depth > 0;
        n += *c == ',' && depth == 0;
    }
    char **vals = calloc(n, sizeof *vals);
    if (!vals)
        return 0;
    size_t k = 0;
    const char *start = v;
    depth = 0;
    for (const char *c = v;; c++) {
        if (*c == '(')
            depth++;
        else if (*c == ')' && depth > 0)
            depth--;
        if (*c == '\0' || (*c == ',' && depth == 0)) {
            const char *a = start, *b = c;
            while (a < b && isspace((unsigned char)*a))
                a++;
            while (b > a && isspace((unsigned char)b[-1]))
                b--;
            vals[k] = strndup(a, (size_t)(b - a));
            if (!vals[k] || b == a) {
                for (size_t i = 0; i <= k; i++)
                    free(vals[i]);
                free(vals);
                return 0;
            }
            k++;
            start = c + 1;
            if (*c == '\0')
                break;
        }
    }
    *out = vals;
    return n;
}

static void free_values(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void gs_sweep_free(gs_sweep_t *sw)
{
    if (!sw)
        return;
    for (size_t e = 0; e < sw->n_experiments; e++) {
        for (size_t a = 0; a < sw->experiments[e].n_axes; a++)
            free_values(sw->experiments[e].axes[a].values, sw->experiments[e].axes[a].n_values);
        free(sw->experiments[e].axes);
    }
    free(sw->experiments);
    free(sw->cells);
    free(sw->path);
    free(sw->text);
    memset(sw, 0, sizeof *sw);
}

void gs_sweep_set_seeding(gs_sweep_t *sw, int seeding)
{
    assert(seeding >= 0 && seeding < GS_N_SEEDING);
    sw->seeding = seeding;
    for (size_t i = 0; i < sw->n_cells; i++)
        sw->cells[i].cell.seeding = seeding;
}

size_t gs_sweep_axis_value(const gs_experiment_t *ex, const gs_sweep_cell_t *c, size_t a)
{
    size_t rem = c->combo;
    for (size_t k = ex->n_axes; k-- > a + 1;)
        rem /= ex->axes[k].n_values;
    return rem % ex->axes[a].n_values;
}

size_t gs_sweep_hash_text(const gs_sweep_t *sw, const gs_sweep_cell_t *c, char *buf, size_t len)
{
    char key[2048];
    gs_cell_key(&c->cell, key, sizeof key);
    return (size_t)snprintf(buf, len, "%s\n%s\nseed=%llu\nrepeat=%ld\nthresholds=%.17g,%.17g",
                            sw->experiments[c->experiment].name, key,
                            (unsigned long long)c->cell.seed, c->cell.repeat,
                            c->cell.vanishing_below, c->cell.exploding_above);
}

static uint64_t hash_text(const char *s)
{
    return gs_mix64(gs_fnv1a(GS_FNV_OFFSET, s, strlen(s)));
}

/* An earlier combination of experiment ex (its cells so far) is this
 * settled cell. Within one experiment a cell's hash text differs from
 * another's only by the canonical key and the diagnosis thresholds, so
 * where the thresholds are equal a different config_hash means a
 * different key, and the key is formatted only when the hashes agree.
 * (Formatting every earlier key made a clip_mode axis quadratic in key
 * formatting: 4,000 combinations took 26 s to plan.) */
static int same_as_earlier(const gs_sweep_t *sw, const gs_experiment_t *ex, const gs_cell_t *cell)
{
    char a[2048], b[2048], ht[4096];
    gs_sweep_cell_t probe = {.experiment = (size_t)(ex - sw->experiments), .cell = *cell};
    probe.cell.repeat = 0;
    gs_sweep_hash_text(sw, &probe, ht, sizeof ht);
    uint64_t h = hash_text(ht);
    if ((h & INT64_MAX) == 0)
        h |= 1;   /* as the cells' own hashes (gs_sweep_parse) */
    gs_cell_key(cell, a, sizeof a);
    for (size_t i = ex->first_cell; i < sw->n_cells; i++) {
        const gs_sweep_cell_t *c = &sw->cells[i];
        if (c->cell.repeat != 0)
            continue;
        if (c->hash != h && c->cell.vanishing_below == cell->vanishing_below &&
            c->cell.exploding_above == cell->exploding_above)
            continue;
        gs_cell_key(&c->cell, b, sizeof b);
        if (strcmp(a, b) == 0)
            return 1;
    }
    return 0;
}

/* Keys only [sweep] takes. */
static int sweep_only(const char *k)
{
    return strcmp(k, "name") == 0 || strcmp(k, "description") == 0;
}

/* The sections that are not experiments. */
static int is_experiment(const char *section)
{
    return strcmp(section, "sweep") != 0 && strcmp(section, GS_OVERRIDES_SECTION) != 0;
}

/* Whether [overrides] sets key. */
static int overridden(const parse_t *p, const char *key)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->entries[i].section, GS_OVERRIDES_SECTION) == 0 &&
            strcmp(p->entries[i].key, key) == 0)
            return 1;
    return 0;
}

/* A list where one value is wanted: a comma outside parentheses. */
static int is_list(const char *v)
{
    return strchr(v, ',') && strcspn(v, ",") < strcspn(v, "(");
}

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* inih's verdict and the reader's: a line too long, a line that is not
 * INI, or a handler's message. */
static int read_errors(const parse_t *p, int rc, char *err, size_t errlen)
{
    if (p->err[0])
        return fail(err, errlen, "%s", p->err);
    if (p->too_long)
        return fail(err, errlen, "%s:%d: line longer than %d characters; continue a long axis "
                    "on the next line, indented", p->path, p->too_long, INI_MAX_LINE - 1);
    if (rc != 0)
        return fail(err, errlen, "%s:%d: not an INI line; expected [section], key = value, or a "
                    "comment starting with ; or #", p->path, rc);
    return 0;
}

/* [sweep]: the name (default: the file's base name), the description,
 * and single defaults for every experiment into base. */
static int read_sweep_section(gs_sweep_t *sw, const parse_t *p, gs_cell_t *base, char *err,
                              size_t errlen)
{
    const char *path = p->path;
    const char *base_name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char msg[1024];
    snprintf(sw->name, sizeof sw->name, "%.*s", (int)strcspn(base_name, "."), base_name);
    char b[128];
    for (size_t i = 0; i < p->n; i++) {
        const entry_t *e = &p->entries[i];
        if (strcmp(e->section, "sweep") != 0 || overridden(p, e->key))
            continue;
        if (strcmp(e->key, "name") == 0) {
            if (!gs_valid_name(e->value))
                return fail(err, errlen, "%s:%d: [sweep] name=%s: not a usable name; allowed: "
                            "1 to %d printable characters", path, e->line, e->value,
                            GS_NAME_MAX - 1);
            snprintf(sw->name, sizeof sw->name, "%s", e->value);
        } else if (strcmp(e->key, "description") == 0) {
            snprintf(sw->description, sizeof sw->description, "%s", e->value);
        } else if (is_list(e->value)) {
            return fail(err, errlen, "%s:%d: [sweep] %s=%s: a list; [sweep] sets single "
                        "defaults, write axes in an experiment section", path, e->line, e->key,
                        echo(e->value, b, sizeof b));
        } else if (gs_cell_set(base, e->key, e->value, msg, sizeof msg) != 0) {
            return fail(err, errlen, "%s:%d: [sweep] %s%s", path, e->line, msg,
                        comment_hint(e->value));
        }
    }
    /* [overrides]: one value per key, for every experiment (and the
     * [sweep] defaults it replaces: the base seed and thresholds) */
    for (size_t i = 0; i < p->n; i++) {
        const entry_t *e = &p->entries[i];
        if (strcmp(e->section, GS_OVERRIDES_SECTION) != 0)
            continue;
        if (sweep_only(e->key))
            return fail(err, errlen, "%s:%d: [" GS_OVERRIDES_SECTION "] %s: belongs in [sweep]",
                        path, e->line, e->key);
        if (is_list(e->value))
            return fail(err, errlen, "%s:%d: [" GS_OVERRIDES_SECTION "] %s=%s: an override takes "
                        "one value, not a list", path, e->line, e->key,
                        echo(e->value, b, sizeof b));
        if (gs_cell_set(base, e->key, e->value, msg, sizeof msg) != 0)
            return fail(err, errlen, "%s:%d: [" GS_OVERRIDES_SECTION "] %s%s", path, e->line, msg,
                        comment_hint(e->value));
        size_t l = strlen(sw->overrides);
        snprintf(sw->overrides + l, sizeof sw->overrides - l, "%s%s=%s", l ? ", " : "", e->key,
                 e->value);
    }
    if (!gs_valid_name(sw->name))
        return fail(err, errlen, "%s: no usable sweep name; add name = ... to [sweep]", path);
    gs_slug(sw->name, sw->slug, sizeof sw->slug);
    sw->seed = base->seed;
    sw->vanishing_below = base->vanishing_below;
    sw->exploding_above = base->exploding_above;
    return 0;
}

/* Append the experiment of entry e's section, named and with the line of
 * its [section] header. */
static int add_experiment(gs_sweep_t *sw, const parse_t *p, const entry_t *e, char *err,
                          size_t errlen)
{
    if (!gs_valid_name(e->section))
        return fail(err, errlen, "%s:%d: [%s]: not a usable experiment name; allowed: 1 to %d "
                    "printable characters", p->path, e->line, e->section, GS_NAME_MAX - 1);
    gs_experiment_t *ex = realloc(sw->experiments, (sw->n_experiments + 1) * sizeof *ex);
    if (!ex)
        return fail(err, errlen, "out of memory");
    sw->experiments = ex;
    gs_experiment_t *x = &ex[sw->n_experiments++];
    memset(x, 0, sizeof *x);
    snprintf(x->name, GS_NAME_MAX, "%.*s", GS_NAME_MAX - 1, e->section);
    gs_slug(x->name, x->slug, GS_NAME_MAX);
    for (gs_experiment_t *o = ex; o < x; o++)
        if (strcmp(o->slug, x->slug) == 0)
            return fail(err, errlen, "%s:%d: [%s] and [%s] share the file name %s; rename one",
                        p->path, e->line, o->name, e->section, o->slug);
    x->line = e->line;
    for (size_t h = 0; h < p->n_headers; h++)
        if (strcmp(p->headers[h].name, e->section) == 0) {
            x->line = p->headers[h].line;
            break;
        }
    return 0;
}

/* Every section but [sweep] is an experiment, in file order. */
static int read_experiments(gs_sweep_t *sw, const parse_t *p, char *err, size_t errlen)
{
    for (size_t i = 0; i < p->n; i++) {
        const entry_t *e = &p->entries[i];
        if (!is_experiment(e->section))
            continue;
        size_t k = 0;
        while (k < sw->n_experiments && strcmp(sw->experiments[k].name, e->section) != 0)
            k++;
        if (k == sw->n_experiments && add_experiment(sw, p, e, err, errlen) != 0)
            return -1;
    }
    if (sw->n_experiments == 0)
        return fail(err, errlen, "%s: no experiment; add a section such as [depth-scan] with "
                    "keys like depth = 5, 10, 20", p->path);
    return 0;
}

/* The message for a list with an empty item: which item, and the text
 * around it (a continued list can run to kilobytes). */
static int empty_item(const gs_experiment_t *ex, const entry_t *e, const char *path, char *err,
                      size_t errlen)
{
    const char *v = e->value, *start = v;
    size_t item = 1, n_items = 1, depth = 0, at = 0;
    int found = 0;
    for (const char *c = v;; c++) {
        depth += *c == '(';
        depth -= *c == ')' && depth > 0;
        if (*c == '\0' || (*c == ',' && depth == 0)) {
            const char *a = start;
            while (a < c && isspace((unsigned char)*a))
                a++;
            if (a == c && !found) {
                found = 1;
                item = n_items;
                at = (size_t)(start - v);
            }
            if (*c == '\0')
                break;
            n_items++;
            start = c + 1;
        }
    }
    size_t from = at > 30 ? at - 30 : 0;
    return fail(err, errlen, "%s:%d: [%s] %s: item %zu of the list's %zu is empty (two commas "
                "in a row, or a comma at the end): %s%.60s%s", path, e->line, ex->name, e->key,
                item, n_items, from ? "..." : "", v + from, strlen(v + from) > 60 ? "..." : "");
}

/* One key of experiment ex: a single value goes into fixed, a list
 * becomes an axis (which takes vals) and multiplies *n_combo. */
static int read_key(gs_experiment_t *ex, const entry_t *e, const char *path, gs_cell_t *fixed,
                    size_t *n_combo, char *err, size_t errlen)
{
    char msg[1024], **vals, b[128];
    if (sweep_only(e->key))
        return fail(err, errlen, "%s:%d: [%s] %s: belongs in [sweep]", path, e->line, ex->name,
                    e->key);
    size_t nv = split_values(e->value, &vals);
    if (nv == 0)
        return empty_item(ex, e, path, err, errlen);
    /* every value must be valid on its own */
    for (size_t v = 0; v < nv; v++) {
        gs_cell_t probe = *fixed;
        if (gs_cell_set(&probe, e->key, vals[v], msg, sizeof msg) != 0) {
            fail(err, errlen, "%s:%d: [%s] %s%s", path, e->line, ex->name, msg,
                 comment_hint(vals[v]));
            goto fail;
        }
    }
    if (nv == 1) {
        gs_cell_set(fixed, e->key, vals[0], msg, sizeof msg);
        free_values(vals, nv);
        return 0;
    }
    if (strcmp(e->key, "repeats") == 0 || strcmp(e->key, "seed") == 0) {
        fail(err, errlen, "%s:%d: [%s] %s=%s: takes one value, not a list", path, e->line,
             ex->name, e->key, echo(e->value, b, sizeof b));
        goto fail;
    }
    gs_axis_t *ax = realloc(ex->axes, (ex->n_axes + 1) * sizeof *ax);
    if (!ax) {
        fail(err, errlen, "out of memory");
        goto fail;
    }
    ex->axes = ax;
    ax = &ex->axes[ex->n_axes++];
    snprintf(ax->key, sizeof ax->key, "%s", e->key);
    ax->values = vals;
    ax->n_values = nv;
    ax->line = e->line;
    *n_combo *= nv;
    if (*n_combo > MAX_CELLS)
        return fail(err, errlen, "%s:%d: [%s]: more than %d cells; split the experiment", path,
                    e->line, ex->name, MAX_CELLS);
    return 0;
fail:
    free_values(vals, nv);
    return -1;
}

/* Room for n more cells in sw->cells (*cap: its allocated length). */
static int reserve_cells(gs_sweep_t *sw, const gs_experiment_t *ex, size_t n, size_t *cap,
                         char *err, size_t errlen)
{
    if (sw->n_cells + n > MAX_CELLS)
        return fail(err, errlen, "%s:%d: [%s]: the sweep would have more than %d cells",
                    sw->path, ex->line, ex->name, MAX_CELLS);
    if (sw->n_cells + n <= *cap)
        return 0;
    *cap = 2 * (sw->n_cells + n);
    gs_sweep_cell_t *c = realloc(sw->cells, *cap * sizeof *c);
    if (!c)
        return fail(err, errlen, "out of memory");
    sw->cells = c;
    return 0;
}

/* Where in msg "key=" first appears as a word (SIZE_MAX: nowhere). */
static size_t key_at(const char *msg, const char *key)
{
    size_t kl = strlen(key);
    for (const char *m = strstr(msg, key); m; m = strstr(m + 1, key))
        if (m[kl] == '=' && (m == msg || !(isalnum((unsigned char)m[-1]) || m[-1] == '_')))
            return (size_t)(m - msg);
    return SIZE_MAX;
}

/* The line a refusal belongs to: of the keys msg names ("depth=...:"),
 * the one set in [overrides], else in the experiment, else in [sweep]
 * (the first named of them); else the experiment's header. *section: the
 * section of that line. */
static int refusal_line(const parse_t *p, const gs_experiment_t *ex, const char *msg,
                        const char **section)
{
    const char *order[] = {GS_OVERRIDES_SECTION, ex->name, "sweep"};
    for (size_t o = 0; o < sizeof order / sizeof *order; o++) {
        const entry_t *best = NULL;
        size_t best_at = SIZE_MAX;
        for (size_t i = 0; i < p->n; i++) {
            const entry_t *e = &p->entries[i];
            size_t at;
            if (strcmp(e->section, order[o]) == 0 && (at = key_at(msg, e->key)) < best_at) {
                best = e;
                best_at = at;
            }
        }
        if (best) {
            *section = order[o];
            return best->line;
        }
    }
    *section = ex->name;
    return ex->line;
}

/* A cell the hooks refused: the message at the line of the key it names,
 * with the axis values of combo. */
static int refused(const gs_sweep_t *sw, const parse_t *p, const gs_experiment_t *ex,
                   const size_t *idx, const char *msg, char *err, size_t errlen)
{
    char where[512] = "";
    for (size_t a = 0; a < ex->n_axes; a++) {
        size_t l = strlen(where);
        snprintf(where + l, sizeof where - l, "%s%s=%s", a ? ", " : " (with ", ex->axes[a].key,
                 ex->axes[a].values[idx[a]]);
    }
    const char *section;
    int line = refusal_line(p, ex, msg, &section);
    if (strcmp(section, ex->name) != 0)   /* [sweep] or [overrides]: every experiment's */
        return fail(err, errlen, "%s:%d: [%s] %s (in experiment [%s], line %d%s%s)", sw->path,
                    line, section, msg, ex->name, ex->line, ex->n_axes ? ", " : "",
                    ex->n_axes ? where + 2 : "");
    return fail(err, errlen, "%s:%d: [%s] %s%s%s", sw->path, line, ex->name, msg, where,
                ex->n_axes ? ")" : "");
}

/* The repeats of one settled combination of experiment x, each with its
 * config hash and cost. */
static void add_repeats(gs_sweep_t *sw, size_t x, size_t combo, const gs_cell_t *cell,
                        const gs_sweep_hooks_t *hooks)
{
    for (long r = 0; r < cell->repeats; r++) {
        gs_sweep_cell_t *sc = &sw->cells[sw->n_cells++];
        memset(sc, 0, sizeof *sc);
        sc->experiment = x;
        sc->combo = combo;
        sc->cell = *cell;
        sc->cell.repeat = r;
        char ht[4096];
        gs_sweep_hash_text(sw, sc, ht, sizeof ht);
        sc->hash = hash_text(ht);
        if ((sc->hash & INT64_MAX) == 0)
            sc->hash |= 1;
        gs_hash_hex(sc->hash, sc->hash_hex);
        sc->flops = hooks && hooks->cost ? hooks->cost(&sc->cell) : 1.0;
    }
}

/* The product of experiment x's axes over its fixed cell: every
 * combination settled, checked by the hooks, and stored with its repeats
 * (one equal to an earlier combination once settled is dropped). */
static int add_combinations(gs_sweep_t *sw, const parse_t *p, size_t x, const gs_cell_t *fixed,
                            size_t n_combo, const gs_sweep_hooks_t *hooks, char *err,
                            size_t errlen)
{
    gs_experiment_t *ex = &sw->experiments[x];
    size_t idx[GS_MAX_AXES] = {0};
    char msg[1024];
    if (ex->n_axes > GS_MAX_AXES)
        return fail(err, errlen, "%s:%d: [%s]: more than %d axes", sw->path, ex->line, ex->name,
                    GS_MAX_AXES);
    ex->first_cell = sw->n_cells;
    int settled = 0;   /* once a combination was settled, a later one may equal it */
    for (size_t combo = 0; combo < n_combo; combo++) {
        gs_cell_t cell = *fixed;
        /* the last axis varies fastest */
        size_t rem = combo;
        for (size_t a = ex->n_axes; a-- > 0;) {
            idx[a] = rem % ex->axes[a].n_values;
            rem /= ex->axes[a].n_values;
        }
        for (size_t a = 0; a < ex->n_axes; a++)
            gs_cell_set(&cell, ex->axes[a].key, ex->axes[a].values[idx[a]], msg, sizeof msg);
        settled |= gs_cell_settle(&cell, &ex->settled);
        if (settled && same_as_earlier(sw, ex, &cell)) {
            ex->n_dropped++;
            continue;
        }
        if (hooks && hooks->check && hooks->check(&cell, msg, sizeof msg) != 0)
            return refused(sw, p, ex, idx, msg, err, errlen);
        add_repeats(sw, x, combo, &cell, hooks);
    }
    return 0;
}

/* Each experiment: its fixed keys and axes, then the product. */
static int expand_experiments(gs_sweep_t *sw, const parse_t *p, const gs_cell_t *base,
                              const gs_sweep_hooks_t *hooks, char *err, size_t errlen)
{
    size_t cap = 0;
    for (size_t x = 0; x < sw->n_experiments; x++) {
        gs_experiment_t *ex = &sw->experiments[x];
        gs_cell_t fixed = *base;
        size_t n_combo = 1;
        for (size_t i = 0; i < p->n; i++)
            if (strcmp(p->entries[i].section, ex->name) == 0 && !overridden(p, p->entries[i].key) &&
                read_key(ex, &p->entries[i], p->path, &fixed, &n_combo, err, errlen) != 0)
                return -1;
        for (size_t i = 0; i < p->n; i++)   /* [overrides] last: they win */
            if (strcmp(p->entries[i].section, GS_OVERRIDES_SECTION) == 0 &&
                read_key(ex, &p->entries[i], p->path, &fixed, &n_combo, err, errlen) != 0)
                return -1;
        if (reserve_cells(sw, ex, n_combo * (size_t)fixed.repeats, &cap, err, errlen) != 0 ||
            add_combinations(sw, p, x, &fixed, n_combo, hooks, err, errlen) != 0)
            return -1;
    }
    for (size_t x = 0; x < sw->n_experiments; x++)
        sw->experiments[x].n_cells = (x + 1 < sw->n_experiments
                                          ? sw->experiments[x + 1].first_cell
                                          : sw->n_cells) - sw->experiments[x].first_cell;
    return 0;
}

/* One configuration twice (an axis lists one value two ways). */
static int reject_same_twice(const gs_sweep_t *sw, char *err, size_t errlen)
{
    uint64_t *hs = malloc((sw->n_cells + 1) * sizeof *hs);
    if (!hs)
        return fail(err, errlen, "out of memory");
    for (size_t i = 0; i < sw->n_cells; i++)
        hs[i] = sw->cells[i].hash;
    gs_u64_sort(hs, sw->n_cells);
    int rc = 0;
    for (size_t i = 1; i < sw->n_cells && rc == 0; i++)
        if (hs[i] == hs[i - 1]) {
            size_t k = 0;
            while (sw->cells[k].hash != hs[i])
                k++;
            const gs_experiment_t *ex = &sw->experiments[sw->cells[k].experiment];
            rc = fail(err, errlen, "%s:%d: [%s]: the same configuration appears twice (an axis "
                      "lists one value two ways, e.g. 0.1 and 1e-1); remove the repeat",
                      sw->path, ex->line, ex->name);
        }
    free(hs);
    return rc;
}

int gs_sweep_parse(gs_sweep_t *sw, const char *text, const char *path,
                   const gs_sweep_hooks_t *hooks, char *err, size_t errlen)
{
    memset(sw, 0, sizeof *sw);
    parse_t p = {.text = text, .path = path};
    int rc = ini_parse_stream(reader, &p, handler, &p);
    int status = -1;
    gs_cell_t base;          /* defaults + [sweep] defaults */
    gs_cell_defaults(&base);
    sw->path = strdup(path);
    sw->text = strdup(text);
    if (!sw->path || !sw->text) {
        fail(err, errlen, "out of memory");
        goto out;
    }
    if (read_errors(&p, rc, err, errlen) != 0 ||
        read_sweep_section(sw, &p, &base, err, errlen) != 0 ||
        read_experiments(sw, &p, err, errlen) != 0 ||
        expand_experiments(sw, &p, &base, hooks, err, errlen) != 0 ||
        reject_same_twice(sw, err, errlen) != 0)
        goto out;
    status = 0;
out:
    for (size_t i = 0; i < p.n; i++)
        free(p.entries[i].value);
    free(p.entries);
    if (status != 0)
        gs_sweep_free(sw);
    return status;
}

int gs_sweep_load(gs_sweep_t *sw, const char *path, const gs_sweep_hooks_t *hooks, char *err,
                  size_t errlen)
{
    memset(sw, 0, sizeof *sw);
    char *text = gs_read_text(path, GS_CONFIG_MAX_BYTES, err, errlen);
    if (!text)
        return -1;
    int rc = gs_sweep_parse(sw, text, path, hooks, err, errlen);
    free(text);
    return rc;
}

int gs_sweep_with_overrides(const char *text, const char *const *words, size_t n, char **out,
                            char *err, size_t errlen)
{
    size_t len = strlen(text) + 128;
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *w = words[i], *eq = strchr(w, '=');
        char msg[1024];
        gs_cell_t probe;
        gs_cell_defaults(&probe);
        if (eq && eq > w && (size_t)(eq - w) < 64) {
            char key[64];
            snprintf(key, sizeof key, "%.*s", (int)(eq - w), w);
            if (sweep_only(key))
                return fail(err, errlen, "override '%s': %s belongs in the config's [sweep] "
                            "section; overrides set the keys of the experiments", w, key);
            for (size_t k = 0; k < i; k++)
                if (strncmp(words[k], w, (size_t)(eq - w) + 1) == 0)
                    return fail(err, errlen, "override '%s': %s is already set by '%s'; give "
                                "each key once", w, key, words[k]);
            if (is_list(eq + 1))
                return fail(err, errlen, "override '%s': an override takes one value, not a "
                            "list (axes belong in the config)", w);
            if (strpbrk(eq + 1, ";#\n\r"))
                return fail(err, errlen, "override '%s': no value holds ';', '#' or a line "
                            "break", w);
        }
        if (gs_cell_set_word(&probe, w, msg, sizeof msg) != 0)
            return fail(err, errlen, "override '%s': %s", w, msg);
        len += strlen(w) + 4;
    }
    char *t = malloc(len);
    if (!t)
        return fail(err, errlen, "out of memory");
    size_t used = (size_t)snprintf(t, len, "%s", text);
    if (n > 0) {
        used += (size_t)snprintf(t + used, len - used, "%s\n[" GS_OVERRIDES_SECTION "]   ; from "
                                 "the command line: these keys replace the config's in every "
                                 "experiment\n", used && t[used - 1] != '\n' ? "\n" : "");
        for (size_t i = 0; i < n; i++) {
            const char *eq = strchr(words[i], '=');
            used += (size_t)snprintf(t + used, len - used, "%.*s = %s\n", (int)(eq - words[i]),
                                     words[i], eq + 1);
        }
    }
    assert(used < len);
    *out = t;
    return 0;
}

void gs_sweep_default_db(const gs_sweep_t *sw, char *buf, size_t len)
{
    snprintf(buf, len, "results/%s.db", sw->slug);
}
