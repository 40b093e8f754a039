/* Everything a connector needs: include this one header. */
#ifndef SERVO_SERVO_H
#define SERVO_SERVO_H

#include "servo/abi.h"
#include "servo/alloc.h"
#include "servo/buf.h"
#include "servo/connector.h"
#include "servo/error.h"
#include "servo/node.h"
#include "servo/settings.h"
#include "servo/types.h"
#include "servo/util.h"

#endif
