#!/bin/bash
# Like the official image: `redis-server` without a config file gets --protected-mode no (the
# compose network is private; a bind address given on the command line still applies).
set -euo pipefail
if [ "${1:-}" = redis-server ] && [[ " $* " != *" --protected-mode "* ]]; then
  shift
  set -- redis-server --protected-mode no "$@"
fi
exec "$@"
