/* feedback_keys.c - the feedback handle's settings: FLP_FEEDBACK_KEY_MAP
 * (flp_plasticity.h) as a table, and set / get / bounds over it. */
#include "core/error.h"
#include "plasticity/plasticity_internal.h"

enum { N_KEYS = 0 FLP_FEEDBACK_KEY_MAP(FLP__KEY_COUNT) };

static const flp__key keys[N_KEYS] = {FLP_FEEDBACK_KEY_MAP(FLP__KEY_ENTRY)};

static const char *value_name(int key, int v)
{
    static const char *const signals[] = {"error", "target", "target_minus_softmax"};
    static const char *const kinds[] = {"direct", "chained", "symmetric"};
    if (key == FLP_FEEDBACK_SIGNAL && v >= 0 && v < 3)
        return signals[v];
    if (key == FLP_FEEDBACK_KIND && v >= 0 && v < 3)
        return kinds[v];
    return NULL;
}

static flp_status get_any(const void *h, int key, double *value)
{
    return flp_feedback_get(h, (flp_feedback_key)key, value);
}

static flp_status set_any(void *h, int key, double value)
{
    return flp_feedback_set(h, (flp_feedback_key)key, value);
}

const flp__key_map flp__feedback_keys = {"flp_feedback_key", "feedback", N_KEYS, keys,
                                         value_name, get_any, set_any};

/* Every key is an int field of the handle. */
static int *slot(flp_feedback *fb, flp_feedback_key key)
{
    switch (key) {
    case FLP_FEEDBACK_SIGNAL: return &fb->signal;
    case FLP_FEEDBACK_RELU: return &fb->relu;
    case FLP_FEEDBACK_CLAMP_OUTPUT: return &fb->clamp_output;
    case FLP_FEEDBACK_POST_PRESYNAPTIC: return &fb->post_presynaptic;
    case FLP_FEEDBACK_DIFFERENTIATE_SIGNAL: return &fb->differentiate_signal;
    case FLP_FEEDBACK_KIND: return &fb->kind;
    }
    return NULL;
}

flp_status flp_feedback_set(flp_feedback *fb, flp_feedback_key key, double value)
{
    FLP__CHECK_NULL(fb);
    const flp__key *k;
    FLP__TRY(flp__key_check_set(&flp__feedback_keys, (int)key, value, __func__, &k));
    /* B's shape changes between direct and chained pathways */
    if (key == FLP_FEEDBACK_KIND &&
        ((int)value == FLP_FEEDBACK_DIRECT) != (fb->kind == FLP_FEEDBACK_DIRECT))
        return flp__feedback_realloc(fb, (int)value);
    *slot(fb, key) = (int)value;
    return FLP_OK;
}

flp_status flp_feedback_get(const flp_feedback *fb, flp_feedback_key key, double *value)
{
    FLP__CHECK_NULL(fb);
    FLP__CHECK_NULL(value);
    const flp__key *k;
    FLP__TRY(flp__key_lookup(&flp__feedback_keys, (int)key, __func__, &k));
    *value = *slot((flp_feedback *)fb, key);
    return FLP_OK;
}

flp_status flp_feedback_bounds(flp_feedback_key key, double *lo, double *hi)
{
    return flp__key_bounds(&flp__feedback_keys, (int)key, lo, hi, __func__);
}
