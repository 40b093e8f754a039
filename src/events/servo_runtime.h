/* A servo's life cycle around its connectors: attach runs each connector's init and the
 * attach event; detach the detach event and each fini, in reverse order. */
#ifndef SERVO_RUNTIME_H
#define SERVO_RUNTIME_H

#include "assembly/assembly.h"
#include "servo/error.h"
#include "servo/model.h"

int servo_attach(struct servo_config *servo, struct servo_error *error);
void servo_detach(struct servo_config *servo);

/* Checks adjustments against a description before anything runs: the component and
 * setting exist, the setting is not pinned, a range value is within [min, max] and on the
 * step grid (from min), an enum value is one of the values. Returns 0, or -1 with one line
 * per problem in *error (caller frees). */
int adjustments_validate(const struct servo_description *description,
                         const struct servo_adjustments *adjustments, char **error);

#endif
