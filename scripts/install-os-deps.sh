#!/usr/bin/env bash
# Install the OS packages gridsys needs when they are missing (Debian/Ubuntu, as root).
# Idempotent: installs nothing when everything is present.
set -euo pipefail

need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in postgresql-15 postgresql-15-postgis-3 chromium fonts-noto-cjk; do
  have "$pkg" || need+=("$pkg")
done
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
command -v npm >/dev/null || need+=(nodejs npm)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing OS packages: ${need[*]}" >&2
  echo "install them as root: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
echo "installing OS packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
