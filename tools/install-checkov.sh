#!/usr/bin/env bash
# Installs checkov (the Kubernetes manifest scanner of tests/packaging/test_manifest_scan.py) from PyPI into its
# own virtual environment, at the version pinned in tools/versions.env (CHECKOV_VERSION), cached like the Go tools:
#   ${PM_TOOLS_CACHE:-$HOME/.cache/process-monitor/tools}/checkov-<version>/{venv/,checkov,.built}
# Called by tools/setup.sh (`make setup`); a warm run prints one "cached" line.
#
# Why not the `test` extra: checkov pins its dependencies tightly (packaging<24, boto3==1.35.49, networkx<2.7, ...),
# and packaging<24 conflicts with pytest 9 (packaging>=24): in one environment pip would move pytest and ~55 other
# packages for a tool the tests only run as a subprocess. Its own venv keeps both sides as their authors pinned them.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
. "$HERE/versions.env"
CACHE="${PM_TOOLS_CACHE:-$HOME/.cache/process-monitor/tools}"
PY="${PYTHON:-python3}"
dir="$CACHE/checkov-$CHECKOV_VERSION"

if [ -f "$dir/.built" ]; then
  echo "==> checkov $CHECKOV_VERSION: cached in $dir"
  exit 0
fi
mkdir -p "$CACHE/logs" "$CACHE/bin"
# Two setups at once (several clones on one machine) must not build the same venv over each other.
exec 9>"$CACHE/.checkov.lock"
flock -w 900 9 || { echo "install-checkov: gave up waiting for $CACHE/.checkov.lock" >&2; exit 1; }
if [ -f "$dir/.built" ]; then
  echo "==> checkov $CHECKOV_VERSION: installed meanwhile by another run, in $dir"
  exit 0
fi
log="$CACHE/logs/checkov-$CHECKOV_VERSION.log"
start=$(date +%s)
echo "==> checkov $CHECKOV_VERSION: pip install into its own venv (log: $log) ..."
rm -rf "$dir"
# The venv is created at its final path (venv scripts carry absolute shebangs), marked built only at the end.
mkdir -p "$dir"
if ! { "$PY" -m venv "$dir/venv" &&
       "$dir/venv/bin/python" -m pip install -q --disable-pip-version-check "checkov==$CHECKOV_VERSION"; } >"$log" 2>&1
then
  echo "!!! checkov $CHECKOV_VERSION: install FAILED; last lines of $log:" >&2
  tail -n 30 "$log" >&2
  rm -rf "$dir"
  exit 1
fi
ln -sfn venv/bin/checkov "$dir/checkov"
ln -sfn "$dir/checkov" "$CACHE/bin/checkov"
{ echo "version=$CHECKOV_VERSION"; echo "installed=$(date -u +%Y-%m-%dT%H:%M:%SZ)";
  echo "seconds=$(( $(date +%s) - start ))"; } >"$dir/.built"
echo "==> checkov $CHECKOV_VERSION: installed in $(( $(date +%s) - start ))s -> $dir"
