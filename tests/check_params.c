/* check_params.c - the named-tensor interface (flp_params.h) over four
 * models (sine-like FLP, a few-shot net with a conv front-end, the gradient
 * rule, the rule family): every tensor reachable by name with the shape of
 * its handle, values that round-trip and reach the handles, gradients equal
 * to the per-kind accessors' (and to flp_meta_get_grads) after a lifetime,
 * Adam's moments equal to the update's formula and to what a checkpoint
 * stores, written moments restored by a checkpoint, and bad inputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint/checkpoint_format.h"
#include "core/alloc.h"
#include "testutil.h"

/* ---- the four models ---------------------------------------------------------- */

enum { SINE, FEWSHOT_CONV, GRADIENT_RULE, RULE_FAMILY, N_MODELS };
static const char *const model_name[N_MODELS] = {"sine", "few-shot conv", "gradient rule", "rule family"};

typedef tu_rig model;

enum { K = 3, BATCH = 4, Q = 5, CLASSES = 3 };

static void regression_episode(flp_episode *ep, int64_t n_in, int64_t n_out, uint64_t seed)
{
    float x[K * BATCH * 16], y[K * BATCH * 2], xq[Q * 16], yq[Q * 2];
    ck_assert(n_in <= 16 && n_out <= 2);
    tu_fill_uniform(x, K * BATCH * n_in, -1, 1, seed);
    tu_fill_uniform(y, K * BATCH * n_out, -1, 1, seed + 1);
    tu_fill_uniform(xq, Q * n_in, -1, 1, seed + 2);
    tu_fill_uniform(yq, Q * n_out, -1, 1, seed + 3);
    ck_flp(flp_episode_set_regression(ep, K, BATCH, n_in, n_out, x, y, Q, xq, yq));
}

static flp_net *dense_net(int64_t n_in, const int64_t *widths, int n, int bias, int softplus)
{
    flp_net *net;
    ck_flp(flp_net_create(1, &n_in, &net));
    for (int l = 0; l < n; l++) {
        ck_flp(flp_net_add_linear(net, widths[l], bias));
        if (l < n - 1)
            ck_flp(softplus ? flp_net_add_softplus(net, 10.0f) : flp_net_add_relu(net));
    }
    return net;
}

/* [1, 6, 6] -> conv 3x3x3 -> relu -> flatten (48) -> 5 -> relu -> CLASSES */
static flp_net *conv_net(void)
{
    int64_t shape[3] = {1, 6, 6};
    flp_net *net;
    ck_flp(flp_net_create(3, shape, &net));
    ck_flp(flp_net_add_conv2d(net, 3, 3, 3, 1, 0, 1));
    ck_flp(flp_net_add_relu(net));
    ck_flp(flp_net_add_flatten(net));
    ck_flp(flp_net_add_linear(net, 5, 1));
    ck_flp(flp_net_add_relu(net));
    ck_flp(flp_net_add_linear(net, CLASSES, 1));
    return net;
}

/* Random non-zero biases, so that every value the tests move is distinct. */
static void random_biases(flp_net *net, flp_rng *rng)
{
    int n;
    ck_flp(flp_net_num_layers(net, &n));
    for (int l = 0; l < n; l++) {
        int64_t c;
        float b[64];
        ck_flp(flp_net_param_count(net, l, FLP_PARAM_BIAS, &c));
        ck_assert(c <= 64);
        if (c == 0)
            continue;
        ck_flp(flp_rng_uniform(rng, -0.2f, 0.2f, b, c));
        ck_flp(flp_net_set_param(net, l, FLP_PARAM_BIAS, b, c));
    }
}

