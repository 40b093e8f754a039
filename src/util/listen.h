// SPDX-License-Identifier: Apache-2.0
/* A listening TCP socket from "HOST:PORT", "[V6]:PORT" or ":PORT" (every address; port 0: a
 * free one), for the servers of the servo. */
#ifndef SERVO_UTIL_LISTEN_H
#define SERVO_UTIL_LISTEN_H

#include <stdbool.h>

/* The bound, listening, close-on-exec socket in *fd; -1 with a message naming `option` and
 * the address (caller frees). */
int listen_socket(const char *option, const char *address, int *fd, char **error);
/* "http://127.0.0.1:PORT" (or https, [v6]) of a listening socket (caller frees). */
char *listen_url(int fd, bool tls);

#endif
