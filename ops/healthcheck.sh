#!/bin/bash
# Container healthcheck without curl: `healthcheck [path]` sends GET <path> (default /health)
# to Courier's own COURIER_BIND address (0.0.0.0 / [::] mean loopback) and exits 0 only on 200.
set -u
path="${1:-/health}"
bind="${COURIER_BIND:-0.0.0.0:8000}"
port="${bind##*:}"
host="${bind%:*}"
host="${host#[}"
host="${host%]}"
case "$host" in "" | 0.0.0.0 | "::") host=127.0.0.1 ;; esac
exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$path" >&3
read -r -t 4 _ status _ <&3 || exit 1
[ "$status" = 200 ]