static void build(model *m, int which)
{
    memset(m, 0, sizeof *m);
    flp_rng *rng;
    ck_flp(flp_rng_create(100 + (uint64_t)which, &rng));
    ck_flp(flp_episode_create(&m->ep));
    flp_rule_kind kind = FLP_RULE_OJA;
    if (which == SINE) {
        const int64_t w[3] = {8, 8, 1};
        m->net = dense_net(11, w, 3, 1, 0);
        regression_episode(m->ep, 11, 1, 7);
    } else if (which == FEWSHOT_CONV) {
        m->net = conv_net();
        tu_labelled_episode(m->ep, K, BATCH, 36, CLASSES, Q, 8);
    } else if (which == GRADIENT_RULE) {
        const int64_t w[2] = {6, 2};
        m->net = dense_net(4, w, 2, 1, 0);
        regression_episode(m->ep, 4, 2, 9);
        kind = FLP_RULE_GRADIENT;
    } else {
        const int64_t w[2] = {6, CLASSES};
        m->net = dense_net(5, w, 2, 0, 1);
        tu_labelled_episode(m->ep, K, BATCH, 5, CLASSES, Q, 10);
        kind = FLP_RULE_FAMILY;
    }
    ck_flp(flp_net_init(m->net, which == RULE_FAMILY ? FLP_INIT_XAVIER_UNIFORM : FLP_INIT_KAIMING_NORMAL, rng));
    if (which != RULE_FAMILY)
        random_biases(m->net, rng);
    ck_flp(flp_feedback_create(m->net, &m->fb));
    if (which == RULE_FAMILY)
        ck_flp(flp_feedback_set(m->fb, FLP_FEEDBACK_KIND, FLP_FEEDBACK_CHAINED));
    if (which == FEWSHOT_CONV) {
        ck_flp(flp_feedback_set(m->fb, FLP_FEEDBACK_SIGNAL, FLP_SIGNAL_TARGET));
        ck_flp(flp_feedback_set(m->fb, FLP_FEEDBACK_CLAMP_OUTPUT, 1));
    }
    ck_flp(flp_feedback_init(m->fb, rng, 0.5f));
    ck_flp(flp_rule_create(m->net, kind, &m->rule));
    if (which == SINE)
        ck_flp(flp_rule_set(m->rule, FLP_RULE_PLASTIC_LAST, 2));
    if (which == GRADIENT_RULE)
        ck_flp(flp_rule_set(m->rule, FLP_RULE_GRANULARITY, FLP_GRANULARITY_NEURON));
    if (which == RULE_FAMILY) {
        const float theta[3] = {0.05f, 0.02f, 0.01f};
        ck_flp(flp_rule_set_theta(m->rule, theta, 3));
    } else {
        ck_flp(flp_rule_set(m->rule, FLP_RULE_ALPHA_INIT, kind == FLP_RULE_GRADIENT ? 0.05 : 0.01));
    }
    ck_flp(flp_lifetime_create(m->net, m->fb, m->rule, &m->lt));
    ck_flp(flp_meta_create(m->net, m->fb, m->rule, &m->meta));
    ck_flp(flp_meta_set_lr(m->meta, FLP_GROUP_PLASTICITY, 1e-4));
    flp_rng_free(rng);
}


/* ---- the per-kind accessors, reached from a tensor's name ----------------------- */

typedef struct {
    const char *name;
    int64_t count;
    float *value, *grad;   /* as the per-kind accessors give them */
} kind_view;

/* Read tensor `name` through the accessors of its handle: count, value,
 * gradient. Fails the test for a name no accessor knows. */
static kind_view per_kind(const model *m, const char *name)
{
    kind_view v = {name, -1, NULL, NULL};
    int layer = -1;
    char part[16] = "";
    if (strcmp(name, "rule.theta") == 0) {
        ck_flp(flp_rule_theta_count(m->rule, &v.count));
    } else if (sscanf(name, "net.%d.%15s", &layer, part) == 2) {
        flp_param p = strcmp(part, "weight") == 0 ? FLP_PARAM_WEIGHT : FLP_PARAM_BIAS;
        ck_assert_msg(p == FLP_PARAM_WEIGHT || strcmp(part, "bias") == 0, "unknown tensor %s", name);
        ck_flp(flp_net_param_count(m->net, layer, p, &v.count));
    } else if (sscanf(name, "feedback.%d.%15s", &layer, part) == 2) {
        flp_feedback_tensor t = strcmp(part, "B") == 0 ? FLP_FEEDBACK_B
                                : strcmp(part, "c") == 0 ? FLP_FEEDBACK_C : FLP_FEEDBACK_BETA;
        ck_assert_msg(t != FLP_FEEDBACK_BETA || strcmp(part, "beta") == 0, "unknown tensor %s", name);
        ck_flp(flp_feedback_count(m->fb, layer, t, &v.count));
    } else if (sscanf(name, "rule.%d.%15s", &layer, part) == 2) {
        ck_assert_msg(strcmp(part, "alpha") == 0 || strcmp(part, "lr_bias") == 0, "unknown tensor %s", name);
        if (strcmp(part, "alpha") == 0)
            ck_flp(flp_rule_alpha_count(m->rule, layer, &v.count));
        else
            ck_flp(flp_rule_lr_bias_count(m->rule, layer, &v.count));
    } else {
        ck_abort_msg("tensor %s has a name no per-kind accessor knows", name);
    }
    v.value = malloc((size_t)v.count * sizeof(float));
    v.grad = malloc((size_t)v.count * sizeof(float));
    if (strcmp(name, "rule.theta") == 0) {
        ck_flp(flp_rule_get_theta(m->rule, v.value, v.count));
        ck_flp(flp_rule_get_theta_grad(m->rule, v.grad, v.count));
    } else if (strncmp(name, "net.", 4) == 0) {
        flp_param p = strcmp(part, "weight") == 0 ? FLP_PARAM_WEIGHT : FLP_PARAM_BIAS;
        ck_flp(flp_net_get_param(m->net, layer, p, v.value, v.count));
        ck_flp(flp_net_get_grad(m->net, layer, p, v.grad, v.count));
    } else if (strncmp(name, "feedback.", 9) == 0) {
        flp_feedback_tensor t = strcmp(part, "B") == 0 ? FLP_FEEDBACK_B
                                : strcmp(part, "c") == 0 ? FLP_FEEDBACK_C : FLP_FEEDBACK_BETA;
        ck_flp(flp_feedback_get_param(m->fb, layer, t, v.value, v.count));
        ck_flp(flp_feedback_get_grad(m->fb, layer, t, v.grad, v.count));
    } else if (strcmp(part, "alpha") == 0) {
        ck_flp(flp_rule_get_alpha(m->rule, layer, v.value, v.count));
        ck_flp(flp_rule_get_alpha_grad(m->rule, layer, v.grad, v.count));
    } else {
        ck_flp(flp_rule_get_lr_bias(m->rule, layer, v.value, v.count));
        ck_flp(flp_rule_get_lr_bias_grad(m->rule, layer, v.grad, v.count));
    }
    return v;
}

