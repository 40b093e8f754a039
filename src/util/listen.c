// SPDX-License-Identifier: Apache-2.0
#include "util/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/util.h"

/* The port of "...:PORT" as text, or NULL when it is not a number from 0 to 65535. */
static const char *port_of(const char *colon)
{
    const char *p = colon + 1;
    size_t digits = strspn(p, "0123456789");
    if (digits == 0 || digits > 5 || p[digits] != '\0' || strtol(p, NULL, 10) > 65535)
        return NULL;
    return p;
}

/* The host part (NULL: every address) of "HOST:PORT" or "[V6]:PORT" (caller frees). */
static char *host_of(const char *address, const char *colon)
{
    const char *start = address, *end = colon;
    if (*start == '[' && end > start && end[-1] == ']') {
        start++;
        end--;
    }
    return end > start ? xstrndup(start, (size_t)(end - start)) : NULL;
}

static int bind_first(struct addrinfo *list, int *fd)
{
    int last = EADDRNOTAVAIL;
    for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        int s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        int one = 1;
        if (s >= 0 && setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
            bind(s, ai->ai_addr, ai->ai_addrlen) == 0 && listen(s, 128) == 0) {
            *fd = s;
            return 0;
        }
        last = errno;
        if (s >= 0)
            close(s);
    }
    return last;
}

int listen_socket(const char *option, const char *address, int *fd, char **error)
{
    const char *colon = strrchr(address, ':');
    const char *port = colon ? port_of(colon) : NULL;
    if (port == NULL) {
        *error = xasprintf("%s %s: expected HOST:PORT, the port a number from 0 to 65535", option,
                           address);
        return -1;
    }
    char *host = host_of(address, colon);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *list = NULL;
    int rc = getaddrinfo(host, port, &hints, &list);
    free(host);
    if (rc != 0) {
        *error = xasprintf("%s %s: %s", option, address, gai_strerror(rc));
        return -1;
    }
    *fd = -1;
    int why = bind_first(list, fd);
    freeaddrinfo(list);
    if (*fd < 0) {
        *error = xasprintf("%s %s: cannot listen there: %s", option, address, strerror(why));
        return -1;
    }
    return 0;
}

char *listen_url(int fd, bool tls)
{
    const char *scheme = tls ? "https" : "http";
    struct sockaddr_storage addr;
    socklen_t length = sizeof addr;
    char host[INET6_ADDRSTRLEN] = "";
    if (getsockname(fd, (struct sockaddr *)&addr, &length) != 0)
        return xasprintf("%s://?", scheme);
    if (addr.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&addr;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        return xasprintf("%s://[%s]:%d", scheme, host, ntohs(a->sin6_port));
    }
    const struct sockaddr_in *a = (const struct sockaddr_in *)&addr;
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    return xasprintf("%s://%s:%d", scheme, host, ntohs(a->sin_port));
}
