/* Sweep configs: grid expansion, canonical keys, hashes and seeds, and
 * every config error (each names file:line, the key, the bad value and
 * what is allowed). */
#include <config.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/experiment.h"
#include "sweep/sweep.h"
#include "nn/optim.h"
#include "tap.h"

static const gs_sweep_hooks_t hooks = {gs_experiment_check, gs_experiment_flops};

static int parse(gs_sweep_t *sw, const char *text, char *err, size_t len)
{
    return gs_sweep_parse(sw, text, "t.ini", &hooks, err, len);
}

/* The config must fail with a message matching the extended regex. */
static void bad(const char *what, const char *text, const char *pattern)
{
    gs_sweep_t sw;
    char err[2048] = "";
    int rc = parse(&sw, text, err, sizeof err);
    regex_t re;
    regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB);
    int match = regexec(&re, err, 0, NULL, 0) == 0;
    regfree(&re);
    tap_ok(rc != 0 && match, "%s: %s", what, err);
    if (rc == 0)
        gs_sweep_free(&sw);
}

int main(void)
{
    gs_sweep_t sw;
    char err[2048];
    const char *grid =
        "[sweep]\nname = g\nseed = 5\nsteps = 7   ; a default for every experiment\n\n"
        "[a]\ndepth = 2, 3, 4\nactivation = tanh, relu\ninit = he\n"
        "[b]\ntask = train\ndepth = 2\nlr = 1e-3\nrepeats = 3\n"
        "[c]\nactivation = sigmoid,\n    tanh, relu   ; continued on an indented line\n";
    int rc = parse(&sw, grid, err, sizeof err);
    if (!tap_ok(rc == 0, "a valid config parses (%s)", rc ? err : "ok"))
        return tap_done();
    tap_ok(sw.n_experiments == 3 && strcmp(sw.experiments[0].name, "a") == 0 &&
           strcmp(sw.experiments[2].name, "c") == 0, "three experiments in file order");
    tap_ok(sw.experiments[0].n_cells == 6 && sw.experiments[1].n_cells == 3 &&
           sw.experiments[2].n_cells == 3 && sw.n_cells == 12,
           "cells: 3 x 2 axes, 3 repeats, 3 from a continued list");
    /* order: the last axis varies fastest */
    const gs_cell_t *c0 = &sw.cells[0].cell, *c1 = &sw.cells[1].cell, *c2 = &sw.cells[2].cell;
    tap_ok(c0->depth == 2 && strcmp(c0->act->name, "tanh") == 0 && c1->depth == 2 &&
           strcmp(c1->act->name, "relu") == 0 && c2->depth == 3, "the last axis varies fastest");
    const gs_experiment_t *ea = &sw.experiments[0];
    tap_ok(gs_sweep_axis_value(ea, &sw.cells[1], 0) == 0 && gs_sweep_axis_value(ea, &sw.cells[1], 1) == 1 &&
           gs_sweep_axis_value(ea, &sw.cells[5], 0) == 2 && gs_sweep_axis_value(ea, &sw.cells[5], 1) == 1,
           "each cell knows its value on every axis");
    tap_ok(sw.cells[6].cell.steps == 7, "[sweep] keys are defaults for every experiment");
    tap_ok(c0->steps == 1000 && sw.experiments[0].settled.keys != 0 &&
               sw.experiments[1].settled.keys == 0,
           "a training key on a probe is put back to its default (steps 7 -> %ld)", c0->steps);
    {   /* depth defaults: 10 for the mlp, 1 for a recurrent model, unless set */
        gs_sweep_t ds;
        const char *dcfg = "[sweep]\nname = d\n[x]\nmodel = mlp, rnn\n[y]\nmodel = lstm\ndepth = 3\n";
        rc = parse(&ds, dcfg, err, sizeof err);
        tap_ok(rc == 0 && ds.n_cells == 3 && ds.cells[0].cell.depth == 10 &&
               ds.cells[1].cell.depth == 1 && ds.cells[2].cell.depth == 3,
               "depth: mlp 10 and rnn 1 by default, an explicit depth = 3 kept (%s)",
               rc ? err : "parsed");
        if (rc == 0)
            gs_sweep_free(&ds);
    }
    /* clip_mode has no effect without clip: (none, value) is (none, norm),
     * in either order of the axis (value first used to be refused as the
     * same configuration twice) */
    for (int order = 0; order < 2; order++) {
        gs_sweep_t cs;
        char clip[256];
        snprintf(clip, sizeof clip, "[sweep]\nname = c\n[x]\ntask = train\nclip = none, 1, 10\n"
                 "clip_mode = %s\nrepeats = 2\n", order ? "value, norm" : "norm, value");
        rc = parse(&cs, clip, err, sizeof err);
        int ok = rc == 0 && cs.n_cells == 10 && cs.experiments[0].n_cells == 10 &&
                 cs.experiments[0].n_dropped == 1;
        for (size_t i = 0; ok && i < cs.n_cells; i++)
            ok = cs.cells[i].cell.clip > 0.0 || cs.cells[i].cell.clip_mode == GS_CLIP_NORM;
        tap_ok(ok, "clip=none x clip_mode=%s: one cell (x 2 repeats), not two; 5 of 6 "
               "combinations kept (%s)", order ? "value,norm" : "norm,value", rc ? err : "parsed");
        if (rc == 0)
            gs_sweep_free(&cs);
    }
    tap_ok(strcmp(c0->init->name, "he") == 0, "single values are fixed keys");
    tap_ok(sw.cells[6].cell.repeat == 0 && sw.cells[8].cell.repeat == 2, "repeats count 0, 1, 2");
    tap_ok(gs_cell_seed(&sw.cells[6].cell) != gs_cell_seed(&sw.cells[7].cell) &&
           sw.cells[6].hash != sw.cells[7].hash, "each repeat has its own seed and hash");
    int unique = 1;
    for (size_t i = 0; i < sw.n_cells; i++)
        for (size_t j = i + 1; j < sw.n_cells; j++)
            unique &= sw.cells[i].hash != sw.cells[j].hash;
    tap_ok(unique, "every cell has its own config_hash");
    tap_ok(sw.seed == 5 && c0->seed == 5, "base seed from [sweep]");
    tap_ok(strcmp(sw.cells[9].cell.act->name, "sigmoid") == 0 &&
           strcmp(sw.cells[11].cell.act->name, "relu") == 0, "continuation lines extend an axis");
    /* canonical key, hash and seed: pinned, since stored databases rely on them */
    char key[2048];
    gs_cell_key(c0, key, sizeof key);
    tap_ok(strcmp(key, "model=mlp;task=probe;dataset=gaussian;depth=2;width=100;seq_len=50;"
                       "input_dim=0;activation=tanh;init=he;forget_bias=1;gain=1;bias_std=0;"
                       "norm=none;residual=no;optimizer=sgd;lr=0.01;batch=64;steps=1000;log_every=10;"
                       "clip=none;clip_mode=norm") == 0, "canonical key: %s", key);
    tap_ok(strcmp(sw.cells[0].hash_hex, "fd4450257b3fc4f2") == 0, "config_hash pinned (%s)",
           sw.cells[0].hash_hex);
    tap_ok(gs_cell_seed(c0) == 12497136407965216606ull && gs_cell_data_seed(c0) == 8072015683706151139ull,
           "paired seeds pinned (%llu, %llu)", (unsigned long long)gs_cell_seed(c0),
           (unsigned long long)gs_cell_data_seed(c0));
    {   /* the seeding of databases written before paired seeds: the whole key */
        gs_cell_t old = *c0;
        old.seeding = GS_SEEDING_PER_CELL;
        uint64_t want = gs_mix64(gs_cell_key_hash(&old) ^
                                 gs_mix64(old.seed ^ gs_mix64((uint64_t)old.repeat)));
        tap_ok(gs_cell_seed(&old) == want && gs_cell_data_seed(&old) == want &&
                   gs_cell_seed(&old) == 8868586553113423011ull,
               "per_cell seeds: the whole canonical key, as before version 5 (%llu)",
               (unsigned long long)gs_cell_seed(&old));
    }
    {   /* a key added later (spectrum) enters the key only when set */
        gs_cell_t cs = *c0;
        char e[256];
        gs_cell_set(&cs, "spectrum", "yes", e, sizeof e);
        gs_cell_key(&cs, key, sizeof key);
        tap_ok(strstr(key, ";residual=no;spectrum=yes;optimizer=") != NULL,
               "spectrum=yes is in the canonical key, in table order (%s); spectrum=no is not "
               "(the key above)", key);
    }
    gs_sweep_free(&sw);

    {   /* paired arms: training keys change neither seed; the repeat and the model do */
        gs_sweep_t pa;
        const char *arms = "[sweep]\nname = p\n"
                           "[t]\ntask = train\nlr = 0.1, 0.01\nclip = none, 1\n"
                           "optimizer = sgd, adam\nbatch = 16, 32\nrepeats = 2\n"
                           "[d]\ntask = train\ndepth = 3, 4\n";
        if (tap_ok(parse(&pa, arms, err, sizeof err) == 0, "paired arms parse (%s)", err)) {
            int same = 1, differ = 1;
            for (size_t i = 0; i < 32; i++)
                for (size_t j = 0; j < 32; j++) {
                    const gs_cell_t *a = &pa.cells[i].cell, *b = &pa.cells[j].cell;
                    int paired = gs_cell_seed(a) == gs_cell_seed(b) &&
                                 gs_cell_data_seed(a) == gs_cell_data_seed(b);
                    if (a->repeat == b->repeat)
                        same &= paired;
                    else
                        differ &= gs_cell_seed(a) != gs_cell_seed(b) &&
                                  gs_cell_data_seed(a) != gs_cell_data_seed(b);
                }
            tap_ok(pa.n_cells == 34 && same, "16 arms over lr, clip, optimizer, batch: one "
                   "weights' seed and one batches' seed per repeat");
            tap_ok(differ, "repeats have their own seeds");
            const gs_cell_t *d3 = &pa.cells[32].cell, *d4 = &pa.cells[33].cell;
            tap_ok(gs_cell_seed(d3) != gs_cell_seed(d4) &&
                       gs_cell_data_seed(d3) == gs_cell_data_seed(d4),
                   "depth changes the weights' seed, not the batches'");
            gs_sweep_free(&pa);
        }
    }
    {   /* keys without effect: settled, duplicates dropped, named */
        gs_sweep_t se;
        const char *cfg = "[sweep]\nname = s\n"
                          "[p]\ntask = probe\nlr = 0.1, 0.01\noptimizer = sgd, adam\n"
                          "forget_bias = 0, 2\ndepth = 3\n"
                          "[g]\nmodel = gru, lstm\nforget_bias = 0, 2\ntask = probe\n";
        if (tap_ok(parse(&se, cfg, err, sizeof err) == 0, "settled config parses (%s)", err)) {
            char why[512];
            gs_cell_settle_describe(&se.experiments[0].settled, why, sizeof why);
            tap_ok(se.experiments[0].n_cells == 1 && se.experiments[0].n_dropped == 7,
                   "a probe over lr x optimizer x forget_bias is one cell (%zu, %zu dropped)",
                   se.experiments[0].n_cells, se.experiments[0].n_dropped);
            tap_ok(strcmp(why, "optimizer, lr (training keys: task=probe); forget_bias "
                               "(recurrent keys: model=mlp)") == 0,
                   "plan's reason names the keys and why: %s", why);
            gs_cell_settle_describe(&se.experiments[1].settled, why, sizeof why);
            tap_ok(se.experiments[1].n_cells == 3 && strcmp(why, "forget_bias (lstm only: "
                                                                 "model=rnn, gru or transformer)") == 0,
                   "forget_bias counts for lstm only: gru once, lstm twice (%zu cells; %s)",
                   se.experiments[1].n_cells, why);
            gs_sweep_free(&se);
        }
    }

    /* two spellings, one configuration */
    gs_cell_t x, y;
    gs_cell_defaults(&x);
    gs_cell_defaults(&y);
    gs_cell_set(&x, "lr", "1e-3", err, sizeof err);
    gs_cell_set(&y, "lr", "0.001", err, sizeof err);
    gs_cell_set(&x, "activation", "leaky_relu", err, sizeof err);
    gs_cell_set(&y, "activation", "leaky_relu(0.01)", err, sizeof err);
    gs_cell_set(&x, "clip", "none", err, sizeof err);
    tap_ok(gs_cell_key_hash(&x) == gs_cell_key_hash(&y) && gs_cell_seed(&x) == gs_cell_seed(&y),
           "1e-3 = 0.001 and leaky_relu = leaky_relu(0.01): one canonical key");
    gs_cell_set(&y, "depth", "11", err, sizeof err);
    tap_ok(gs_cell_seed(&x) != gs_cell_seed(&y), "another key, another seed");
    /* the seed does not depend on the experiment; the hash does */
    gs_sweep_t s1, s2;
    parse(&s1, "[sweep]\nname=s\n[one]\ndepth=3\n", err, sizeof err);
    parse(&s2, "[sweep]\nname=s\n[two]\ndepth=3\n", err, sizeof err);
    tap_ok(gs_cell_seed(&s1.cells[0].cell) == gs_cell_seed(&s2.cells[0].cell) &&
           s1.cells[0].hash != s2.cells[0].hash,
           "same cell in two experiments: same seed (same numbers), different config_hash");
    gs_sweep_free(&s1);
    gs_sweep_free(&s2);
    tap_ok(parse(&s1, "[e]\ndepth=3\n", err, sizeof err) == 0 && strcmp(s1.name, "t") == 0,
           "without a name the sweep is named after the file");
    gs_sweep_free(&s1);

    /* errors */
    bad("unknown key", "[sweep]\nname=s\n[e]\ndetph = 3\n",
        "^t\\.ini:4: \\[e\\] unknown key 'detph'; known keys: model,");
    bad("bad value in an axis", "[sweep]\nname=s\n[e]\nactivation = tanh, swish\n",
        "^t\\.ini:4: \\[e\\] activation=swish: unknown activation; allowed: identity, sigmoid");
    bad("out of range", "[e]\ndepth = 0\n",
        "^t\\.ini:2: \\[e\\] depth=0: out of range; allowed: an integer from 1 to 10000");
    bad("negative learning rate", "[e]\nlr = -1\n", "^t\\.ini:2: \\[e\\] lr=-1: must be positive");
    bad("empty list item", "[e]\ndepth = 5,,10\n",
        "^t\\.ini:2: \\[e\\] depth: item 2 of the list's 3 is empty \\(two commas in a "
        "row, or a comma at the end\\): 5,,10$");
    bad("key set twice", "[e]\ndepth = 5\nwidth = 3\ndepth = 6\n",
        "^t\\.ini:4: \\[e\\] depth: set twice \\(first at line 2\\)");
    bad("repeats as a list", "[e]\nrepeats = 1, 2\n",
        "^t\\.ini:2: \\[e\\] repeats=1, 2: takes one value, not a list");
    bad("a sweep name too long", "[sweep]\nname = 0123456789012345678901234567890123456789012345678901234567890123\n[e]\ndepth=2\n",
        "^t\\.ini:2: \\[sweep\\] name=0123.*: not a usable name; allowed: 1 to 63 printable characters");
    bad("two experiments, one file name", "[sweep]\nname=s\n[a b]\ndepth=2\n[a_b]\ndepth=3\n",
        "^t\\.ini:6: \\[a b\\] and \\[a_b\\] share the file name a_b; rename one");
    tap_ok(parse(&s1, "[sweep]\nname = ../<script>\n[x/y]\ndepth=2\n", err, sizeof err) == 0 &&
           strcmp(s1.slug, "____script_") == 0 && strcmp(s1.experiments[0].slug, "x_y") == 0,
           "any printable name; file names use its slug (%s, %s)", s1.slug,
           s1.n_experiments ? s1.experiments[0].slug : "-");
    gs_sweep_free(&s1);
    bad("no experiment", "[sweep]\nname = s\n", "^t\\.ini: no experiment");
    bad("not an INI line", "[sweep]\nname = s\nthis is not ini\n[e]\ndepth=2\n",
        "^t\\.ini:3: not an INI line");
    bad("a list in [sweep]", "[sweep]\nname=s\ndepth = 2, 3\n[e]\nwidth=4\n",
        "^t\\.ini:3: \\[sweep\\] depth=2, 3: a list; \\[sweep\\] sets single defaults");
    bad("a bad default in [sweep]", "[sweep]\nname=s\ninit = glorot\n[e]\nwidth=4\n",
        "^t\\.ini:3: \\[sweep\\] init=glorot: unknown init; allowed: xavier");
    bad("name in an experiment", "[e]\nname = x\n", "^t\\.ini:2: \\[e\\] name: belongs in \\[sweep\\]");
    bad("a combination that cannot run", "[sweep]\nname=s\n[e]\ndataset = adding\nmodel = mlp, lstm\n",
        "^t\\.ini:4: \\[e\\] dataset=adding: needs a recurrent model; allowed with model=rnn, "
        "lstm, gru \\(model=mlp\\) \\(with model=mlp\\)$");
    bad("one configuration twice", "[e]\ntask = train\nlr = 0.1, 1e-1\n",
        "^t\\.ini:1: \\[e\\]: the same configuration appears twice");
    char longline[400];
    snprintf(longline, sizeof longline, "[e]\ndepth = 1%0250d\n", 0);
    bad("a line over inih's limit", longline, "^t\\.ini:2: line longer than 199 characters");
    bad("too many cells", "[e]\ndepth = 1,2,3,4,5,6,7,8,9,10,11\nwidth = 1,2,3,4,5,6,7,8,9,10\n"
        "lr = 1,2,3,4,5,6,7,8,9,10\ngain = 1,2,3,4,5,6,7,8,9,10\nbias_std = 1,2,3,4,5,6,7,8,9,10\n"
        "batch = 1,2,3,4,5,6,7,8,9,10\n", "more than 1000000 cells");
    bad("memory", "[e]\nwidth = 10000000\n", "^t\\.ini:2: \\[e\\] width=10000000.*GiB");
    gs_sweep_t none;
    tap_ok(gs_sweep_load(&none, "/nonexistent/x.ini", &hooks, err, sizeof err) != 0 &&
           strstr(err, "/nonexistent/x.ini: cannot open") != NULL, "a missing file: %s", err);
    return tap_done();
}
