#define HBX_PE_STAT_FLAKY 1
#include "pe_stat.c"
