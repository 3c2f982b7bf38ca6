/* placeholder: suite being written */
#include "testutil.h"
START_TEST(test_placeholder) { ck_assert_int_eq(flp_version_number(), FLP_VERSION_NUMBER); }
END_TEST
Suite *make_net_suite(void)
{
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("placeholder");
    tcase_add_test(tc, test_placeholder);
    suite_add_tcase(s, tc);
    return s;
}
