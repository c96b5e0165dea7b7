#define HBX_PE_STAT_SLOW 1
#include "pe_stat.c"
