/* TEMPORARY: replaced by the derived-features implementation. */
#include "higgsbox/physics.h"
void hbx_derive_event(const float pri[HBX_N_PRIMARY], float der[HBX_N_FEATURES - HBX_N_PRIMARY])
{
    (void)pri;
    for (int k = 0; k < HBX_N_FEATURES - HBX_N_PRIMARY; k++)
        der[k] = 0;
}
void hbx_derive_columns(float *const columns[HBX_N_FEATURES], uint64_t n)
{
    (void)columns;
    (void)n;
}
