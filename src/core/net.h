/* Listen addresses (internal): "HOST:PORT" and "[V6]:PORT" as --listen takes them. */
#ifndef SLUICE_CORE_NET_H
#define SLUICE_CORE_NET_H

#include <stddef.h>
#include <sys/socket.h>

#include "sluice/error.h"

/* Parses `listen` into *ss (numeric port 0-65535, 0 picks a free one; the host a name or an
 * address). SL_EINVAL with err quoting the value and what is wrong. */
sl_err sl__listen_parse(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen,
                        char *err, size_t errlen);

#endif