static void free_view(kind_view *v) { free(v->value), free(v->grad); }

/* The shape the handles document for a tensor (flp_net.h, flp_plasticity.h). */
static int expected_dims(const model *m, const char *name, int64_t dims[FLP_TENSOR_MAX_RANK])
{
    int layer = -1, r;
    char part[16] = "";
    int64_t in[3], out[3];
    if (strcmp(name, "rule.theta") == 0) {
        dims[0] = 3;
        return 1;
    }
    ck_assert(sscanf(name, "%*[a-z].%d.%15s", &layer, part) == 2);
    ck_flp(flp_net_layer_shape(m->net, layer - 1, &r, in));
    ck_flp(flp_net_layer_shape(m->net, layer, &r, out));
    flp_layer_kind kind;
    ck_flp(flp_net_layer_kind(m->net, layer, &kind));
    if (strcmp(part, "weight") == 0 && kind == FLP_LAYER_CONV2D) {
        int64_t n;
        ck_flp(flp_net_param_count(m->net, layer, FLP_PARAM_WEIGHT, &n));
        dims[0] = out[0], dims[1] = in[0], dims[2] = dims[3] = 3; /* conv_net's kernel */
        ck_assert_int_eq(n, dims[0] * dims[1] * 9);
        return 4;
    }
    double feedback_kind, granularity;
    ck_flp(flp_feedback_get(m->fb, FLP_FEEDBACK_KIND, &feedback_kind));
    ck_flp(flp_rule_get(m->rule, FLP_RULE_GRANULARITY, &granularity));
    int64_t n_in, n_out;
    ck_flp(flp_net_io_size(m->net, &n_in, &n_out));
    dims[0] = out[0];
    dims[1] = in[0];
    if (strcmp(part, "weight") == 0)
        return 2;
    if (strcmp(part, "B") == 0) {
        if (feedback_kind == FLP_FEEDBACK_DIRECT)
            dims[1] = n_out;
        return 2;
    }
    dims[1] = 1;
    int coefficient = strcmp(part, "alpha") == 0 || strcmp(part, "lr_bias") == 0;
    if (strcmp(part, "beta") == 0 || (coefficient && granularity == FLP_GRANULARITY_LAYER))
        dims[0] = 1;
    if (strcmp(part, "alpha") == 0 && granularity == FLP_GRANULARITY_SYNAPSE) {
        dims[1] = in[0];
        return 2;
    }
    return 1;
}

/* ---- every tensor by name, with its shape, and values that round-trip --------------- */

