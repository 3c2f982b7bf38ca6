/* sweep.c - the inner step and the checkpoint schedule of the reverse
 * sweep. A step is the dense forward pass, then the rule's preparation and
 * its layers' updates in parallel; its reverse is the rule's own: both
 * reach the rule through its table (rules.h).
 *
 * The reverse of step k needs its record (W_k and the step's activities).
 * Keeping all K records costs K copies of the plastic weights; instead a
 * range of steps that does not fit the memory left is split into g
 * sub-ranges: one forward pass stores the state at each sub-range's start
 * (a checkpoint), then the sub-ranges are reversed last to first, each
 * recomputed from its checkpoint and split again if it still does not fit.
 * With memory for about 2*sqrt(K) states this is one extra forward pass;
 * tighter budgets nest deeper and recompute more, never more than
 * log2(K) extra passes. When the budget also holds every step's
 * activities (small: batch x widths), the first pass stores them and a
 * recomputation only redoes the plasticity update, not the forward pass.
 * Every schedule gives the same gradient: steps are recomputed exactly, from
 * the same inputs, with the same kernels. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "lifetime/dense.h"
#include "lifetime/frontend.h"
#include "lifetime/rules.h"
#include "lifetime/sweep.h"

/* ---- one inner step -------------------------------------------------------- */

flp_status flp__lt_step(flp_lifetime *lt, int64_t k, float *state, float *saved_W, float *acts,
                        int have_acts)
{
    const flp__lt_rule *rule = lt->ops;
    int64_t B = lt->batch;
    if (acts == NULL)
        acts = lt->s.acts;
    if (!have_acts)
        flp__lt_forward(lt, state, B, flp__lt_step_x(lt, k), acts);
    lt->flops += (double)B * ((have_acts ? 0 : lt->flops_dense) + lt->flops_pathway + lt->flops_update);
    /* Every layer's update reads the same forward pass: independent tasks.
     * A record keeps what the rule makes of the step (P) so the reverse
     * sweep need not redo it. */
    float *P = saved_W != NULL ? saved_W + lt->n_state : lt->s.pg;
    rule->prepare(lt, k, state, P, acts);
    int first_bad = lt->n;
#pragma omp parallel for schedule(dynamic, 1) num_threads(lt->threads) if (lt->threads > 1) \
    reduction(min : first_bad)
    for (int j = 0; j < lt->n_plastic; j++) {
        int i = lt->order_plastic[j];
        if (rule->update(lt, i, k, state, P, saved_W, acts) && i < first_bad)
            first_bad = i;
    }
    if (first_bad < lt->n && lt->check_finite)
        return flp__error(FLP_ERR_NONFINITE, "flp_lifetime_run: a weight of layer %d became non-finite "
                          "at inner step %lld (plasticity too strong?)", lt->layer[first_bad].net_index,
                          (long long)k);
    return FLP_OK;
}

/* ---- the checkpoint schedule ------------------------------------------------ */

typedef struct {
    /* floats in a checkpoint, and in a record (a checkpoint, the step's
     * outer products, and its activities unless those are stored apart) */
    int64_t state, record;
} sizes;

/* Least memory a range of n steps can be reversed in: directly, or by
 * halving (two checkpoints) and recursing. */
static int64_t min_floats(sizes z, int64_t n)
{
    if (n <= 1)
        return z.record;
    int64_t halved = 2 * z.state + min_floats(z, (n + 1) / 2);
    return n * z.record < halved ? n * z.record : halved;
}

/* Number of sub-ranges to split n steps into with `mem` floats: 1 = reverse
 * directly; 0 = impossible. When sub-ranges can be reversed directly, every
 * split costs the same one recomputation, so take the one that needs the
 * least memory (about sqrt(n * record / state) sub-ranges); otherwise about
 * sqrt(n) sub-ranges, nested further. */
