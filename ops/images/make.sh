#!/usr/bin/env bash
# Makes the local base images the compose smoke test runs on, from Debian packages only (for
# machines that reach Debian's mirror but no container registry):
#
#   courier-base/debian:bookworm   debootstrap (minbase) + `docker import`; stands in for
#                                  debian:bookworm-slim as the runtime stage's base
#   courier-base/postgres:15       postgresql-15, same interface as the official postgres:15
#   courier-base/redis:7           redis-server 7, same interface as the official redis:7
#   courier-base/python:3.11       python3 (the example receiver), stands in for python:3.11-slim
#
#   bash ops/images/make.sh              # all four; each is skipped when it is up to date
#   DOCKER=/usr/bin/docker COURIER_DEBIAN_MIRROR=http://deb.debian.org/debian bash ops/images/make.sh
#
# Each image carries a label `courier.inputs` (a hash of what it was made from: this script,
# its folder under ops/images/, the base image's id); an image whose label matches is kept,
# so a second run does no debootstrap and no apt. Needs root (debootstrap) and a running dockerd.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
DOCKER="${DOCKER:-docker}"
MIRROR="${COURIER_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${COURIER_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
SUITE=bookworm
BASE=courier-base/debian:$SUITE

log() { printf 'images: %s\n' "$*"; }

hash_of() { # names under ops/images/ -> sha256 of their contents and relative paths
  (cd "$HERE" && find "$@" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16
}

current_label() { # image -> its courier.inputs label, empty when missing
  "$DOCKER" image inspect -f '{{ index .Config.Labels "courier.inputs" }}' "$1" 2>/dev/null || true
}

make_base() {
  local inputs rootfs
  inputs="$(printf '%s %s %s' "$(hash_of make.sh)" "$MIRROR" "$SECURITY_MIRROR" | sha256sum | cut -c1-16)"
  if [ "$(current_label "$BASE")" = "$inputs" ]; then
    log "$BASE is up to date"
    return
  fi
  command -v debootstrap >/dev/null || { log "debootstrap missing (apt-get install debootstrap)"; return 1; }
  rootfs="$(mktemp -d "${TMPDIR:-/tmp}/courier-rootfs.XXXXXX")"
  log "debootstrap $SUITE (minbase) from $MIRROR"
  debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1 ||
    { tail -n 20 "$rootfs.log"; rm -rf "$rootfs" "$rootfs.log"; return 1; }
  # What Debian's own container images configure: no services started by package scripts,
  # no docs/man pages/translations, no kept .deb files or package lists.
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 755 "$rootfs/usr/sbin/policy-rc.d"
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::Install-Recommends "false";
EOF
  cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* \
    "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*
  : >"$rootfs/etc/hostname"
  log "docker import $BASE"
  tar --numeric-owner -C "$rootfs" -c . | "$DOCKER" import \
    --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "LABEL courier.inputs=$inputs" \
    - "$BASE" >/dev/null
  rm -rf "$rootfs" "$rootfs.log"
}

make_from_dir() { # name tag
  local dir="$HERE/$1" tag="$2" inputs
  inputs="$(printf '%s %s' "$(hash_of "$1")" "$("$DOCKER" image inspect -f '{{.Id}}' "$BASE")" | sha256sum | cut -c1-16)"
  if [ "$(current_label "$tag")" = "$inputs" ]; then
    log "$tag is up to date"
    return
  fi
  log "docker build $tag (apt from Debian's mirror)"
  # --network host: apt inside the build reaches the mirror (the daemon has no bridge).
  DOCKER_BUILDKIT=1 "$DOCKER" build -q --network host --build-arg "BASE=$BASE" \
    --label "courier.inputs=$inputs" -t "$tag" "$dir" >/dev/null
}

what="${1:-all}"
case "$what" in
  base) make_base ;;
  postgres) make_from_dir postgres courier-base/postgres:15 ;;
  redis) make_from_dir redis courier-base/redis:7 ;;
  python) make_from_dir python courier-base/python:3.11 ;;
  all)
    make_base
    make_from_dir postgres courier-base/postgres:15
    make_from_dir redis courier-base/redis:7
    make_from_dir python courier-base/python:3.11
    ;;
  *) echo "usage: $0 [base|postgres|redis|python|all]" >&2; exit 2 ;;
esac