START_TEST(test_every_tensor_by_name)
{
    model m;
    build(&m, _i);
    int n;
    int64_t total = 0, flat;
    ck_flp(flp_meta_tensor_count(m.meta, &n));
    ck_assert_int_gt(n, 0);
    for (int i = 0; i < n; i++) {
        const char *name;
        flp_group group;
        int rank, found;
        int64_t dims[FLP_TENSOR_MAX_RANK], want[FLP_TENSOR_MAX_RANK] = {1, 1, 1, 1}, count;
        ck_flp(flp_meta_tensor_info(m.meta, i, &name, &group, &rank, dims, &count));
        ck_flp(flp_meta_tensor_find(m.meta, name, &found));
        ck_assert_msg(found == i, "%s: %s is tensor %d, found as %d", model_name[_i], name, i, found);
        ck_assert_int_eq(rank, expected_dims(&m, name, want));
        for (int d = 0; d < FLP_TENSOR_MAX_RANK; d++)
            ck_assert_msg(dims[d] == want[d], "%s: %s extent %d is %lld, expected %lld", model_name[_i], name,
                          d, (long long)dims[d], (long long)want[d]);
        ck_assert_int_eq(count, dims[0] * dims[1] * dims[2] * dims[3]);
        ck_assert_int_eq(group, strncmp(name, "net.", 4) == 0 ? FLP_GROUP_WEIGHTS
                                : strstr(name, ".beta") ? FLP_GROUP_STRENGTH
                                : strncmp(name, "feedback.", 9) == 0 ? FLP_GROUP_FEEDBACK
                                : strcmp(name, "rule.theta") == 0 ? FLP_GROUP_RULE : FLP_GROUP_PLASTICITY);

        /* the value is the handle's, and a written value reaches the handle */
        kind_view before = per_kind(&m, name);
        ck_assert_int_eq(before.count, count);
        float *got = malloc((size_t)count * sizeof *got), *put = malloc((size_t)count * sizeof *put);
        ck_flp(flp_meta_tensor_get(m.meta, i, FLP_TENSOR_VALUE, got, count));
        ck_assert_msg(memcmp(got, before.value, (size_t)count * sizeof *got) == 0, "%s: %s value differs",
                      model_name[_i], name);
        tu_fill_uniform(put, count, -1, 1, 50 + (uint64_t)i);
        ck_flp(flp_meta_tensor_set(m.meta, i, FLP_TENSOR_VALUE, put, count));
        kind_view after = per_kind(&m, name);
        ck_assert_msg(memcmp(after.value, put, (size_t)count * sizeof *put) == 0, "%s: %s not written",
                      model_name[_i], name);
        ck_flp(flp_meta_tensor_get(m.meta, i, FLP_TENSOR_VALUE, got, count));
        ck_assert(memcmp(got, put, (size_t)count * sizeof *got) == 0);
        ck_flp(flp_meta_tensor_set(m.meta, i, FLP_TENSOR_VALUE, before.value, count));
        free_view(&before), free_view(&after), free(got), free(put);
        total += count;
    }
    ck_flp(flp_meta_grad_count(m.meta, &flat));
    ck_assert_int_eq(total, flat);
    tu_free_rig(&m);
}
END_TEST

/* Every parameter the per-kind accessors reach is in the list: each linear
 * layer's weight, bias, pathway and coefficients, the convolution's
 * weight and bias, and theta. */
START_TEST(test_list_is_complete)
{
    model m;
    build(&m, _i);
    int n_layers, idx;
    char name[32];
    ck_flp(flp_net_num_layers(m.net, &n_layers));
    for (int l = 0; l < n_layers; l++) {
        int64_t c;
        flp_layer_kind kind;
        ck_flp(flp_net_layer_kind(m.net, l, &kind));
        const char *parts[] = {"net.%d.weight", "net.%d.bias", "feedback.%d.B", "feedback.%d.c",
                               "feedback.%d.beta", "rule.%d.alpha", "rule.%d.lr_bias"};
        for (int p = 0; p < 7; p++) {
            int want = kind == FLP_LAYER_LINEAR || (kind == FLP_LAYER_CONV2D && p < 2);
            if (p == 1) {
                ck_flp(flp_net_param_count(m.net, l, FLP_PARAM_BIAS, &c));
                want = c > 0;
            }
            if (p == 5)
                want = want && _i != RULE_FAMILY; /* the family's alphas are no meta-parameter */
            if (p == 6)
                want = want && _i == GRADIENT_RULE;
            snprintf(name, sizeof name, parts[p], l);
            flp_status st = flp_meta_tensor_find(m.meta, name, &idx);
            ck_assert_msg((st == FLP_OK) == want, "%s: %s is %sin the list", model_name[_i], name,
                          st == FLP_OK ? "" : "not ");
        }
    }
    ck_assert_int_eq(flp_meta_tensor_find(m.meta, "rule.theta", &idx) == FLP_OK, _i == RULE_FAMILY);
    tu_free_rig(&m);
}
END_TEST

/* ---- gradients after a lifetime equal the per-kind accessors' ------------------------ */

