// SPDX-License-Identifier: Apache-2.0
/* Latency histograms and Prometheus text helpers for the optimizer server (server_metrics.h). */
#include "optimizer/server_metrics.h"

#include <stdio.h>

/* Seconds: from a fast WHATS_NEXT to a slow suggestion or a store under a lock. */
static const double bucket_bounds[HISTOGRAM_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

void histogram_observe(struct histogram *h, double seconds)
{
    if (seconds < 0)
        seconds = 0;
    for (size_t i = 0; i < HISTOGRAM_BUCKETS; i++) {
        if (seconds <= bucket_bounds[i]) {
            h->buckets[i]++;
            break;
        }
    }
    h->count++;
    h->sum += seconds;
}

void histogram_render(struct strbuf *sb, const char *name, const char *labels,
                      const struct histogram *h)
{
    const char *comma = labels[0] ? "," : "";
    unsigned long long cumulative = 0;
    for (size_t i = 0; i < HISTOGRAM_BUCKETS; i++) {
        cumulative += h->buckets[i];
        strbuf_printf(sb, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, comma, bucket_bounds[i],
                      cumulative);
    }
    strbuf_printf(sb, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, comma, h->count);
    const char *open = labels[0] ? "{" : "", *close = labels[0] ? "}" : "";
    strbuf_printf(sb, "%s_sum%s%s%s %.9g\n", name, open, labels, close, h->sum);
    strbuf_printf(sb, "%s_count%s%s%s %llu\n", name, open, labels, close, h->count);
}

void metric_label_value(struct strbuf *sb, const char *value)
{
    strbuf_putc(sb, '"');
    for (const char *p = value ? value : ""; *p; p++) {
        if (*p == '\\' || *p == '"')
            strbuf_putc(sb, '\\');
        if (*p == '\n')
            strbuf_puts(sb, "\\n");
        else
            strbuf_putc(sb, *p);
    }
    strbuf_putc(sb, '"');
}

void metric_header(struct strbuf *sb, const char *name, const char *type, const char *help)
{
    strbuf_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}
