/* libFuzzer target for the value types: every parser runs on the input, and every value it
 * accepts must format to text that parses back to the same value. The first 8 bytes are also
 * read as an int64 and as a double, to exercise the formatters and the from_* conversions. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "servo/types.h"

#define CPU_MAX_MILLICORES ((int64_t)1000000000 * 1000)

typedef int (*int64_parser)(const char *, int64_t *, const char **);
typedef size_t (*int64_formatter)(int64_t, char *);

static size_t format_duration(int64_t value, char *buf)
{
    return servo_duration_format(value, buf);
}

static size_t format_cpu(int64_t value, char *buf)
{
    return servo_cpu_format(value, buf);
}

static size_t format_memory(int64_t value, char *buf)
{
    return servo_memory_format(value, buf);
}

static size_t format_memory_quantity(int64_t value, char *buf)
{
    return servo_memory_format_quantity(value, buf);
}

static void check_format_parse(int64_formatter format, int64_parser parse, int64_t value)
{
    char buf[SERVO_VALUE_TEXT_MAX];
    size_t len = format(value, buf);
    if (len >= SERVO_VALUE_TEXT_MAX || strlen(buf) != len) {
        abort();
    }
    int64_t again = 0;
    if (parse(buf, &again, NULL) != 0 || again != value) {
        abort();
    }
}

/* Runs `parse` on `text`; a failure must give a reason, a success must round-trip. */
static void check_parser(int64_parser parse, int64_formatter format, const char *text)
{
    int64_t value = 0;
    const char *why = NULL;
    if (parse(text, &value, &why) != 0) {
        if (why == NULL) {
            abort();
        }
        return;
    }
    check_format_parse(format, parse, value);
}

static void check_rate(const char *text)
{
    struct servo_rate rate;
    const char *why = NULL;
    if (servo_rate_parse(text, &rate, &why) != 0) {
        if (why == NULL) {
            abort();
        }
        return;
    }
    if (rate.hits < 0 || rate.period <= 0) {
        abort();
    }
    char buf[SERVO_VALUE_TEXT_MAX];
    size_t len = servo_rate_format(&rate, buf);
    struct servo_rate again;
    if (len >= SERVO_VALUE_TEXT_MAX || servo_rate_parse(buf, &again, NULL) != 0 ||
        again.hits != rate.hits || again.period != rate.period) {
        abort();
    }
}

static void check_formatters(int64_t value)
{
    if (value != INT64_MIN) {
        check_format_parse(format_duration, servo_duration_parse, value);
    }
    int64_t magnitude = value == INT64_MIN ? INT64_MAX : (value < 0 ? -value : value);
    check_format_parse(format_cpu, servo_cpu_parse, magnitude % (CPU_MAX_MILLICORES + 1));
    check_format_parse(format_memory, servo_memory_parse, magnitude);
    check_format_parse(format_memory_quantity, servo_memory_parse_quantity, magnitude);
}

static void check_conversions(double number)
{
    int64_t value;
    if (servo_duration_from_seconds(number, &value, NULL) == 0) {
        check_format_parse(format_duration, servo_duration_parse, value);
    }
    if (servo_cpu_from_cores(number, &value, NULL) == 0) {
        check_format_parse(format_cpu, servo_cpu_parse, value);
    }
    if (servo_memory_from_gib(number, &value, NULL) == 0) {
        check_format_parse(format_memory, servo_memory_parse, value);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';

    check_parser(servo_duration_parse, format_duration, text);
    check_parser(servo_cpu_parse, format_cpu, text);
    check_parser(servo_memory_parse, format_memory, text);
    check_parser(servo_memory_parse_quantity, format_memory_quantity, text);
    check_rate(text);
    free(text);

    if (size >= 8) {
        int64_t value;
        double number;
        memcpy(&value, data, sizeof value);
        memcpy(&number, data, sizeof number);
        check_formatters(value);
        check_conversions(number);
    }
    return 0;
}
