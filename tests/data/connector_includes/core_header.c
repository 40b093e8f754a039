// SPDX-License-Identifier: Apache-2.0
/* Compiled with a connector's include path (test connector_include_path_refuses): a core
 * header must not be found. */
#include "util/util.h"
