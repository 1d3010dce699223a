#!/bin/bash
# EC2 user data (cloud-init) for a single-host Courier: Docker + compose plugin, the app in
# /opt/courier, secrets in /opt/courier/ops/.env, and the courier systemd unit.
#
# Supports Ubuntu 24.04 and Amazon Linux 2023. Edit the settings below (or template them
# from your provisioning tool) before launching; every one has a safe default.
#
# Secrets: with COURIER_SSM_PREFIX set (e.g. /courier/prod) the script reads the SecureString
# parameters $COURIER_SSM_PREFIX/COURIER_API_KEY and $COURIER_SSM_PREFIX/POSTGRES_PASSWORD
# with the instance role (ssm:GetParameter + kms:Decrypt). Without it, it generates random
# ones into .env (mode 600): read them with `sudo cat /opt/courier/ops/.env`. Secrets are
# never printed to the console log.
set -euo pipefail

# ----------------------------------------------------------------------------- settings
COURIER_REPO_URL="${COURIER_REPO_URL:-}"        # git URL to clone; empty = app already in /opt/courier
COURIER_REF="${COURIER_REF:-main}"              # branch or tag to check out
COURIER_DIR="${COURIER_DIR:-/opt/courier}"
COURIER_SSM_PREFIX="${COURIER_SSM_PREFIX:-}"    # e.g. /courier/prod; empty = generate secrets
COURIER_DOMAIN="${COURIER_DOMAIN:-}"            # set to enable Caddy (compose profile tls)
AWS_REGION="${AWS_REGION:-}"                    # for SSM; default: the instance's region
COMPOSE_VERSION="${COMPOSE_VERSION:-v2.39.2}"   # Amazon Linux only (no distro package)
BUILDX_VERSION="${BUILDX_VERSION:-v0.26.1}"     # Amazon Linux only

log() { echo "courier-user-data: $*"; }

exec > >(tee -a /var/log/courier-user-data.log) 2>&1

# ----------------------------------------------------------------------------- packages
# shellcheck source=/dev/null
. /etc/os-release
arch="$(uname -m)"
case "$arch" in
  x86_64) plugin_arch=x86_64; buildx_arch=amd64 ;;
  aarch64) plugin_arch=aarch64; buildx_arch=arm64 ;;
  *) log "unsupported architecture $arch"; exit 1 ;;
esac

install_plugin() { # name url
  local dir=/usr/local/lib/docker/cli-plugins
  mkdir -p "$dir"
  curl -fsSL --retry 5 -o "$dir/$1" "$2"
  chmod 755 "$dir/$1"
}

case "${ID}" in
  ubuntu)
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -y
    # Ubuntu 24.04 packages Docker, the compose v2 plugin and buildx.
    apt-get install -y --no-install-recommends docker.io docker-compose-v2 docker-buildx \
      git ca-certificates curl openssl
    if [ -n "$COURIER_SSM_PREFIX" ] && ! command -v aws >/dev/null; then
      snap install aws-cli --classic
    fi
    ;;
  amzn)
    dnf install -y docker git openssl
    # Compose and a recent buildx are not packaged on Amazon Linux 2023: use the releases.
    install_plugin docker-compose \
      "https://github.com/docker/compose/releases/download/${COMPOSE_VERSION}/docker-compose-linux-${plugin_arch}"
    install_plugin docker-buildx \
      "https://github.com/docker/buildx/releases/download/${BUILDX_VERSION}/buildx-${BUILDX_VERSION}.linux-${buildx_arch}"
    ;;
  *)
    log "unsupported distribution ${ID}; use Ubuntu 24.04 or Amazon Linux 2023"
    exit 1
    ;;
esac
systemctl enable --now docker
docker compose version

# ----------------------------------------------------------------------------- the app
if [ -n "$COURIER_REPO_URL" ]; then
  if [ -d "$COURIER_DIR/.git" ]; then
    git -C "$COURIER_DIR" fetch --tags origin
  else
    git clone "$COURIER_REPO_URL" "$COURIER_DIR"
  fi
  git -C "$COURIER_DIR" checkout "$COURIER_REF"