static int64_t choose_split(sizes z, int64_t n, int64_t mem)
{
    if (n * z.record <= mem)
        return 1;
    int64_t best = 0, best_floats = 0;
    for (int64_t g = 2; g <= n && g * z.state + z.record <= mem; g++) {
        int64_t floats = g * z.state + (n + g - 1) / g * z.record;
        if (floats <= mem && (best == 0 || floats < best_floats)) {
            best = g;
            best_floats = floats;
        }
    }
    if (best > 0)
        return best;
    for (int64_t g = (int64_t)ceil(sqrt((double)n)); g >= 2; g--)
        if (g * z.state + min_floats(z, (n + g - 1) / g) <= mem)
            return g;
    return 0;
}

/* Peak floats the schedule for n steps uses. */
static int64_t peak_floats(sizes z, int64_t n, int64_t mem)
{
    int64_t g = choose_split(z, n, mem);
    if (g == 1)
        return n * z.record;
    return g * z.state + peak_floats(z, (n + g - 1) / g, mem - g * z.state);
}

typedef struct {
    flp_lifetime *lt;
    sizes z;
    float *acts;        /* every step's activities [K, act], or NULL: in the records */
    int64_t act;        /* floats of one step's activities */
    float *loss;
    int64_t steps_run;
} sweep;

/* Where step k's activities live, given its record. */
static float *step_acts(const sweep *sw, int64_t k, float *record)
{
    return sw->acts ? sw->acts + k * sw->act : record + 2 * sw->z.state;
}

/* Steps [a, b) on `state`, keeping only checkpoints (and the activities,
 * when they are stored: the first pass writes them, later passes read). */
static flp_status advance(sweep *sw, int64_t a, int64_t b, float *state, int first_pass)
{
    for (int64_t k = a; k < b; k++)
        FLP__TRY(flp__lt_step(sw->lt, k, state, NULL, sw->acts ? sw->acts + k * sw->act : NULL,
                              sw->acts && !first_pass));
    sw->steps_run += b - a;
    return FLP_OK;
}

/* Steps [a, b) on `state`, each keeping its record in mem (first pass:
 * computing the activities; later passes: reading them if stored). */
static flp_status record_range(sweep *sw, int64_t a, int64_t b, float *state, float *mem, int first_pass)
{
    for (int64_t k = a; k < b; k++) {
        float *rec = mem + (k - a) * sw->z.record;
        FLP__TRY(flp__lt_step(sw->lt, k, state, rec, step_acts(sw, k, rec), sw->acts && !first_pass));
    }
    sw->steps_run += b - a;
    return FLP_OK;
}

/* The reverse of steps [a, b) from their records. */
static void unwind_range(sweep *sw, int64_t a, int64_t b, float *mem)
{
    for (int64_t k = b - 1; k >= a; k--) {
        float *rec = mem + (k - a) * sw->z.record;
        sw->lt->ops->reverse(sw->lt, k, rec, step_acts(sw, k, rec));
    }
}

/* Reverse steps [a, b) given W_a in `state` (which it may overwrite) and the
 * adjoint of W_b in lt->Wbar. At the top level (the first pass) it first
 * runs to W_K in lt->W and measures the loss that seeds the adjoint; there
 * the last sub-range keeps its records on the way when they fit, so it is
 * never recomputed. */
