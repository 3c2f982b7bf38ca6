/* adam.c - the meta-optimizer: Adam over every meta-parameter of a network,
 * its feedback pathways and its plasticity rule, one learning rate per group.
 *
 * The update is PyTorch's torch.optim.Adam (no weight decay, no amsgrad):
 *     m = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2,
 *     p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * with one step count t for all groups, so that a group unfrozen later is
 * bias-corrected as if it had been there from the start (as a param group
 * with lr 0 would be in PyTorch, minus the moment updates). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "lifetime/lifetime_internal.h"
#include "meta/meta_internal.h"
#include "net/net_internal.h"
#include "plasticity/plasticity_internal.h"

/* ---- tensor views and the configuration check --------------------------- */

static flp_status flp__gather(const flp_meta *meta, flp__tensor_list *list)
{
    flp__tensor_list_clear(list);
    FLP__TRY(flp__net_tensors(meta->net, list));
    if (meta->fb != NULL)
        FLP__TRY(flp__feedback_tensors(meta->fb, list));
    if (meta->rule != NULL)
        FLP__TRY(flp__rule_tensors(meta->rule, list));
    return FLP_OK;
}

static flp_status flp__changed(const char *fn, const char *what)
{
    return flp__error(FLP_ERR_STATE, "%s: configuration changed after flp_meta_create: %s", fn,
                      what);
}

flp_status flp__meta_collect(const flp_meta *meta, flp__tensor_list *list, const char *fn)
{
    FLP__TRY(flp__gather(meta, list));
    char what[160];
    int n = list->n < meta->ref.n ? list->n : meta->ref.n;
    for (int i = 0; i < n; i++) {
        const flp__tensor *now = &list->items[i], *was = &meta->ref.items[i];
        if (strcmp(now->name, was->name) != 0 || now->group != was->group) {
            snprintf(what, sizeof what, "meta-parameter %d is %s (group %d), was %s (group %d)", i,
                     now->name, now->group, was->name, was->group);
            return flp__changed(fn, what);
        }
        if (now->count != was->count) {
            snprintf(what, sizeof what, "%s has %lld values, was %lld", now->name,
                     (long long)now->count, (long long)was->count);
            return flp__changed(fn, what);
        }
    }
    if (list->n != meta->ref.n) {
        snprintf(what, sizeof what, "%d meta-parameter tensors, was %d", list->n, meta->ref.n);
        return flp__changed(fn, what);
    }
    return FLP_OK;
}

float *flp__meta_m(const flp_meta *meta, int64_t offset) { return meta->moments + offset; }

float *flp__meta_v(const flp_meta *meta, int64_t offset)
{
    return meta->moments + meta->total + offset;
}

/* ---- create / free / settings --------------------------------------------- */

static flp_status check_handles(const flp_net *net, const flp_feedback *fb, const flp_rule *rule,
                                const char *fn)
{
    if (fb != NULL)
        FLP__TRY(flp__feedback_check_net(fb, net, fn));
    return rule != NULL ? flp__rule_check_net(rule, net, fn) : FLP_OK;
}

/* Collect the configuration and allocate the views' capacity and Adam's
 * arena, so that later steps allocate nothing. */
static flp_status flp__meta_init(flp_meta *meta)
{
    FLP__TRY(flp__gather(meta, &meta->ref));
    FLP__TRY(flp__gather(meta, &meta->views));
    meta->total = flp__tensor_list_total(&meta->ref);
    meta->moments = flp__alloc_floats(2 * meta->total, "Adam moments");
    return meta->moments != NULL ? FLP_OK : FLP_ERR_NOMEM;
}

flp_status flp_meta_create(flp_net *net, flp_feedback *fb, flp_rule *rule, flp_meta **out)
{
    FLP__CHECK_NULL(out);
    *out = NULL;
    FLP__CHECK_NULL(net);
    FLP__TRY(check_handles(net, fb, rule, __func__));
    flp_meta *meta = flp__alloc_bytes(sizeof *meta, "flp_meta");
    if (meta == NULL)
        return FLP_ERR_NOMEM;
    meta->net = net;
    meta->fb = fb;
    meta->rule = rule;
    for (int i = 0; i < flp__meta_keys.n; i++)
        flp__meta_store_setting(&meta->adam, flp__meta_keys.keys[i].value, flp__meta_keys.keys[i].def);
    flp__schedule_init(&meta->sched);
    flp_status st = flp__meta_init(meta);
    if (st != FLP_OK) {
        flp_meta_free(meta);
        return flp__error_context(st, "%s", __func__);
    }
    *out = meta;
    return FLP_OK;
}

void flp_meta_free(flp_meta *meta)
{
    if (meta == NULL)
        return;
    flp__tensor_list_free(&meta->ref);
    flp__tensor_list_free(&meta->views);
    flp__free(meta->moments);
    flp__free(meta);
}

/* ---- gradients -------------------------------------------------------------- */

