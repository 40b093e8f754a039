/* Table-driven tests of the value types: durations, CPU, memory and rates. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "servo/types.h"
#include "util/util.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

#define S SERVO_SECOND
#define MS SERVO_MILLISECOND
#define US SERVO_MICROSECOND
#define MIN SERVO_MINUTE
#define HOUR SERVO_HOUR
#define DAY SERVO_DAY
#define KI ((int64_t)1 << 10)
#define MI ((int64_t)1 << 20)
#define GI ((int64_t)1 << 30)
#define TI ((int64_t)1 << 40)
#define EI ((int64_t)1 << 60)

/* Bad input and the reason the parser must give. */
struct rejected {
    const char *text;
    const char *why;
};

struct text_value {
    const char *text;
    int64_t value;
};

struct double_value {
    double input;
    int64_t value;
};

/* A fixed-seed linear congruential generator (Knuth's MMIX constants). */
static uint64_t next_random(uint64_t *state)
{
    *state = *state * 6364136223846793005u + 1442695040888963407u;
    return *state;
}

/* Random values spread over every magnitude: a random number shifted right by 0..63 bits. */
static uint64_t random_magnitude(uint64_t *state)
{
    uint64_t bits = next_random(state);
    return bits >> (next_random(state) >> 58);
}

typedef int (*int64_parser)(const char *, int64_t *, const char **);

static void check_accepted(int64_parser parse, const struct text_value *cases, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        int64_t value = 0;
        const char *why = NULL;
        if (parse(cases[i].text, &value, &why) != 0 || value != cases[i].value) {
            fail_msg("\"%s\": expected %lld, got %lld (%s)", cases[i].text,
                     (long long)cases[i].value, (long long)value, why ? why : "ok");
        }
    }
}

static void check_rejected(int64_parser parse, const struct rejected *cases, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        int64_t value = 12345;
        const char *why = NULL;
        if (parse(cases[i].text, &value, &why) == 0) {
            fail_msg("\"%s\": accepted as %lld", cases[i].text, (long long)value);
        }
        if (why == NULL || strcmp(why, cases[i].why) != 0) {
            fail_msg("\"%s\": expected \"%s\", got \"%s\"", cases[i].text, cases[i].why,
                     why ? why : "(null)");
        }
        assert_int_equal(value, 12345);
        assert_int_equal(parse(cases[i].text, &value, NULL), -1);
    }
}

typedef size_t (*int64_formatter)(int64_t, char *);

static void check_formatted(int64_formatter format, const struct text_value *cases, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        char buf[SERVO_VALUE_TEXT_MAX];
        size_t len = format(cases[i].value, buf);
        assert_string_equal(buf, cases[i].text);
        assert_int_equal(len, strlen(cases[i].text));
    }
}

static void check_round_trip(int64_formatter format, int64_parser parse, int64_t value)
{
    char buf[SERVO_VALUE_TEXT_MAX];
    size_t len = format(value, buf);
    assert_true(len < SERVO_VALUE_TEXT_MAX);
    assert_int_equal(len, strlen(buf));
    int64_t parsed = 0;
    const char *why = NULL;
    if (parse(buf, &parsed, &why) != 0 || parsed != value) {
        fail_msg("%lld formats as \"%s\", which parses as %lld (%s)", (long long)value, buf,
                 (long long)parsed, why ? why : "ok");
    }
}

/* Durations */