START_TEST(test_gradients_equal_the_accessors)
{
    model m;
    build(&m, _i);
    float loss;
    ck_flp(flp_meta_zero_grad(m.meta));
    ck_flp(flp_lifetime_run(m.lt, m.ep, 1, &loss));
    int64_t flat_n, offset = 0;
    ck_flp(flp_meta_grad_count(m.meta, &flat_n));
    float *flat = malloc((size_t)flat_n * sizeof *flat);
    ck_flp(flp_meta_get_grads(m.meta, flat, flat_n));
    int n, nonzero = 0;
    ck_flp(flp_meta_tensor_count(m.meta, &n));
    for (int i = 0; i < n; i++) {
        const char *name;
        int64_t count;
        ck_flp(flp_meta_tensor_info(m.meta, i, &name, NULL, NULL, NULL, &count));
        float *g = malloc((size_t)count * sizeof *g);
        ck_flp(flp_meta_tensor_get(m.meta, i, FLP_TENSOR_GRAD, g, count));
        kind_view v = per_kind(&m, name);
        ck_assert_msg(memcmp(g, v.grad, (size_t)count * sizeof *g) == 0, "%s: %s's gradient differs from "
                      "the per-kind accessor's", model_name[_i], name);
        ck_assert_msg(memcmp(g, flat + offset, (size_t)count * sizeof *g) == 0, "%s: %s's gradient differs "
                      "from flp_meta_get_grads at offset %lld", model_name[_i], name, (long long)offset);
        for (int64_t j = 0; j < count; j++)
            nonzero += g[j] != 0.0f;
        offset += count;
        free(g), free_view(&v);
    }
    ck_assert_int_eq(offset, flat_n);
    ck_assert_msg(nonzero > 0, "%s: the lifetime gave no gradient at all", model_name[_i]);
    free(flat);
    tu_free_rig(&m);
}
END_TEST

/* ---- Adam's moments ------------------------------------------------------------------------ */

static float *get_array(const flp_meta *meta, int i, flp_tensor_array which, int64_t *count)
{
    ck_flp(flp_meta_tensor_info(meta, i, NULL, NULL, NULL, NULL, count));
    float *a = malloc((size_t)*count * sizeof *a);
    ck_flp(flp_meta_tensor_get(meta, i, which, a, *count));
    return a;
}

/* After the first step m = (1 - b1) g and v = (1 - b2) g^2 (in double,
 * rounded to float, as the update computes them). */
static void check_first_moments(const model *m, int which_model, float *const *grads)
{
    int n;
    ck_flp(flp_meta_tensor_count(m->meta, &n));
    for (int i = 0; i < n; i++) {
        int64_t count;
        float *m1 = get_array(m->meta, i, FLP_TENSOR_MOMENT1, &count);
        float *m2 = get_array(m->meta, i, FLP_TENSOR_MOMENT2, &count);
        for (int64_t j = 0; j < count; j++) {
            double g = grads[i][j];
            ck_assert_msg(m1[j] == (float)((1 - 0.9) * g) && m2[j] == (float)((1 - 0.999) * g * g),
                          "%s: tensor %d entry %lld: m = %g, v = %g for g = %g", model_name[which_model], i,
                          (long long)j, (double)m1[j], (double)m2[j], g);
        }
        free(m1), free(m2);
    }
}

/* The TENS section of a checkpoint file: tensor `name`'s count, values,
 * first and second moments (pointers into buf). */
typedef struct {
    int64_t count;
    const uint8_t *values, *m, *v;
} file_tensor;

static uint8_t *read_whole(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(*size);
    ck_assert_uint_eq(fread(buf, 1, *size, f), *size);
    fclose(f);
    return buf;
}

static int find_in_file(const uint8_t *buf, size_t size, const char *name, file_tensor *out)
{
    size_t at = FLP__CKPT_HEADER_SIZE;
    while (at + 12 <= size) {
        uint64_t len;
        memcpy(&len, buf + at + 4, sizeof len);
        if (memcmp(buf + at, flp__sec_tag[FLP__SEC_TENSORS], 4) == 0) {
            const uint8_t *p = buf + at + 12;
            uint32_t n;
            memcpy(&n, p, 4);
            p += 4;
            for (uint32_t t = 0; t < n; t++) {
                int64_t count;
                memcpy(&count, p + FLP__CKPT_NAME_SIZE + 4, sizeof count);
                size_t bytes = (size_t)count * sizeof(float);
                if (strncmp((const char *)p, name, FLP__CKPT_NAME_SIZE) == 0) {
                    const uint8_t *values = p + FLP__CKPT_TENSOR_HEAD;
                    *out = (file_tensor){count, values, values + bytes, values + 2 * bytes};
                    return 1;
                }
                p += FLP__CKPT_TENSOR_HEAD + 3 * bytes;
            }
            return 0;
        }
        at += 12 + (size_t)len + 4;
    }
    return 0;
}

