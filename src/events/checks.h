/* Checks: the built-in `on check` handler that runs a connector's declared checks
 * (servo/checks.h), and checks_run, the driver behind `servo check` and `servo run --check`.
 *
 * The check event's argument (servo_event_argument; NULL means "everything, halt on
 * critical, no remedies"), every key optional:
 *
 *   {"name": ["exact name", "/regex/"], "id": [...], "tag": [...],
 *    "halt_on": "warning" | "common" | "critical", "remedy": false, "exclusive": false}
 *
 * A filter entry is an exact value, or a PCRE2 pattern between slashes that is searched
 * anywhere in the value (ServoX used re.search). A check matches a field when it matches any
 * of its entries; the fields are AND-ed; a tag entry matches when any of the check's tags
 * matches it, so untagged checks never pass a tag filter. Comma lists are split before the
 * argument is built (checks_argument), never by the handler. Checks run in declaration
 * order; a critical check that the filter leaves out still runs when a selected check comes
 * after it (it is a prerequisite), unless "exclusive" is true. After a failed check the run
 * stops when halt_on is "warning" (any failure), "common" (a failure that is not a warning)
 * or "critical" (a critical failure). With "remedy": a failed check that declares a remedy
 * command gets it run (10 s timeout, in its own process group), then the check runs once
 * more and that outcome is the one reported.
 *
 * The handler's value (servo_event_set_value) is an array, in run order, of
 *
 *   {"name": "Run query p50", "id": "queries_item_0", "description": "..." | null,
 *    "severity": "warning" | "common" | "critical", "tags": ["metrics", ...],
 *    "success": true, "message": "..." | null, "hint": "..." | null (failed checks only),
 *    "remedy": "command" | null, "runtime_ms": 12.5}
 *
 * A check passes when it succeeded or its severity is "warning".
 *
 * Ids: a declared id, else 8 lowercase hex digits of the 32-bit FNV-1a hash (offset basis
 * 2166136261, prime 16777619) of the name's UTF-8 bytes -- stable across runs and builds.
 * A multicheck expands into one check per item: "{item}" in its name and description is
 * replaced by the item's label, and the ids are "<id>_item_<i>" (i from 0), where <id> is
 * the declared id or the hash of the unexpanded name. Tags are a comma list, each 1-32 of
 * [0-9a-z.-]; a check declaring an invalid tag fails with a message saying so. */
#ifndef SERVO_EVENTS_CHECKS_H
#define SERVO_EVENTS_CHECKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "assembly/assembly.h"
#include "events/cancel.h"
#include "servo/checks.h"

/* How long a remedy command may run. */
#define CHECK_REMEDY_TIMEOUT (10 * SERVO_SECOND)
/* First delay between rounds with delay "expo" (then doubled each round). */
#define CHECK_EXPO_FIRST_DELAY (8 * SERVO_SECOND)

/* 32-bit FNV-1a of `text`, as 8 lowercase hex digits: the default check id. */
void check_default_id(const char *text, char out[9]);
/* 1-32 characters of [0-9a-z.-]. */
bool check_tag_valid(const char *tag, size_t length);
/* "warning", "common", "critical" (also the halt_on names). */
const char *check_severity_name(enum servo_severity severity);

/* The check event's argument from command-line style values: each list is NULL-terminated
 * (or NULL); an entry "/re/" is one regex, any other entry is split at commas (pieces
 * trimmed, blanks dropped). Returns a new reference, or NULL with a message in *error
 * (caller frees) when a regex does not compile. `halt_on` is an enum check_halt. */
json_t *checks_argument(const char *const *names, const char *const *ids, const char *const *tags,
                        int halt_on, bool remedy, char **error);

struct checks_options {
    const char *const *connectors; /* instance names (NULL-terminated); NULL: every one
                                      that answers the check event */
    const char *const *names;      /* filters as in checks_argument */
    const char *const *ids;
    const char *const *tags;
    int halt_on; /* enum check_halt */
    bool remedy;
    bool progressive;    /* log "✅ Check 'X' passed", "❌ Check 'X' failed ..." as they come */
    servo_duration wait; /* retry failed connectors until this has passed; 0: one round */
    bool delay_exponential;      /* 8 s, 16 s, 32 s, ... between rounds */
    servo_duration delay;        /* else this fixed delay */
    struct cancel_token *parent; /* cancels the whole run (signals); may be NULL */
};

/* Options from the `checks:` settings, as `servo run --check` uses them: every key, quiet
 * turning progressive logging off. The lists are arrays made here (the strings stay the
 * settings'); release them with checks_options_free, and only then. */
void checks_options_from_settings(struct checks_options *options,
                                  const struct checks_settings *settings);
void checks_options_free(struct checks_options *options);

struct checks_connector {
    const char *name;         /* the instance name (borrowed from the servo) */
    json_t *checks;           /* the latest results: an array as described above */
    struct servo_error error; /* kind NONE unless its check handler failed */
    bool ready;               /* no handler error and every check passed */
};

struct checks_report {
    struct checks_connector *connectors; /* in the servo's connector order */
    size_t count;
    size_t check_count; /* checks in the latest results, over every connector */
    bool ready;         /* every connector is ready */
    bool timed_out;     /* --wait ran out (or the run was cancelled) before that */
    unsigned rounds;
};

#define CHECKS_EUSAGE (-2)

/* Dispatches the check event to the connectors of a servo (attached), and with a wait
 * re-dispatches to the connectors that are not ready, after the delay, until every one is or
 * the wait runs out. Returns 0 when the checks ran (see report->ready), CHECKS_EUSAGE for a
 * bad option (unknown connector, one without checks, a regex that does not compile), -1
 * when no connector has checks; messages go to *error (caller frees). */
int checks_run(struct servo_connector *connectors, size_t count,
               const struct checks_options *options, struct checks_report *report, char **error);
void checks_report_free(struct checks_report *report);
/* Every check of the report, flattened, each with "connector" first; a connector whose
 * handler failed contributes one failed entry with id "handler" and the error as message. */
json_t *checks_report_json(const struct checks_report *report);

#endif
