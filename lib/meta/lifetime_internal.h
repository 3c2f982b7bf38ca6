/* lifetime_internal.h - the lifetime's layout, shared by the forward half
 * (lifetime.c), the reverse sweep (lifetime_reverse.c) and the checkpoint
 * schedule (segments.c).
 *
 * Vocabulary. The network is a stack of L dense layers i = 0..L-1:
 * h_0 = x, z_i = h_i W_i^T + b_i, h_{i+1} = act_i(z_i). The *state* is the
 * concatenated weights of the plastic layers, the only thing a lifetime
 * changes. A *record* of step k is the state before the step (W_k), the
 * step's Hebbian outer products P_k (same layout as the state) and, unless
 * they are stored apart, the step's forward activities h_1..h_L; the reverse
 * sweep needs one record per step and rebuilds them segment by segment from
 * sparse checkpoints. */
#ifndef FLP_META_LIFETIME_INTERNAL_H
#define FLP_META_LIFETIME_INTERNAL_H

#include "flp/flp_lifetime.h"
#include "net/net_internal.h"
#include "plasticity/plasticity_internal.h"

enum { FLP__ACT_NONE = 0, FLP__ACT_RELU = 1, FLP__ACT_SOFTPLUS = 2 };

typedef struct {
    int net_index;              /* index of the linear layer in the network */
    int64_t n_in, n_out;
    int act;                    /* FLP__ACT_* applied after the linear map */
    float softplus_beta;
    int plastic;
    float mult;                 /* m_i: hidden multiplier, or 1 for the output layer */
    int64_t w_off;              /* offset of W_i in the state (plastic layers) */
    int64_t h_off;              /* per-example offset of h_{i+1} in an activity block */
    flp__layer *net_layer;      /* W (initial or frozen), b and their gradients */
    flp__pathway *path;
    flp__plastic_layer *rule;
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
} flp__lt_scratch;

struct flp_lifetime {
    flp_net *net;
    flp_feedback *fb;
    flp_rule *rule;
    int n;                      /* dense layers */
    flp__lt_layer *layer;
    int *order_all;             /* layer indices, largest first: the order of parallel tasks */
    int *order_plastic;         /* the plastic ones among them */
    int n_plastic;
    int threads;                /* threads for the parallel phases (flp_get_num_threads) */
    int64_t n_state;            /* floats in one copy of the plastic weights */
    int64_t act_width;          /* sum of n_out over layers */
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

    int have_run;
    int64_t recomputed, workspace_bytes;
    /* matrix-product work: per example of each kind of pass (set by the
     * layout), and the total of the last run */
    double flops_dense, flops_pathway, flops_update, flops_reverse, flops_backprop;
    double flops;
};

/* Batches are processed in chunks of this many rows, one task each: the
 * forward pass and the backpropagated chain are row-independent. The chunks
 * depend on the row count only, never on the thread count. */
#define FLP__ROW_CHUNK 16
static inline int64_t flp__lt_row_chunks(int64_t rows) { return (rows + FLP__ROW_CHUNK - 1) / FLP__ROW_CHUNK; }

/* ---- lifetime.c: the forward half ---- */
/* Weights layer i uses under `state`. */
const float *flp__lt_weight(const flp_lifetime *lt, int i, const float *state);
/* Forward pass of `rows` examples x under `state` into acts ([rows, act_width] blocks). */
void flp__lt_forward(const flp_lifetime *lt, const float *state, int64_t rows, const float *x, float *acts);
/* The feedback signal of step k from its activities, into lt->s.sig. */
void flp__lt_signal(flp_lifetime *lt, int64_t k, const float *acts);
/* Whether layer i's postsynaptic activity is the signal itself (a clamped output). */
int flp__lt_clamped(const flp_lifetime *lt, int i);
/* post_i (and pathway pre-activation g_i) of every plastic layer, into lt->s.post / lt->s.g. */
void flp__lt_post(flp_lifetime *lt, const float *acts);
/* sq[r] = sum over the batch of post[:, r]^2 (Oja's decay term). */
void flp__lt_column_sumsq(int64_t B, int64_t n, const float *post, float *sq);
/* Presynaptic activity of plastic layer i at step k. */
const float *flp__lt_pre(const flp_lifetime *lt, int i, int64_t k, const float *acts);
/* One inner step k: state W_k -> W_{k+1} in place. saved_W (if not NULL)
 * is a record: it receives W_k, then P_k. The step's activities are computed into `acts` (scratch if
 * NULL), or, with have_acts, read from it: a recomputation from stored
 * activities skips the forward pass. Returns FLP_ERR_NONFINITE (naming step
 * and layer) if a weight became non-finite. */
flp_status flp__lt_step(flp_lifetime *lt, int64_t k, float *state, float *saved_W, float *acts,
                        int have_acts);

/* ---- lifetime_reverse.c ---- */
/* Loss on the query set under `state`; with `want_gradient`, seed the
 * adjoint: Wbar = dLoss/dstate, and add dLoss/d(b, frozen W) to the net. */
flp_status flp__lt_query(flp_lifetime *lt, const float *state, int want_gradient, float *loss);
/* Reverse of step k from its record (W_k, then P_k, which it overwrites) and
 * its activities: Wbar (adjoint of W_{k+1})
 * becomes the adjoint of W_k; gradients of every meta-parameter accumulate. */
void flp__lt_reverse_step(flp_lifetime *lt, int64_t k, float *Wk, const float *acts);

/* Adjoint of the dense forward pass of `rows` examples under `state`: hbar
 * holds dLoss/dh_i blocks (consumed); weight gradients go to Wbar (plastic
 * layers) or the network's gW (frozen ones), bias gradients to its gb. */
void flp__lt_backprop(flp_lifetime *lt, const float *state, int64_t rows, const float *x,
                      const float *acts, float *hbar);

/* ---- segments.c: the checkpoint schedule ---- */
/* Run steps [0, K) from the state in lt->W, leaving W_K there, measure the
 * query loss and, with want_gradient, sweep back through every step,
 * checkpointing within lt->budget_bytes. Leaves the adjoint of W_0 in
 * lt->Wbar. */
flp_status flp__lt_sweep(flp_lifetime *lt, int want_gradient, float *loss);

#endif
