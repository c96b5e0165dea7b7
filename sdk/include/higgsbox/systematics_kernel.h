/*
 * The per-event systematics kernel (HIGGSML.md §4, steps 1-5): the one
 * implementation of how tes, jes, soft_met, rounding and the post-selection
 * change an event's primary features. hbx_systematics_apply() (SDK) and the
 * pseudo-experiment generator (libhiggsbox, pe.h) both call it, so a shift
 * service call and a PE treat an event identically. DER features are then
 * recomputed by hbx_derive_columns() (step 6) and weights scaled by the
 * caller (step 7).
 *
 * The work splits in two:
 *   hbx_syst_prepare()  once per source event: everything that does not
 *                       depend on the nuisances (transverse vectors, rounded
 *                       copies of the features the systematics never change),
 *                       packed in one 64-byte cache line;
 *   hbx_syst_shift()    once per shifted event: a few multiply-adds, one
 *                       sqrt, one atan2, roundings and the cuts.
 *
 * Shared by libhiggsbox and the SDK library; not part of the plugin ABI.
 * docs/SYSTEMATICS.md states every rule with a worked example.
 */
#ifndef HIGGSBOX_SYSTEMATICS_KERNEL_H
#define HIGGSBOX_SYSTEMATICS_KERNEL_H

#include <math.h>
#include <stdint.h>

#include "higgsbox/physics.h"
#include "higgsbox/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Thresholds of the post-selection (GeV). */
#define HBX_CUT_HAD_PT 26.0f /* events with had_pt below are dropped */
#define HBX_CUT_JET_PT 26.0f /* jets with 0 <= pt <= this are removed */
#define HBX_CUT_LEP_PT 20.0f /* events with lep_pt below are dropped */

/* Indices into hbx_syst_event.milli: features the systematics never change,
 * stored rounded to 3 decimals as integer thousandths. */
enum {
    HBX_MILLI_LEP_ETA,
    HBX_MILLI_LEP_PHI,
    HBX_MILLI_HAD_ETA,
    HBX_MILLI_HAD_PHI,
    HBX_MILLI_JET1_ETA,
    HBX_MILLI_JET1_PHI,
    HBX_MILLI_JET2_ETA,
    HBX_MILLI_JET2_PHI,
    HBX_N_MILLI
};

/* Largest |value| a milli field can hold (int16 thousandths): pseudorapidity
 * and azimuth (and the -25 placeholder) are far inside it. */
#define HBX_MILLI_MAX 32.767

/* One source event, prepared. 64 bytes: one cache line per event read. */
typedef struct hbx_syst_event {
    float had_pt, jet1_pt, jet2_pt, jet_all_pt; /* as given: the scales act on them */
    float met_x, met_y;   /* nominal MET vector */
    float had_px, had_py; /* original hadronic tau transverse momentum */
    float jet_px, jet_py; /* sum over the leading/subleading jets that exist */
    float lep_pt;         /* rounded to 3 decimals (never changed) */
    int16_t milli[HBX_N_MILLI];
    uint8_t n_jets;
    uint8_t process; /* free for the caller (the PE pool keeps hbx_process) */
    uint8_t spare[2];
} hbx_syst_event;

_Static_assert(sizeof(hbx_syst_event) == 64, "hbx_syst_event must fill one cache line");

/* The nuisances as the kernel uses them. */
typedef struct hbx_syst_params {
    double tes, jes;       /* scale factors */
    double tes_m1, jes_m1; /* tes - 1, jes - 1 */
    double soft_met;       /* sigma of the soft term, GeV; 0 = none */
    int post_selection;
} hbx_syst_params;

/* What happened to one event, step by step (for `higgsbox shift --show` and
 * the worked example of docs/SYSTEMATICS.md). */
