// SPDX-License-Identifier: Apache-2.0
/* JSON reals in the shortest form that reads back to the same double, as Python writes them. */
#include "support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/json_text.h"

static void expect_text(json_t *value, const char *expected)
{
    char *text = json_text(value, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_non_null(text);
    assert_string_equal(text, expected);
    free(text);
    json_decref(value);
}

static void test_reals_shortest(void **state)
{
    (void)state;
    expect_text(json_real(33.33), "33.33");
    expect_text(json_real(0.1), "0.1");
    expect_text(json_real(0.1 + 0.2), "0.30000000000000004"); /* 17 digits when needed */
    expect_text(json_real(1.0), "1.0");
    expect_text(json_real(30.0), "30.0");
    expect_text(json_real(1500.25), "1500.25");
    expect_text(json_real(0.0001), "0.0001");
    expect_text(json_real(0.00001), "1e-05");
    expect_text(json_real(1e15), "1000000000000000.0");
    expect_text(json_real(1e16), "1e+16");
    expect_text(json_real(123456789012345678.0), "1.2345678901234568e+17");
    expect_text(json_real(-2.5), "-2.5");
    expect_text(json_real(1e22), "1e+22");
    expect_text(json_real(1.5e-7), "1.5e-07");
    expect_text(json_real(5e-324), "5e-324"); /* the smallest denormal, as Python writes it */
    expect_text(json_integer(-42), "-42");
}

static void test_strings_and_structure_untouched(void **state)
{
    (void)state;
    expect_text(json_pack("{s:f, s:s, s:[f, i]}", "value", 12.34, "text",
                          "33.329999999999998 \"1.10\" \\ -0.50", "list", 2.675, 7),
                "{\"value\":12.34,\"text\":\"33.329999999999998 \\\"1.10\\\" \\\\ -0.50\","
                "\"list\":[2.675,7]}");
}

/* Every real round-trips: the text reads back to the same double. */
static void test_round_trip(void **state)
{
    (void)state;
    unsigned seed = 12345;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 1103515245u + 12345u;
        double value = ldexp((double)(seed % 1000003u) / 7.0, (int)(seed % 80) - 40);
        json_t *real = json_real(value);
        char *text = json_text(real, JSON_ENCODE_ANY);
        json_decref(real);
        assert_non_null(text);
        assert_true(strtod(text, NULL) == value);
        free(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reals_shortest),
        cmocka_unit_test(test_strings_and_structure_untouched),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
