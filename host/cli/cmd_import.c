/* higgsbox import: an official CSV file → a dataset file. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "higgsbox/higgsbox.h"

static const char help[] =
    "usage: higgsbox import FILE.csv -o DATA.h5 [--test-fraction F]\n"
    "\n"
    "Converts a CSV file in the challenge's format into a higgsbox dataset.\n"
    "The header names the columns (any order): the 16 PRI_* columns, weights\n"
    "and detailed_labels are required; labels and the DER_* columns are\n"
    "optional. DER_* values are computed by higgsbox; those in the file are\n"
    "compared and a warning counts the rows that disagree.\n"
    "\n"
    "  -o, --output DATA.h5     the dataset to write (replaced only on success)\n"
    "  -t, --test-fraction F    the first F of the rows form the test split, the\n"
    "                           rest the training split (default 0.3); each\n"
    "                           split's weights are rescaled so that per process\n"
    "                           it sums to the whole file's total\n"
    "\n"
    "Reads the file twice (count and hash, then parse) in constant memory.\n"
    "Errors name FILE:LINE:FIELD (FIELD counted from 1).\n";

int cmd_import(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"test-fraction", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    const char *output = NULL;
    double fraction = HBX_DEFAULT_TEST_FRACTION;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            output = optarg;
            break;
        case 't':
            if (cli_parse_double("--test-fraction", optarg, &fraction) != 0)
                return 2;
            if (fraction < 0 || fraction > 1)
                return cli_usage_error("import", "--test-fraction %g is not within [0, 1]",
                                       fraction);
            break;
        case 'h':
            fputs(help, stdout);
            return 0;
        default:
            return cli_usage_error("import", "unknown option or missing value '%s'",
                                   argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("import", "expects exactly one FILE.csv");
    if (!output)
        return cli_usage_error("import", "-o DATA.h5 is required");
    const char *input = argv[optind];

    char err[1024];
    hbx_import_report rep;
    if (hbx_csv_import(input, output, fraction, &rep, err, sizeof err) != 0)
        return cli_error("%s", err);

    for (int k = 0; k < HBX_N_FEATURES - HBX_N_PRIMARY; k++)
        if (rep.der_mismatch[k])
            fprintf(stderr,
                    "higgsbox: warning: %s: %s differs from ours beyond tolerance in %llu "
                    "rows (worst %.3g at line %llu); the stored values are ours\n",
                    input, hbx_feature_name(HBX_N_PRIMARY + k),
                    (unsigned long long)rep.der_mismatch[k], rep.der_worst[k],
                    (unsigned long long)rep.der_worst_line[k]);

    uint64_t n[2] = {0, 0};
    for (int s = 0; s < 2; s++)
        for (int p = 0; p < HBX_N_PROCESSES; p++)
            n[s] += rep.count[s][p];
    printf("imported %llu rows from %s into %s: %llu train, %llu test\n",
           (unsigned long long)rep.rows, input, output, (unsigned long long)n[0],
           (unsigned long long)n[1]);
    printf("%-8s %10s %10s %18s\n", "process", "train", "test", "sum of weights");
    for (int p = 0; p < HBX_N_PROCESSES; p++)
        printf("%-8s %10llu %10llu %18.6f\n", hbx_process_name(p),
               (unsigned long long)rep.count[0][p], (unsigned long long)rep.count[1][p],
               rep.file_sum_weights[p]);
    if (rep.der_columns < HBX_N_FEATURES - HBX_N_PRIMARY)
        printf("DER columns computed (%d of 12 were in the file)\n", rep.der_columns);
    return 0;
}
