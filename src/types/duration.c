/* Go-style durations: parsing in exact integer arithmetic, formatting as Go's
 * time.Duration.String() without zero components. */
#include "servo/types.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "types/decimal.h"

#define DURATION_WEEK (7 * SERVO_DAY)
#define DURATION_MONTH (30 * SERVO_DAY)
#define DURATION_YEAR (365 * SERVO_DAY)

/* Every parsed magnitude stays <= INT64_MAX, so INT64_MIN (SERVO_UNSET) is never produced. */
#define DURATION_MAX ((uint64_t)INT64_MAX)

struct duration_unit {
    const char *name;
    uint64_t nanoseconds;
};

/* Longer names first, so "mm" and "ms" win over "m". */
static const struct duration_unit duration_units[] = {
    {"mm", (uint64_t)DURATION_MONTH},
    {"ms", (uint64_t)SERVO_MILLISECOND},
    {"ns", (uint64_t)SERVO_NANOSECOND},
    {"us", (uint64_t)SERVO_MICROSECOND},
    {"\xC2\xB5s", (uint64_t)SERVO_MICROSECOND}, /* U+00B5 MICRO SIGN */
    {"\xCE\xBCs", (uint64_t)SERVO_MICROSECOND}, /* U+03BC GREEK SMALL LETTER MU */
    {"y", (uint64_t)DURATION_YEAR},
    {"w", (uint64_t)DURATION_WEEK},
    {"d", (uint64_t)SERVO_DAY},
    {"h", (uint64_t)SERVO_HOUR},
    {"m", (uint64_t)SERVO_MINUTE},
    {"s", (uint64_t)SERVO_SECOND},
};

/* A number without a unit is seconds. */
static const struct duration_unit bare_number_unit = {"", (uint64_t)SERVO_SECOND};

static int fail(const char **why, const char *reason)
{
    if (why != NULL) {
        *why = reason;
    }
    return -1;
}

static const struct duration_unit *match_unit(const char *p)
{
    for (size_t i = 0; i < sizeof duration_units / sizeof duration_units[0]; i++) {
        size_t len = strlen(duration_units[i].name);
        if (strncmp(p, duration_units[i].name, len) == 0) {
            return &duration_units[i];
        }
    }
    return NULL;
}

/* round(0.fraction * unit) with ties away from zero, exactly: Horner's rule from the last digit
 * computes floor(2 * F * unit / 10^k) (nested floor divisions compose), never above 20 * unit. */
static uint64_t fraction_times_unit(const struct decimal_text *number, uint64_t unit)
{
    uint64_t twice = 0;
    for (size_t i = number->fraction_len; i-- > 0;) {
        twice = (uint64_t)(number->fraction[i] - '0') * 2 * unit + twice / 10;
    }
    return (twice / 10 + 1) / 2;
}

/* number * unit in nanoseconds; -1 when above DURATION_MAX. */
static int decimal_times_unit(const struct decimal_text *number, uint64_t unit, uint64_t *out)
{
    uint64_t whole = 0;
    for (size_t i = 0; i < number->integer_len; i++) {
        uint64_t digit = (uint64_t)(number->integer[i] - '0');
        if (whole > (DURATION_MAX - digit) / 10) {
            return -1;
        }
        whole = whole * 10 + digit;
    }
    if (whole > DURATION_MAX / unit) {
        return -1;
    }
    uint64_t fraction = fraction_times_unit(number, unit);
    if (fraction > DURATION_MAX - whole * unit) {
        return -1;
    }
    *out = whole * unit + fraction;
    return 0;
}

static bool starts_number(char c)
{
    return decimal_is_digit(c) || c == '.';
}

/* Why `c` cannot follow a number or a unit: letters (and UTF-8) spell a unit we do not know. */
static const char *unexpected(char c)
{
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (unsigned char)c >= 0x80;
    return letter ? "unknown unit" : "unexpected character";
}

/* Sums the components of an unsigned duration text into a magnitude in nanoseconds.
 * On failure sets *reason (never NULL here). */
static int parse_magnitude(const char *p, uint64_t *out, const char **reason)
{
    uint64_t total = 0;
    bool first = true;
    do {
        struct decimal_text number;
        size_t used = decimal_scan(p, &number, reason);
        if (used == 0) {
            return -1;
        }
        p += used;
        const struct duration_unit *unit = match_unit(p);
        if (unit == NULL && *p == '\0') {
            if (!first) {
                return fail(reason, "missing unit");
            }
            unit = &bare_number_unit;
        } else if (unit == NULL) {
            return fail(reason, unexpected(*p));
        }
        p += strlen(unit->name);
        if (*p != '\0' && !starts_number(*p)) {
            return fail(reason, unexpected(*p));
        }
        uint64_t component;
        if (decimal_times_unit(&number, unit->nanoseconds, &component) != 0 ||
            component > DURATION_MAX - total) {
            return fail(reason, "out of range");
        }
        total += component;
        first = false;
    } while (*p != '\0');
    *out = total;
    return 0;
}