static void test_duration_parse_accepts(void **state)
{
    (void)state;
    static const struct text_value cases[] = {
        {"0", 0},
        {"+0", 0},
        {"-0", 0},
        {"0s", 0},
        {"30", 30 * S},
        {"0.25", 250 * MS},
        {"-5", -5 * S},
        {"+5", 5 * S},
        {"1h30m", 90 * MIN},
        {"300ms", 300 * MS},
        {"1.5s", 1500 * MS},
        {"-2m", -2 * MIN},
        {"2w", 14 * DAY},
        {"1mm", 30 * DAY},
        {"1y", 365 * DAY},
        {"1d", DAY},
        {"1ns", 1},
        {"1us", US},
        {"1\xC2\xB5s", US},
        {"1\xCE\xBCs", US},
        {"1.5h", 5400 * S},
        {"0.1s", 100 * MS},
        {"0.000000001s", 1},
        {"1.5us", 1500},
        {"1h1h", 2 * HOUR},
        {"3m2h", 2 * HOUR + 3 * MIN},
        {"72h3m0.5s", 72 * HOUR + 3 * MIN + 500 * MS},
        {"2h45m", 2 * HOUR + 45 * MIN},
        {"1w1d", 8 * DAY},
        {"1y2mm3w4d5h6m7s8ms9us10ns",
         365 * DAY + 60 * DAY + 25 * DAY + 5 * HOUR + 6 * MIN + 7 * S + 8 * MS + 9 * US + 10},
        {"-1h30m", -90 * MIN},
        {".5s", 500 * MS},
        {"1.s", S},
        {"00001s", S},
        {"1.0000000000000000000000001s", S},
        {"0.5mm", 15 * DAY},
        {"0.1y", 3153600 * S},
        {"1.5ns", 2},
        {"0.5ns", 1},
        {"0.4ns", 0},
        {"-1.5ns", -2},
        {"0.0000000005s", 1},
        {"0.00000000049999999999s", 0},
        {"9223372036854775807ns", INT64_MAX},
        {"-9223372036854775807ns", -INT64_MAX},
        {"2562047h47m16.854775807s", INT64_MAX},
        {"292y", 292 * 365 * DAY},
        {"9223372036.854775807", INT64_MAX},
    };
    check_accepted(servo_duration_parse, cases, COUNT(cases));
}

static void test_duration_parse_rejects(void **state)
{
    (void)state;
    static const struct rejected cases[] = {
        {"", "empty"},
        {"-", "missing number"},
        {"+", "missing number"},
        {"--1s", "missing number"},
        {"h", "missing number"},
        {"\xC2\xB5s", "missing number"},
        {".s", "missing number"},
        {"1h-1m", "unexpected character"},
        {"1sec", "unknown unit"},
        {"5mins", "unknown unit"},
        {"1hr", "unknown unit"},
        {"1s\xC2\xB5", "unknown unit"},
        {"1s,2m", "unexpected character"},
        {"1.2.3s", "malformed number"},
        {"1..s", "malformed number"},
        {"1 s", "unexpected character"},
        {" 1s", "missing number"},
        {"1s ", "unexpected character"},
        {"1x", "unknown unit"},
        {"1S", "unknown unit"},
        {"1H", "unknown unit"},
        {"1e3s", "unknown unit"},
        {"0x10s", "unknown unit"},
        {"1\xC2s", "unknown unit"},
        {"1h30", "missing unit"},
        {"1m1", "missing unit"},
        {"nan", "missing number"},
        {"inf", "missing number"},
        {"9223372036854775808ns", "out of range"},
        {"-9223372036854775808ns", "out of range"},
        {"293y", "out of range"},
        {"2562048h", "out of range"},
        {"99999999999999999999s", "out of range"},
        {"9223372036854775807ns1ns", "out of range"},
        {"9223372036.854775808", "out of range"},
    };
    check_rejected(servo_duration_parse, cases, COUNT(cases));
}

static size_t format_duration(int64_t value, char *buf)
{
    return servo_duration_format(value, buf);
}

static void test_duration_format(void **state)
{
    (void)state;
    static const struct text_value cases[] = {
        {"0", 0},
        {"1ns", 1},
        {"999ns", 999},
        {"1us", US},
        {"1.5us", 1500},
        {"1.001us", 1001},
        {"1.5ms", 1500 * US},
        {"300ms", 300 * MS},
        {"999.999999ms", S - 1},
        {"1s", S},
        {"1.000000001s", S + 1},
        {"3.25s", 3250 * MS},
        {"1m", MIN},
        {"1m30s", 90 * S},
        {"2h45m", 2 * HOUR + 45 * MIN},
        {"72h3m0.5s", 72 * HOUR + 3 * MIN + 500 * MS},
        {"1h0.5s", HOUR + 500 * MS},
        {"1h1s", HOUR + S},
        {"8760h", 365 * DAY},
        {"336h", 14 * DAY},
        {"-2m", -2 * MIN},
        {"-1ns", -1},
        {"-1.5ms", -1500 * US},
        {"2562047h47m16.854775807s", INT64_MAX},
        {"-2562047h47m16.854775807s", -INT64_MAX},
        {"-2562047h47m16.854775808s", INT64_MIN},
    };
    check_formatted(format_duration, cases, COUNT(cases));
}

