/* Value types shared by settings and the data model: durations, CPU and memory quantities,
 * request rates. Parsers take a NUL-terminated string and never allocate; on failure they
 * return -1 and write a short reason (without the input) into `why` when it is not NULL. */
#ifndef SERVO_TYPES_H
#define SERVO_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "servo/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Nanoseconds, as in Go's time.Duration. */
typedef int64_t servo_duration;

#define SERVO_NANOSECOND ((servo_duration)1)
#define SERVO_MICROSECOND ((servo_duration)1000)
#define SERVO_MILLISECOND ((servo_duration)1000000)
#define SERVO_SECOND ((servo_duration)1000000000)
#define SERVO_MINUTE (60 * SERVO_SECOND)
#define SERVO_HOUR (60 * SERVO_MINUTE)
#define SERVO_DAY (24 * SERVO_HOUR)

/* Marks an optional integer-like setting (int, duration, cpu, memory) that was not given. */
#define SERVO_UNSET INT64_MIN

/* Longest text any formatter below writes, NUL included. */
#define SERVO_VALUE_TEXT_MAX 64

/* Go-style durations: "1h30m", "300ms", "1.5s", "-2m", "0", "2w", "1mm" (30 days), "1y" (365 days);
 * units ns, us, µs, μs, ms, s, m, h, d, w, mm, y; a bare number is seconds ("30", "0.5"). */
SERVO_EXPORT int servo_duration_parse(const char *text, servo_duration *out, const char **why);
/* Seconds as a double (JSON numbers on the wire); rejects NaN, infinities and overflow. */
SERVO_EXPORT int servo_duration_from_seconds(double seconds, servo_duration *out, const char **why);
SERVO_EXPORT double servo_duration_seconds(servo_duration d);
/* "0", "300ms", "1.5ms", "1m", "2h45m", "72h3m0.5s", "8760h": hours, minutes and seconds (with
 * a fraction), zero components left out; below a second the largest of ms, us, ns that fits.
 * Days, weeks, months and years are never emitted, so hours can be large.
 * Returns the length written (always < SERVO_VALUE_TEXT_MAX). */
SERVO_EXPORT size_t servo_duration_format(servo_duration d, char buf[SERVO_VALUE_TEXT_MAX]);

/* CPU in millicores: "250m", "0.25", "1.5", "2", "100u"/"1000000n" when they land on whole
 * millicores. Finer than 1m, negative, NaN or absurdly large values are rejected. */
SERVO_EXPORT int servo_cpu_parse(const char *text, int64_t *millicores, const char **why);
SERVO_EXPORT int servo_cpu_from_cores(double cores, int64_t *millicores, const char **why);
/* Kubernetes style: whole cores as "2", otherwise millicores "250m", "1500m". */
SERVO_EXPORT size_t servo_cpu_format(int64_t millicores, char buf[SERVO_VALUE_TEXT_MAX]);
SERVO_EXPORT double servo_cpu_cores(int64_t millicores);

/* Memory in bytes, for settings: "256Mi", "1Gi", "3G", "512M", "1.5Gi", "64Ki", "1k", "100B";
 * ServoX's "MiB"/"GiB"/"KiB"/"TiB" spellings are accepted; a bare number ("1", "0.5", "4") is GiB,
 * as in ServoX; an explicit byte count takes the suffix "B". Fractions must land on whole bytes. */
SERVO_EXPORT int servo_memory_parse(const char *text, int64_t *bytes, const char **why);
/* A Kubernetes quantity as the API server writes it: the suffixes above (and "e" exponents,
 * "129e6"), but a bare number is bytes. */
SERVO_EXPORT int servo_memory_parse_quantity(const char *text, int64_t *bytes, const char **why);
SERVO_EXPORT int servo_memory_from_gib(double gib, int64_t *bytes, const char **why);
/* With the largest binary suffix that divides exactly ("256Mi", "1Gi", "1536Mi") or the largest
 * decimal one ("1k", "3G"), whichever leaves the shorter number, binary on a tie ("2G" rather
 * than "1953125Ki", "1000Ki" rather than "1024k"); else bytes with "B" ("100B"); 0 is "0".
 * servo_memory_parse reads every result back to the same value. */
SERVO_EXPORT size_t servo_memory_format(int64_t bytes, char buf[SERVO_VALUE_TEXT_MAX]);
/* As servo_memory_format but a bare byte count in the last case ("100"): a Kubernetes quantity. */
SERVO_EXPORT size_t servo_memory_format_quantity(int64_t bytes, char buf[SERVO_VALUE_TEXT_MAX]);
SERVO_EXPORT double servo_memory_gib(int64_t bytes);

/* A request rate: `hits` requests per `period`. hits == 0 means "as fast as possible". */
struct servo_rate {
    int64_t hits;
    servo_duration period;
};

/* "50/1s", "3000/1m", "50" (per second), "0" (max), "10/s" (a bare unit means 1 of it). */
SERVO_EXPORT int servo_rate_parse(const char *text, struct servo_rate *out, const char **why);
/* "50/1s", "3000/1m", "0". */
SERVO_EXPORT size_t servo_rate_format(const struct servo_rate *rate,
                                      char buf[SERVO_VALUE_TEXT_MAX]);

#ifdef __cplusplus
}
#endif

#endif