flp_status flp_meta_zero_grad(flp_meta *meta)
{
    FLP__CHECK_NULL(meta);
    FLP__TRY(flp__meta_collect(meta, &meta->views, __func__));
    for (int i = 0; i < meta->views.n; i++) {
        const flp__tensor *t = &meta->views.items[i];
        memset(t->grad, 0, (size_t)t->count * sizeof *t->grad);
    }
    return FLP_OK;
}

flp_status flp_meta_scale_grad(flp_meta *meta, double factor)
{
    FLP__CHECK_NULL(meta);
    if (!isfinite(factor))
        return flp__error(FLP_ERR_RANGE, "%s: factor is %g, must be finite", __func__, factor);
    FLP__TRY(flp__meta_collect(meta, &meta->views, __func__));
    const float f = (float)factor;
    for (int i = 0; i < meta->views.n; i++) {
        const flp__tensor *t = &meta->views.items[i];
        for (int64_t j = 0; j < t->count; j++)
            t->grad[j] *= f;
    }
    return FLP_OK;
}

flp_status flp_meta_grad_count(const flp_meta *meta, int64_t *count)
{
    FLP__CHECK_NULL(meta);
    FLP__CHECK_NULL(count);
    *count = meta->total;
    return FLP_OK;
}

static flp_status flp__check_flat(const flp_meta *meta, int64_t count, const char *fn)
{
    if (count != meta->total)
        return flp__error(FLP_ERR_SHAPE, "%s: count = %lld, the meta-parameters number %lld", fn,
                          (long long)count, (long long)meta->total);
    return FLP_OK;
}

flp_status flp_meta_get_grads(const flp_meta *meta, float *dst, int64_t count)
{
    FLP__CHECK_NULL(meta);
    FLP__CHECK_NULL(dst);
    FLP__TRY(flp__check_flat(meta, count, __func__));
    /* A const handle may be shared by readers, so this uses its own views. */
    flp__tensor_list list = {0};
    flp_status st = flp__meta_collect(meta, &list, __func__);
    for (int i = 0; st == FLP_OK && i < list.n; i++) {
        memcpy(dst, list.items[i].grad, (size_t)list.items[i].count * sizeof *dst);
        dst += list.items[i].count;
    }
    flp__tensor_list_free(&list);
    return st;
}

flp_status flp_meta_set_grads(flp_meta *meta, const float *src, int64_t count)
{
    FLP__CHECK_NULL(meta);
    FLP__CHECK_NULL(src);
    FLP__TRY(flp__check_flat(meta, count, __func__));
    FLP__TRY(flp__meta_collect(meta, &meta->views, __func__));
    for (int i = 0; i < meta->views.n; i++) {
        memcpy(meta->views.items[i].grad, src, (size_t)meta->views.items[i].count * sizeof *src);
        src += meta->views.items[i].count;
    }
    return FLP_OK;
}

flp_status flp_meta_grad_norm(const flp_meta *meta, int group, double *norm)
{
    FLP__CHECK_NULL(meta);
    FLP__CHECK_NULL(norm);
    if (group >= FLP_GROUP_COUNT)
        return flp__error(FLP_ERR_RANGE, "%s: group %d is not in [0, %d) (or < 0 for all)",
                          __func__, group, FLP_GROUP_COUNT);
    /* A const handle may be shared by readers, so this uses its own views. */
    flp__tensor_list list = {0};
    flp_status st = flp__meta_collect(meta, &list, __func__);
    double sum = 0;
    for (int i = 0; st == FLP_OK && i < list.n; i++) {
        const flp__tensor *t = &list.items[i];
        if (group >= 0 && t->group != group)
            continue;
        for (int64_t j = 0; j < t->count; j++)
            sum += (double)t->grad[j] * t->grad[j];
    }
    flp__tensor_list_free(&list);
    if (st == FLP_OK)
        *norm = sqrt(sum);
    return st;
}

/* ---- the step ----------------------------------------------------------------- */

/* The rate of every group for the coming step; frozen groups get none. */
static flp_status flp__step_rates(const flp_meta *meta, double lr[FLP_GROUP_COUNT])
{
    for (int g = 0; g < FLP_GROUP_COUNT; g++) {
        lr[g] = 0;
        if (!meta->sched.group[g].frozen)
            FLP__TRY(flp__schedule_lr(&meta->sched, g, flp__meta_run_step(meta), &lr[g], "flp_meta_step"));
    }
    return FLP_OK;
}

static int flp__is_frozen(const flp_meta *meta, const flp__tensor *t)
{
    return meta->sched.group[t->group].frozen;
}

typedef struct {
    int64_t count;    /* non-finite entries among unfrozen gradients */
    int tensor;       /* where the first one is */
    int64_t index;
    float value;
} flp__nonfinite;

/* Find the non-finite gradient entries of unfrozen tensors; with `zero`,
 * also set them to 0 (after recording the first, for the message). */