static flp_status reverse_range(sweep *sw, int64_t a, int64_t b, float *state, float *mem,
                                int64_t mem_floats, int top)
{
    flp_lifetime *lt = sw->lt;
    int64_t n = b - a, g = choose_split(sw->z, n, mem_floats);
    if (g == 1) {
        FLP__TRY(record_range(sw, a, b, state, mem, top));
        if (top)
            FLP__TRY(flp__lt_query(lt, state, 1, sw->loss));
        unwind_range(sw, a, b, mem);
        return FLP_OK;
    }
    int64_t len = (n + g - 1) / g, rest = mem_floats - g * sw->z.state;
    float *sub = mem + g * sw->z.state;
    int64_t last = a + (g - 1) * len;
    int last_recorded = top && choose_split(sw->z, b - last, rest) == 1;
    for (int64_t j = 0; j < g; j++) {
        int64_t start = a + j * len, end = start + len < b ? start + len : b;
        memcpy(mem + j * sw->z.state, state, (size_t)sw->z.state * sizeof *mem);
        if (j == g - 1 && last_recorded)
            FLP__TRY(record_range(sw, start, end, state, sub, 1));
        else if (top || j < g - 1)
            FLP__TRY(advance(sw, start, end, state, top));
    }
    if (top)
        FLP__TRY(flp__lt_query(lt, state, 1, sw->loss));
    if (last_recorded)
        unwind_range(sw, last, b, sub);
    for (int64_t j = g - 1 - last_recorded; j >= 0; j--) {
        int64_t start = a + j * len, end = start + len < b ? start + len : b;
        if (start >= b)
            continue;
        FLP__TRY(reverse_range(sw, start, end, mem + j * sw->z.state, sub, rest, 0));
    }
    return FLP_OK;
}

/* Choose the schedule for `mem` floats: store every step's activities when
 * that still leaves a one-recomputation split (or better), else keep them
 * in the records. Sets sw->z and returns the floats set aside for stored
 * activities (0 without), or -1 if no schedule fits. */
static int64_t plan(sweep *sw, int64_t mem)
{
    flp_lifetime *lt = sw->lt;
    int64_t K = lt->K, stored = K * sw->act;
    sizes lean = {lt->n_state, 2 * lt->n_state};
    if (stored < mem) {
        int64_t g = choose_split(lean, K, mem - stored);
        if (g == 1 || (g > 1 && g * lean.state + (K + g - 1) / g * lean.record <= mem - stored)) {
            sw->z = lean;
            return stored;
        }
    }
    sw->z = (sizes){lt->n_state, 2 * lt->n_state + sw->act};
    return choose_split(sw->z, K, mem) == 0 ? -1 : 0;
}

flp_status flp__lt_sweep(flp_lifetime *lt, int want_gradient, float *loss)
{
    sweep sw = {lt, {lt->n_state, 2 * lt->n_state + lt->batch * lt->act_width}, NULL, lt->batch * lt->act_width,
                loss, 0};
    lt->recomputed = 0;
    /* what every run holds, whatever the schedule: scratch, the state and
     * its adjoint, the front-end's activations */
    int64_t fixed = lt->scratch_floats + flp__lt_frontend_floats(lt);
    if (!want_gradient) {
        FLP__TRY(advance(&sw, 0, lt->K, lt->W, 1));
        lt->workspace_bytes = 4 * fixed;
        return flp__lt_query(lt, lt->W, 0, loss);
    }
    int64_t mem = lt->budget_bytes > 0 ? (int64_t)(lt->budget_bytes / sizeof(float)) - fixed : lt->K * sw.z.record;
    int64_t stored = plan(&sw, mem);
    if (stored < 0) {
        double need = 4.0 * ((double)min_floats(sw.z, lt->K) + (double)fixed);
        return flp__error(FLP_ERR_NOMEM, "flp_lifetime_run: a memory budget of %.0f bytes is too small for "
                          "%lld steps of this network; the minimum is %.0f bytes", lt->budget_bytes,
                          (long long)lt->K, need);
    }
    int64_t peak = peak_floats(sw.z, lt->K, mem - stored);
    if (flp__ensure_floats(&lt->arena, &lt->arena_floats, stored + peak, "lifetime checkpoints") != FLP_OK)
        return flp__error_context(FLP_ERR_NOMEM, "flp_lifetime_run");
    sw.acts = stored > 0 ? lt->arena : NULL;
    lt->workspace_bytes = 4 * (stored + peak + fixed);
    /* decisions use the whole budget; the schedule touches at most `peak` */
    FLP__TRY(reverse_range(&sw, 0, lt->K, lt->W, lt->arena + stored, mem - stored, 1));
    lt->recomputed = sw.steps_run - lt->K;
    return FLP_OK;
}
