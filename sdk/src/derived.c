/*
 * The derived (DER_*) features of HIGGSML.md §3: the one implementation,
 * used by the importer, the generator, the systematics and the plugins.
 *
 * Called on about a million events per pseudo-experiment, so the event
 * kernel is written to be cheap: one sincos per azimuth and one exp per
 * pseudorapidity (sinh and cosh come from the same exp; the sines of angle
 * differences from the angle-sum identities), absent jets handled by
 * selects rather than branches, no allocation. All arithmetic is double and
 * each output is rounded to float once.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sincos, M_PI: also when built outside this tree */
#endif
#include <math.h>

#include "higgsbox/physics.h"

#define UNDEF ((double)HBX_UNDEFINED)

/* An azimuth's cosine and sine. */
typedef struct angle {
    double c, s;
} angle;

static inline angle angle_of(double phi)
{
    angle a;
    sincos(phi, &a.s, &a.c);
    return a;
}

/* sin(a - b) from the sines and cosines of a and b. */
static inline double sin_diff(angle a, angle b)
{
    return a.s * b.c - a.c * b.s;
}

/* Sign as -1, 0 or +1, like numpy.sign. */
static inline double sign_of(double x)
{
    return (double)((x > 0) - (x < 0));
}

/* (A + B) / sqrt(A² + B²) with A = sin(φmet − φlep)·s, B = sin(φhad − φmet)·s,
 * s = sign(sin(φhad − φlep)); NAN when A² + B² = 0 (the caller retries). */
static inline double centrality_phi(angle lep, angle had, angle met)
{
    double s = sign_of(sin_diff(had, lep));
    double a = sin_diff(met, lep) * s;
    double b = sin_diff(had, met) * s;
    double norm2 = a * a + b * b;
    return norm2 > 0 ? (a + b) / sqrt(norm2) : NAN;
}

