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

/* One line per key of the handle's map: "rule.plastic_last=2". */
static void describe_keys(text *t, const flp__key_map *map, const void *handle)
{
    char name[64], value[64];
    for (int i = 0; i < map->n; i++) {
        const flp__key *k = &map->keys[i];
        flp__key_describe(map, k, map->load(handle, k->value), name, sizeof name, value,
                          sizeof value);
        put(t, "%s=%s", name, value);
    }
}

static void describe_rule(text *t, const flp_rule *rule)
{
    if (rule == NULL) {
        put(t, "rule=none");
        return;
    }
    const char *kind = flp__rule_kind_name(rule->kind);
    put(t, "rule.kind=%s", kind != NULL ? kind : "unknown");
    describe_keys(t, &flp__rule_keys, rule);
    for (int i = 0; i < rule->n_layers; i++)
        put(t, "rule.plastic.%d=%d", i, rule->layer[i].plastic != 0);
}

static void describe_feedback(text *t, const flp_feedback *fb)
{
    if (fb == NULL) {
        put(t, "feedback=none");
        return;
    }
    describe_keys(t, &flp__feedback_keys, fb);
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

/* Length of the line of `s` (n bytes, not NUL-terminated) starting at `at`. */
static size_t line_len(const char *s, size_t n, size_t at)
{
    const char *end = memchr(s + at, '\n', n - at);
    return (end ? (size_t)(end - s) : n) - at;
}

/* Copy the line of `s` (n bytes) that starts at `at` into dst. */
static void copy_line(char *dst, size_t size, const char *s, size_t n, size_t at)
{
    if (at >= n) {
        snprintf(dst, size, "(nothing)");
        return;
    }
    snprintf(dst, size, "%.*s", (int)line_len(s, n, at), s + at);
}

/* The line of `s` (n bytes) whose key (the text before '=') is the one
 * of `line` (a NUL-terminated line), as an offset, or n if none. */
static size_t find_key(const char *s, size_t n, const char *line)
{
    size_t key = strcspn(line, "=");
    for (size_t at = 0; at < n; at += line_len(s, n, at) + 1) {
        size_t len = line_len(s, n, at);
        if (len > key && s[at + key] == '=' && memcmp(s + at, line, key) == 0)
            return at;
    }
    return n;
}

/* The line at `a` of the file and at `b` of the handles' text say the same;
 * format 2 wrote the rule family's kind as "unknown". */
static int same_line(const char *file, size_t a, size_t file_len, const char *now, size_t b,
                     size_t now_len)
{
    size_t la = line_len(file, file_len, a), lb = line_len(now, now_len, b);
    if (la == lb && memcmp(file + a, now + b, la) == 0)
        return 1;
    static const char old[] = "rule.kind=unknown", fam[] = "rule.kind=family";
    return la == sizeof old - 1 && memcmp(file + a, old, la) == 0 && lb == sizeof fam - 1 &&
           memcmp(now + b, fam, lb) == 0;
}

const char *flp__ckpt_config_diff(const char *file, size_t len, const char *now, int format2,
                                  char *file_line, char *now_line, size_t size)
{
    size_t now_len = strlen(now);
    if (!format2) {
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
    for (size_t at = 0; at < len; at += line_len(file, len, at) + 1) {
        char line[256];
        copy_line(line, sizeof line, file, len, at);
        size_t there = find_key(now, now_len, line);
        if (there == now_len || !same_line(file, at, len, now, there, now_len)) {
            snprintf(file_line, size, "%s", line);
            copy_line(now_line, size, now, now_len, there);
            return file_line;
        }
    }
    return NULL;
}

const char *flp__ckpt_key_of_line(const char *line)
{
    static const flp__key_map *const maps[] = {&flp__rule_keys, &flp__feedback_keys};
    char name[64], value[64];
    size_t key = strcspn(line, "=");
    for (size_t m = 0; m < sizeof maps / sizeof maps[0]; m++)
        for (int i = 0; i < maps[m]->n; i++) {
            flp__key_describe(maps[m], &maps[m]->keys[i], 0, name, sizeof name, value, sizeof value);
            if (strlen(name) == key && memcmp(name, line, key) == 0)
                return maps[m]->keys[i].name;
        }
    return NULL;
}
