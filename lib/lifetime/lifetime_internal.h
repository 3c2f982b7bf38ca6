/* lifetime_internal.h - the lifetime's layout, shared by every file of
 * lib/lifetime (doc/ARCHITECTURE.md draws the whole engine):
 *     analysis.c   flp_analysis.h's measurements, over the handle and the step
 *     lifetime.c   the handle, its layout per run, the runs themselves
 *     sweep.c      the inner step and the checkpointed reverse sweep
 *     rules.c      the table of rules, one entry per flp_rule_kind (rules.h)
 *     rule_*.c     one rule each: its step and the reverse of its step
 *     dense.c      the dense stack every rule runs on (dense.h)
 *     frontend.c   the frozen convolutional front-end (frontend.h)
 * Calls go down that list only: the sweep reaches a rule through the
 * table, and no rule calls the engine back.
 *
 * Vocabulary. The network is a stack of L dense layers i = 0..L-1:
 * h_0 = x, z_i = h_i W_i^T + b_i, h_{i+1} = act_i(z_i). The *state* is what
 * a lifetime changes: per plastic layer its weights W_i and, when the rule
 * changes them (the gradient rule), then its bias b_i. A *record* of step k
 * is the state before the step (W_k), one more state-shaped array (whatever
 * the rule's reverse wants kept of the step: the Hebbian outer products
 * P_k, the step's loss gradient, the family's summed terms) and, unless
 * they are stored apart, the step's forward activities h_1..h_L; the
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
    const struct flp__lt_rule *ops; /* the rule's operations (rules.h), chosen at creation */
    float *gtheta;              /* where the family's theta gradient goes (like the layers' g*) */
    flp__tensor_list tensors;   /* the handles' meta-parameters, by name: what the run binds */
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

/* ---- lifetime.c: the handle, its layout and its runs ---- */
/* Bind `ep`, lay out the state and scratch for it, load the initial state
 * into lt->W and compute the front-end's features (lt->x, lt->xq become
 * the dense stack's inputs): what every run does before its first step,
 * here without gradient. */
flp_status flp__lt_begin(flp_lifetime *lt, const flp_episode *ep);
/* flp_lifetime_run with two differences, for flp_batch's workers: the
 * meta-gradient goes to `sink` (zeroed first), a flat array laid out like
 * `list` (the tensor list of a meta-optimizer over the same handles), not
 * to the handles; and the parallel phases use `threads` threads. */
flp_status flp__lt_run_private(flp_lifetime *lt, const flp_episode *ep, const flp__tensor_list *list,
                               float *sink, int threads, float *loss);

#endif