void hbx_derive_event(const float pri[HBX_N_PRIMARY], float der[HBX_N_FEATURES - HBX_N_PRIMARY])
{
    const double lep_pt = pri[HBX_PRI_LEP_PT], lep_eta = pri[HBX_PRI_LEP_ETA];
    const double lep_phi = pri[HBX_PRI_LEP_PHI];
    const double had_pt = pri[HBX_PRI_HAD_PT], had_eta = pri[HBX_PRI_HAD_ETA];
    const double had_phi = pri[HBX_PRI_HAD_PHI];
    const double n_jets = pri[HBX_PRI_N_JETS];
    const double met = pri[HBX_PRI_MET], met_phi = pri[HBX_PRI_MET_PHI];
    const int has_lead = n_jets >= 1, has_two = n_jets >= 2;
    /* Absent jets carry -25 placeholders: zero them before any arithmetic so
     * no placeholder leaks into a sum. */
    const double j1_pt = has_lead ? pri[HBX_PRI_JET_LEADING_PT] : 0.0;
    const double j1_eta = has_lead ? pri[HBX_PRI_JET_LEADING_ETA] : 0.0;
    const double j1_phi = has_lead ? pri[HBX_PRI_JET_LEADING_PHI] : 0.0;
    const double j2_pt = has_two ? pri[HBX_PRI_JET_SUBLEADING_PT] : 0.0;
    const double j2_eta = has_two ? pri[HBX_PRI_JET_SUBLEADING_ETA] : 0.0;
    const double j2_phi = has_two ? pri[HBX_PRI_JET_SUBLEADING_PHI] : 0.0;

    const angle a_lep = angle_of(lep_phi), a_had = angle_of(had_phi), a_met = angle_of(met_phi);
    const angle a_j1 = angle_of(j1_phi), a_j2 = angle_of(j2_phi);

    const double lep_px = lep_pt * a_lep.c, lep_py = lep_pt * a_lep.s;
    const double had_px = had_pt * a_had.c, had_py = had_pt * a_had.s;
    const double met_x = met * a_met.c, met_y = met * a_met.s;
    const double j1_px = j1_pt * a_j1.c, j1_py = j1_pt * a_j1.s;
    const double j2_px = j2_pt * a_j2.c, j2_py = j2_pt * a_j2.s;

    /* sinh and cosh from one exp each. */
    const double e_lep = exp(lep_eta), e_had = exp(had_eta);
    const double e_j1 = exp(j1_eta), e_j2 = exp(j2_eta);
    const double lep_pz = lep_pt * 0.5 * (e_lep - 1.0 / e_lep);
    const double lep_p = lep_pt * 0.5 * (e_lep + 1.0 / e_lep);
    const double had_pz = had_pt * 0.5 * (e_had - 1.0 / e_had);
    const double had_p = had_pt * 0.5 * (e_had + 1.0 / e_had);
    const double j1_pz = j1_pt * 0.5 * (e_j1 - 1.0 / e_j1);
    const double j1_p = j1_pt * 0.5 * (e_j1 + 1.0 / e_j1);
    const double j2_pz = j2_pt * 0.5 * (e_j2 - 1.0 / e_j2);
    const double j2_p = j2_pt * 0.5 * (e_j2 + 1.0 / e_j2);

    double v[HBX_N_FEATURES - HBX_N_PRIMARY];

    /* DER_mass_transverse_met_lep */
    {
        double et = met + lep_pt, x = met_x + lep_px, y = met_y + lep_py;
        v[0] = sqrt(fmax(0.0, et * et - x * x - y * y));
    }
    /* DER_mass_vis; clamped like the other masses, so rounding on a
     * collinear pair gives 0 rather than NaN. */
    {
        double e = lep_p + had_p, x = lep_px + had_px, y = lep_py + had_py, z = lep_pz + had_pz;
        v[1] = sqrt(fmax(0.0, e * e - x * x - y * y - z * z));
    }
    /* DER_pt_h */
    const double h_x = had_px + lep_px + met_x, h_y = had_py + lep_py + met_y;
    v[2] = sqrt(h_x * h_x + h_y * h_y); /* GeV values: no overflow for hypot to guard */
    /* DER_deltaeta_jet_jet */
    v[3] = has_two ? fabs(j2_eta - j1_eta) : UNDEF;
    /* DER_mass_jet_jet */
    {
        double e = j1_p + j2_p, x = j1_px + j2_px, y = j1_py + j2_py, z = j1_pz + j2_pz;
        double m = sqrt(fmax(0.0, e * e - x * x - y * y - z * z));
        v[4] = has_two ? m : UNDEF;
    }
    /* DER_prodeta_jet_jet */
    v[5] = has_two ? j1_eta * j2_eta : UNDEF;
    /* DER_deltar_had_lep */
    {
        double deta = lep_eta - had_eta;
        /* x mod 2π as x − 2π·floor(x / 2π): same value as fmod for the
         * positive x of real azimuths, several times cheaper. */
        double x = lep_phi - had_phi + 3.0 * M_PI;
        double dphi = fabs(x - 2.0 * M_PI * floor(x * (0.5 / M_PI)) - M_PI);
        v[6] = sqrt(deta * deta + dphi * dphi);
    }
    /* DER_pt_tot */
    {
        double x = h_x + j1_px + j2_px, y = h_y + j1_py + j2_py;
        v[7] = sqrt(x * x + y * y);
    }
    /* DER_sum_pt */
    v[8] = had_pt + lep_pt + pri[HBX_PRI_JET_ALL_PT];
    /* DER_pt_ratio_lep_had */
    v[9] = lep_pt / had_pt;
    /* DER_met_phi_centrality: the rare degenerate case (all three azimuths
     * aligned) retries with the lepton turned by 1e-4 rad, as specified. */
    {
        double c = centrality_phi(a_lep, a_had, a_met);
        if (__builtin_expect(isnan(c), 0)) {
            c = centrality_phi(angle_of(lep_phi + 1e-4), a_had, a_met);
            if (isnan(c))
                c = UNDEF;
        }
        v[10] = c;
    }
    /* DER_lep_eta_centrality */
    {
        double gap = j1_eta - j2_eta;
        double gap2 = gap * gap;
        gap2 += gap2 == 0 ? 1e-4 : 0.0;
        double d = lep_eta - 0.5 * (j1_eta + j2_eta);
        double c = exp(-4.0 * d * d / gap2);
        v[11] = has_two ? c : UNDEF;
    }

    for (int k = 0; k < HBX_N_FEATURES - HBX_N_PRIMARY; k++)
        der[k] = (float)v[k];
}

void hbx_derive_columns(float *const columns[HBX_N_FEATURES], uint64_t n)
{
    /* Tiles of events, moved between the columns and row-major scratch one
     * column at a time: each column is then read and written sequentially,
     * instead of 28 interleaved streams per event that defeat the
     * prefetcher. */
    enum { TILE = 64 };
    float pri[TILE][HBX_N_PRIMARY], der[TILE][HBX_N_FEATURES - HBX_N_PRIMARY];
    for (uint64_t base = 0; base < n; base += TILE) {
        unsigned m = n - base < TILE ? (unsigned)(n - base) : TILE;
        for (int f = 0; f < HBX_N_PRIMARY; f++) {
            const float *col = columns[f] + base;
            for (unsigned i = 0; i < m; i++)
                pri[i][f] = col[i];
        }
        for (unsigned i = 0; i < m; i++)
            hbx_derive_event(pri[i], der[i]);
        for (int k = 0; k < HBX_N_FEATURES - HBX_N_PRIMARY; k++) {
            float *col = columns[HBX_N_PRIMARY + k] + base;
            for (unsigned i = 0; i < m; i++)
                col[i] = der[i][k];
        }
    }
}
