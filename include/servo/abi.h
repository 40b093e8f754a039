/* The plugin ABI gate: every connector plugin carries the version it was built against. */
#ifndef SERVO_ABI_H
#define SERVO_ABI_H

#include <stdint.h>

/* Bumped whenever a public struct layout, a public function signature or the meaning of a
 * field changes. A plugin built against another version is refused at load. */
#define SERVO_ABI_VERSION 2u

#if defined(__GNUC__)
#define SERVO_EXPORT __attribute__((visibility("default")))
#define SERVO_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define SERVO_EXPORT
#define SERVO_PRINTF(fmt_index, first_arg)
#endif

#endif
