#include "optimizer/objective.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* ---- aggregates ------------------------------------------------------------------------ */

static const char *const aggregate_names[] = {"mean", "median", "p90", "p95",
                                              "p99",  "min",    "max", "last"};

int aggregate_parse(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(aggregate_names); i++)
        if (strcmp(aggregate_names[i], name) == 0)
            return (int)i;
    return -1;
}

const char *aggregate_name(enum aggregate a)
{
    return (size_t)a < ARRAY_LEN(aggregate_names) ? aggregate_names[a] : "mean";
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Linear interpolation between closest ranks (the "R-7" definition numpy uses). */
static double quantile(const double *sorted, size_t n, double q)
{
    double rank = q * (double)(n - 1);
    size_t low = (size_t)floor(rank);
    size_t high = low + 1 < n ? low + 1 : low;
    return sorted[low] + (rank - (double)low) * (sorted[high] - sorted[low]);
}

double aggregate_values(double *values, size_t n, enum aggregate a, double last)
{
    double sum = 0;
    switch (a) {
    case AGGREGATE_MEAN:
        for (size_t i = 0; i < n; i++)
            sum += values[i];
        return sum / (double)n;
    case AGGREGATE_LAST:
        return last;
    case AGGREGATE_MEDIAN:
    case AGGREGATE_P90:
    case AGGREGATE_P95:
    case AGGREGATE_P99:
    case AGGREGATE_MIN:
    case AGGREGATE_MAX:
        break;
    }
    qsort(values, n, sizeof *values, compare_doubles);
    switch (a) {
    case AGGREGATE_MEDIAN:
        return quantile(values, n, 0.5);
    case AGGREGATE_P90:
        return quantile(values, n, 0.9);
    case AGGREGATE_P95:
        return quantile(values, n, 0.95);
    case AGGREGATE_P99:
        return quantile(values, n, 0.99);
    case AGGREGATE_MIN:
        return values[0];
    case AGGREGATE_MAX:
    case AGGREGATE_MEAN:
    case AGGREGATE_LAST:
        break;
    }
    return values[n - 1];
}

int measurement_reduce(const struct servo_measurement *m, const char *metric,
                       enum aggregate aggregate, double *out)
{
    size_t n = 0, capacity = 0;
    double *values = NULL, last = NAN, last_time = -INFINITY;
    for (size_t i = 0; m && i < m->reading_count; i++) {
        const struct servo_reading *r = &m->readings[i];
        if (strcmp(r->metric, metric) != 0)
            continue;
        for (size_t j = 0; j < r->point_count; j++) {
            const struct servo_point *p = &r->points[j];
            if (!isfinite(p->value))
                continue;
            xgrow((void **)&values, sizeof *values, n, &capacity);
            values[n++] = p->value;
            if (p->time >= last_time) {
                last_time = p->time;
                last = p->value;
            }
        }
    }
    if (n == 0) {
        free(values);
        return -1;
    }
    *out = aggregate_values(values, n, aggregate, last);
    free(values);
    return 0;
}

/* ---- expressions ----------------------------------------------------------------------- */

#define EXPR_MAX_DEPTH 64

enum expr_kind { EXPR_NUMBER, EXPR_NAME, EXPR_NEGATE, EXPR_BINARY, EXPR_CALL };

struct expr {
    enum expr_kind kind;
    double number;
    char *name; /* NAME, CALL */
    char op;    /* BINARY: + - * / ^ */
    struct expr *args[2];
    size_t arg_count;
};

struct parser {
    const char *text;
    const char *at;
    int depth;
    char *error;
};

static void parse_error(struct parser *p, const char *what)
{
    if (p->error == NULL)
        p->error =
            xasprintf("%s at column %d of \"%s\"", what, (int)(p->at - p->text) + 1, p->text);
}

static void skip_space(struct parser *p)
{
    while (isspace((unsigned char)*p->at))
        p->at++;
}

static struct expr *new_expr(enum expr_kind kind)
{
    struct expr *e = xcalloc(1, sizeof *e);
    e->kind = kind;
    return e;
}

static struct expr *parse_sum(struct parser *p);

static bool name_char(char c, bool first)
{
    return isalpha((unsigned char)c) || c == '_' ||
           (!first && (isdigit((unsigned char)c) || c == '.'));
}

static const char *const functions[] = {"min", "max", "abs", "sqrt", "log", "exp", "pow"};

static size_t function_arity(const char *name)
{
    if (strcmp(name, "min") == 0 || strcmp(name, "max") == 0 || strcmp(name, "pow") == 0)
        return 2;
    for (size_t i = 0; i < ARRAY_LEN(functions); i++)
        if (strcmp(functions[i], name) == 0)
            return 1;
    return 0;
}

static struct expr *parse_call(struct parser *p, char *name)
{
    size_t arity = function_arity(name);
    struct expr *e = new_expr(EXPR_CALL);
    e->name = name;
    if (arity == 0) {
        parse_error(p, "unknown function");
        return e;
    }
    p->at++; /* '(' */
    for (size_t i = 0; i < arity && p->error == NULL; i++) {
        if (i > 0) {
            skip_space(p);
            if (*p->at != ',') {
                parse_error(p, "expected ','");
                break;
            }
            p->at++;
        }
        e->args[e->arg_count++] = parse_sum(p);
    }
    skip_space(p);
    if (p->error == NULL && *p->at != ')')
        parse_error(p, "expected ')'");
    else if (p->error == NULL)
        p->at++;
    return e;
}

static struct expr *parse_atom(struct parser *p)
{
    skip_space(p);
    if (*p->at == '(') {
        p->at++;
        struct expr *e = parse_sum(p);
        skip_space(p);
        if (*p->at != ')')
            parse_error(p, "expected ')'");
        else
            p->at++;
        return e;
    }
    if (isdigit((unsigned char)*p->at) || *p->at == '.') {
        char *end = NULL;
        struct expr *e = new_expr(EXPR_NUMBER);
        e->number = strtod(p->at, &end);
        if (end == p->at)
            parse_error(p, "expected a number");
        p->at = end;
        return e;
    }
    if (name_char(*p->at, true)) {
        const char *start = p->at;
        while (name_char(*p->at, false))
            p->at++;
        char *name = xstrndup(start, (size_t)(p->at - start));
        skip_space(p);
        if (*p->at == '(')
            return parse_call(p, name);
        struct expr *e = new_expr(EXPR_NAME);
        e->name = name;
        return e;
    }
    parse_error(p, *p->at ? "unexpected character" : "unexpected end");
    return new_expr(EXPR_NUMBER);
}

static struct expr *binary(char op, struct expr *left, struct expr *right)
{
    struct expr *e = new_expr(EXPR_BINARY);
    e->op = op;
    e->args[0] = left;
    e->args[1] = right;
    e->arg_count = 2;
    return e;
}

static struct expr *parse_unary(struct parser *p);

/* `^` binds tighter than unary minus and is right-associative: -2^2 = -4, 2^3^2 = 512. */
static struct expr *parse_power(struct parser *p)
{
    struct expr *base = parse_atom(p);
    skip_space(p);
    if (*p->at != '^' || p->error)
        return base;
    p->at++;
    if (++p->depth > EXPR_MAX_DEPTH) {
        parse_error(p, "expression nested too deeply");
        return base;
    }
    struct expr *exponent = parse_unary(p);
    p->depth--;
    return binary('^', base, exponent);
}

static struct expr *parse_unary(struct parser *p)
{
    skip_space(p);
    if (*p->at == '-' || *p->at == '+') {
        char sign = *p->at++;
        if (++p->depth > EXPR_MAX_DEPTH) {
            parse_error(p, "expression nested too deeply");
            return new_expr(EXPR_NUMBER);
        }
        struct expr *operand = parse_unary(p);
        p->depth--;
        if (sign == '+')
            return operand;
        struct expr *e = new_expr(EXPR_NEGATE);
        e->args[0] = operand;
        e->arg_count = 1;
        return e;
    }
    return parse_power(p);
}

static struct expr *parse_product(struct parser *p)
{
    struct expr *left = parse_unary(p);
    for (;;) {
        skip_space(p);
        if ((*p->at != '*' && *p->at != '/') || p->error)
            return left;
        char op = *p->at++;
        left = binary(op, left, parse_unary(p));
    }
}

static struct expr *parse_sum(struct parser *p)
{
    if (++p->depth > EXPR_MAX_DEPTH) {
        parse_error(p, "expression nested too deeply");
        return new_expr(EXPR_NUMBER);
    }
    struct expr *left = parse_product(p);
    for (;;) {
        skip_space(p);
        if ((*p->at != '+' && *p->at != '-') || p->error)
            break;
        char op = *p->at++;
        left = binary(op, left, parse_product(p));
    }
    p->depth--;
    return left;
}

struct expr *expr_parse(const char *text, char **error)
{
    struct parser p = {.text = text, .at = text};
    struct expr *e = parse_sum(&p);
    skip_space(&p);
    if (p.error == NULL && *p.at != '\0')
        parse_error(&p, "unexpected text");
    if (p.error != NULL) {
        expr_free(e);
        *error = p.error;
        return NULL;
    }
    return e;
}

void expr_free(struct expr *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->arg_count; i++)
        expr_free(e->args[i]);
    free(e->name);
    free(e);
}

