/* CPU and memory quantities, Kubernetes style, parsed exactly: a decimal number is scaled by
 * its suffix in integer arithmetic and must land on a whole millicore or byte. */
#include "servo/types.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "types/decimal.h"

#define CPU_MAX_MILLICORES ((uint64_t)1000000000 * 1000)
#define MEMORY_MAX_BYTES ((uint64_t)INT64_MAX)
#define GIB ((uint64_t)1 << 30)
/* Exponents beyond this are refused before scaling, so loops over them stay short. */
#define EXPONENT_MAX 1000

/* A number as written, "[digits][.digits]", times 10^shift times factor (a power of two). */
struct scaled_decimal {
    struct decimal_text digits;
    long shift;
    uint64_t factor;
};

enum scale_result { SCALE_OK, SCALE_OUT_OF_RANGE, SCALE_INEXACT };

struct suffix {
    const char *name;
    int shift;
    unsigned binary_exponent;
};

static const struct suffix cpu_suffixes[] = {
    {"", 3, 0},
    {"m", 0, 0},
    {"u", -3, 0},
    {"n", -6, 0},
};

static const struct suffix memory_suffixes[] = {
    {"B", 0, 0},    {"Ki", 0, 10},  {"Mi", 0, 20},  {"Gi", 0, 30},  {"Ti", 0, 40},  {"Pi", 0, 50},
    {"Ei", 0, 60},  {"KiB", 0, 10}, {"MiB", 0, 20}, {"GiB", 0, 30}, {"TiB", 0, 40}, {"PiB", 0, 50},
    {"EiB", 0, 60}, {"k", 3, 0},    {"K", 3, 0},    {"M", 6, 0},    {"G", 9, 0},    {"T", 12, 0},
    {"P", 15, 0},   {"E", 18, 0},   {"kB", 3, 0},   {"KB", 3, 0},   {"MB", 6, 0},   {"GB", 9, 0},
    {"TB", 12, 0},  {"PB", 15, 0},  {"EB", 18, 0},
};

static const struct suffix gib_suffix = {"", 0, 30};
static const struct suffix byte_suffix = {"", 0, 0};

static int fail(const char **why, const char *reason)
{
    if (why != NULL) {
        *why = reason;
    }
    return -1;
}

/* The i-th digit of the integer digits followed by the fraction digits; 0 outside them. */
static uint64_t digit_at(const struct scaled_decimal *number, long i)
{
    long integer_len = (long)number->digits.integer_len;
    if (i < 0) {
        return 0;
    }
    if (i < integer_len) {
        return (uint64_t)(number->digits.integer[i] - '0');
    }
    if (i - integer_len < (long)number->digits.fraction_len) {
        return (uint64_t)(number->digits.fraction[i - integer_len] - '0');
    }
    return 0;
}

/* The digits left of the shifted decimal point, times factor. */
static enum scale_result scale_whole_part(const struct scaled_decimal *number, long point,
                                          uint64_t limit, uint64_t *out)
{
    uint64_t whole = 0;
    for (long i = 0; i < point; i++) {
        uint64_t digit = digit_at(number, i);
        if (whole > (limit - digit) / 10) {
            return SCALE_OUT_OF_RANGE;
        }
        whole = whole * 10 + digit;
    }
    if (whole > limit / number->factor) {
        return SCALE_OUT_OF_RANGE;
    }
    *out = whole * number->factor;
    return SCALE_OK;
}

/* The digits right of the shifted decimal point, times factor, which must come out whole.
 * Horner's rule from the last digit: nested floor divisions compose into floor(F * factor / 10^k),
 * and the result is whole only if every division was exact. The accumulator stays below
 * 10 * factor <= 10 * 2^60 < 2^64. */
static enum scale_result scale_fraction_part(const struct scaled_decimal *number, long point,
                                             uint64_t *out)
{
    long end = (long)(number->digits.integer_len + number->digits.fraction_len);
    uint64_t accumulator = 0;
    for (long i = end - 1; i >= point; i--) {
        if (accumulator % 10 != 0) {
            return SCALE_INEXACT;
        }
        accumulator = digit_at(number, i) * number->factor + accumulator / 10;
    }
    if (accumulator % 10 != 0) {
        return SCALE_INEXACT;
    }
    *out = accumulator / 10;
    return SCALE_OK;
}

static enum scale_result scale_decimal(const struct scaled_decimal *number, uint64_t limit,
                                       uint64_t *out)
{
    long point = (long)number->digits.integer_len + number->shift;
    uint64_t whole;
    uint64_t fraction;
    enum scale_result result = scale_whole_part(number, point, limit, &whole);
    if (result == SCALE_OK) {
        result = scale_fraction_part(number, point, &fraction);
    }
    if (result == SCALE_OK && fraction > limit - whole) {
        result = SCALE_OUT_OF_RANGE;
    }
    if (result == SCALE_OK) {
        *out = whole + fraction;
    }
    return result;
}