typedef struct hbx_syst_trace {
    double had_pt, jet1_pt, jet2_pt, jet_all_pt; /* after tes/jes, unrounded */
    double had_px, had_py, jet_px, jet_py;       /* prepared vectors (original) */
    double met_x0, met_y0;                       /* nominal MET vector */
    double met_x_tes, met_y_tes;                 /* after step 1 */
    double met_x_jes, met_y_jes;                 /* after step 2 */
    double soft_x, soft_y;                       /* step 3 noise (GeV) */
    double met_x, met_y;                         /* after step 3 */
    double met, met_phi;                         /* step 4, before rounding */
    float rounded[HBX_N_PRIMARY];                /* step 4 result */
    int dropped_had, removed_jet2, removed_jet1, dropped_lep; /* step 5 */
} hbx_syst_trace;

/* x rounded to 3 decimals as numpy.round does (half to even on x * 1000),
 * computed in double and returned as float. The add-and-subtract of 1.5 *
 * 2^52 rounds to an integer in the current (nearest-even) mode without a
 * libm call; it is exact for |x * 1000| < 2^51, far beyond any physical
 * value. Zero comes out as +0.
 *
 * numpy then divides by 1000. For integers |k| <= 2^25 (values up to 33554)
 * (float)(k * 0.001) equals (float)(k / 1000.0) -- checked exhaustively by
 * tests/test_systematics.c -- and a multiply costs a fraction of a divide,
 * which matters at 13 roundings per event. */
static inline float hbx_thousandths(double k)
{
    return (float)(fabs(k) <= 0x1p25 ? k * 0.001 : k / 1000.0);
}

static inline float hbx_round3(double x)
{
    double y = x * 1000.0;
    double k = fabs(y) < 0x1p51 ? (y + 0x1.8p52) - 0x1.8p52 : y;
    return hbx_thousandths(k);
}

/* Value of a milli field: the same expression as hbx_round3's last step, so
 * an unchanged feature comes out bit-identical to re-rounding it. */
static inline float hbx_milli_value(int16_t k)
{
    return hbx_thousandths((double)k);
}

/* Fills the kernel parameters from nuisances (no validation: see
 * hbx_nuisances_check). */
void hbx_syst_params_init(hbx_syst_params *p, const hbx_nuisances *nu);

/* 0 when the nuisances are usable: all finite, tes > 0, jes > 0,
 * soft_met >= 0, the three scales >= 0, reserved == 0. -1 otherwise. */
int hbx_nuisances_check(const hbx_nuisances *nu);

/* Prepares one event from its 16 PRI features. Returns 0, or -1 when the
 * event cannot be represented: a non-finite value, an eta/phi beyond
 * +-32.767, or n_jets not a whole number in [0, 255]. */
int hbx_syst_prepare(const float pri[HBX_N_PRIMARY], hbx_syst_event *ev);

/* The soft-MET noise of row `row` of a shift with seed `seed`: the first two
 * normal deviates of stream (hbx_rng_key(seed, HBX_RNG_PURPOSE_SHIFT), row). */
#define HBX_RNG_PURPOSE_SHIFT 1u

/* The post-selection's event cuts alone (had_pt after tes, lep_pt): 0 when
 * the event will be dropped, so a caller can skip drawing its noise and
 * shifting it. hbx_syst_shift applies the same test. */
static inline int hbx_syst_passes_event_cuts(const hbx_syst_event *e, const hbx_syst_params *p)
{
    return !p->post_selection || (hbx_round3((double)e->had_pt * p->tes) >= HBX_CUT_HAD_PT &&
                                  e->lep_pt >= HBX_CUT_LEP_PT);
}

/*
 * Shifts one prepared event (steps 1-5). gx, gy: two standard normal
 * deviates for the soft term (ignored when p->soft_met == 0). Writes the 16
 * PRI features to pri[] and returns 1 when the event survives the
 * post-selection, 0 when it is dropped (pri[] is then still filled). `trace`
 * may be NULL.
 *
 * Arithmetic is double throughout; each PRI feature is rounded to float once.
 * Order of the MET update (it fixes the last bits):
 *   m = met - (tes - 1) * had_pxy;  m = m - (jes - 1) * jets_pxy;
 *   m = m + soft_met * g.
 */
