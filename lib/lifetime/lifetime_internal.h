/* lifetime_internal.h - the lifetime's layout, shared by the forward half
 * (lifetime.c), the reverse sweep (lifetime_reverse.c) and the checkpoint
 * schedule (segments.c).
 *
 * Vocabulary. The network is a stack of L dense layers i = 0..L-1:
 * h_0 = x, z_i = h_i W_i^T + b_i, h_{i+1} = act_i(z_i). The *state* is what
 * a lifetime changes: per plastic layer its weights W_i and, under the
 * gradient rule, then its bias b_i. A *record* of step k is the state before
 * the step (W_k), one more state-shaped array (the step's Hebbian outer
 * products P_k, or, under the gradient rule, the step's loss gradient) and,
 * unless they are stored apart, the step's forward activities h_1..h_L; the
 * reverse sweep needs one record per step and rebuilds them segment by
 * segment from sparse checkpoints.
 *
 * A network may start with a frozen front-end: convolutions and their
 * activations over a rank-3 input, then a flatten. Its layers do not change
 * within a lifetime, so frontend.c computes its outputs (the *features*)
 * once per run for every example of the episode, the dense lifetime runs on
 * them as its inputs x, and the reverse sweep collects dLoss/dfeatures
 * (xbar) to send back through the front-end once at the end. */
#ifndef FLP_LIFETIME_LIFETIME_INTERNAL_H
#define FLP_LIFETIME_LIFETIME_INTERNAL_H

#include "flp/flp_lifetime.h"
#include "net/net_internal.h"
#include "plasticity/plasticity_internal.h"

/* FLP_LIFETIME_MEMORY_BUDGET's default, bytes (flp_lifetime.h). */
#define FLP__LT_DEFAULT_BUDGET (512.0 * 1024 * 1024)

enum { FLP__ACT_NONE = 0, FLP__ACT_RELU = 1, FLP__ACT_SOFTPLUS = 2 };

typedef struct {
    int net_index;              /* index of the linear layer in the network */
    int64_t n_in, n_out;
    int act;                    /* FLP__ACT_* applied after the linear map */
    float softplus_beta;
    int plastic;
    float mult;                 /* m_i: hidden multiplier, or 1 for the output layer */
    int64_t w_off;              /* offset of W_i in the state (plastic layers) */
    int64_t b_off;              /* offset of b_i in the state; -1: b_i is not in it */
    int64_t h_off;              /* per-example offset of h_{i+1} in an activity block */
    int64_t in_off;             /* sum of n_in below: the rule family's per-layer scratch */
    flp__layer *net_layer;      /* W (initial or frozen), b and their gradients */
    flp__pathway *path;
    flp__plastic_layer *rule;
    /* Where the layer's meta-gradients go: the handles' gradient arrays
     * (flp_lifetime_run) or a worker's private sink (flp_batch), bound at
     * every run. NULL where the handle has no such array. */
    float *gW, *gb, *gB, *gc, *gbeta, *galpha, *glr_bias;
} flp__lt_layer;

/* Per-step scratch, sized for the larger of the step batch and the query.
 * [rows * act_width] buffers hold one block per layer (at rows * h_off);
 * [act_width] ones one slice per layer (at h_off); pg is state-shaped. */
typedef struct {
    int64_t rows;               /* examples the buffers hold */
    float *acts;                /* activities when not recording */
    float *post, *g;            /* postsynaptic activity, pathway pre-activation (then its adjoint) */
    float *hbar, *postbar;      /* adjoints of h and post */
    float *prebar;              /* adjoint of pre, per layer below, before it joins hbar */
    float *sig, *sigbar;        /* [rows * n_final] signal and its adjoint */
    float *pg;                  /* [n_state] P, then G, when no record holds them */
    float *sq, *sqbar;          /* [act_width] Oja's sums of post^2 and their adjoints */
    double *row_sum;            /* [act_width] per-row partial sums */
    float *e0, *e0bar;          /* rule family: [rows * n_in] the input's error and its adjoint */
    float *work;                /* rule family: [2 * rows * in_width] the terms' scratch */
} flp__lt_scratch;

