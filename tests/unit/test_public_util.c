// SPDX-License-Identifier: Apache-2.0
/* The allocation and string-building helpers of the public API (servo/alloc.h, servo/buf.h,
 * servo/util.h), which connectors and plugins use instead of copies of their own. */
#include "support.h"

#include <stdlib.h>
#include <string.h>

#include "servo/alloc.h"
#include "servo/buf.h"
#include "servo/error.h"
#include "servo/util.h"

static void test_buf_builds_text(void **state)
{
    (void)state;
    struct servo_buf b = {0};
    servo_buf_puts(&b, "rate");
    servo_buf_putc(&b, '=');
    servo_buf_printf(&b, "%d/%s", 50, "1s");
    servo_buf_append(&b, "; tail", 2);
    assert_string_equal(b.data, "rate=50/1s; ");
    assert_int_equal(b.length, strlen("rate=50/1s; "));
    assert_true(b.capacity > b.length);
    char *text = servo_buf_detach(&b);
    assert_string_equal(text, "rate=50/1s; ");
    assert_null(b.data);
    assert_int_equal(b.length, 0);
    assert_int_equal(b.capacity, 0);
    free(text);
}

static void test_buf_grows_past_its_first_capacity(void **state)
{
    (void)state;
    struct servo_buf b = {0};
    for (int i = 0; i < 10000; i++)
        servo_buf_putc(&b, (char)('a' + i % 26));
    assert_int_equal(b.length, 10000);
    assert_int_equal(strlen(b.data), 10000);
    assert_int_equal(b.data[9999], 'a' + 9999 % 26);
    servo_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.length, 0);
}

static void test_empty_buf_detaches_an_empty_string(void **state)
{
    (void)state;
    struct servo_buf b = {0};
    char *text = servo_buf_detach(&b);
    assert_non_null(text);
    assert_string_equal(text, "");
    free(text);
    servo_buf_free(&b); /* freeing an empty buffer is harmless */
}

static void test_strings(void **state)
{
    (void)state;
    char *copy = servo_xstrdup("prometheus");
    assert_string_equal(copy, "prometheus");
    free(copy);
    copy = servo_xstrndup("prometheus", 4);
    assert_string_equal(copy, "prom");
    free(copy);
    copy = servo_xstrndup(NULL, 0); /* an empty token may have no buffer */
    assert_string_equal(copy, "");
    free(copy);
    copy = servo_strdup_printf("%s:%d", "host", 9090);
    assert_string_equal(copy, "host:9090");
    free(copy);
}

static void test_allocation(void **state)
{
    (void)state;
    int *zeroed = servo_xcalloc(16, sizeof *zeroed);
    for (int i = 0; i < 16; i++)
        assert_int_equal(zeroed[i], 0);
    zeroed = servo_xrealloc(zeroed, 64 * sizeof *zeroed);
    zeroed[63] = 7;
    assert_int_equal(zeroed[0], 0);
    free(zeroed);
    void *none = servo_xmalloc(0); /* never NULL, even for 0 bytes */
    assert_non_null(none);
    free(none);
}

static void test_grow_keeps_the_index_valid(void **state)
{
    (void)state;
    int *items = NULL;
    size_t capacity = 0;
    for (size_t count = 0; count < 100; count++) {
        servo_xgrow((void **)&items, sizeof *items, count, &capacity);
        assert_true(count < capacity);
        items[count] = (int)count;
    }
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(items[i], (int)i);
    size_t before = capacity;
    servo_xgrow((void **)&items, sizeof *items, before - 1, &capacity);
    assert_int_equal(capacity, before); /* room already: nothing changes */
    free(items);
}

static void assert_formats(const struct servo_error *error, const char *expected)
{
    char *text = servo_error_format(error);
    assert_string_equal(text, expected);
    free(text);
}

static void test_error_with_a_location(void **state)
{
    (void)state;
    struct servo_error error;
    assert_int_equal(servo_error_set(&error, SERVO_ERROR_FAILED, "invalid", "not a %s", "duration"),
                     -1);
    assert_formats(&error, "not a duration");
    assert_int_equal(servo_error_locate(&error, "servo.yaml", 3, 12, "vegeta.duration"), -1);
    assert_string_equal(error.location.source, "servo.yaml");
    assert_int_equal(error.location.line, 3);
    assert_int_equal(error.location.column, 12);
    assert_formats(&error, "servo.yaml:3:12: vegeta.duration: not a duration");
    servo_error_locate(&error, "$VEGETA_DURATION", 0, 0, NULL);
    assert_formats(&error, "$VEGETA_DURATION: not a duration");
    servo_error_locate(&error, NULL, 0, 0, "vegeta.rate");
    assert_formats(&error, "vegeta.rate: not a duration");
    /* a new error starts without the old one's location */
    servo_error_set(&error, SERVO_ERROR_FAILED, NULL, "later");
    assert_formats(&error, "later");
    assert_string_equal(error.reason, "");
    servo_error_locate(&error, "a.yaml", 1, 1, "x");
    servo_error_clear(&error);
    assert_int_equal(error.kind, SERVO_ERROR_NONE);
    assert_formats(&error, "");
    assert_int_equal(servo_error_locate(NULL, "a.yaml", 1, 1, NULL), -1); /* NULL is allowed */
}

static void test_error_location_is_cut_to_fit(void **state)
{
    (void)state;
    char long_path[SERVO_ERROR_PATH_MAX * 2];
    memset(long_path, 'p', sizeof long_path - 1);
    long_path[sizeof long_path - 1] = '\0';
    struct servo_error error;
    servo_error_set(&error, SERVO_ERROR_FAILED, NULL, "m");
    servo_error_locate(&error, NULL, -4, 2, long_path);
    assert_int_equal(strlen(error.location.path), SERVO_ERROR_PATH_MAX - 1);
    assert_int_equal(error.location.line, 0); /* a nonsense line is unknown, not negative */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_builds_text),
        cmocka_unit_test(test_buf_grows_past_its_first_capacity),
        cmocka_unit_test(test_empty_buf_detaches_an_empty_string),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_allocation),
        cmocka_unit_test(test_grow_keeps_the_index_valid),
        cmocka_unit_test(test_error_with_a_location),
        cmocka_unit_test(test_error_location_is_cut_to_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
