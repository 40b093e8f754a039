// SPDX-License-Identifier: Apache-2.0
/* The optimizer server's /metrics pieces: latency histograms in Prometheus text format.
 * The caller serializes access (the server's stats lock). */
#ifndef SERVO_OPTIMIZER_SERVER_METRICS_H
#define SERVO_OPTIMIZER_SERVER_METRICS_H

#include "util/util.h"

#define HISTOGRAM_BUCKETS 14

struct histogram {
    unsigned long long buckets[HISTOGRAM_BUCKETS]; /* observations <= the bound, not cumulative */
    unsigned long long count;                      /* the +Inf bucket */
    double sum;
};

void histogram_observe(struct histogram *h, double seconds);

/* NAME_bucket{LABELS,le="..."} (cumulative), NAME_sum{LABELS} and NAME_count{LABELS};
 * labels is "" or `key="value"` pairs, already escaped. */
void histogram_render(struct strbuf *sb, const char *name, const char *labels,
                      const struct histogram *h);

/* A Prometheus label value, quoted and escaped. */
void metric_label_value(struct strbuf *sb, const char *value);

void metric_header(struct strbuf *sb, const char *name, const char *type, const char *help);

#endif