static inline int hbx_syst_shift(const hbx_syst_event *e, const hbx_syst_params *p, double gx,
                                 double gy, float pri[HBX_N_PRIMARY], hbx_syst_trace *trace)
{
    const int n_jets = e->n_jets;
    /* Steps 1-2: scales. Absent jets keep their -25 placeholder. */
    const double had_pt = (double)e->had_pt * p->tes;
    const double jet1_pt = n_jets >= 1 ? (double)e->jet1_pt * p->jes : (double)e->jet1_pt;
    const double jet2_pt = n_jets >= 2 ? (double)e->jet2_pt * p->jes : (double)e->jet2_pt;
    const double jet_all_pt = (double)e->jet_all_pt * p->jes;
    double mx = (double)e->met_x - p->tes_m1 * (double)e->had_px;
    double my = (double)e->met_y - p->tes_m1 * (double)e->had_py;
    if (trace) {
        trace->had_px = e->had_px;
        trace->had_py = e->had_py;
        trace->jet_px = e->jet_px;
        trace->jet_py = e->jet_py;
        trace->met_x0 = e->met_x;
        trace->met_y0 = e->met_y;
        trace->met_x_tes = mx;
        trace->met_y_tes = my;
    }
    mx -= p->jes_m1 * (double)e->jet_px;
    my -= p->jes_m1 * (double)e->jet_py;
    if (trace) {
        trace->met_x_jes = mx;
        trace->met_y_jes = my;
    }
    /* Step 3: soft term. */
    double sx = 0.0, sy = 0.0;
    if (p->soft_met > 0.0) {
        sx = p->soft_met * gx;
        sy = p->soft_met * gy;
        mx += sx;
        my += sy;
    }
    /* Step 4: MET magnitude and azimuth; round every PRI float. */
    const double met = sqrt(mx * mx + my * my);
    const double met_phi = atan2(my, mx);

    pri[HBX_PRI_LEP_PT] = e->lep_pt;
    pri[HBX_PRI_LEP_ETA] = hbx_milli_value(e->milli[HBX_MILLI_LEP_ETA]);
    pri[HBX_PRI_LEP_PHI] = hbx_milli_value(e->milli[HBX_MILLI_LEP_PHI]);
    pri[HBX_PRI_HAD_PT] = hbx_round3(had_pt);
    pri[HBX_PRI_HAD_ETA] = hbx_milli_value(e->milli[HBX_MILLI_HAD_ETA]);
    pri[HBX_PRI_HAD_PHI] = hbx_milli_value(e->milli[HBX_MILLI_HAD_PHI]);
    pri[HBX_PRI_JET_LEADING_PT] = hbx_round3(jet1_pt);
    pri[HBX_PRI_JET_LEADING_ETA] = hbx_milli_value(e->milli[HBX_MILLI_JET1_ETA]);
    pri[HBX_PRI_JET_LEADING_PHI] = hbx_milli_value(e->milli[HBX_MILLI_JET1_PHI]);
    pri[HBX_PRI_JET_SUBLEADING_PT] = hbx_round3(jet2_pt);
    pri[HBX_PRI_JET_SUBLEADING_ETA] = hbx_milli_value(e->milli[HBX_MILLI_JET2_ETA]);
    pri[HBX_PRI_JET_SUBLEADING_PHI] = hbx_milli_value(e->milli[HBX_MILLI_JET2_PHI]);
    pri[HBX_PRI_N_JETS] = (float)n_jets;
    pri[HBX_PRI_JET_ALL_PT] = hbx_round3(jet_all_pt);
    pri[HBX_PRI_MET] = hbx_round3(met);
    pri[HBX_PRI_MET_PHI] = hbx_round3(met_phi);
    if (trace) {
        trace->had_pt = had_pt;
        trace->jet1_pt = jet1_pt;
        trace->jet2_pt = jet2_pt;
        trace->jet_all_pt = jet_all_pt;
        trace->soft_x = sx;
        trace->soft_y = sy;
        trace->met_x = mx;
        trace->met_y = my;
        trace->met = met;
        trace->met_phi = met_phi;
        for (int f = 0; f < HBX_N_PRIMARY; f++)
            trace->rounded[f] = pri[f];
        trace->dropped_had = trace->removed_jet2 = trace->removed_jet1 = trace->dropped_lep = 0;
    }
    if (!p->post_selection)
        return 1;

    /* Step 5, in the order of HIGGSML.md §4: had cut, subleading jet,
     * leading jet, lepton cut. A removed jet is not replaced by the next
     * one (its kinematics are not in the data); see docs/SYSTEMATICS.md. */
    const int drop_had = pri[HBX_PRI_HAD_PT] < HBX_CUT_HAD_PT;
    float n = pri[HBX_PRI_N_JETS];
    const float j2 = pri[HBX_PRI_JET_SUBLEADING_PT];
    const int rm2 = j2 >= 0.0f && j2 <= HBX_CUT_JET_PT;
    if (rm2) {
        pri[HBX_PRI_JET_ALL_PT] = (float)((double)pri[HBX_PRI_JET_ALL_PT] - (double)j2);
        pri[HBX_PRI_JET_SUBLEADING_PT] = HBX_UNDEFINED;
        pri[HBX_PRI_JET_SUBLEADING_ETA] = HBX_UNDEFINED;
        pri[HBX_PRI_JET_SUBLEADING_PHI] = HBX_UNDEFINED;
        n -= 1.0f;
    }
    const float j1 = pri[HBX_PRI_JET_LEADING_PT];
    const int rm1 = j1 >= 0.0f && j1 <= HBX_CUT_JET_PT;
    if (rm1) {
        pri[HBX_PRI_JET_ALL_PT] = (float)((double)pri[HBX_PRI_JET_ALL_PT] - (double)j1);
        pri[HBX_PRI_JET_LEADING_PT] = HBX_UNDEFINED;
        pri[HBX_PRI_JET_LEADING_ETA] = HBX_UNDEFINED;
        pri[HBX_PRI_JET_LEADING_PHI] = HBX_UNDEFINED;
        n -= 1.0f;
    }
    pri[HBX_PRI_N_JETS] = n;
    const int drop_lep = pri[HBX_PRI_LEP_PT] < HBX_CUT_LEP_PT;
    if (trace) {
        trace->dropped_had = drop_had;
        trace->removed_jet2 = rm2;
        trace->removed_jet1 = rm1;
        trace->dropped_lep = drop_lep;
    }
    return !(drop_had | drop_lep);
}

/* hbx_systematics_apply() for a part of a larger dataset: row i of `in` gets
 * the soft-MET noise of row first_row + i. Applying a dataset piecewise with
 * the right offsets gives exactly the events of one whole call. */
int hbx_systematics_apply_from(const hbx_dataset *in, const hbx_nuisances *nu, uint64_t seed,
                               uint64_t first_row, hbx_table *out);

/* Shifts one event as hbx_systematics_apply would as row `row` (all 28
 * features to out[], DER recomputed), recording each step in *trace.
 * Returns 1 kept, 0 dropped by the post-selection, -1 bad event or
 * nuisances. */
int hbx_systematics_trace(const float pri[HBX_N_PRIMARY], const hbx_nuisances *nu, uint64_t seed,
                          uint64_t row, float out[HBX_N_FEATURES], hbx_syst_trace *trace);

#ifdef __cplusplus
}
#endif
#endif /* HIGGSBOX_SYSTEMATICS_KERNEL_H */
