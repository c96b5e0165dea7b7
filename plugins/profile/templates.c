/*
 * Building the profile model: score bins, nominal templates and the per-bin
 * polynomial dependence on tes, jes and soft_met, from held-out training
 * events put through the host's systematics service at shifted values.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

/* Where the shape templates are made: tes and jes at -2, -1, +1, +2 sigma;
 * soft_met at 1 to 5 GeV (its nominal, 0, is the nominal template), which
 * spans the clipped LogNormal(0, 1) of the pseudo-experiments. */
static const double shift_points[] = {-2, -1, 1, 2};
static const double met_points[] = {1, 2, 3, 4, 5};
#define N_SHIFT ((int)(sizeof shift_points / sizeof shift_points[0]))
#define N_MET ((int)(sizeof met_points / sizeof met_points[0]))

/* Fewest simulated events of a process in a bin for its shape to be fitted;
 * below, the template is too noisy and the process keeps its nominal shape. */
#define MIN_SHAPE_EVENTS 20

int pr_bin_of(const pr_model *m, float score)
{
    int a = 0, b = m->n_bins - 1; /* the number of edges <= score */
    while (a < b) {
        int mid = (a + b) / 2;
        if (m->edges[mid] <= score)
            a = mid + 1;
        else
            b = mid;
    }
    return a;
}

typedef struct hist {
    double y[HBX_N_PROCESSES][PR_MAX_BINS];
    double w2[PR_MAX_BINS];
    uint64_t n[HBX_N_PROCESSES][PR_MAX_BINS];
} hist;

static void fill(const pr_model *m, const hbx_dataset *d, const float *scores, hist *h)
{
    memset(h, 0, sizeof *h);
    for (uint64_t i = 0; i < d->n_events; i++) {
        unsigned p = d->process[i];
        if (p >= HBX_N_PROCESSES)
            continue;
        int b = pr_bin_of(m, scores[i]);
        double w = d->weights[i];
        h->y[p][b] += w;
        h->w2[b] += w * w;
        h->n[p][b]++;
    }
}

/* Shifts `held` by nu, scores it and histograms it. */
static int template_at(const hbx_host_api *host, const bl_classifier *clf, const bl_events *held,
                       const hbx_nuisances *nu, uint64_t seed, const pr_model *m, hist *h)
{
    bl_events shifted;
    int rc = bl_shift(host, held, nu, seed, &shifted);
    if (rc != HBX_OK)
        return rc;
    uint64_t n = shifted.view.n_events;
    float *scores = malloc((n ? n : 1) * sizeof *scores);
    rc = scores ? bl_classifier_score(clf, &shifted.view, scores) : HBX_E_NOMEM;
    if (rc == HBX_OK)
        fill(m, &shifted.view, scores, h);
    free(scores);
    bl_events_free(&shifted);
    return rc;
}

typedef struct sig_score {
    float score;
    double w;
} sig_score;

static int by_score(const void *a, const void *b)
{
    const sig_score *x = a, *y = b;
    return (x->score > y->score) - (x->score < y->score);
}

/* Edges at equal expected signal, then bins merged downwards from the most
 * signal-like until each holds min_mc simulated background events. */
static int place_edges(const hbx_dataset *d, const float *scores, int bins, uint64_t min_mc,
                       pr_model *m)
{
    uint64_t ns = 0;
    for (uint64_t i = 0; i < d->n_events; i++)
        ns += d->labels[i] != 0;
    sig_score *s = malloc((ns ? ns : 1) * sizeof *s);
    if (!s)
        return HBX_E_NOMEM;
    double total = 0;
    for (uint64_t i = 0, j = 0; i < d->n_events; i++)
        if (d->labels[i]) {
            s[j++] = (sig_score){scores[i], d->weights[i]};
            total += d->weights[i];
        }
    qsort(s, ns, sizeof *s, by_score);
    m->n_bins = 1;
    double cum = 0;
    int k = 1;
    for (uint64_t j = 0; j + 1 < ns && k < bins; j++) {
        cum += s[j].w;
        if (cum >= total * k / bins) {
            float e = s[j + 1].score;
            if (s[j].score < e && (m->n_bins == 1 || m->edges[m->n_bins - 2] < e))
                m->edges[m->n_bins++ - 1] = e;
            while (k < bins && cum >= total * k / bins)
                k++;
        }
    }
    free(s);
    /* Simulated background per bin, then the merging. */
    uint64_t nb[PR_MAX_BINS] = {0};
    for (uint64_t i = 0; i < d->n_events; i++)
        if (!d->labels[i])
            nb[pr_bin_of(m, scores[i])]++;
    for (int b = m->n_bins - 1; b > 0; b--) {
        if (nb[b] >= min_mc)
            continue;
        /* Merge bin b into b-1: drop edge b-1, shift the rest down. */
        nb[b - 1] += nb[b];
        for (int j = b; j < m->n_bins; j++)
            nb[j] = j + 1 < m->n_bins ? nb[j + 1] : 0;
        memmove(&m->edges[b - 1], &m->edges[b], (size_t)(m->n_bins - 1 - b) * sizeof m->edges[0]);
        m->n_bins--;
    }
    return HBX_OK;
}

