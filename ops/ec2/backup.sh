#!/bin/bash
# Logical backup of Courier's Postgres (run by cron, see ops/ec2/user-data.sh).
#
#   ops/ec2/backup.sh            # writes $BACKUP_DIR/courier-YYYYmmddTHHMMSSZ.sql.gz
#   BACKUP_S3_URI=s3://bucket/courier ops/ec2/backup.sh   # and copies it to S3
#
# The stack is found as the systemd unit runs it: `docker compose` in $COURIER_DIR/ops, project
# courier, docker-compose.yml. COMPOSE (e.g. docker-compose), COMPOSE_PROJECT_NAME and
# COMPOSE_FILE (colon-separated, relative to ops/) change that; ops/compose-smoke.sh uses them.
#
# Redis needs no backup: it only caches subscriptions and schedules retries, and Courier
# rebuilds that schedule from Postgres when Redis comes back empty.
set -euo pipefail

COURIER_DIR="${COURIER_DIR:-/opt/courier}"
BACKUP_DIR="${BACKUP_DIR:-/var/backups/courier}"
KEEP_DAYS="${KEEP_DAYS:-7}"
BACKUP_S3_URI="${BACKUP_S3_URI:-}"
read -r -a compose <<<"${COMPOSE:-docker compose}"
export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-courier}"
export COMPOSE_FILE="${COMPOSE_FILE:-docker-compose.yml}"

mkdir -p "$BACKUP_DIR"
chmod 700 "$BACKUP_DIR"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="$BACKUP_DIR/courier-$stamp.sql.gz"

cd "$COURIER_DIR/ops"
# pg_dump runs inside the postgres container: no port is published and no password is
# needed on the local socket.
"${compose[@]}" exec -T postgres \
  pg_dump -U courier -d courier --format=plain --no-owner | gzip -6 > "$out.partial"
mv "$out.partial" "$out"
echo "backup: $out ($(du -h "$out" | cut -f1))"

if [ -n "$BACKUP_S3_URI" ]; then
  aws s3 cp "$out" "${BACKUP_S3_URI%/}/$(basename "$out")" --only-show-errors
fi
find "$BACKUP_DIR" -name 'courier-*.sql.gz' -mtime +"$KEEP_DAYS" -delete