static void test_duration_round_trip(void **state)
{
    (void)state;
    static const int64_t edges[] = {
        0,         1,     -1,        999,        1000,          999999,
        MS,        S - 1, S,         S + 1,      MIN - 1,       HOUR + 1,
        365 * DAY, -HOUR, INT64_MAX, -INT64_MAX, INT64_MAX - 1, INT64_MIN + 1,
        1500 * US};
    for (size_t i = 0; i < COUNT(edges); i++) {
        check_round_trip(format_duration, servo_duration_parse, edges[i]);
    }
    uint64_t seed = 42;
    for (int i = 0; i < 200000; i++) {
        int64_t value = (int64_t)random_magnitude(&seed);
        if (value == INT64_MIN) {
            continue;
        }
        check_round_trip(format_duration, servo_duration_parse, value);
    }
}

static int duration_from_seconds(double seconds, int64_t *out, const char **why)
{
    return servo_duration_from_seconds(seconds, out, why);
}

static void test_duration_from_seconds(void **state)
{
    (void)state;
    static const struct double_value accepted[] = {
        {0.0, 0},
        {-0.0, 0},
        {0.1, 100 * MS},
        {1.5, 1500 * MS},
        {-2.5, -2500 * MS},
        {1e-9, 1},
        {4e-10, 0},
        {6e-10, 1},
        {0.1 + 0.2, 300 * MS},
        {3600.0, HOUR},
        {9.2e9, 9200000000 * S},
    };
    for (size_t i = 0; i < COUNT(accepted); i++) {
        int64_t value = 0;
        assert_int_equal(duration_from_seconds(accepted[i].input, &value, NULL), 0);
        assert_int_equal(value, accepted[i].value);
    }
    static const double rejected[] = {
        NAN, INFINITY, -INFINITY, 9.3e9, -9.3e9, 9223372036.854775807, -9223372036.854775808};
    for (size_t i = 0; i < COUNT(rejected); i++) {
        int64_t value = 7;
        const char *why = NULL;
        assert_int_equal(duration_from_seconds(rejected[i], &value, &why), -1);
        assert_non_null(why);
        assert_int_equal(value, 7);
    }
}

static void test_duration_seconds(void **state)
{
    (void)state;
    assert_true(servo_duration_seconds(0) == 0.0);
    assert_true(servo_duration_seconds(1500 * MS) == 1.5);
    assert_true(servo_duration_seconds(-250 * MS) == -0.25);
    assert_true(servo_duration_seconds(HOUR) == 3600.0);
    assert_true(fabs(servo_duration_seconds(INT64_MAX) - 9223372036.854775807) < 1e-6);
    assert_true(fabs(servo_duration_seconds(INT64_MIN) + 9223372036.854775808) < 1e-6);
}

/* CPU */

static void test_cpu_parse_accepts(void **state)
{
    (void)state;
    static const struct text_value cases[] = {
        {"250m", 250},
        {"0.25", 250},
        {"1.5", 1500},
        {"2", 2000},
        {"0.001", 1},
        {"0.0010", 1},
        {"1000u", 1},
        {"2000000u", 2000},
        {"1000000n", 1},
        {"4.0", 4000},
        {"0", 0},
        {"0m", 0},
        {"0.0", 0},
        {"+1", 1000},
        {".5", 500},
        {"1.", 1000},
        {"00.5", 500},
        {"1500m", 1500},
        {"1000000000", 1000000000000},
        {"1000000000000m", 1000000000000},
        {"999999999.999", 999999999999},
    };
    check_accepted(servo_cpu_parse, cases, COUNT(cases));
}