/* Least squares of L_j = c1 x_j + c2 x_j^2 (no constant: the nominal point
 * is the origin exactly). */
static void fit_poly(const double *x, const double *l, int n, double c[PR_DEG])
{
    double a11 = 0, a12 = 0, a22 = 0, r1 = 0, r2 = 0;
    for (int j = 0; j < n; j++) {
        double x2 = x[j] * x[j];
        a11 += x2;
        a12 += x2 * x[j];
        a22 += x2 * x2;
        r1 += x[j] * l[j];
        r2 += x2 * l[j];
    }
    double det = a11 * a22 - a12 * a12;
    if (n < 2 || !(fabs(det) > 1e-12 * a11 * a22)) {
        c[0] = c[1] = 0;
        return;
    }
    c[0] = (r1 * a22 - r2 * a12) / det;
    c[1] = (a11 * r2 - a12 * r1) / det;
}

/* Fits every process and bin of one shape nuisance from its templates. */
static void fit_shape(pr_model *m, const hist *nominal, const hist *t, const double *x, int npts,
                      int shape)
{
    for (int p = 0; p < HBX_N_PROCESSES; p++)
        for (int b = 0; b < m->n_bins; b++) {
            double *c = m->coef[shape][p][b];
            c[0] = c[1] = 0;
            double y0 = nominal->y[p][b];
            if (nominal->n[p][b] < MIN_SHAPE_EVENTS || !(y0 > 0))
                continue;
            double l[8];
            for (int j = 0; j < npts; j++) {
                /* A bin emptied by a shift is clamped rather than -inf. */
                double r = t[j].y[p][b] / y0;
                l[j] = log(r > 1e-3 ? r : 1e-3);
            }
            fit_poly(x, l, npts, c);
        }
}

int pr_build_model(const hbx_host_api *host, const bl_config *cfg, const bl_classifier *clf,
                   const bl_events *held, pr_model *m)
{
    memset(m, 0, sizeof *m);
    hist *nominal = malloc(sizeof *nominal), *t = malloc(N_MET * sizeof *t);
    if (!nominal || !t) {
        free(nominal);
        free(t);
        return HBX_E_NOMEM;
    }
    hbx_nuisances nom = hbx_nuisances_nominal();
    bl_events shifted;
    int rc = bl_shift(host, held, &nom, cfg->seed + 1, &shifted);
    float *scores = NULL;
    if (rc == HBX_OK) {
        uint64_t n = shifted.view.n_events;
        scores = malloc((n ? n : 1) * sizeof *scores);
        rc = scores ? bl_classifier_score(clf, &shifted.view, scores) : HBX_E_NOMEM;
        if (rc == HBX_OK)
            rc = place_edges(&shifted.view, scores, cfg->bins, cfg->min_mc_events, m);
        if (rc == HBX_OK)
            fill(m, &shifted.view, scores, nominal);
        free(scores);
        bl_events_free(&shifted);
    }
    for (int shape = PR_TES; shape <= PR_JES && rc == HBX_OK; shape++) {
        double sigma = shape == PR_TES ? PR_SIGMA_TES : PR_SIGMA_JES;
        for (int j = 0; j < N_SHIFT && rc == HBX_OK; j++) {
            hbx_nuisances nu = nom;
            *(shape == PR_TES ? &nu.tes : &nu.jes) = 1.0 + sigma * shift_points[j];
            rc = template_at(host, clf, held, &nu, cfg->seed + 1, m, &t[j]);
        }
        if (rc == HBX_OK)
            fit_shape(m, nominal, t, shift_points, N_SHIFT, shape);
    }
    double u[N_MET];
    for (int j = 0; j < N_MET && rc == HBX_OK; j++) {
        hbx_nuisances nu = nom;
        nu.soft_met = met_points[j];
        u[j] = met_points[j] * met_points[j];
        rc = template_at(host, clf, held, &nu, cfg->seed + 100 + (uint64_t)j, m, &t[j]);
    }
    if (rc == HBX_OK) {
        fit_shape(m, nominal, t, u, N_MET, PR_MET);
        for (int b = 0; b < m->n_bins; b++) {
            double tot = 0;
            for (int p = 0; p < HBX_N_PROCESSES; p++) {
                m->yield[p][b] = nominal->y[p][b];
                tot += nominal->y[p][b];
            }
            m->mc_rel2[b] = tot > 0 ? nominal->w2[b] / (tot * tot) : 0;
        }
    }
    free(nominal);
    free(t);
    return rc;
}
