/*
 * expose_upgrade.c: an upgraded visitor's socket handed over to a pump
 * (see expose_upgrade.h). The pump does the work; this file keeps the
 * hand-off's bookkeeping in one place: the FD permit travels with the
 * socket, and the visitor hears once when it may go.
 */
#include "expose_upgrade.h"

#include "fdbudget.h"
#include "log.h"

static void
pump_done(struct pump *p)
{
	struct expose_upgrade *u = p->owner;

	log_debug("visitor %s: upgraded connection finished (up %llu B, down %llu B)", u->peer,
		  (unsigned long long)p->bytes_up, (unsigned long long)p->bytes_down);
	fdbudget_release(&u->d->fds, 1);
	u->live = 0;
	u->done(u);
}

/* see expose_upgrade.h */
int
expose_upgrade_start(struct expose_upgrade *u, struct daemon *d, struct mux *m, struct stream *st,
		     struct conn *conn, const char *peer, expose_upgrade_done_cb *done)
{
	int rc;

	u->d = d;
	u->peer = peer;
	u->done = done;
	u->pump.owner = u;
	rc = pump_adopt(&u->pump, &d->r, m, st, conn, pump_done);
	if (rc < 0)
		return rc;
	u->live = 1;
	log_debug("visitor %s: upgraded (stream %u)", peer, st->id);
	return 0;
}

/* see expose_upgrade.h */
void
expose_upgrade_fini(struct expose_upgrade *u)
{
	if (!u->live)
		return;
	pump_fini(&u->pump);
	u->live = 0;
}