fi
if [ ! -f "$COURIER_DIR/ops/docker-compose.yml" ]; then
  log "no app in $COURIER_DIR: set COURIER_REPO_URL or copy the repository there, then rerun"
  exit 1
fi
# The build context needs a .dockerignore at the repository root.
if [ ! -f "$COURIER_DIR/.dockerignore" ]; then
  printf 'target/\n**/node_modules/\nfrontend/dist/\n.git/\n' > "$COURIER_DIR/.dockerignore"
fi

# ----------------------------------------------------------------------------- secrets
env_file="$COURIER_DIR/ops/.env"
set_env() { # key value: replace or append key=value in .env
  local key="$1" value="$2" tmp
  tmp="$(mktemp)"
  grep -v "^${key}=" "$env_file" > "$tmp" || true
  printf '%s=%s\n' "$key" "$value" >> "$tmp"
  cat "$tmp" > "$env_file"
  rm -f "$tmp"
}
ssm_get() { # name
  local region="$AWS_REGION"
  if [ -z "$region" ]; then
    local token
    token="$(curl -fsS -X PUT http://169.254.169.254/latest/api/token \
      -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')"
    region="$(curl -fsS -H "X-aws-ec2-metadata-token: $token" \
      http://169.254.169.254/latest/meta-data/placement/region)"
  fi
  aws ssm get-parameter --region "$region" --with-decryption \
    --name "${COURIER_SSM_PREFIX%/}/$1" --query Parameter.Value --output text
}

umask 077
if [ ! -f "$env_file" ]; then
  cp "$COURIER_DIR/ops/.env.example" "$env_file"
fi
chmod 600 "$env_file"
env_value() { grep "^$1=" "$env_file" | tail -n1 | cut -d= -f2- || true; }
for key in COURIER_API_KEY POSTGRES_PASSWORD; do
  current="$(env_value "$key")"
  if [ -n "$COURIER_SSM_PREFIX" ]; then
    set_env "$key" "$(ssm_get "$key")"
    log "$key read from SSM ${COURIER_SSM_PREFIX%/}/$key"
  elif [ -z "$current" ]; then
    # Hex keeps the Postgres password URL-safe (it goes into DATABASE_URL).
    set_env "$key" "$(openssl rand -hex 32)"
    log "$key generated into $env_file (sudo cat it to read)"
  fi
done
# The encryption key (optional): from SSM when that parameter exists, the same for every
# node. Unset, Courier generates one into its database, which every node then shares.
if [ -n "$COURIER_SSM_PREFIX" ] && enc="$(ssm_get COURIER_ENCRYPTION_KEY 2>/dev/null)"; then
  set_env COURIER_ENCRYPTION_KEY "$enc"
  log "COURIER_ENCRYPTION_KEY read from SSM ${COURIER_SSM_PREFIX%/}/COURIER_ENCRYPTION_KEY"
fi
# Node ids (<prefix>-1, -2, -3) must differ between hosts that share one database.
if [ "$(env_value COURIER_NODE_PREFIX)" = courier ] || [ -z "$(env_value COURIER_NODE_PREFIX)" ]; then
  set_env COURIER_NODE_PREFIX "courier-$(hostname -s)"
fi
if [ -n "$COURIER_DOMAIN" ]; then
  set_env COURIER_DOMAIN "$COURIER_DOMAIN"
  set_env COMPOSE_PROFILES tls
fi

# ----------------------------------------------------------------------------- service
install -m 644 "$COURIER_DIR/ops/ec2/courier.service" /etc/systemd/system/courier.service
# Build before starting, so the unit's first start is quick and a build error is visible here.
(cd "$COURIER_DIR/ops" && docker compose --project-name courier -f docker-compose.yml build)
systemctl daemon-reload
systemctl enable --now courier.service

# Daily logical backup of Postgres at 03:17, 7 kept (see docs/deploy.md, "Backups").
cat > /etc/cron.d/courier-backup <<CRON
17 3 * * * root $COURIER_DIR/ops/ec2/backup.sh >> /var/log/courier-backup.log 2>&1
CRON
chmod 644 /etc/cron.d/courier-backup

log "done: systemctl status courier; curl -s http://127.0.0.1:8000/ready"
