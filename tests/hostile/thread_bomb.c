/* Hostile: starts threads until it cannot, and reports how many it got in
 * mu_hat. Expected: OK with fewer threads than the task limit. */
#include <pthread.h>
#include <unistd.h>

#include "hostile.h"

static void *sleeper(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

static int predict_threads(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 * 1024);
    int n = 0;
    pthread_t t;
    while (n < 100000 && pthread_create(&t, &a, sleeper, NULL) == 0)
        n++;
    return hostile_answer(out, n);
}

HOSTILE_PLUGIN("thread_bomb", hostile_fit_ok, predict_threads)
