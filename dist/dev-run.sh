#!/bin/sh
# `make run`: start the daemon for trying it out, whoever runs it: the
# control plane on 127.0.0.1:8050 (HOODY_TUNNEL_LISTEN changes it), a token
# made here unless HOODY_TUNNEL_TOKEN is set, text logs at info level, and a
# command line for htc that works when pasted. The daemon's own defaults
# (port 50 on all interfaces) are the production ones. Extra arguments are
# passed on (make run RUN_ARGS="--log-level debug").
bin=$1
htc=$2
shift 2
listen=${HOODY_TUNNEL_LISTEN:-127.0.0.1:8050}
if [ -z "${HOODY_TUNNEL_TOKEN:-}" ]; then
	HOODY_TUNNEL_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	export HOODY_TUNNEL_TOKEN
fi
# something to connect to, never a wildcard address
case $listen in
0.0.0.0:* | :*) connect=127.0.0.1:${listen##*:} ;;
"[::]:"*) connect="[::1]:${listen##*:}" ;;
*) connect=$listen ;;
esac
echo "hoody-tunnel on $listen; from another terminal:"
echo "  $htc --url ws://$connect --token $HOODY_TUNNEL_TOKEN expose 3000 --port 0"
echo "  $htc --url ws://$connect --token $HOODY_TUNNEL_TOKEN pull 5432"
exec "$bin" --listen "$listen" "$@"