static flp__nonfinite flp__scan_nonfinite(const flp_meta *meta, int zero)
{
    flp__nonfinite r = {0, 0, 0, 0.0f};
    for (int i = 0; i < meta->views.n; i++) {
        const flp__tensor *t = &meta->views.items[i];
        if (flp__is_frozen(meta, t))
            continue;
        for (int64_t j = 0; j < t->count; j++) {
            if (isfinite(t->grad[j]))
                continue;
            if (r.count++ == 0)
                r = (flp__nonfinite){1, i, j, t->grad[j]};
            if (zero)
                t->grad[j] = 0.0f;
        }
    }
    return r;
}

typedef struct {
    double b1, b2, eps, step_size, bc2_sqrt;
} flp__adam_coef;

static void flp__adam_update(const flp__tensor *t, float *m, float *v, const flp__adam_coef *c)
{
    for (int64_t j = 0; j < t->count; j++) {
        double g = t->grad[j];
        double mj = c->b1 * m[j] + (1 - c->b1) * g;
        double vj = c->b2 * v[j] + (1 - c->b2) * g * g;
        m[j] = (float)mj;
        v[j] = (float)vj;
        t->value[j] = (float)(t->value[j] - c->step_size * mj / (sqrt(vj) / c->bc2_sqrt + c->eps));
    }
}

int64_t flp__meta_run_step(const flp_meta *meta)
{
    int64_t every = meta->adam.restart_every;
    return every > 0 ? meta->step % every : meta->step;
}

static void flp__apply(flp_meta *meta, const double lr[FLP_GROUP_COUNT])
{
    const int64_t run_step = flp__meta_run_step(meta);
    if (run_step == 0 && meta->step > 0) /* Adam starts afresh */
        memset(meta->moments, 0, 2 * (size_t)meta->total * sizeof *meta->moments);
    const double t = (double)(run_step + 1);
    const flp__adam_settings *a = &meta->adam;
    flp__adam_coef c = {.b1 = a->beta1, .b2 = a->beta2, .eps = a->eps,
                        .bc2_sqrt = sqrt(1 - pow(a->beta2, t))};
    const double bc1 = 1 - pow(a->beta1, t);
    int64_t offset = 0;
    for (int i = 0; i < meta->views.n; i++) {
        const flp__tensor *tn = &meta->views.items[i];
        if (!flp__is_frozen(meta, tn)) {
            c.step_size = lr[tn->group] / bc1;
            flp__adam_update(tn, flp__meta_m(meta, offset), flp__meta_v(meta, offset), &c);
        }
        offset += tn->count;
    }
    meta->step++;
}

flp_status flp_meta_step(flp_meta *meta)
{
    FLP__CHECK_NULL(meta);
    if (meta->step >= FLP__META_MAX_STEPS)
        return flp__error(FLP_ERR_RANGE, "%s: the step count %lld has reached its maximum, 2^53: no "
                          "further step is applied", __func__, (long long)meta->step);
    FLP__TRY(flp__meta_collect(meta, &meta->views, __func__));
    double lr[FLP_GROUP_COUNT];
    FLP__TRY(flp__step_rates(meta, lr));
    const int zero = meta->adam.nonfinite == 1;
    flp__nonfinite bad = flp__scan_nonfinite(meta, zero);
    if (bad.count > 0 && !zero)
        return flp__error(FLP_ERR_NONFINITE,
                          "%s: %lld non-finite gradient entries, the first %s[%lld] = %g; step "
                          "skipped (FLP_META_NONFINITE = 0)",
                          __func__, (long long)bad.count, meta->views.items[bad.tensor].name,
                          (long long)bad.index, (double)bad.value);
    flp__apply(meta, lr);
    if (bad.count > 0)
        return flp__error(FLP_ERR_NONFINITE,
                          "%s: zeroed %lld non-finite gradient entries, the first %s[%lld] = %g, "
                          "and applied the step (FLP_META_NONFINITE = 1)",
                          __func__, (long long)bad.count, meta->views.items[bad.tensor].name,
                          (long long)bad.index, (double)bad.value);
    return FLP_OK;
}

flp_status flp_meta_train_step(flp_meta *meta, flp_lifetime *lt, const flp_episode *ep, float *loss)
{
    FLP__CHECK_NULL(meta);
    FLP__CHECK_NULL(lt);
    FLP__CHECK_NULL(ep);
    /* A lifetime over other handles would add its gradient where this
     * optimizer never looks, and the step would silently apply zeros. */
    if (lt->net != meta->net || lt->fb != meta->fb || lt->rule != meta->rule)
        return flp__error(FLP_ERR_INVALID,
                          "%s: lt runs other handles than meta optimizes (both must be created "
                          "over the same net, fb and rule)",
                          __func__);
    float local;
    FLP__TRY(flp_meta_zero_grad(meta));
    FLP__TRY(flp_lifetime_run(lt, ep, 1, loss != NULL ? loss : &local));
    return flp_meta_step(meta);
}

flp_status flp_meta_step_count(const flp_meta *meta, int64_t *steps)
{
    FLP__CHECK_NULL(meta);
    FLP__CHECK_NULL(steps);
    *steps = meta->step;
    return FLP_OK;
}
