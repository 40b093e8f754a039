/* libFuzzer target for the wrk connector's summary line (connectors/wrk/summary.c): the input
 * is wrk's stdout. wrk_find_summary must return a line inside the input that holds the
 * marker; whatever parses (that line, or else the whole input) must give an error rate in
 * [0, 100] and no negative metric. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../connectors/wrk/summary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    size_t length = 0;
    const char *line = wrk_find_summary(text, size, &length);
    if (line != NULL &&
        (line < text || line + length > text + size ||
         memmem(line, length, WRK_SUMMARY_MARKER, strlen(WRK_SUMMARY_MARKER)) == NULL))
        abort();
    if (line == NULL) {
        line = text;
        length = size;
    }
    struct wrk_summary summary;
    struct servo_error error;
    if (wrk_summary_parse(line, length, &summary, &error) != 0)
        return 0;
    double rate = wrk_error_rate(&summary);
    if (!(rate >= 0 && rate <= 100))
        abort();
    for (int m = 0; m < WRK_METRIC_COUNT; m++)
        if (wrk_metric_value(&summary, (enum wrk_metric)m) < 0)
            abort();
    return 0;
}