static char *temp_path(const char *what)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/flp-params-%s-%ld.ckpt", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", what,
             (long)getpid());
    return path;
}

START_TEST(test_moments_after_meta_steps)
{
    model m;
    build(&m, _i);
    int n;
    ck_flp(flp_meta_tensor_count(m.meta, &n));
    float **grads = calloc((size_t)n, sizeof *grads);
    float loss;
    ck_flp(flp_meta_zero_grad(m.meta));
    ck_flp(flp_lifetime_run(m.lt, m.ep, 1, &loss));
    for (int i = 0; i < n; i++) {
        int64_t count;
        grads[i] = get_array(m.meta, i, FLP_TENSOR_GRAD, &count);
        float *m1 = get_array(m.meta, i, FLP_TENSOR_MOMENT1, &count);
        for (int64_t j = 0; j < count; j++)
            ck_assert_msg(m1[j] == 0.0f, "a moment is not 0 before the first step");
        free(m1);
    }
    ck_flp(flp_meta_step(m.meta));
    check_first_moments(&m, _i, grads);
    for (int s = 0; s < 3; s++)
        ck_flp(flp_meta_train_step(m.meta, m.lt, m.ep, &loss));

    /* every tensor that ever had a gradient has non-zero moments, and they
     * are what a checkpoint stores, byte for byte */
    const char *path = temp_path("moments");
    ck_flp(flp_checkpoint_save(path, m.meta, NULL));
    size_t size;
    uint8_t *file = read_whole(path, &size);
    for (int i = 0; i < n; i++) {
        const char *name;
        int64_t count;
        ck_flp(flp_meta_tensor_info(m.meta, i, &name, NULL, NULL, NULL, &count));
        float *val = get_array(m.meta, i, FLP_TENSOR_VALUE, &count);
        float *m1 = get_array(m.meta, i, FLP_TENSOR_MOMENT1, &count);
        float *m2 = get_array(m.meta, i, FLP_TENSOR_MOMENT2, &count);
        int had_grad = 0, nonzero = 0;
        for (int64_t j = 0; j < count; j++) {
            had_grad |= grads[i][j] != 0.0f;
            nonzero |= m1[j] != 0.0f && m2[j] > 0.0f;
        }
        ck_assert_msg(!had_grad || nonzero, "%s: %s has zero moments after 4 steps", model_name[_i], name);
        file_tensor ft;
        ck_assert_msg(find_in_file(file, size, name, &ft), "%s is not in the checkpoint", name);
        ck_assert_int_eq(ft.count, count);
        size_t bytes = (size_t)count * sizeof(float);
        ck_assert_msg(memcmp(ft.values, val, bytes) == 0, "%s: %s's value differs from the checkpoint's",
                      model_name[_i], name);
        ck_assert_msg(memcmp(ft.m, m1, bytes) == 0, "%s: %s's first moment differs from the checkpoint's",
                      model_name[_i], name);
        ck_assert_msg(memcmp(ft.v, m2, bytes) == 0, "%s: %s's second moment differs from the checkpoint's",
                      model_name[_i], name);
        free(val), free(m1), free(m2), free(grads[i]);
    }
    free(file), free(grads);
    remove(path);
    tu_free_rig(&m);
}
END_TEST

/* Written moments are the optimizer's: a checkpoint stores them and loads
 * them into a fresh optimizer, and the next step uses them. */
