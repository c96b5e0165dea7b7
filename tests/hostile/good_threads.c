/* Legitimate: predict counts the PE's events with four pthreads. Expected:
 * OK with mu_hat = the number of events. */
#include <pthread.h>

#include "hostile.h"

typedef struct part {
    const hbx_dataset *pe;
    uint64_t from, to, count;
} part;

static void *count(void *arg)
{
    part *p = arg;
    for (uint64_t i = p->from; i < p->to; i++)
        p->count += p->pe->features[HBX_PRI_LEP_PT][i] >= 0.0f;
    return NULL;
}

static int predict_threads(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    part parts[4];
    pthread_t t[4];
    uint64_t n = pe->n_events;
    for (int i = 0; i < 4; i++) {
        parts[i] = (part){pe, n * (uint64_t)i / 4, n * (uint64_t)(i + 1) / 4, 0};
        if (pthread_create(&t[i], NULL, count, &parts[i]) != 0)
            return HBX_E_PLUGIN;
    }
    uint64_t total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        total += parts[i].count;
    }
    return hostile_answer(out, (double)total);
}

HOSTILE_PLUGIN("good_threads", hostile_fit_ok, predict_threads)