static const struct suffix *find_suffix(const char *text, const struct suffix *table, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(text, table[i].name) == 0) {
            return &table[i];
        }
    }
    return NULL;
}

static bool is_exponent(const char *p)
{
    if (*p != 'e' && *p != 'E') {
        return false;
    }
    p++;
    if (*p == '+' || *p == '-') {
        p++;
    }
    return decimal_is_digit(*p);
}

/* "e[+-]digits" up to the end of the text; -1 with *reason set if not that or too large. */
static int parse_exponent(const char *p, long *exponent, const char **reason)
{
    p++;
    bool negative = *p == '-';
    if (*p == '+' || *p == '-') {
        p++;
    }
    long value = 0;
    for (; decimal_is_digit(*p); p++) {
        value = value * 10 + (*p - '0');
        if (value > EXPONENT_MAX) {
            return fail(reason, "out of range");
        }
    }
    if (*p != '\0') {
        return fail(reason, "unknown suffix");
    }
    *exponent = negative ? -value : value;
    return 0;
}

static void apply_suffix(struct scaled_decimal *number, const struct suffix *suffix)
{
    number->shift += suffix->shift;
    number->factor = (uint64_t)1 << suffix->binary_exponent;
}

/* Parses "[+]number[suffix]" into `number`, scaled by the suffix. `bare` scales a number
 * without a suffix; `exponents` allows a decimal exponent ("129e6") in place of a suffix. */
static int parse_quantity_text(const char *text, const struct suffix *table, size_t count,
                               const struct suffix *bare, bool exponents,
                               struct scaled_decimal *number, const char **reason)
{
    if (text == NULL || *text == '\0') {
        return fail(reason, "empty");
    }
    if (*text == '-') {
        return fail(reason, "negative");
    }
    if (*text == '+') {
        text++;
    }
    size_t used = decimal_scan(text, &number->digits, reason);
    if (used == 0) {
        return -1;
    }
    const char *rest = text + used;
    number->shift = 0;
    number->factor = 1;
    if (*rest == '\0') {
        apply_suffix(number, bare);
        return 0;
    }
    if (exponents && is_exponent(rest)) {
        return parse_exponent(rest, &number->shift, reason);
    }
    const struct suffix *suffix = find_suffix(rest, table, count);
    if (suffix == NULL) {
        return fail(reason, "unknown suffix");
    }
    apply_suffix(number, suffix);
    return 0;
}

static int scale_into(const struct scaled_decimal *number, uint64_t limit, const char *inexact,
                      int64_t *out, const char **why)
{
    uint64_t value;
    switch (scale_decimal(number, limit, &value)) {
    case SCALE_OK:
        *out = (int64_t)value;
        return 0;
    case SCALE_OUT_OF_RANGE:
        return fail(why, "out of range");
    case SCALE_INEXACT:
        return fail(why, inexact);
    }
    return fail(why, "out of range");
}

/* The nearest integer to `value` if it is within `tolerance` (relative, at least absolute)
 * of one, to absorb binary floating-point noise such as 0.1 + 0.2. */
static bool nearest_integer(double value, double tolerance, double *out)
{
    double rounded = round(value);
    if (fabs(value - rounded) > tolerance * fmax(fabs(value), 1.0)) {
        return false;
    }
    *out = rounded;
    return true;
}

/* Writes "-" if negative, then the magnitude divided by `unit`, then `suffix`. */
static size_t format_scaled(int64_t value, uint64_t unit, const char *suffix, char *buf)
{
    uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    return (size_t)sprintf(buf, "%s%" PRIu64 "%s", value < 0 ? "-" : "", magnitude / unit, suffix);
}

int servo_cpu_parse(const char *text, int64_t *millicores, const char **why)
{
    struct scaled_decimal number;
    const char *reason = NULL;
    if (parse_quantity_text(text, cpu_suffixes, sizeof cpu_suffixes / sizeof cpu_suffixes[0],
                            &cpu_suffixes[0], false, &number, &reason) != 0) {
        return fail(why, reason);
    }
    return scale_into(&number, CPU_MAX_MILLICORES, "finer than 1m", millicores, why);
}

int servo_cpu_from_cores(double cores, int64_t *millicores, const char **why)
{
    if (!isfinite(cores)) {
        return fail(why, "not a finite number");
    }
    if (cores < 0) {
        return fail(why, "negative");
    }
    double value;
    if (cores * 1000 > (double)CPU_MAX_MILLICORES) {
        return fail(why, "out of range");
    }
    if (!nearest_integer(cores * 1000, 1e-9, &value)) {
        return fail(why, "finer than 1m");
    }
    *millicores = (int64_t)value;
    return 0;
}

