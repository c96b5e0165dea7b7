/* higgsbox info on a dataset file: arrives with the datasets. */
#include "cli.h"

int cmd_info_dataset(const char *path)
{
    return cli_error("%s: describing datasets is not available in this build", path);
}
