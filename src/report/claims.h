/* The parts of the claims table's rules (claim_parts.c), for the table
 * itself (claims.c). Internal to src/report/. */
#ifndef GS_REPORT_CLAIMS_H
#define GS_REPORT_CLAIMS_H

#include "report/findings.h"

/* One part of a claim while it is decided: its cases for and against,
 * what it found in words, and the chart (and section) that shows it. */
typedef struct {
    rp_model_t *m;
    rp_findings_t *fs;
    rp_fact_t *t;            /* the part's fact: runs, key values (NULL: memory short) */
    size_t yes, no;
    char said[768];
    char chart[160];         /* "<slug>-<kind>", or "activations" */
    char section[160];       /* "exp-<slug>": where to go when the chart is not drawn */
} rp_part_t;

typedef void (*rp_part_fn)(rp_part_t *p);

/* Link the part to e's chart of kind (and e's section), once. */
void rp_part_chart(rp_part_t *p, const rp_exp_t *e, const char *kind);
/* A case of the part: for it or against it, r among its runs. */
void rp_part_count(rp_part_t *p, const rp_run_t *r, int for_it);

/* slide 1 */
void rp_part_saturate(rp_part_t *p);
void rp_part_quarter(rp_part_t *p);
/* slide 2 */
void rp_part_early_slow(rp_part_t *p);
void rp_part_rnn_fails(rp_part_t *p);
/* slide 3 */
void rp_part_sigmoid_deep(rp_part_t *p);
void rp_part_tanh_deep(rp_part_t *p);
/* slide 4 */
void rp_part_grow(rp_part_t *p);
void rp_part_explode_diverges(rp_part_t *p);
/* slide 5 */
void rp_part_cause_init(rp_part_t *p);
void rp_part_cause_lr(rp_part_t *p);
void rp_part_cause_activation(rp_part_t *p);
void rp_part_cause_rnn(rp_part_t *p);
/* slide 6 */
void rp_part_stall(rp_part_t *p);
void rp_part_blowup(rp_part_t *p);
/* slide 7 */
void rp_part_he_relu(rp_part_t *p);
void rp_part_xavier_tanh(rp_part_t *p);
void rp_part_init_other(rp_part_t *p);
/* slide 8 */
void rp_part_relu_eases(rp_part_t *p);
/* slides 9, 13, 14 */
void rp_part_clip(rp_part_t *p);
void rp_part_clip_rnn(rp_part_t *p);
/* slide 10 */
void rp_part_bn_vanish(rp_part_t *p);
void rp_part_bn_explode(rp_part_t *p);
void rp_part_bn_lr(rp_part_t *p);
void rp_part_bn_faster(rp_part_t *p);
/* slide 11 */
void rp_part_res_vanish(rp_part_t *p);
void rp_part_res_train(rp_part_t *p);
/* slide 12 */
void rp_part_digits_deck(rp_part_t *p);
void rp_part_digits_deeper(rp_part_t *p);
/* slide 13 */
void rp_part_gated_learn(rp_part_t *p);
void rp_part_gated_init(rp_part_t *p);
/* slide 14 */
void rp_part_adam(rp_part_t *p);
void rp_part_layer_norm(rp_part_t *p);
/* slide 15 */
void rp_part_pascanu(rp_part_t *p);
/* the transformer claims, issue 21 (claim_parts_transformer.c) */
void rp_part_xiong_post(rp_part_t *p);
void rp_part_xiong_pre(rp_part_t *p);
void rp_part_dong_collapse(rp_part_t *p);
void rp_part_dong_skip(rp_part_t *p);
void rp_part_noci(rp_part_t *p);
void rp_part_deepnet_bounded(rp_part_t *p);
void rp_part_deepnet_flat(rp_part_t *p);

#endif
