#!/bin/sh
# `make run`: start the daemon with a development default that works without
# root: the control plane on 127.0.0.1:8050 when not root (port 50 needs
# root or CAP_NET_BIND_SERVICE), a token generated and printed once unless
# HOODY_TUNNEL_TOKEN is set, text logs at info level. Extra arguments are
# passed on (make run RUN_ARGS="--log-level debug").
bin=$1
shift
if [ "$(id -u)" = 0 ]; then
	listen=${HOODY_TUNNEL_LISTEN:-0.0.0.0:50}
else
	listen=${HOODY_TUNNEL_LISTEN:-127.0.0.1:8050}
fi
echo "hoody-tunnel on $listen  (connect with: htc --url ws://$listen --token <token> pull 5432)"
exec "$bin" --listen "$listen" "$@"
