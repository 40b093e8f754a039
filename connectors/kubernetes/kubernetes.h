/* The kubernetes connector: adjusts CPU, memory, replicas and environment variables of
 * Deployments and StatefulSets, and settings encoded into a container's command line or an
 * environment variable (the JVM encoder). docs/kubernetes.md shows it end to end; the parts
 * are in internal.h. */
#ifndef SERVO_CONNECTOR_KUBERNETES_H
#define SERVO_CONNECTOR_KUBERNETES_H

#include <stdbool.h>
#include <stdint.h>

#include "servo/connector.h"
#include "servo/settings.h"
#include "servo/types.h"

/* Indexes into the on_failure choices. */
enum kubernetes_failure_mode {
    KUBERNETES_FAILURE_EXCEPTION,
    KUBERNETES_FAILURE_SHUTDOWN,
    KUBERNETES_FAILURE_IGNORE,
    KUBERNETES_FAILURE_ROLLBACK,
};

/* Indexes into the strategy type choices. */
enum kubernetes_strategy_type {
    KUBERNETES_STRATEGY_DEFAULT,
    KUBERNETES_STRATEGY_CANARY,
};

/* Indexes into the get/set choices: which resource requirement. */
enum kubernetes_requirement {
    KUBERNETES_REQUEST,
    KUBERNETES_LIMIT,
};

/* Indexes into the env type choices. */
enum kubernetes_env_type {
    KUBERNETES_ENV_RANGE,
    KUBERNETES_ENV_ENUM,
};

/* Indexes into the env value_type choices. */
enum kubernetes_value_type {
    KUBERNETES_VALUE_INT,
    KUBERNETES_VALUE_FLOAT,
};

/* A CPU (millicores) or memory (bytes) range setting. */
struct kubernetes_resource {
    int64_t min;
    int64_t max;
    int64_t step;
    int64_t request;       /* SERVO_UNSET when not given */
    int64_t limit;         /* SERVO_UNSET when not given */
    struct servo_list get; /* int: enum kubernetes_requirement */
    struct servo_list set; /* int: enum kubernetes_requirement */
    bool pinned;
};

struct kubernetes_env {
    char *name;
    int type;      /* enum kubernetes_env_type */
    char *literal; /* the variable's real name; NULL: `name` */
    double min;    /* range; NAN when not given */
    double max;
    double step;
    int value_type;           /* enum kubernetes_value_type */
    struct servo_list values; /* char *: enum choices */
    char *default_value;      /* "default" */
    bool pinned;
};

/* Indexes into the encoder target choices: where the encoded options live. */
enum kubernetes_encoder_target {
    KUBERNETES_TARGET_ENV,  /* one environment variable (JAVA_OPTS) */
    KUBERNETES_TARGET_ARGS, /* the container's args */
};

/* Indexes into the JVM option type choices. */
enum kubernetes_option_type {
    KUBERNETES_OPTION_RANGE, /* -XX:Name=<number> */
    KUBERNETES_OPTION_ENUM,  /* -XX:Name=<value> */
    KUBERNETES_OPTION_BOOL,  /* -XX:+Name / -XX:-Name; values "true" and "false" */
};

/* heap_size: -Xmx (bytes; unit GiB on the wire). */
struct kubernetes_jvm_heap {
    int64_t min;
    int64_t max;
    int64_t step;
    int64_t default_value; /* the value when no -Xmx is given; SERVO_UNSET when unknown */
    bool pinned;
};

/* gc: the collector, -XX:+Use<value>GC. */
struct kubernetes_jvm_gc {
    struct servo_list values; /* int: indexes into kubernetes_gc_choices */
    int default_value;        /* the collector when none is selected; -1 when unknown */
    bool pinned;
};

/* A generic -XX option. */
struct kubernetes_jvm_option {
    char *name; /* the option ("MaxGCPauseMillis") and the setting's name */
    int type;   /* enum kubernetes_option_type */
    double min; /* range; NAN when not given */
    double max;
    double step;
    int value_type;           /* range: enum kubernetes_value_type */
    struct servo_list values; /* enum: char * */
    char *default_value;      /* the value when the option is absent; NULL when unknown */
    bool pinned;
};

struct kubernetes_jvm_settings {
    struct kubernetes_jvm_heap *heap_size; /* NULL when not optimized */
    struct kubernetes_jvm_gc *gc;          /* NULL when not optimized */
    struct servo_list options;             /* struct kubernetes_jvm_option */
};

struct kubernetes_jvm {
    int target; /* enum kubernetes_encoder_target */
    char *env;  /* target env: the variable ("JAVA_OPTS") */
    struct kubernetes_jvm_settings settings;
};

struct kubernetes_encoders {
    struct kubernetes_jvm *jvm; /* NULL when not used */
};

struct kubernetes_container {
    char *name;
    char *alias;
    struct kubernetes_resource *cpu;               /* NULL when not optimized */
    struct kubernetes_resource *memory;            /* NULL when not optimized */
    struct servo_list env;                         /* struct kubernetes_env */
    struct servo_map static_environment_variables; /* char * values */
    struct kubernetes_encoders encoders;
};

/* The collectors the gc setting knows, NULL-terminated: "G1" is -XX:+UseG1GC. */
extern const char *const kubernetes_gc_choices[];

struct kubernetes_strategy {
    int type;    /* enum kubernetes_strategy_type */
    char *alias; /* canary: the tuning component's name */
};

struct kubernetes_replicas {
    int64_t min;
    int64_t max;
    int64_t step;
    bool pinned;
};

/* A Deployment or StatefulSet. namespace, timeout, settlement and on_failure are filled from
 * the top level when not given (settlement stays SERVO_UNSET when neither gives it). */
struct kubernetes_workload {
    char *name;
    char *namespace;
    servo_duration timeout;
    servo_duration settlement;
    int on_failure; /* enum kubernetes_failure_mode */
    struct kubernetes_strategy strategy;
    struct kubernetes_replicas *replicas; /* NULL when not optimized */
    struct servo_list containers;         /* struct kubernetes_container */
};

struct kubernetes_permission {
    char *group;
    struct servo_list resources; /* char * */
    struct servo_list verbs;     /* char * */
};

struct kubernetes_settings {
    char *description;
    char *namespace;
    servo_duration timeout;
    servo_duration settlement; /* SERVO_UNSET when not given */
    int on_failure;            /* enum kubernetes_failure_mode */
    char *kubeconfig;
    char *context;
    bool container_logs_in_error_status;
    bool create_tuning_pod;
    struct servo_list permissions;   /* struct kubernetes_permission */
    struct servo_list deployments;   /* struct kubernetes_workload */
    struct servo_list stateful_sets; /* struct kubernetes_workload */
    struct servo_list rollouts;      /* struct kubernetes_workload: Argo Rollouts */
};

extern const struct servo_connector_plugin servo_connector_kubernetes;
/* The schemas of a container's cpu, memory (struct kubernetes_resource) and env settings (struct
 * kubernetes_env), for connectors that configure a kubernetes connector (opsani_dev). */
extern const struct servo_schema kubernetes_cpu_schema;
extern const struct servo_schema kubernetes_memory_schema;
extern const struct servo_schema kubernetes_env_schema;

#endif
