// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target for `servo config convert`: YAML text (a legacy Opsani config.yaml) through
 * the loader and the converter (src/cli/cmd_convert.c), then the servo.yaml it renders.
 * Errors and notes are fine; crashes, leaks, undefined behaviour and hangs are bugs. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cli/convert.h"
#include "config/diag.h"
#include "config/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct yaml_documents docs = {0};
    struct servo_diags diags;
    diags_init(&diags);
    if (yaml_load((const char *)data, size, "fuzz.yaml", &docs, &diags) == 0) {
        for (size_t i = 0; i < docs.count; i++) {
            if (docs.items[i] == NULL || servo_node_kind(docs.items[i]) != SERVO_NODE_MAP)
                continue;
            json_t *notes = json_array();
            free(legacy_convert(docs.items[i], "fuzz.yaml", notes));
            json_decref(notes);
        }
        yaml_documents_free(&docs);
    }
    diags_free(&diags);
    return 0;
}