int servo_duration_parse(const char *text, servo_duration *out, const char **why)
{
    if (text == NULL || *text == '\0') {
        return fail(why, "empty");
    }
    bool negative = *text == '-';
    if (*text == '-' || *text == '+') {
        text++;
    }
    uint64_t magnitude;
    const char *reason = NULL;
    if (parse_magnitude(text, &magnitude, &reason) != 0) {
        return fail(why, reason);
    }
    *out = negative ? -(servo_duration)magnitude : (servo_duration)magnitude;
    return 0;
}

int servo_duration_from_seconds(double seconds, servo_duration *out, const char **why)
{
    if (!isfinite(seconds)) {
        return fail(why, "not a finite number");
    }
    double nanoseconds = round(seconds * 1e9);
    /* Both bounds are +-2^63 exactly; INT64_MIN is excluded as it means "unset". */
    if (!(nanoseconds > -9223372036854775808.0 && nanoseconds < 9223372036854775808.0)) {
        return fail(why, "out of range");
    }
    *out = (servo_duration)nanoseconds;
    return 0;
}

double servo_duration_seconds(servo_duration d)
{
    return (double)(d / SERVO_SECOND) + (double)(d % SERVO_SECOND) / 1e9;
}

/* Appends "." and `fraction` as `width` digits without trailing zeros, or nothing if 0. */
static size_t append_fraction(char *buf, uint64_t fraction, int width)
{
    if (fraction == 0) {
        return 0;
    }
    while (fraction % 10 == 0) {
        fraction /= 10;
        width--;
    }
    return (size_t)sprintf(buf, ".%0*" PRIu64, width, fraction);
}

static size_t format_seconds_and_up(uint64_t magnitude, char *buf)
{
    uint64_t hours = magnitude / (uint64_t)SERVO_HOUR;
    uint64_t minutes = magnitude / (uint64_t)SERVO_MINUTE % 60;
    uint64_t seconds = magnitude / (uint64_t)SERVO_SECOND % 60;
    uint64_t nanoseconds = magnitude % (uint64_t)SERVO_SECOND;
    size_t len = 0;
    if (hours != 0) {
        len += (size_t)sprintf(buf + len, "%" PRIu64 "h", hours);
    }
    if (minutes != 0) {
        len += (size_t)sprintf(buf + len, "%" PRIu64 "m", minutes);
    }
    if (seconds != 0 || nanoseconds != 0) {
        len += (size_t)sprintf(buf + len, "%" PRIu64, seconds);
        len += append_fraction(buf + len, nanoseconds, 9);
        buf[len++] = 's';
        buf[len] = '\0';
    }
    return len;
}

struct small_unit {
    const char *name;
    uint64_t nanoseconds;
    int fraction_digits;
};

/* Below a second, the largest unit that fits, with a decimal fraction ("1.5ms"). */
static size_t format_below_second(uint64_t magnitude, char *buf)
{
    static const struct small_unit units[] = {
        {"ms", (uint64_t)SERVO_MILLISECOND, 6},
        {"us", (uint64_t)SERVO_MICROSECOND, 3},
        {"ns", (uint64_t)SERVO_NANOSECOND, 0},
    };
    const struct small_unit *unit = &units[0];
    while (magnitude < unit->nanoseconds) {
        unit++;
    }
    size_t len = (size_t)sprintf(buf, "%" PRIu64, magnitude / unit->nanoseconds);
    len += append_fraction(buf + len, magnitude % unit->nanoseconds, unit->fraction_digits);
    return len + (size_t)sprintf(buf + len, "%s", unit->name);
}

size_t servo_duration_format(servo_duration d, char buf[SERVO_VALUE_TEXT_MAX])
{
    if (d == 0) {
        return (size_t)sprintf(buf, "0");
    }
    size_t len = 0;
    if (d < 0) {
        buf[len++] = '-';
    }
    /* Unsigned negation: well defined for INT64_MIN too. */
    uint64_t magnitude = d < 0 ? 0 - (uint64_t)d : (uint64_t)d;
    if (magnitude >= (uint64_t)SERVO_SECOND) {
        return len + format_seconds_and_up(magnitude, buf + len);
    }
    return len + format_below_second(magnitude, buf + len);
}
