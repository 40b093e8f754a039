// SPDX-License-Identifier: Apache-2.0
/* A connector that reaches into the core: cmake/check_connector_includes.cmake must refuse
 * both includes (test connector_include_check_refuses). */
#include "../../src/util/util.h"
#include "servo/log.h"
#include "util/util.h"
