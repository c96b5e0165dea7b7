/*
 * Per-PE nuisances (HIGGSML.md §5): which systematics vary, the PE seeds,
 * and the nuisance draws.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "higgsbox/pe.h"
#include "higgsbox/rng.h"
#include "pe_internal.h"

/* One row of the §5 table. */
typedef struct nuisance_spec {
    unsigned bit;
    const char *name;
    const char *alias; /* short form accepted by hbx_syst_parse */
    double mean, sigma, lo, hi;
    int lognormal; /* draw exp(N(mean, sigma)) instead of N(mean, sigma) */
} nuisance_spec;

static const nuisance_spec specs[] = {
    {HBX_SYST_TES, "tes", NULL, 1.0, 0.01, 0.9, 1.1, 0},
    {HBX_SYST_JES, "jes", NULL, 1.0, 0.01, 0.9, 1.1, 0},
    {HBX_SYST_SOFT_MET, "soft_met", NULL, 0.0, 1.0, 0.0, 5.0, 1},
    {HBX_SYST_TTBAR, "ttbar_scale", "ttbar", 1.0, 0.02, 0.8, 1.2, 0},
    {HBX_SYST_DIBOSON, "diboson_scale", "diboson", 1.0, 0.25, 0.0, 2.0, 0},
    {HBX_SYST_BKG, "bkg_scale", "bkg", 1.0, 0.001, 0.99, 1.01, 0},
};
enum { N_SPECS = sizeof specs / sizeof specs[0] };

const char *hbx_syst_name(unsigned bit)
{
    for (int i = 0; i < N_SPECS; i++)
        if (specs[i].bit == bit)
            return specs[i].name;
    return NULL;
}

int hbx_syst_parse(const char *text, unsigned *mask)
{
    if (!text)
        return -1;
    if (strcmp(text, "all") == 0) {
        *mask = HBX_SYST_ALL;
        return 0;
    }
    if (strcmp(text, "none") == 0) {
        *mask = HBX_SYST_NONE;
        return 0;
    }
    unsigned m = 0;
    const char *p = text;
    for (;;) {
        size_t len = strcspn(p, ",");
        int found = 0;
        for (int i = 0; i < N_SPECS && !found; i++) {
            const char *names[2] = {specs[i].name, specs[i].alias};
            for (int a = 0; a < 2; a++)
                if (names[a] && strlen(names[a]) == len && strncmp(p, names[a], len) == 0) {
                    m |= specs[i].bit;
                    found = 1;
                    break;
                }
        }
        if (!found)
            return -1;
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    *mask = m;
    return 0;
}

int hbx_syst_format(unsigned mask, char *buf, size_t len)
{
    mask &= HBX_SYST_ALL;
    if (mask == HBX_SYST_ALL)
        return snprintf(buf, len, "all");
    if (mask == HBX_SYST_NONE)
        return snprintf(buf, len, "none");
    /* Joined in a local buffer first: every name fits, so only the final
     * copy can truncate, and it says how long the full text is. */
    char joined[128] = "";
    size_t at = 0;
    for (int i = 0; i < N_SPECS; i++) {
        if (!(mask & specs[i].bit))
            continue;
        size_t n = strlen(specs[i].name);
        if (at)
            joined[at++] = ',';
        memcpy(joined + at, specs[i].name, n);
        at += n;
        joined[at] = '\0';
    }
    return snprintf(buf, len, "%s", joined);
}

uint64_t hbx_pe_seed(uint64_t base_seed, unsigned set, unsigned n_pe, unsigned index)
{
    return (uint64_t)set * n_pe + index + base_seed;
}

static double clip(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void hbx_pe_draw_nuisances(uint64_t pe_seed, unsigned mask, hbx_nuisances *out)
{
    *out = hbx_nuisances_nominal();
    hbx_rng_init();
    const uint64_t key = hbx_rng_key(pe_seed, HBX_RNG_PURPOSE_NUISANCE);
    double *slot[N_SPECS] = {&out->tes,         &out->jes,           &out->soft_met,
                             &out->ttbar_scale, &out->diboson_scale, &out->bkg_scale};
    for (int i = 0; i < N_SPECS; i++) {
        if (!(mask & specs[i].bit))
            continue;
        hbx_rng r = hbx_rng_at(key, (uint64_t)i);
        double v = specs[i].mean + specs[i].sigma * hbx_rng_normal(&r);
        if (specs[i].lognormal)
            v = exp(v);
        *slot[i] = clip(v, specs[i].lo, specs[i].hi);
    }
}
