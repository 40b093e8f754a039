/* Request rates as Vegeta writes them: "hits/period". */
#include "servo/types.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define RATE_FORM "rate strings are of the form hits/interval"

/* A bare unit ("s", "ms", "µs") is at most this long. */
#define BARE_UNIT_MAX 3

static int fail(const char **why, const char *reason)
{
    if (why != NULL) {
        *why = reason;
    }
    return -1;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Digits only, no sign; "hits" may not be empty. */
static int parse_hits(const char *text, size_t len, int64_t *hits, const char **why)
{
    if (len == 0) {
        return fail(why, RATE_FORM);
    }
    int64_t value = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(text[i])) {
            return fail(why, "hits must be a non-negative integer");
        }
        int digit = text[i] - '0';
        if (value > (INT64_MAX - digit) / 10) {
            return fail(why, "out of range");
        }
        value = value * 10 + digit;
    }
    *hits = value;
    return 0;
}

static bool starts_like_number(const char *text)
{
    return is_digit(*text) || *text == '.' || *text == '+' || *text == '-';
}

/* A duration, or a bare unit meaning one of it ("s" is "1s"); it must be positive. */
static int parse_period(const char *text, servo_duration *period, const char **why)
{
    if (*text == '\0' || strchr(text, '/') != NULL) {
        return fail(why, RATE_FORM);
    }
    char one_unit[BARE_UNIT_MAX + 2] = "1";
    if (!starts_like_number(text)) {
        if (strlen(text) > BARE_UNIT_MAX) {
            return fail(why, "unknown unit");
        }
        strcpy(one_unit + 1, text);
        text = one_unit;
    }
    if (servo_duration_parse(text, period, why) != 0) {
        return -1;
    }
    if (*period <= 0) {
        return fail(why, "period must be positive");
    }
    return 0;
}

int servo_rate_parse(const char *text, struct servo_rate *out, const char **why)
{
    if (text == NULL || *text == '\0') {
        return fail(why, "empty");
    }
    const char *slash = strchr(text, '/');
    size_t hits_len = slash != NULL ? (size_t)(slash - text) : strlen(text);
    struct servo_rate rate = {.hits = 0, .period = SERVO_SECOND};
    if (parse_hits(text, hits_len, &rate.hits, why) != 0) {
        return -1;
    }
    if (slash != NULL && parse_period(slash + 1, &rate.period, why) != 0) {
        return -1;
    }
    /* "0" (as fast as possible) has no meaningful period; normalising it keeps format∘parse
     * the identity. */
    if (rate.hits == 0) {
        rate.period = SERVO_SECOND;
    }
    *out = rate;
    return 0;
}

size_t servo_rate_format(const struct servo_rate *rate, char buf[SERVO_VALUE_TEXT_MAX])
{
    if (rate->hits == 0) {
        return (size_t)sprintf(buf, "0");
    }
    char period[SERVO_VALUE_TEXT_MAX];
    servo_duration_format(rate->period, period);
    /* At most 20 + 1 + 27 characters: "-9223372036854775808/-2562047h47m16.854775808s". */
    int len = snprintf(buf, SERVO_VALUE_TEXT_MAX, "%" PRId64 "/%s", rate->hits, period);
    return (size_t)len;
}