size_t servo_cpu_format(int64_t millicores, char buf[SERVO_VALUE_TEXT_MAX])
{
    if (millicores % 1000 == 0) {
        return format_scaled(millicores, 1000, "", buf);
    }
    return format_scaled(millicores, 1, "m", buf);
}

double servo_cpu_cores(int64_t millicores)
{
    return (double)millicores / 1000.0;
}

static int parse_memory(const char *text, const struct suffix *bare, bool exponents, int64_t *bytes,
                        const char **why)
{
    struct scaled_decimal number;
    const char *reason = NULL;
    if (parse_quantity_text(text, memory_suffixes,
                            sizeof memory_suffixes / sizeof memory_suffixes[0], bare, exponents,
                            &number, &reason) != 0) {
        return fail(why, reason);
    }
    return scale_into(&number, MEMORY_MAX_BYTES, "not a whole number of bytes", bytes, why);
}

int servo_memory_parse(const char *text, int64_t *bytes, const char **why)
{
    return parse_memory(text, &gib_suffix, false, bytes, why);
}

int servo_memory_parse_quantity(const char *text, int64_t *bytes, const char **why)
{
    return parse_memory(text, &byte_suffix, true, bytes, why);
}

int servo_memory_from_gib(double gib, int64_t *bytes, const char **why)
{
    if (!isfinite(gib)) {
        return fail(why, "not a finite number");
    }
    if (gib < 0) {
        return fail(why, "negative");
    }
    /* Scaling by a power of two is exact; 2^63 itself is out of range. */
    double value = gib * (double)GIB;
    if (value >= 9223372036854775808.0) {
        return fail(why, "out of range");
    }
    if (!nearest_integer(value, 1e-12, &value)) {
        return fail(why, "not a whole number of bytes");
    }
    *bytes = (int64_t)value;
    return 0;
}

struct memory_unit {
    const char *name;
    uint64_t bytes;
};

static const struct memory_unit binary_units[] = {
    {"Ei", (uint64_t)1 << 60}, {"Pi", (uint64_t)1 << 50}, {"Ti", (uint64_t)1 << 40},
    {"Gi", (uint64_t)1 << 30}, {"Mi", (uint64_t)1 << 20}, {"Ki", (uint64_t)1 << 10},
};

static const struct memory_unit decimal_units[] = {
    {"E", 1000000000000000000}, {"P", 1000000000000000}, {"T", 1000000000000},
    {"G", 1000000000},          {"M", 1000000},          {"k", 1000},
};

static const struct memory_unit *largest_dividing(uint64_t magnitude,
                                                  const struct memory_unit *units, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (magnitude % units[i].bytes == 0) {
            return &units[i];
        }
    }
    return NULL;
}

static int count_decimal_digits(uint64_t value)
{
    int digits = 1;
    while (value >= 10) {
        value /= 10;
        digits++;
    }
    return digits;
}

/* The largest binary and the largest decimal suffix that divide exactly compete; the one with
 * the shorter number wins, binary on a tie ("1Gi", "1536Mi", "2G" rather than "1953125Ki").
 * Without either, the byte count followed by `plain`. */
static size_t format_memory(int64_t bytes, const char *plain, char *buf)
{
    if (bytes == 0) {
        return (size_t)sprintf(buf, "0");
    }
    uint64_t magnitude = bytes < 0 ? 0 - (uint64_t)bytes : (uint64_t)bytes;
    const struct memory_unit *binary =
        largest_dividing(magnitude, binary_units, sizeof binary_units / sizeof binary_units[0]);
    const struct memory_unit *decimal =
        largest_dividing(magnitude, decimal_units, sizeof decimal_units / sizeof decimal_units[0]);
    const struct memory_unit *best = binary != NULL ? binary : decimal;
    if (binary != NULL && decimal != NULL &&
        count_decimal_digits(magnitude / decimal->bytes) <
            count_decimal_digits(magnitude / binary->bytes)) {
        best = decimal;
    }
    if (best == NULL) {
        return format_scaled(bytes, 1, plain, buf);
    }
    return format_scaled(bytes, best->bytes, best->name, buf);
}

size_t servo_memory_format(int64_t bytes, char buf[SERVO_VALUE_TEXT_MAX])
{
    return format_memory(bytes, "B", buf);
}

size_t servo_memory_format_quantity(int64_t bytes, char buf[SERVO_VALUE_TEXT_MAX])
{
    return format_memory(bytes, "", buf);
}

double servo_memory_gib(int64_t bytes)
{
    return (double)bytes / (double)GIB;
}