static void test_cpu_parse_rejects(void **state)
{
    (void)state;
    static const struct rejected cases[] = {
        {"", "empty"},
        {"-1", "negative"},
        {"-0", "negative"},
        {"-250m", "negative"},
        {"0.0005", "finer than 1m"},
        {"100u", "finer than 1m"},
        {"1500n", "finer than 1m"},
        {"1.5m", "finer than 1m"},
        {"0.5u", "finer than 1m"},
        {"1000000001", "out of range"},
        {"1000000000.001", "out of range"},
        {"99999999999999999999999", "out of range"},
        {"1x", "unknown suffix"},
        {"1 m", "unknown suffix"},
        {"1M", "unknown suffix"},
        {"1k", "unknown suffix"},
        {"1e3", "unknown suffix"},
        {"1mm", "unknown suffix"},
        {"m", "missing number"},
        {".", "missing number"},
        {"inf", "missing number"},
        {"nan", "missing number"},
        {"1.2.3", "malformed number"},
    };
    check_rejected(servo_cpu_parse, cases, COUNT(cases));
}

static void test_cpu_from_cores(void **state)
{
    (void)state;
    static const struct double_value accepted[] = {
        {0.25, 250}, {0.1 + 0.2, 300},     {1.5, 1500}, {0.0, 0},      {-0.0, 0},
        {0.001, 1},  {1e9, 1000000000000}, {0.7, 700},  {64.0, 64000}, {1.1 * 3, 3300},
    };
    for (size_t i = 0; i < COUNT(accepted); i++) {
        int64_t value = 0;
        assert_int_equal(servo_cpu_from_cores(accepted[i].input, &value, NULL), 0);
        assert_int_equal(value, accepted[i].value);
    }
    static const struct {
        double cores;
        const char *why;
    } rejected[] = {
        {0.0001, "finer than 1m"},    {0.0015, "finer than 1m"},         {-1.0, "negative"},
        {NAN, "not a finite number"}, {INFINITY, "not a finite number"}, {1e9 + 1, "out of range"},
    };
    for (size_t i = 0; i < COUNT(rejected); i++) {
        int64_t value = 7;
        const char *why = NULL;
        assert_int_equal(servo_cpu_from_cores(rejected[i].cores, &value, &why), -1);
        assert_string_equal(why, rejected[i].why);
        assert_int_equal(value, 7);
    }
}

static size_t format_cpu(int64_t value, char *buf)
{
    return servo_cpu_format(value, buf);
}

static void test_cpu_format_and_round_trip(void **state)
{
    (void)state;
    static const struct text_value cases[] = {
        {"2", 2000},
        {"250m", 250},
        {"1500m", 1500},
        {"0", 0},
        {"1m", 1},
        {"1", 1000},
        {"1000000000", 1000000000000},
        {"999m", 999},
        {"-2", -2000},
        {"-250m", -250},
    };
    check_formatted(format_cpu, cases, COUNT(cases));
    uint64_t seed = 7;
    for (int i = 0; i < 100000; i++) {
        check_round_trip(format_cpu, servo_cpu_parse,
                         (int64_t)(random_magnitude(&seed) % 1000000000001u));
    }
    assert_true(servo_cpu_cores(1500) == 1.5);
    assert_true(servo_cpu_cores(250) == 0.25);
}

/* Memory */

static void test_memory_parse_accepts(void **state)
{
    (void)state;
    static const struct text_value cases[] = {
        {"256Mi", 256 * MI},
        {"1Gi", GI},
        {"3G", 3000000000},
        {"512M", 512000000},
        {"1.5Gi", 3 * GI / 2},
        {"64Ki", 64 * KI},
        {"1k", 1000},
        {"1K", 1000},
        {"100B", 100},
        {"1", GI},
        {"0.5", GI / 2},
        {"4", 4 * GI},
        {"0.125", GI / 8},
        {"1KiB", KI},
        {"1MiB", MI},
        {"1GiB", GI},
        {"1TiB", TI},
        {"1Ti", TI},
        {"1Pi", (int64_t)1 << 50},
        {"1KB", 1000},
        {"1kB", 1000},
        {"1MB", 1000000},
        {"1GB", 1000000000},
        {"1T", 1000000000000},
        {"1.5Ki", 1536},
        {"0.25Ki", 256},
        {"0", 0},
        {"0B", 0},
        {"1Ei", EI},
        {"7Ei", 7 * EI},
        {"1E", 1000000000000000000},
        {"9223372036854775807B", INT64_MAX},
        {"9.223372036854775807E", INT64_MAX},
        {"0.000000001G", 1},
        {"1.0000000000000000000000Ki", KI},
        {"1.0009765625Ki", 1025},
        {"+1Gi", GI},
    };
    check_accepted(servo_memory_parse, cases, COUNT(cases));
}

