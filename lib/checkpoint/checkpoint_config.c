/* checkpoint_config.c - see checkpoint_config.h. */
#include "checkpoint/checkpoint_config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "meta/meta_internal.h"
#include "net/net_internal.h"
#include "plasticity/plasticity_internal.h"

/* A growing text; the first failed allocation sticks. */
typedef struct {
    char *buf;
    size_t len, cap;
    int nomem;
} text;

static void put(text *t, const char *fmt, ...)
{
    if (t->nomem)
        return;
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    size_t need = t->len + (size_t)(n > 0 ? n : 0) + 2; /* the line, '\n', NUL */
    if (need > t->cap) {
        size_t cap = need > 2 * t->cap ? need : 2 * t->cap;
        char *bigger = flp__alloc_bytes(cap, "checkpoint configuration");
        if (bigger == NULL) {
            t->nomem = 1;
            va_end(again);
            return;
        }
        if (t->len > 0)
            memcpy(bigger, t->buf, t->len);
        flp__free(t->buf);
        t->buf = bigger;
        t->cap = cap;
    }
    if (n > 0)
        vsnprintf(t->buf + t->len, (size_t)n + 1, fmt, again);
    va_end(again);
    t->len += (size_t)(n > 0 ? n : 0);
    t->buf[t->len++] = '\n';
    t->buf[t->len] = '\0';
}

/* names[value], or "unknown" past the end of the table */
#define NAME_OF(names, value) \
    ((unsigned)(value) < sizeof(names) / sizeof(names)[0] ? (names)[value] : "unknown")

static void put_shape(char *dst, size_t n, int rank, const int64_t *shape)
{
    int at = snprintf(dst, n, "%lld", (long long)shape[0]);
    for (int i = 1; i < rank && at > 0 && (size_t)at < n; i++)
        at += snprintf(dst + at, n - (size_t)at, "x%lld", (long long)shape[i]);
}

static void describe_net(text *t, const flp_net *net)
{
    static const char *const kinds[] = {"linear", "conv2d", "relu", "softplus", "flatten"};
    char in[64], out[64];
    put_shape(in, sizeof in, net->in_rank, net->in_shape);
    put(t, "net.input=%s", in);
    for (int i = 0; i < net->n_layers; i++) {
        const flp__layer *l = &net->layers[i];
        put_shape(out, sizeof out, l->out_rank, l->out_shape);
        put(t, "net.%d=%s out %s weights %lld biases %lld", i, NAME_OF(kinds, l->kind), out,
            (long long)l->n_weight, (long long)l->n_bias);
        if (l->kind == FLP_LAYER_SOFTPLUS)
            put(t, "net.%d.beta=%a", i, (double)l->softplus_beta);
    }
}

static void describe_rule(text *t, const flp_rule *rule)
{
    static const char *const kinds[] = {"oja", "hebb", "gradient"};
    static const char *const grains[] = {"synapse", "neuron", "layer"};
    if (rule == NULL) {
        put(t, "rule=none");
        return;
    }
    put(t, "rule.kind=%s", NAME_OF(kinds, rule->kind));
    put(t, "rule.granularity=%s", NAME_OF(grains, rule->granularity));
    put(t, "rule.hidden_multiplier=%a", rule->hidden_multiplier);
    for (int i = 0; i < rule->n_layers; i++)
        put(t, "rule.plastic.%d=%d", i, rule->layer[i].plastic != 0);
}

static void describe_feedback(text *t, const flp_feedback *fb)
{
    if (fb == NULL) {
        put(t, "feedback=none");
        return;
    }
    static const char *const signals[] = {"error", "target", "target_minus_softmax"};
    put(t, "feedback.signal=%s", NAME_OF(signals, fb->signal));
    put(t, "feedback.relu=%d", fb->relu);
    put(t, "feedback.clamp_output=%d", fb->clamp_output);
    put(t, "feedback.post_presynaptic=%d", fb->post_presynaptic);
    put(t, "feedback.differentiate_signal=%d", fb->differentiate_signal);
}

flp_status flp__ckpt_describe(const flp_meta *meta, char **out, size_t *len)
{
    text t = {0};
    describe_net(&t, meta->net);
    describe_rule(&t, meta->rule);
    describe_feedback(&t, meta->fb);
    if (t.nomem) {
        flp__free(t.buf);
        return FLP_ERR_NOMEM;
    }
    *out = t.buf;
    *len = t.len;
    return FLP_OK;
}

/* Copy the line of `s` (n bytes) that starts at `at` into dst. */
static void copy_line(char *dst, size_t size, const char *s, size_t n, size_t at)
{
    if (at >= n) {
        snprintf(dst, size, "(nothing)");
        return;
    }
    const char *end = memchr(s + at, '\n', n - at);
    size_t len = (end ? (size_t)(end - s) : n) - at;
    snprintf(dst, size, "%.*s", (int)len, s + at);
}

const char *flp__ckpt_config_diff(const char *file, size_t len, const char *now, char *file_line,
                                  char *now_line, size_t size)
{
    size_t now_len = strlen(now);
    if (len == now_len && memcmp(file, now, len) == 0)
        return NULL;
    size_t i = 0, start = 0;
    while (i < len && i < now_len && file[i] == now[i]) {
        if (file[i] == '\n')
            start = i + 1;
        i++;
    }
    copy_line(file_line, size, file, len, start);
    copy_line(now_line, size, now, now_len, start);
    return file_line;
}
