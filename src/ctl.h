/*
 * ctl.h: the control-plane listener: an HTTP/1.1 server with keep-alive
 * that answers the admin API (api.c) and hands WebSocket upgrades on
 * /api/v1/tunnel/connect to a new session.
 */
#ifndef HT_CTL_H
#define HT_CTL_H

#include "daemon.h"

/* Listen on cfg->listen. 0, or -errno with a message logged. */
int ctl_start(struct daemon *d);

/* Close every control connection (daemon exit). */
void ctl_stop(struct daemon *d);

#endif
