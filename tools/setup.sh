#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine: Debian packages, the Python distribution with
# its test extras, and the Go-built tools (cached outside the clone, keyed by version). Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

# The real node (tools/localcluster/realnode.py) and image builds without Docker (tools/images.py) need containerd,
# runc, the loopback CNI plugin, buildah, debootstrap and a static libc for the pause binary.
APT_PACKAGES=(prometheus-process-exporter prometheus openssl
              containerd runc containernetworking-plugins buildah debootstrap gcc libc6-dev)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "==> apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian's package starts a process-exporter service on :9256; tests start their own, so keep it out of the way.
  if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus-process-exporter 2>/dev/null; then
    $SUDO systemctl disable --now prometheus-process-exporter || true
  fi
  pkill -f '^/usr/bin/prometheus-process-exporter' 2>/dev/null || true
  pkill -x prometheus 2>/dev/null || true
fi

echo "==> pip install -e .[operator,test]"
python3 -m pip install -q --disable-pip-version-check -e '.[operator,test]'

# The manifest scanner, in a venv of its own (tools/install-checkov.sh says why).
tools/install-checkov.sh

if [ -x tools/build-go-tools.sh ]; then
  tools/build-go-tools.sh
fi
