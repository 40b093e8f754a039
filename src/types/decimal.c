// SPDX-License-Identifier: Apache-2.0
#include "types/decimal.h"

bool decimal_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static size_t count_digits(const char *p)
{
    size_t n = 0;
    while (decimal_is_digit(p[n])) {
        n++;
    }
    return n;
}

size_t decimal_scan(const char *p, struct decimal_text *number, const char **reason)
{
    number->integer = p;
    number->integer_len = count_digits(p);
    number->fraction = p + number->integer_len;
    number->fraction_len = 0;
    size_t used = number->integer_len;
    if (p[used] == '.') {
        number->fraction = p + used + 1;
        number->fraction_len = count_digits(number->fraction);
        used += 1 + number->fraction_len;
    }
    if (number->integer_len == 0 && number->fraction_len == 0) {
        *reason = "missing number";
        return 0;
    }
    if (p[used] == '.') {
        *reason = "malformed number";
        return 0;
    }
    return used;
}
