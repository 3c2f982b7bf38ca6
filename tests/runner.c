/* runner.c - runs the one suite this executable was built for (FLP_SUITE). */
#include <check.h>
#include <stdlib.h>

Suite *FLP_SUITE(void);

int main(void)
{
    SRunner *sr = srunner_create(FLP_SUITE());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