struct flp_lifetime {
    flp_net *net;
    flp_feedback *fb;
    flp_rule *rule;
    int front;                  /* net layers of the front-end (0: none) */
    int front_params;           /* the front-end has parameters: its gradient is wanted */
    int64_t n_image;            /* per-example network input size */
    flp__net_ws front_ws;       /* the front-end's activations for the episode's examples */
    float **front_grad;         /* [2 * front]: where front-end layer i's weight and bias
                                   gradients go (the handles' or a sink's) */
    float *featbar;             /* [K*B + Q, n_in of dense layer 0]: dLoss/dfeatures */
    int64_t featbar_floats;
    int n;                      /* dense layers */
    flp__lt_layer *layer;
    int *order_all;             /* layer indices, largest first: the order of parallel tasks */
    int *order_plastic;         /* the plastic ones among them */
    int n_plastic;
    int lowest_plastic;         /* dense index of the lowest plastic layer (n if none) */
    int gradient_rule;          /* FLP_RULE_GRADIENT: the step is a gradient step */
    int family;                 /* FLP_RULE_FAMILY: chained errors and candidate terms */
    float *gtheta;              /* where the family's theta gradient goes (like the layers' g*) */
    int reinit;                 /* FLP_LIFETIME_REINIT */
    double reinit_seed;         /* FLP_LIFETIME_REINIT_SEED */
    int threads;                /* threads for the parallel phases (flp_get_num_threads) */
    int64_t n_state;            /* floats in one copy of the plastic weights */
    int64_t act_width;          /* sum of n_out over layers */
    int64_t in_width;           /* sum of n_in over layers */
    int64_t n_final;            /* output size */
    double budget_bytes;        /* 0 = unlimited */
    int check_finite;

    float *W;                   /* current state */
    float *Wbar;                /* adjoint of the state */
    flp__lt_scratch s;
    float *arena;               /* checkpoints and records of the reverse sweep */
    int64_t arena_floats;
    int64_t scratch_floats;     /* W, Wbar and the scratch block */

    /* the episode being run */
    const flp_episode *ep;
    int64_t K, batch, n_query;
    int classification;
    const float *x, *y, *xq, *yq;
    const int32_t *labels, *lq;
    float *xbar, *xqbar;        /* dLoss/dx and dLoss/dxq to accumulate, or NULL: not wanted */

    int have_run;
    int64_t recomputed, workspace_bytes;
    /* matrix-product work: per example of each kind of pass (set by the
     * layout), and the total of the last run */
    double flops_dense, flops_pathway, flops_update, flops_reverse, flops_backprop;
    double flops_front, flops_front_back; /* front-end forward, and its VJP */
    double flops;
};

/* Batches are processed in chunks of this many rows, one task each: the
 * forward pass and the backpropagated chain are row-independent. The chunks
 * depend on the row count only, never on the thread count. */
#define FLP__ROW_CHUNK 16
static inline int64_t flp__lt_row_chunks(int64_t rows) { return (rows + FLP__ROW_CHUNK - 1) / FLP__ROW_CHUNK; }

/* ---- lifetime.c: the forward half ---- */
/* Bind `ep`, lay out the state and scratch for it, load the initial state
 * into lt->W and compute the front-end's features (lt->x, lt->xq become
 * the dense stack's inputs): what every run does before its first step,
 * here without gradient. */
flp_status flp__lt_begin(flp_lifetime *lt, const flp_episode *ep);
/* Activities h_{i+1} of dense layer i ([n, n_out_i]) for n examples x (the
 * dense stack's inputs, such as lt->x) under `state`, in chunks the scratch
 * holds (clobbers lt->s.acts). */
