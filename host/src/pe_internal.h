/* Pieces shared by the pseudo-experiment sources (not installed). */
#ifndef HBX_PE_INTERNAL_H
#define HBX_PE_INTERNAL_H

#include "higgsbox/systematics_kernel.h"

/* Stream purposes of a PE seed (hbx_rng_key); HBX_RNG_PURPOSE_SHIFT (1) is
 * the shift service's. */
#define HBX_RNG_PURPOSE_NUISANCE 2u /* stream i: nuisance i of the §5 table */
#define HBX_RNG_PURPOSE_COUNT 3u    /* stream 0: the total count K */
#define HBX_RNG_PURPOSE_DRAW 4u     /* stream j: draw j (event, then soft-MET noise) */

#endif