static void test_memory_parse_rejects(void **state)
{
    (void)state;
    static const struct rejected cases[] = {
        {"", "empty"},
        {"-1Gi", "negative"},
        {"-0", "negative"},
        {"0.3B", "not a whole number of bytes"},
        {"1.5B", "not a whole number of bytes"},
        {"0.1", "not a whole number of bytes"},
        {"0.0001Ki", "not a whole number of bytes"},
        {"8Ei", "out of range"},
        {"9223372036854775808B", "out of range"},
        {"9.3E", "out of range"},
        {"8589934592", "out of range"},
        {"1e6", "unknown suffix"},
        {"1Kib", "unknown suffix"},
        {"1ki", "unknown suffix"},
        {"1 Gi", "unknown suffix"},
        {"1Gi ", "unknown suffix"},
        {"1m", "unknown suffix"},
        {"1iB", "unknown suffix"},
        {"Gi", "missing number"},
        {" 1Gi", "missing number"},
        {"1.2.3Gi", "malformed number"},
    };
    check_rejected(servo_memory_parse, cases, COUNT(cases));
}

static void test_memory_parse_quantity(void **state)
{
    (void)state;
    static const struct text_value accepted[] = {
        {"129e6", 129000000},
        {"100", 100},
        {"1", 1},
        {"0", 0},
        {"1.5Gi", 3 * GI / 2},
        {"1Ki", KI},
        {"256Mi", 256 * MI},
        {"1E", 1000000000000000000},
        {"1E6", 1000000},
        {"1000e-3", 1},
        {"1.5e3", 1500},
        {"12e+2", 1200},
        {"0e-1000", 0},
        {"9223372036854775807", INT64_MAX},
        {"100B", 100},
    };
    check_accepted(servo_memory_parse_quantity, accepted, COUNT(accepted));
    static const struct rejected rejected[] = {
        {"", "empty"},
        {"-1", "negative"},
        {"1.5", "not a whole number of bytes"},
        {"1e-3", "not a whole number of bytes"},
        {"1e", "unknown suffix"},
        {"1e3Ki", "unknown suffix"},
        {"1e+", "unknown suffix"},
        {"e6", "missing number"},
        {"1e1001", "out of range"},
        {"1e19", "out of range"},
        {"9223372036854775808", "out of range"},
    };
    check_rejected(servo_memory_parse_quantity, rejected, COUNT(rejected));
}

static void test_memory_from_gib(void **state)
{
    (void)state;
    static const struct double_value accepted[] = {
        {1.0, GI}, {0.5, GI / 2}, {0.25, GI / 4},     {1.5, 3 * GI / 2},
        {0.0, 0},  {4.0, 4 * GI}, {1.0 / 1024.0, MI}, {8589934591.0, 8589934591 * GI},
    };
    for (size_t i = 0; i < COUNT(accepted); i++) {
        int64_t value = 0;
        assert_int_equal(servo_memory_from_gib(accepted[i].input, &value, NULL), 0);
        assert_int_equal(value, accepted[i].value);
    }
    static const struct {
        double gib;
        const char *why;
    } rejected[] = {
        {0.1, "not a whole number of bytes"}, {-1.0, "negative"},
        {NAN, "not a finite number"},         {INFINITY, "not a finite number"},
        {8589934592.0, "out of range"},
    };
    for (size_t i = 0; i < COUNT(rejected); i++) {
        int64_t value = 7;
        const char *why = NULL;
        assert_int_equal(servo_memory_from_gib(rejected[i].gib, &value, &why), -1);
        assert_string_equal(why, rejected[i].why);
        assert_int_equal(value, 7);
    }
    assert_true(servo_memory_gib(GI / 2) == 0.5);
    assert_true(servo_memory_gib(3 * GI) == 3.0);
}

