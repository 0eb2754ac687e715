#include "core/net.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sl_err sl__listen_parse(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen,
                        char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || !colon[1]) {
        snprintf(err, errlen, "--listen `%s` is not HOST:PORT", listen);
        return SL_EINVAL;
    }
    size_t hl = (size_t)(colon - listen);
    const char *h = listen;
    if (h[0] == '[' && hl > 2 && h[hl - 1] == ']') { /* [::1]:8080 */
        h++;
        hl -= 2;
    }
    if (hl >= sizeof host) {
        snprintf(err, errlen, "--listen: the host name is too long");
        return SL_EINVAL;
    }
    snprintf(host, sizeof host, "%.*s", (int)hl, h);
    const char *port = colon + 1;
    if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 || atol(port) > 65535) {
        snprintf(err, errlen, "--listen `%s`: the port must be a number from 0 to 65535", listen);
        return SL_EINVAL;
    }
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) || !res) {
        snprintf(err, errlen, "--listen `%s`: not an address and port", listen);
        return SL_EINVAL;
    }
    memset(ss, 0, sizeof *ss);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    if (sslen)
        *sslen = res->ai_addrlen;
    freeaddrinfo(res);
    return SL_OK;
}
