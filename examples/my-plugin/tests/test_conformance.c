/* The plugin under the higgsbox conformance kit: the same checks as
 * `higgsbox check`, run by ctest. MY_PLUGIN is the built plugin's path. */
#include <higgsbox/conformance.h>
#include <stdlib.h>

int main(void)
{
    SRunner *sr = srunner_create(hbx_conformance_suite(MY_PLUGIN));
    srunner_run_all(sr, CK_VERBOSE);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