static size_t format_memory(int64_t value, char *buf)
{
    return servo_memory_format(value, buf);
}

static size_t format_memory_quantity(int64_t value, char *buf)
{
    return servo_memory_format_quantity(value, buf);
}

static void test_memory_format(void **state)
{
    (void)state;
    static const struct text_value cases[] = {
        {"1Gi", GI},
        {"256Mi", 256 * MI},
        {"1536Mi", 1536 * MI},
        {"1k", 1000},
        {"3G", 3000000000},
        {"2M", 2000000},
        {"1000Ki", 1024000},
        {"100B", 100},
        {"1536B", 1536},
        {"0", 0},
        {"1Ki", KI},
        {"1Ei", EI},
        {"1E", 1000000000000000000},
        {"2G", 2000000000},
        {"512M", 512000000},
        {"1T", 1000000000000},
        {"1Mi", MI},
        {"1000Mi", 1000 * MI},
        {"9223372036854775807B", INT64_MAX},
        {"-1Ki", -KI},
    };
    check_formatted(format_memory, cases, COUNT(cases));
    static const struct text_value quantity_cases[] = {
        {"100", 100}, {"1Gi", GI}, {"0", 0}, {"3G", 3000000000}, {"1", 1},
    };
    check_formatted(format_memory_quantity, quantity_cases, COUNT(quantity_cases));
}

static void test_memory_round_trip(void **state)
{
    (void)state;
    static const int64_t edges[] = {0, 1, 1000, 1023, 1024, GI, EI, 7 * EI, INT64_MAX};
    for (size_t i = 0; i < COUNT(edges); i++) {
        check_round_trip(format_memory, servo_memory_parse, edges[i]);
        check_round_trip(format_memory_quantity, servo_memory_parse_quantity, edges[i]);
    }
    uint64_t seed = 2024;
    for (int i = 0; i < 100000; i++) {
        uint64_t random = random_magnitude(&seed) >> 1;
        /* Also values with many trailing zero bits, so that binary suffixes come up. */
        int64_t value = (int64_t)(i % 2 == 0 ? random : random >> 40 << 30);
        check_round_trip(format_memory, servo_memory_parse, value);
        check_round_trip(format_memory_quantity, servo_memory_parse_quantity, value);
    }
}

/* Rates */

static void test_rate_parse_accepts(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        struct servo_rate rate;
    } cases[] = {
        {"50/1s", {50, S}},       {"3000/1m", {3000, MIN}},
        {"50", {50, S}},          {"0", {0, S}},
        {"10/s", {10, S}},        {"5/500ms", {5, 500 * MS}},
        {"10/ms", {10, MS}},      {"1/h", {1, HOUR}},
        {"1/\xC2\xB5s", {1, US}}, {"7/1.5s", {7, 1500 * MS}},
        {"0/1m", {0, S}},         {"100/2m30s", {100, 150 * S}},
        {"1/1y", {1, 365 * DAY}}, {"9223372036854775807/1ns", {INT64_MAX, 1}},
        {"2/mm", {2, 30 * DAY}},  {"3/60", {3, MIN}},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        struct servo_rate rate = {-1, -1};
        const char *why = NULL;
        if (servo_rate_parse(cases[i].text, &rate, &why) != 0 || rate.hits != cases[i].rate.hits ||
            rate.period != cases[i].rate.period) {
            fail_msg("\"%s\": got %lld/%lld (%s)", cases[i].text, (long long)rate.hits,
                     (long long)rate.period, why ? why : "ok");
        }
    }
}

static int parse_rate_hits(const char *text, int64_t *hits, const char **why)
{
    struct servo_rate rate;
    if (servo_rate_parse(text, &rate, why) != 0) {
        return -1;
    }
    *hits = rate.hits;
    return 0;
}

