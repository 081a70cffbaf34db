#!/bin/sh
# The container's HEALTHCHECK: healthy when the running switch answers on its control socket.
#
# It asks for `version` over the socket (ferrovs appctl speaks the same JSON-RPC as
# ovs-appctl), which the switch answers from its main loop: an answer means the control lcore
# is alive and serving, not only that the process exists. Exit 0 is healthy, 1 unhealthy (as
# Docker expects); the one line printed says why, and `docker inspect` shows it.
#
#   FERROVS_CTL   the control socket (default /run/ferrovs/ferrovs.ctl; set it when the
#                 switch runs with --ctl PATH or ctl = "PATH")
#   FERROVS_HEALTH_TIMEOUT   seconds to wait for the answer (default 3)
set -eu

ctl=${FERROVS_CTL:-/run/ferrovs/ferrovs.ctl}
timeout=${FERROVS_HEALTH_TIMEOUT:-3}

if [ ! -S "$ctl" ]; then
    echo "unhealthy: no control socket at $ctl (still starting, or ferrovs runs with another --ctl: set FERROVS_CTL)"
    exit 1
fi
if ! answer=$(ferrovs appctl --timeout "$timeout" -t "$ctl" version 2>&1); then
    echo "unhealthy: $ctl does not answer: $answer"
    exit 1
fi
echo "healthy: $answer"