START_TEST(test_written_moments_round_trip)
{
    model a, b;
    build(&a, _i);
    build(&b, _i);
    int n;
    ck_flp(flp_meta_tensor_count(a.meta, &n));
    for (int i = 0; i < n; i++) {
        int64_t count;
        ck_flp(flp_meta_tensor_info(a.meta, i, NULL, NULL, NULL, NULL, &count));
        float *m1 = malloc((size_t)count * sizeof *m1), *m2 = malloc((size_t)count * sizeof *m2);
        float *back = malloc((size_t)count * sizeof *back);
        tu_fill_uniform(m1, count, -1e-3f, 1e-3f, 70 + (uint64_t)i);
        tu_fill_uniform(m2, count, 0, 1e-5f, 80 + (uint64_t)i);
        ck_flp(flp_meta_tensor_set(a.meta, i, FLP_TENSOR_MOMENT1, m1, count));
        ck_flp(flp_meta_tensor_set(a.meta, i, FLP_TENSOR_MOMENT2, m2, count));
        ck_flp(flp_meta_tensor_get(a.meta, i, FLP_TENSOR_MOMENT1, back, count));
        ck_assert(memcmp(back, m1, (size_t)count * sizeof *back) == 0);
        ck_flp(flp_meta_tensor_get(a.meta, i, FLP_TENSOR_MOMENT2, back, count));
        ck_assert(memcmp(back, m2, (size_t)count * sizeof *back) == 0);
        free(m1), free(m2), free(back);
    }
    const char *path = temp_path("written");
    ck_flp(flp_checkpoint_save(path, a.meta, NULL));
    ck_flp(flp_checkpoint_load(path, b.meta, NULL));
    remove(path);
    for (int i = 0; i < n; i++) {
        for (int w = FLP_TENSOR_VALUE; w <= FLP_TENSOR_MOMENT2; w++) {
            int64_t count;
            float *x = get_array(a.meta, i, (flp_tensor_array)w, &count);
            float *y = get_array(b.meta, i, (flp_tensor_array)w, &count);
            ck_assert_msg(memcmp(x, y, (size_t)count * sizeof *x) == 0, "%s: tensor %d array %d not restored",
                          model_name[_i], i, w);
            free(x), free(y);
        }
    }
    /* the same step from the same state gives the same values */
    float la, lb;
    ck_flp(flp_meta_train_step(a.meta, a.lt, a.ep, &la));
    ck_flp(flp_meta_train_step(b.meta, b.lt, b.ep, &lb));
    ck_assert(la == lb);
    for (int i = 0; i < n; i++) {
        int64_t count;
        float *x = get_array(a.meta, i, FLP_TENSOR_VALUE, &count);
        float *y = get_array(b.meta, i, FLP_TENSOR_VALUE, &count);
        ck_assert(memcmp(x, y, (size_t)count * sizeof *x) == 0);
        free(x), free(y);
    }
    tu_free_rig(&a);
    tu_free_rig(&b);
}
END_TEST

/* ---- bad inputs ---------------------------------------------------------------------------- */