static void test_rate_parse_rejects(void **state)
{
    (void)state;
    static const struct rejected cases[] = {
        {"", "empty"},
        {"/1s", "rate strings are of the form hits/interval"},
        {"50/", "rate strings are of the form hits/interval"},
        {"50/1s/2s", "rate strings are of the form hits/interval"},
        {"50//1s", "rate strings are of the form hits/interval"},
        {"50/0s", "period must be positive"},
        {"50/0", "period must be positive"},
        {"50/-1s", "period must be positive"},
        {"-5/1s", "hits must be a non-negative integer"},
        {"5.5/1s", "hits must be a non-negative integer"},
        {"abc", "hits must be a non-negative integer"},
        {" 50/1s", "hits must be a non-negative integer"},
        {"+5/1s", "hits must be a non-negative integer"},
        {"99999999999999999999/1s", "out of range"},
        {"50/x", "unknown unit"},
        {"50/1 s", "unexpected character"},
        {"50/seconds", "unknown unit"},
        {"50/1x", "unknown unit"},
        {"50/-s", "missing number"},
    };
    check_rejected(parse_rate_hits, cases, COUNT(cases));
}

static void test_rate_format_and_round_trip(void **state)
{
    (void)state;
    static const struct {
        struct servo_rate rate;
        const char *text;
    } cases[] = {
        {{50, S}, "50/1s"},
        {{3000, MIN}, "3000/1m"},
        {{0, S}, "0"},
        {{0, HOUR}, "0"},
        {{5, 500 * MS}, "5/500ms"},
        {{1, 90 * MIN}, "1/1h30m"},
        {{INT64_MAX, INT64_MAX}, "9223372036854775807/2562047h47m16.854775807s"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        char buf[SERVO_VALUE_TEXT_MAX];
        size_t len = servo_rate_format(&cases[i].rate, buf);
        assert_string_equal(buf, cases[i].text);
        assert_int_equal(len, strlen(buf));
    }
    uint64_t seed = 99;
    for (int i = 0; i < 50000; i++) {
        struct servo_rate rate = {(int64_t)(random_magnitude(&seed) >> 1),
                                  (int64_t)(random_magnitude(&seed) >> 1)};
        if (rate.period == 0 || rate.hits == 0) {
            rate = (struct servo_rate){0, S};
        }
        char buf[SERVO_VALUE_TEXT_MAX];
        servo_rate_format(&rate, buf);
        struct servo_rate parsed;
        assert_int_equal(servo_rate_parse(buf, &parsed, NULL), 0);
        assert_int_equal(parsed.hits, rate.hits);
        assert_int_equal(parsed.period, rate.period);
    }
}

/* Passwords in URLs are masked wherever the URL sits in the text; the rest is kept. */
static void test_redact_url_passwords(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"GET http://user:hunter2@host:9090/api?q=1", "GET http://user:***@host:9090/api?q=1"},
        {"a https://u:p@x/ and http://v:w%40@y", "a https://u:***@x/ and http://v:***@y"},
        {"http://user@host/ (no password)", NULL},
        {"http://host/path@x:y", NULL},
        {"no url at all", NULL},
        {"redis://:secret@cache:6379", "redis://:***@cache:6379"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *got = str_redact_url_passwords(cases[i][0]);
        if (cases[i][1] == NULL)
            assert_null(got);
        else
            assert_string_equal(got, cases[i][1]);
        free(got);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact_url_passwords),
        cmocka_unit_test(test_duration_parse_accepts),
        cmocka_unit_test(test_duration_parse_rejects),
        cmocka_unit_test(test_duration_format),
        cmocka_unit_test(test_duration_round_trip),
        cmocka_unit_test(test_duration_from_seconds),
        cmocka_unit_test(test_duration_seconds),
        cmocka_unit_test(test_cpu_parse_accepts),
        cmocka_unit_test(test_cpu_parse_rejects),
        cmocka_unit_test(test_cpu_from_cores),
        cmocka_unit_test(test_cpu_format_and_round_trip),
        cmocka_unit_test(test_memory_parse_accepts),
        cmocka_unit_test(test_memory_parse_rejects),
        cmocka_unit_test(test_memory_parse_quantity),
        cmocka_unit_test(test_memory_from_gib),
        cmocka_unit_test(test_memory_format),
        cmocka_unit_test(test_memory_round_trip),
        cmocka_unit_test(test_rate_parse_accepts),
        cmocka_unit_test(test_rate_parse_rejects),
        cmocka_unit_test(test_rate_format_and_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
