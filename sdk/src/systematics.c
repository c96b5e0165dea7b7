/* TEMPORARY: replaced by the systematics implementation. */
#include "higgsbox/physics.h"
int hbx_systematics_apply(const hbx_dataset *in, const hbx_nuisances *nu, uint64_t seed,
                          hbx_table *out)
{
    (void)in;
    (void)nu;
    (void)seed;
    (void)out;
    return HBX_E_UNAVAILABLE;
}
