/*
 * profile: binned profile likelihood on the classifier score.
 *
 * The model: in score bin b, process p is expected to give
 *   Y[p][b] * norm_p * exp(P_tes,p,b(a_tes) + P_jes,p,b(a_jes) + P_met,p,b(u))
 * events, where Y is the nominal template, norm_p = mu for the signal and
 * the background scales otherwise, each P is a per-bin polynomial (no
 * constant term) fitted to templates built at shifted nuisance values, and
 * u = soft_met^2. The likelihood is Poisson in each bin, times one
 * Gaussian-constrained factor per bin for the simulation statistics of the
 * templates (profiled analytically, "Barlow-Beeston lite"), times the
 * constraints of the nuisances.
 */
#ifndef HBX_PROFILE_H
#define HBX_PROFILE_H

#include "baseline.h"
#include "classifier.h"

#define PR_MAX_BINS 64
#define PR_DEG 2 /* polynomial degree of the shape dependence */

/* Nuisances that change the shapes (templates built through systematics). */
enum { PR_TES, PR_JES, PR_MET, PR_N_SHAPES };

/* Parameters of the fit. The nuisances are in units of their §5 width:
 * tes = 1 + 0.01 a_tes, jes = 1 + 0.01 a_jes, ttbar_scale = 1 + 0.02 a_ttbar,
 * diboson_scale = 1 + 0.25 a_diboson, bkg_scale = 1 + 0.001 a_bkg, all with
 * standard normal constraints; soft_met = exp(t_met) (its LogNormal(0, 1)
 * law), capped at 5 as the pseudo-experiments clip it. */
enum {
    PR_MU,
    PR_A_TES,
    PR_A_JES,
    PR_T_MET,
    PR_A_TTBAR,
    PR_A_DIBOSON,
    PR_A_BKG,
    PR_N_PARAMS
};

#define PR_SIGMA_TES 0.01
#define PR_SIGMA_JES 0.01
#define PR_SIGMA_TTBAR 0.02
#define PR_SIGMA_DIBOSON 0.25
#define PR_SIGMA_BKG 0.001
#define PR_SOFT_MET_MAX 5.0

typedef struct pr_model {
    int n_bins;
    float edges[PR_MAX_BINS - 1]; /* bin b holds edges[b-1] <= score < edges[b] */
    double yield[HBX_N_PROCESSES][PR_MAX_BINS];           /* nominal expected events */
    double coef[PR_N_SHAPES][HBX_N_PROCESSES][PR_MAX_BINS][PR_DEG];
    double mc_rel2[PR_MAX_BINS]; /* squared relative simulation error of the bin's total */
} pr_model;

/* Builds the model from held-out training events: scores the nominal set,
 * places bin edges (equal expected signal per bin, merged until each bin has
 * cfg->min_mc_events simulated background events), then fits the per-bin
 * polynomials to templates made through the systematics service. `clf`
 * scores with whatever threads it is set to. Returns HBX_OK or HBX_E_*
 * (logged). */
int pr_build_model(const hbx_host_api *host, const bl_config *cfg, const bl_classifier *clf,
                   const bl_events *held, pr_model *m);

/* Bin of a score. */
int pr_bin_of(const pr_model *m, float score);

/* Expected events per bin at the parameters `p` (PR_N_PARAMS values). */
void pr_expected(const pr_model *m, const double *p, double *nu);

/* What the fit of one set of counts found. */
typedef struct pr_fit {
    double params[PR_N_PARAMS]; /* at the global minimum */
    int evaluations;            /* conditional fits run for the interval */
    int unbounded; /* the data bound mu on one side at most: the interval was cut */
} pr_fit;

/* Fits the counts n[0 .. n_bins) and fills *out: mu_hat at the global
 * minimum, [p16, p84] where -2 Delta ln L = 1 with every nuisance profiled
 * (free_mask selects which parameters besides mu float: bit PR_A_TES etc.;
 * fixed ones stay at 0, i.e. nominal, and soft_met at 1). Where the data do
 * not bound mu (an empty PE), that end is cut about a thousand stat-only
 * errors away and info->unbounded is set. `info` may be NULL. Returns
 * HBX_OK, or HBX_E_PLUGIN when the minimiser or the interval search failed. */
int pr_fit_interval(const pr_model *m, const double *n, unsigned free_mask, hbx_prediction *out,
                    pr_fit *info);

#define PR_ALL_NUISANCES                                                                     \
    ((1u << PR_A_TES) | (1u << PR_A_JES) | (1u << PR_T_MET) | (1u << PR_A_TTBAR) |          \
     (1u << PR_A_DIBOSON) | (1u << PR_A_BKG))

#endif