static double apply_call(const char *name, const double *a)
{
    if (strcmp(name, "min") == 0)
        return fmin(a[0], a[1]);
    if (strcmp(name, "max") == 0)
        return fmax(a[0], a[1]);
    if (strcmp(name, "pow") == 0)
        return pow(a[0], a[1]);
    if (strcmp(name, "abs") == 0)
        return fabs(a[0]);
    if (strcmp(name, "sqrt") == 0)
        return sqrt(a[0]);
    if (strcmp(name, "log") == 0)
        return log(a[0]);
    return exp(a[0]);
}

static double apply_binary(char op, double a, double b)
{
    switch (op) {
    case '+':
        return a + b;
    case '-':
        return a - b;
    case '*':
        return a * b;
    case '/':
        return a / b;
    default:
        return pow(a, b);
    }
}

int expr_eval(const struct expr *e, expr_lookup lookup, void *context, double *out, char **error)
{
    double args[2] = {0, 0};
    for (size_t i = 0; i < e->arg_count; i++)
        if (expr_eval(e->args[i], lookup, context, &args[i], error) != 0)
            return -1;
    switch (e->kind) {
    case EXPR_NUMBER:
        *out = e->number;
        return 0;
    case EXPR_NAME:
        if (!lookup(context, e->name, out)) {
            *error = xasprintf("unknown name \"%s\" (not a metric nor a setting)", e->name);
            return -1;
        }
        return 0;
    case EXPR_NEGATE:
        *out = -args[0];
        return 0;
    case EXPR_BINARY:
        *out = apply_binary(e->op, args[0], args[1]);
        return 0;
    case EXPR_CALL:
        *out = apply_call(e->name, args);
        return 0;
    }
    return -1;
}

void expr_names(const struct expr *e, void (*visit)(void *context, const char *name), void *context)
{
    if (e->kind == EXPR_NAME)
        visit(context, e->name);
    for (size_t i = 0; i < e->arg_count; i++)
        expr_names(e->args[i], visit, context);
}
