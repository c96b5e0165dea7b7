/* Legitimate: reads a pretrained value shipped in its own directory
 * (good_files.dat, written there by the test), keeps it in a scratch file
 * during fit and reads it back in predict. Expected: OK with mu_hat = the
 * shipped value. */
#include <stdio.h>

#include "hostile.h"

static int fit_files(void *state)
{
    (void)state;
    char path[4096];
    double v = 0;
    snprintf(path, sizeof path, "%s/good_files.dat", hostile_host->submission_dir());
    FILE *f = fopen(path, "r");
    if (!f || fscanf(f, "%lf", &v) != 1) {
        if (f)
            fclose(f);
        return HBX_E_IO;
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/state.txt", hostile_host->scratch_dir());
    f = fopen(path, "w");
    if (!f)
        return HBX_E_IO;
    fprintf(f, "%.17g\n", v);
    return fclose(f) == 0 ? HBX_OK : HBX_E_IO;
}

static int predict_files(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    char path[4096];
    double v = 0;
    snprintf(path, sizeof path, "%s/state.txt", hostile_host->scratch_dir());
    FILE *f = fopen(path, "r");
    int ok = f && fscanf(f, "%lf", &v) == 1;
    if (f)
        fclose(f);
    return ok ? hostile_answer(out, v) : HBX_E_IO;
}

HOSTILE_PLUGIN("good_files", fit_files, predict_files)