void flp__lt_activity(flp_lifetime *lt, const float *state, int i, int64_t n, const float *x, float *h);
/* Weights and bias layer i uses under `state`. */
const float *flp__lt_weight(const flp_lifetime *lt, int i, const float *state);
const float *flp__lt_bias(const flp_lifetime *lt, int i, const float *state);
/* Forward pass of `rows` examples x under `state` into acts ([rows, act_width] blocks). */
void flp__lt_forward(const flp_lifetime *lt, const float *state, int64_t rows, const float *x, float *acts);
/* p = softmax(z) of one row of n logits. */
void flp__lt_softmax(int64_t n, const float *z, float *p);
/* The feedback signal of step k from its activities, into lt->s.sig. */
void flp__lt_signal(flp_lifetime *lt, int64_t k, const float *acts);
/* Whether layer i's postsynaptic activity is the signal itself (a clamped output). */
int flp__lt_clamped(const flp_lifetime *lt, int i);
/* post_i (and pathway pre-activation g_i) of every plastic layer, into lt->s.post / lt->s.g
 * (layers in parallel). */
void flp__lt_post(flp_lifetime *lt, const float *acts);
/* sq[r] = sum over the batch of post[:, r]^2 (Oja's decay term). */
void flp__lt_column_sumsq(int64_t B, int64_t n, const float *post, float *sq);
/* Presynaptic activity of plastic layer i at step k. */
const float *flp__lt_pre(const flp_lifetime *lt, int i, int64_t k, const float *acts);
/* One inner step k: state W_k -> W_{k+1} in place. saved_W (if not NULL)
 * is a record: it receives W_k, then P_k (the step gradient under the
 * gradient rule). The step's activities are computed into `acts` (scratch if
 * NULL), or, with have_acts, read from it: a recomputation from stored
 * activities skips the forward pass. Returns FLP_ERR_NONFINITE (naming step
 * and layer) if a weight became non-finite. */
flp_status flp__lt_step(flp_lifetime *lt, int64_t k, float *state, float *saved_W, float *acts,
                        int have_acts);

/* ---- frontend.c: the frozen front-end ---- */
/* Number of net layers before the dense stack (through the flatten; 0 for
 * a rank-1 input), or FLP_ERR_UNSUPPORTED naming the layer that does not
 * belong to a front-end. */
flp_status flp__lt_frontend_layers(const flp_net *net, int *front);
/* Features of every example of the bound episode, in one batched pass:
 * lt->x and lt->xq then point at them; with want_gradient (and front-end
 * parameters), lt->xbar / lt->xqbar at zeroed gradients. */
flp_status flp__lt_frontend_forward(flp_lifetime *lt, int want_gradient);
/* Send the collected feature gradients back through the front-end, into
 * its parameters' gradients (one batched pass). */
void flp__lt_frontend_backward(flp_lifetime *lt);
/* Features of `rows` network inputs x (lt->x's layout); x itself without a
 * front-end. */
flp_status flp__lt_features(flp_lifetime *lt, int64_t rows, const float *x, const float **features);
/* Floats the front-end holds for the run: its activations for every
 * example of the episode and their gradient (0 without a front-end); part
 * of the workspace the memory budget bounds. */
int64_t flp__lt_frontend_floats(const flp_lifetime *lt);
void flp__lt_frontend_free(flp_lifetime *lt);

/* flp_lifetime_run with two differences, for flp_batch's workers: the
 * meta-gradient goes to `sink` (zeroed first), a flat array laid out like
 * `list` (the tensor list of a meta-optimizer over the same handles), not
 * to the handles; and the parallel phases use `threads` threads. */
flp_status flp__lt_run_private(flp_lifetime *lt, const flp_episode *ep, const flp__tensor_list *list,
                               float *sink, int threads, float *loss);

/* ---- lifetime_reverse.c ---- */
/* Loss on the query set under `state`; with `want_gradient`, seed the
 * adjoint: Wbar = dLoss/dstate, and add dLoss/d(b, frozen W) to the net. */
flp_status flp__lt_query(flp_lifetime *lt, const float *state, int want_gradient, float *loss);
/* Reverse of step k from its record (W_k, then P_k, which it overwrites) and
 * its activities: Wbar (adjoint of W_{k+1})
 * becomes the adjoint of W_k; gradients of every meta-parameter accumulate. */
