/* feedback_keys.c - the feedback handle's settings: FLP_FEEDBACK_KEY_MAP
 * (flp_plasticity.h) as a table, what setting each key does, and set / get
 * / bounds over it. */
#include "plasticity/plasticity_internal.h"

static const flp__key keys[] = {FLP_FEEDBACK_KEY_MAP(FLP__KEY_ENTRY)
                                    FLP_FEEDBACK_KEY_MAP_EXPERIMENTAL(FLP__KEY_ENTRY)};

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

/* Every key is an int field of the handle. */
static int *slot(flp_feedback *fb, int key)
{
    switch ((flp_feedback_key)key) {
    case FLP_FEEDBACK_SIGNAL: return &fb->signal;
    case FLP_FEEDBACK_RELU: return &fb->relu;
    case FLP_FEEDBACK_CLAMP_OUTPUT: return &fb->clamp_output;
    case FLP_FEEDBACK_POST_PRESYNAPTIC: return &fb->post_presynaptic;
    case FLP_FEEDBACK_DIFFERENTIATE_SIGNAL: return &fb->differentiate_signal;
    case FLP_FEEDBACK_KIND: return &fb->kind;
    }
    return NULL;
}

static double load(const void *h, int key) { return *slot((flp_feedback *)h, key); }

static flp_status store(void *h, int key, double value)
{
    flp_feedback *fb = h;
    /* B's shape changes between direct and chained pathways */
    if (key == FLP_FEEDBACK_KIND &&
        ((int)value == FLP_FEEDBACK_DIRECT) != (fb->kind == FLP_FEEDBACK_DIRECT))
        return flp__feedback_realloc(fb, (int)value);
    *slot(fb, key) = (int)value;
    return FLP_OK;
}

const flp__key_map flp__feedback_keys = {"flp_feedback_key", "feedback",
                                         (int)(sizeof keys / sizeof keys[0]), keys,
                                         value_name, load, store};

FLP__KEY_FUNCTIONS(feedback, "fb")