START_TEST(test_bad_inputs)
{
    model m;
    build(&m, SINE);
    int n, idx;
    float buf[8 * 11] = {0}, back[8 * 11];
    const char *name;
    int64_t count;
    ck_flp(flp_meta_tensor_count(m.meta, &n));
    ck_flp(flp_meta_tensor_find(m.meta, "net.0.weight", &idx));
    ck_flp(flp_meta_tensor_info(m.meta, idx, &name, NULL, NULL, NULL, &count));
    ck_assert_int_eq(count, 8 * 11);

    ck_flp_fails(flp_meta_tensor_count(NULL, &n), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_tensor_count(m.meta, NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_tensor_info(NULL, 0, NULL, NULL, NULL, NULL, NULL), FLP_ERR_NULL);
    ck_flp(flp_meta_tensor_info(m.meta, 0, NULL, NULL, NULL, NULL, NULL)); /* every output optional */
    ck_flp_fails(flp_meta_tensor_info(m.meta, -1, &name, NULL, NULL, NULL, NULL), FLP_ERR_RANGE);
    ck_flp_fails(flp_meta_tensor_info(m.meta, n, &name, NULL, NULL, NULL, NULL), FLP_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(flp_last_error(), "out of range"));
    ck_flp_fails(flp_meta_tensor_find(m.meta, NULL, &idx), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_tensor_find(m.meta, "net.0.weight", NULL), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_tensor_find(m.meta, "net.1.weight", &idx), FLP_ERR_INVALID); /* a relu */
    ck_assert_ptr_nonnull(strstr(flp_last_error(), "'net.1.weight'"));
    ck_flp_fails(flp_meta_tensor_find(m.meta, "rule.theta", &idx), FLP_ERR_INVALID);

    ck_flp_fails(flp_meta_tensor_get(NULL, 0, FLP_TENSOR_VALUE, buf, count), FLP_ERR_NULL);
    ck_flp_fails(flp_meta_tensor_get(m.meta, 0, FLP_TENSOR_VALUE, NULL, count), FLP_ERR_NULL);
    ck_assert_ptr_nonnull(strstr(flp_last_error(), "net.0.weight"));
    ck_flp_fails(flp_meta_tensor_get(m.meta, n, FLP_TENSOR_VALUE, buf, count), FLP_ERR_RANGE);
    ck_flp_fails(flp_meta_tensor_get(m.meta, 0, (flp_tensor_array)4, buf, count), FLP_ERR_INVALID);
    ck_flp_fails(flp_meta_tensor_set(m.meta, 0, (flp_tensor_array)-1, buf, count), FLP_ERR_INVALID);
    /* a wrong count names the tensor, its shape and its size */
    ck_flp_fails(flp_meta_tensor_get(m.meta, 0, FLP_TENSOR_GRAD, buf, count - 1), FLP_ERR_SHAPE);
    ck_assert_msg(strstr(flp_last_error(), "net.0.weight [8, 11] has 88 values, count is 87") != NULL, "%s",
                  flp_last_error());
    ck_flp_fails(flp_meta_tensor_set(m.meta, 0, FLP_TENSOR_MOMENT1, buf, count + 1), FLP_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(flp_last_error(), "net.0.weight"));

    /* refused arrays leave the tensor as it was */
    float before[8 * 11];
    ck_flp(flp_meta_tensor_get(m.meta, 0, FLP_TENSOR_VALUE, before, count));
    memcpy(buf, before, sizeof buf);
    buf[5] = NAN;
    ck_flp_fails(flp_meta_tensor_set(m.meta, 0, FLP_TENSOR_VALUE, buf, count), FLP_ERR_NONFINITE);
    ck_assert_msg(strstr(flp_last_error(), "net.0.weight's value: src[5]") != NULL, "%s", flp_last_error());
    ck_flp(flp_meta_tensor_get(m.meta, 0, FLP_TENSOR_VALUE, back, count));
    ck_assert(memcmp(back, before, sizeof back) == 0);
    buf[5] = INFINITY;
    ck_flp_fails(flp_meta_tensor_set(m.meta, 0, FLP_TENSOR_MOMENT1, buf, count), FLP_ERR_NONFINITE);
    buf[5] = 0.5f;
    buf[7] = -1e-9f;
    for (int j = 0; j < 7; j++)
        buf[j] = fabsf(buf[j]);
    ck_flp_fails(flp_meta_tensor_set(m.meta, 0, FLP_TENSOR_MOMENT2, buf, count), FLP_ERR_RANGE);
    ck_assert_msg(strstr(flp_last_error(), "net.0.weight's second moment: src[7]") != NULL, "%s", flp_last_error());
    ck_flp(flp_meta_tensor_get(m.meta, 0, FLP_TENSOR_MOMENT2, back, count));
    for (int64_t j = 0; j < count; j++)
        ck_assert(back[j] == 0.0f);
    /* a gradient may be anything: flp_meta_step deals with it */
    buf[7] = NAN;
    ck_flp(flp_meta_tensor_set(m.meta, 0, FLP_TENSOR_GRAD, buf, count));
    ck_flp(flp_meta_tensor_get(m.meta, 0, FLP_TENSOR_GRAD, back, count));
    ck_assert(isnan(back[7]) && back[5] == 0.5f);
    ck_flp_fails(flp_meta_step(m.meta), FLP_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(flp_last_error(), "net.0.weight[7]"));

    /* a handle that changed shape after create is refused, naming what changed */
    ck_flp(flp_rule_set(m.rule, FLP_RULE_GRANULARITY, FLP_GRANULARITY_LAYER));
    ck_flp(flp_meta_tensor_find(m.meta, "rule.4.alpha", &idx));
    ck_flp_fails(flp_meta_tensor_get(m.meta, idx, FLP_TENSOR_VALUE, buf, 8 * 8), FLP_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(flp_last_error(), "configuration changed"));
    ck_flp_fails(flp_meta_tensor_set(m.meta, idx, FLP_TENSOR_MOMENT1, buf, 8 * 8), FLP_ERR_STATE);
    tu_free_rig(&m);
}
END_TEST

/* A const read collects its own views: out of memory is a status, never a crash. */
START_TEST(test_out_of_memory)
{
    model m;
    build(&m, SINE);
    float buf[8 * 11];
    flp__alloc_fail_after(1);
    ck_flp_fails(flp_meta_tensor_get(m.meta, 0, FLP_TENSOR_VALUE, buf, 8 * 11), FLP_ERR_NOMEM);
    flp__alloc_fail_after(0);
    ck_flp(flp_meta_tensor_get(m.meta, 0, FLP_TENSOR_VALUE, buf, 8 * 11));
    tu_free_rig(&m);
}
END_TEST

Suite *make_params_suite(void)
{
    Suite *s = suite_create("params");
    TCase *tc = tcase_create("named tensors");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_every_tensor_by_name, 0, N_MODELS);
    tcase_add_loop_test(tc, test_list_is_complete, 0, N_MODELS);
    tcase_add_loop_test(tc, test_gradients_equal_the_accessors, 0, N_MODELS);
    tcase_add_loop_test(tc, test_moments_after_meta_steps, 0, N_MODELS);
    tcase_add_loop_test(tc, test_written_moments_round_trip, 0, N_MODELS);
    tcase_add_test(tc, test_bad_inputs);
    tcase_add_test(tc, test_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}