void flp__lt_reverse_step(flp_lifetime *lt, int64_t k, float *Wk, const float *acts);

/* Loss of `rows` outputs `out` against targets y (regression) or labels:
 * the mean squared error over every output, or the mean cross-entropy.
 * With grad, seeds dLoss/dout there. */
double flp__lt_loss(const flp_lifetime *lt, int64_t rows, const float *out, const float *y,
                    const int32_t *labels, float *grad);
/* dL/dz from dL/dh (hb, in place) through layer i's activation, given h. */
void flp__lt_activation_vjp(const flp__lt_layer *d, int64_t n, const float *h, float *hb);
/* dL/dz_i of every layer i >= lowest, from dL/dh blocks in hbar (turned
 * into dL/dz_i in place; layer `lowest` passes nothing below). */
void flp__lt_chain(flp_lifetime *lt, const float *state, int64_t rows, const float *acts, float *hbar,
                   int lowest);
/* Adjoint of the dense forward pass of `rows` examples under `state`: hbar
 * holds dLoss/dh_i blocks (consumed). Meta-gradient (step_only = 0): the
 * gradients of what the state holds go to gstate (lt->Wbar), the others
 * to the network's gW / gb. Step gradient (step_only = 1): the chain stops
 * at the lowest plastic layer and only the state's gradients are added to
 * gstate. */
void flp__lt_backprop(flp_lifetime *lt, const float *state, int64_t rows, const float *x,
                      const float *acts, float *hbar, float *gstate, int step_only);
/* dx += dz_0 W_0 (dz_0 in its hbar block after a chain to layer 0) for
 * `rows` examples under `state`: the inputs' share of the gradient. */
void flp__lt_input_vjp(flp_lifetime *lt, const float *state, int64_t rows, const float *hbar, float *dx);

/* ---- gradient_rule.c: the gradient-based baseline ---- */
/* The loss gradient of step k's batch under `state`, into G (state layout),
 * from the step's activities. */
void flp__lt_step_gradient(flp_lifetime *lt, int64_t k, const float *state, float *G, const float *acts);
/* W -= alpha ⊙ gW, b -= lr_b ⊙ gb for plastic layer i; 1 if a value became
 * non-finite. */
int flp__lt_gradient_update(const flp_lifetime *lt, int i, float *state, const float *G);
/* Reverse of a gradient step from its record (W_k, then the step gradient,
 * which it overwrites): the learning rates' gradients; under second order
 * also the Hessian-vector product through the step's loss. */
void flp__lt_gradient_reverse(flp_lifetime *lt, int64_t k, float *Wk, const float *acts);

/* ---- rule_family.c: the rule family over chained feedback ---- */
/* p = softmax(yhat) into lt->s.sig and every error e_i of step k under
 * `state`: e_0 into lt->s.e0, the others into lt->s.post (layer blocks). */
void flp__lt_family_errors(flp_lifetime *lt, int64_t k, const float *state, const float *acts);
/* W_i += sum_t theta_t T_t for plastic layer i, the sum kept in P (state
 * layout); 1 if a weight became non-finite. */
int flp__lt_family_update(const flp_lifetime *lt, int i, int64_t k, float *state, float *P, const float *acts);
/* Reverse of a family step from its record (W_k, then P_k, which it uses
 * as scratch): theta's gradient, the feedback's (or, symmetric, the
 * weights'), and the adjoint of W_k. */
void flp__lt_family_reverse(flp_lifetime *lt, int64_t k, float *Wk, const float *acts);
/* The family's products per example into lt->flops_*. */
void flp__lt_family_work(flp_lifetime *lt);

/* ---- segments.c: the checkpoint schedule ---- */
/* Run steps [0, K) from the state in lt->W, leaving W_K there, measure the
 * query loss and, with want_gradient, sweep back through every step,
 * checkpointing within lt->budget_bytes. Leaves the adjoint of W_0 in
 * lt->Wbar. */
flp_status flp__lt_sweep(flp_lifetime *lt, int want_gradient, float *loss);

#endif
