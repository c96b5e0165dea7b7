/* higgsbox export: a dataset file → CSV in the challenge's format. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "higgsbox/higgsbox.h"

static const char help[] =
    "usage: higgsbox export DATA.h5 -o FILE.csv [--split train|test|all]\n"
    "\n"
    "Writes a dataset split as CSV with the challenge's columns and order\n"
    "(16 PRI_*, weights, detailed_labels, labels, 12 DER_*). Values are printed\n"
    "so that importing the file gives back every value exactly.\n"
    "\n"
    "  -o, --output FILE.csv   the file to write (replaced only on success)\n"
    "  -s, --split SPLIT       train, test or all (default all: the test rows,\n"
    "                          then the training rows, i.e. the order of the\n"
    "                          file the dataset was imported from)\n"
    "\n"
    "Each split's weights sum to the full yield (docs/FORMAT.md), so the rows of\n"
    "--split all sum to twice it.\n";

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"split", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    const char *output = NULL;
    hbx_split split = HBX_SPLIT_ALL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            output = optarg;
            break;
        case 's':
            if (hbx_split_parse(optarg, &split) != 0)
                return cli_usage_error("export", "--split '%s' is not train, test or all",
                                       optarg);
            break;
        case 'h':
            fputs(help, stdout);
            return 0;
        default:
            return cli_usage_error("export", "unknown option or missing value '%s'",
                                   argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("export", "expects exactly one DATA.h5");
    if (!output)
        return cli_usage_error("export", "-o FILE.csv is required");
    char err[1024];
    uint64_t rows;
    if (hbx_csv_export(argv[optind], split, output, &rows, err, sizeof err) != 0)
        return cli_error("%s", err);
    printf("exported %llu rows (%s) from %s to %s\n", (unsigned long long)rows,
           hbx_split_name(split), argv[optind], output);
    return 0;
}
