/* libFuzzer target for the Kubernetes client's parsers: the input is read as a kubeconfig
 * (kube_client_from_kubeconfig, with its current-context and with the context "a") and as
 * Kubernetes quantities (servo_cpu_parse, servo_memory_parse_quantity): the whole input and
 * its first line. A kubeconfig is accepted or refused with a message; an accepted one has a
 * server URL with a host and no trailing slash, a namespace and a description. A quantity
 * that parses must format and parse back to the same value. No request is ever sent.
 *
 * Relative paths in the kubeconfig resolve against a directory that does not exist, so
 * only absolute paths reach the file system (read non-blocking, regular files only, at most
 * 1 MiB). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../connectors/kubernetes/kube.h"
#include "servo/types.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_client(const char *text, size_t size, const char *context)
{
    char *error = NULL;
    struct kube_client *c =
        kube_client_from_kubeconfig(text, size, "/nonexistent-servo-fuzz", context, &error);
    if (c == NULL) {
        if (error == NULL || error[0] == '\0')
            abort();
        free(error);
        return;
    }
    if (error != NULL)
        abort();
    const char *server = kube_client_server(c);
    size_t length = strlen(server);
    if (length == 0 || server[length - 1] == '/' ||
        (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0))
        abort();
    if (kube_client_namespace(c)[0] == '\0' || strlen(kube_client_describe(c)) == 0)
        abort();
    (void)strlen(kube_client_no_proxy(c));
    kube_client_free(c);
}

typedef int (*quantity_parser)(const char *, int64_t *, const char **);
typedef size_t (*quantity_formatter)(int64_t, char *);

static size_t format_cpu(int64_t value, char *buf)
{
    return servo_cpu_format(value, buf);
}

static size_t format_memory(int64_t value, char *buf)
{
    return servo_memory_format_quantity(value, buf);
}

static void check_quantity(quantity_parser parse, quantity_formatter format, const char *text)
{
    int64_t value = 0, again = 0;
    const char *why = NULL;
    if (parse(text, &value, &why) != 0) {
        if (why == NULL)
            abort();
        return;
    }
    if (value < 0)
        abort();
    char buf[SERVO_VALUE_TEXT_MAX];
    size_t length = format(value, buf);
    if (length >= SERVO_VALUE_TEXT_MAX || strlen(buf) != length)
        abort();
    if (parse(buf, &again, NULL) != 0 || again != value)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    check_client(text, size, NULL);
    check_client(text, size, "a");

    check_quantity(servo_cpu_parse, format_cpu, text);
    check_quantity(servo_memory_parse_quantity, format_memory, text);
    char line[65];
    size_t n = strcspn(text, "\n");
    if (n < sizeof line && n < size) {
        memcpy(line, text, n);
        line[n] = '\0';
        check_quantity(servo_cpu_parse, format_cpu, line);
        check_quantity(servo_memory_parse_quantity, format_memory, line);
    }
    free(text);
    return 0;
}
