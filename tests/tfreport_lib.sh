# The transformer claims' parts (issue 21) recomputed in SQL, shared by
# tests/findings.sh and tests/tfreport.sh (sourced). tf_views DB adds to
# DB the temporary-free table tfr: the usable transformer runs (those with
# block_stats rows at init) with the values the parts read - the last/
# first ||dL/dW2|| ratio, the top block's relative residual, the token
# cosine of the top block and of block 1. tf_part_sql PART prints the
# SELECT of its cases for and against (yes, no); "SELECT 0, 0" when the
# database has no transformer keys or no block_stats (the parts have no
# case then). The rules are those of src/report/claim_parts_transformer.c.

# the stats of the transformer findings' facts (medians over repeats,
# recomputed by tests/tfreport.sh), as an SQL list
tf_stats="'w2_last_first', 'output_change', 'output_change_spread', 'rank_residual_min', 'token_cosine_top', 'attn_entropy_min'"

# tf_has DB: has DB the transformer keys in runs and a block_stats table?
tf_has() {
    [ "$(sqlite3 "$1" "SELECT (SELECT count(*) FROM pragma_table_info('runs') WHERE name IN
        ('ln', 'residual_scale', 'skip', 'mlp', 'output_change', 'heads', 'ffn', 'vocab', 'causal')) = 9 AND (SELECT count(*) FROM
        sqlite_master WHERE name = 'block_stats') = 1")" = 1 ]
}

tf_views() {
    tf_has "$1" || return 0
    sqlite3 "$1" <<'SQL'
DROP TABLE IF EXISTS tfr;
CREATE TABLE tfr AS
SELECT r.*,
  (SELECT grad_w_norm FROM block_stats WHERE run_id = r.id AND step = 0 AND sublayer = 'w2' AND layer = r.depth) /
  (SELECT CASE WHEN grad_w_norm > 0 THEN grad_w_norm END FROM block_stats
    WHERE run_id = r.id AND step = 0 AND sublayer = 'w2' AND layer = 1) AS w2r,
  (SELECT rank_residual FROM block_stats WHERE run_id = r.id AND step = 0 AND sublayer = 'block' AND layer = r.depth) AS top_res,
  (SELECT token_cosine FROM block_stats WHERE run_id = r.id AND step = 0 AND sublayer = 'block' AND layer = r.depth) AS top_cos,
  (SELECT token_cosine FROM block_stats WHERE run_id = r.id AND step = 0 AND sublayer = 'block' AND layer = 1) AS first_cos
FROM runs r WHERE r.status IN ('done', 'diverged') AND EXISTS (SELECT 1 FROM block_stats b
  WHERE b.run_id = r.id AND b.step = 0 AND b.sublayer = 'block');
SQL
}

# tf_part_sql DB PART
tf_part_sql() {
    if ! tf_has "$1"; then echo "SELECT 0, 0"; return; fi
    post="ln = 'post' AND residual_scale = 'none' AND skip = 'yes'"
    pre="ln = 'pre' AND residual_scale = 'none' AND skip = 'yes'"
    case $2 in
    xiong-post) echo "SELECT total(w2r > 1), total(w2r <= 1) FROM tfr WHERE $post AND w2r IS NOT NULL" ;;
    xiong-pre) echo "SELECT total(w2r < 1), total(w2r >= 1) FROM tfr WHERE $pre AND w2r IS NOT NULL" ;;
    dong-collapse) echo "SELECT total(top_res < 1e-3), total(top_res >= 1e-3) FROM tfr
                         WHERE skip = 'no' AND mlp = 'no' AND depth >= 4 AND top_res IS NOT NULL" ;;
    dong-skip) echo "SELECT total(top_res >= 1e-3), total(top_res < 1e-3) FROM tfr
                     WHERE skip = 'yes' AND mlp = 'no' AND ln = 'none' AND depth >= 4 AND top_res IS NOT NULL" ;;
    noci-align) echo "SELECT total(top_cos > first_cos), total(top_cos <= first_cos) FROM tfr
                      WHERE (($post) OR ($pre)) AND depth >= 2 AND top_cos IS NOT NULL AND first_cos IS NOT NULL" ;;
    deepnet-bounded) echo "SELECT total(a.output_change * 10 <= b.output_change), total(a.output_change * 10 > b.output_change)
                           FROM tfr a JOIN tfr b ON a.repeat = b.repeat
                            AND replace(a.canonical_key, ';residual_scale=deepnorm', '') = b.canonical_key
                            AND b.ln = 'post' AND b.residual_scale = 'none' AND b.skip = 'yes' AND b.mlp = a.mlp
                           WHERE a.ln = 'post' AND a.residual_scale = 'deepnorm' AND a.skip = 'yes' AND a.output_change > 0 AND b.output_change > 0" ;;
    deepnet-flat) echo "SELECT total(abs(w2r - 1) <= 0.1), total(abs(w2r - 1) > 0.1) FROM tfr
                        WHERE ln = 'post' AND residual_scale = 'deepnorm' AND w2r IS NOT NULL" ;;
    *) echo "" ;;
    esac
}
