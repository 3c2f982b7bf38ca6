/* rule_terms.c - the rule family's candidate terms, each a value and its
 * vector-Jacobian product (see rule_terms.h; derivations in doc/MATH.md).
 * All products go through BLIS; sums over the batch are matrix products. */
#include "plasticity/rule_terms.h"

#include "core/gemm.h"
#include "flp/flp_plasticity.h"

/* ---- outer products of two batches: T = -a^T b (a [B, n], b [B, m]) ---- */

static void outer_value(const flp__term_in *in, const float *a, const float *b, float scale, float *T)
{
    flp__gemm_tn(in->n, in->m, in->B, -scale, a, in->n, b, in->m, 1.0f, T, in->m);
}

/* abar += -scale b Tbar^T, bbar += -scale a Tbar */
static void outer_vjp(const flp__term_in *in, const float *a, const float *b, const float *Tbar, float scale,
                      float *abar, float *bbar)
{
    if (abar)
        flp__gemm_nt(in->B, in->n, in->m, -scale, b, in->m, Tbar, in->m, 1.0f, abar, in->n);
    if (bbar)
        flp__gemm_nn(in->B, in->m, in->n, -scale, a, in->n, Tbar, in->m, 1.0f, bbar, in->m);
}

/* ---- pseudo-gradient: -e_{l+1}^T y_l ------------------------------------ */

static void pseudo_gradient_value(const flp__term_in *in, float scale, float *T)
{
    outer_value(in, in->err_post, in->pre, scale, T);
}

static void pseudo_gradient_vjp(const flp__term_in *in, const float *Tbar, float scale, const flp__term_adj *adj)
{
    outer_vjp(in, in->err_post, in->pre, Tbar, scale, adj->err_post, adj->pre);
}

/* ---- error-based Hebbian: -e_{l+1}^T e_l ---------------------------------- */

static void error_hebb_value(const flp__term_in *in, float scale, float *T)
{
    outer_value(in, in->err_post, in->err_pre, scale, T);
}

static void error_hebb_vjp(const flp__term_in *in, const float *Tbar, float scale, const flp__term_adj *adj)
{
    outer_vjp(in, in->err_post, in->err_pre, Tbar, scale, adj->err_post, adj->err_pre);
}

/* ---- Oja's subspace rule: y^T x - (y^T y) W = y^T D, D = x - y W ---------
 * Written through D [B, m] so that no [n, n] matrix is formed. */

static void oja_residual(const flp__term_in *in, float *D)
{
    int64_t len = in->B * in->m;
    flp__gemm_nn(in->B, in->m, in->n, -1.0f, in->post, in->n, in->W, in->m, 0.0f, D, in->m);
    for (int64_t j = 0; j < len; j++)
        D[j] += in->pre[j];
}

static void oja_value(const flp__term_in *in, float scale, float *T)
{
    float *D = in->work;
    oja_residual(in, D);
    flp__gemm_tn(in->n, in->m, in->B, scale, in->post, in->n, D, in->m, 1.0f, T, in->m);
}

/* T = y^T D: ybar += scale D Tbar^T, Dbar = scale y Tbar; then through
 * D = x - y W: xbar += Dbar, ybar -= Dbar W^T, Wbar -= y^T Dbar. */
static void oja_vjp(const flp__term_in *in, const float *Tbar, float scale, const flp__term_adj *adj)
{
    float *D = in->work, *Dbar = in->work + in->B * in->m;
    int64_t len = in->B * in->m;
    oja_residual(in, D);
    flp__gemm_nn(in->B, in->m, in->n, scale, in->post, in->n, Tbar, in->m, 0.0f, Dbar, in->m);
    if (adj->post) {
        flp__gemm_nt(in->B, in->n, in->m, scale, D, in->m, Tbar, in->m, 1.0f, adj->post, in->n);
        flp__gemm_nt(in->B, in->n, in->m, -1.0f, Dbar, in->m, in->W, in->m, 1.0f, adj->post, in->n);
    }
    if (adj->pre)
        for (int64_t j = 0; j < len; j++)
            adj->pre[j] += Dbar[j];
    if (adj->W)
        flp__gemm_tn(in->n, in->m, in->B, -1.0f, in->post, in->n, Dbar, in->m, 1.0f, adj->W, in->m);
}

const flp__rule_term flp__rule_terms[FLP__N_TERMS] = {
    [FLP_TERM_PSEUDO_GRADIENT] = {"pseudo-gradient", pseudo_gradient_value, pseudo_gradient_vjp},
    [FLP_TERM_ERROR_HEBB] = {"error-Hebbian", error_hebb_value, error_hebb_vjp},
    [FLP_TERM_OJA] = {"Oja", oja_value, oja_vjp},
};
