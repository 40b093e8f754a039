/* The servo's own settings: the top-level keys of a servo document that are not connector
 * stanzas (name, description, optimizer, settings, checks, ...). */
#ifndef SERVO_SERVO_SETTINGS_H
#define SERVO_SERVO_SETTINGS_H

#include <stdbool.h>

#include "optimizer/study_config.h"
#include "servo/settings.h"

struct optimizer_settings {
    char *id;         /* ORG/APP */
    char *token;      /* secret */
    char *token_file; /* read at connect time, whitespace stripped */
    char *base_url;
    char *url;                    /* overrides {base_url}/accounts/{ORG}/applications/{APP}/ */
    struct study_settings *local; /* the embedded optimizer's study; NULL when absent */
};

struct backoff_settings {
    servo_duration max_time;
    int64_t max_tries; /* SERVO_UNSET: unlimited */
};

struct timeout_settings {
    servo_duration connect;
    servo_duration read;
    servo_duration write;
    servo_duration pool;
};

/* ssl_verify: true (default), false, or the path of a CA bundle. */
struct ssl_verify_setting {
    bool verify;
    char *ca_bundle;
};

struct common_settings {
    struct servo_map proxies; /* scheme pattern ("https://", "all://") -> proxy URL */
    struct timeout_settings timeouts;
    struct ssl_verify_setting ssl_verify;
    struct servo_map backoff; /* context name -> struct backoff_settings */
};

enum check_halt { CHECK_HALT_WARNING, CHECK_HALT_COMMON, CHECK_HALT_CRITICAL };

/* checks.delay: "expo" (8 s, 16 s, 32 s, ...) or a fixed duration. */
struct check_delay_setting {
    bool exponential;
    servo_duration fixed;
};

struct checks_settings {
    struct servo_list connectors; /* char * */
    struct servo_list name;
    struct servo_list id;
    struct servo_list tag;
    bool quiet;
    bool verbose;
    bool progressive;
    servo_duration wait;
    struct check_delay_setting delay;
    int halt_on; /* enum check_halt */
    bool remedy;
    bool check_halting;
};

enum extra_policy { EXTRA_FORBID, EXTRA_IGNORE };

struct servo_settings {
    char *name;
    char *description;
    char *servo_uid;
    struct optimizer_settings *optimizer; /* NULL when absent */
    struct common_settings settings;
    struct checks_settings checks;
    int extra; /* enum extra_policy */
    bool no_diagnostics;
};

extern const struct servo_schema servo_settings_schema;
extern const struct servo_schema optimizer_settings_schema;

/* Top-level keys that are never connector instance names. */
bool servo_settings_reserved(const char *key);

#endif
