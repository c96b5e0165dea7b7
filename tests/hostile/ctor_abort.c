/* Hostile: aborts in a constructor, i.e. inside dlopen. Expected:
 * CRASHED(SIGABRT) while loading. */
#include <stdlib.h>

#include "hostile.h"

__attribute__((constructor)) static void boom(void)
{
    abort();
}

HOSTILE_PLUGIN("ctor_abort", hostile_fit_ok, hostile_predict_ok)
