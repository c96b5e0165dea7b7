/*
 * Kinematic summaries for comparing generated events with the real data
 * (HIGGSML.md §9): per-process medians and jet multiplicities after a
 * had_pt cut, plus the weighted (physical-mix) lepton and tau medians.
 */
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "higgsbox/generator.h"

typedef struct weighted {
    double value, weight;
} weighted;

static int by_value(const void *a, const void *b)
{
    double x = ((const weighted *)a)->value, y = ((const weighted *)b)->value;
    return (x > y) - (x < y);
}

/* Smallest value whose cumulative weight reaches half the total. */
static double weighted_median(weighted *v, uint64_t n)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, by_value);
    double total = 0, cum = 0;
    for (uint64_t i = 0; i < n; i++)
        total += v[i].weight;
    for (uint64_t i = 0; i < n; i++) {
        cum += v[i].weight;
        if (cum >= 0.5 * total)
            return v[i].value;
    }
    return v[n - 1].value;
}

/* Sorts v in place and returns its quantile q (linear interpolation). */
static double quantile(double *v, uint64_t n, double q)
{
    return n ? gsl_stats_quantile_from_sorted_data(v, 1, n, q) : NAN;
}

static void stats_of(const hbx_dataset *d, double had_pt_min, int process, double *buf[4],
                     hbx_kin_stats *st)
{
    static const int column[4] = {HBX_DER_MASS_VIS, HBX_PRI_MET, HBX_PRI_LEP_PT, HBX_PRI_HAD_PT};
    uint64_t n = 0, jets[4] = {0};
    for (uint64_t i = 0; i < d->n_events; i++) {
        if (d->process[i] != process || !(d->features[HBX_PRI_HAD_PT][i] >= had_pt_min))
            continue;
        for (int c = 0; c < 4; c++)
            buf[c][n] = d->features[column[c]][i];
        float nj = d->features[HBX_PRI_N_JETS][i];
        jets[nj >= 3 ? 3 : nj >= 2 ? 2 : nj >= 1 ? 1 : 0]++;
        n++;
    }
    for (int c = 0; c < 4; c++)
        gsl_sort(buf[c], 1, n);
    st->n = n;
    st->mvis_median = quantile(buf[0], n, 0.5);
    st->mvis_q16 = quantile(buf[0], n, 0.16);
    st->mvis_q84 = quantile(buf[0], n, 0.84);
    st->met_median = quantile(buf[1], n, 0.5);
    st->lep_pt_median = quantile(buf[2], n, 0.5);
    st->had_pt_median = quantile(buf[3], n, 0.5);
    for (int j = 0; j < 4; j++)
        st->njets_frac[j] = n ? (double)jets[j] / (double)n : NAN;
}

int hbx_kinematics_summary(const hbx_dataset *d, double had_pt_min, hbx_kin_summary *out)
{
    memset(out, 0, sizeof *out);
    if (!d->process)
        return HBX_E_INVALID;
    uint64_t cap = d->n_events ? d->n_events : 1;
    double *buf[4] = {0};
    weighted *lep = malloc(cap * sizeof *lep), *had = malloc(cap * sizeof *had);
    int ok = lep && had;
    for (int c = 0; c < 4; c++)
        ok &= (buf[c] = malloc(cap * sizeof(double))) != NULL;
    if (ok) {
        for (int p = 0; p < HBX_N_PROCESSES; p++)
            stats_of(d, had_pt_min, p, buf, &out->process[p]);
        uint64_t n = 0;
        for (uint64_t i = 0; d->weights && i < d->n_events; i++) {
            if (!(d->features[HBX_PRI_HAD_PT][i] >= had_pt_min))
                continue;
            lep[n] = (weighted){d->features[HBX_PRI_LEP_PT][i], d->weights[i]};
            had[n] = (weighted){d->features[HBX_PRI_HAD_PT][i], d->weights[i]};
            n++;
        }
        out->lep_pt_median_weighted = d->weights ? weighted_median(lep, n) : NAN;
        out->had_pt_median_weighted = d->weights ? weighted_median(had, n) : NAN;
    }
    for (int c = 0; c < 4; c++)
        free(buf[c]);
    free(lep);
    free(had);
    return ok ? HBX_OK : HBX_E_NOMEM;
}
