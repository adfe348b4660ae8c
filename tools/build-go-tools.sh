#!/usr/bin/env bash
# Builds the Go tools the project runs (local control plane, helm, prometheus-operator, upstream process-exporter)
# from the Go module proxy, at the versions pinned in tools/versions.env. Called by tools/setup.sh (`make setup`,
# `make tools`); `tools/build-go-tools.sh [TOOL...]` builds only the named tools
# (kubernetes kubelet etcd kwok helm prometheus-operator process-exporter promtool).
#
# Each tool is built in its own throw-away wrapper module (a shared go.mod would let MVS move one tool's
# dependencies for another), with the local toolchain only (GOTOOLCHAIN=local) and CGO off, version-stamped, into
#   ${PM_TOOLS_CACHE:-$HOME/.cache/process-monitor/tools}/<name>-<version>/
# A directory counts as built once its `.built` marker exists (written last, after an atomic rename), so an
# interrupted build is redone and a warm run only prints one "cached" line per tool. GOMODCACHE/GOCACHE stay at
# Go's defaults (outside the clone). $CACHE/bin/ gets symlinks to the pinned binaries for users' PATH.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
. "$HERE/versions.env"
CACHE="${PM_TOOLS_CACHE:-$HOME/.cache/process-monitor/tools}"
export GOTOOLCHAIN=local CGO_ENABLED=0
# A private GOFLAGS=-mod=vendor or similar from the caller would break the wrapper modules.
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

ALL_TOOLS=(process-exporter etcd kubernetes kubelet kwok helm prometheus-operator promtool)

if ! command -v go >/dev/null 2>&1; then
  echo "build-go-tools: 'go' not found on PATH; install Go >= 1.26 (see README)" >&2
  exit 1
fi
mkdir -p "$CACHE/logs" "$CACHE/bin"


now() { date +%s; }

# version_of TOOL -> pinned version from versions.env
version_of() {
  case "$1" in
    kubernetes|kubelet) echo "$KUBERNETES_VERSION" ;;
    etcd) echo "$ETCD_VERSION" ;;
    kwok) echo "$KWOK_VERSION" ;;
    helm) echo "$HELM_VERSION" ;;
    prometheus-operator) echo "$PROMETHEUS_OPERATOR_VERSION" ;;
    process-exporter) echo "$PROCESS_EXPORTER_VERSION" ;;
    promtool) echo "$PROMETHEUS_VERSION" ;;
    *) echo "build-go-tools: unknown tool '$1' (known: ${ALL_TOOLS[*]})" >&2; return 1 ;;
  esac
}

# binaries_of TOOL -> the executables that tool's directory holds
binaries_of() {
  case "$1" in
    kubernetes) echo "kube-apiserver kube-controller-manager kube-scheduler kubectl" ;;
    *) echo "$1" ;;
  esac
}

# new_wrapper NAME: cd into a fresh throw-away module directory
new_wrapper() {
  WRAP="$(mktemp -d "${TMPDIR:-/tmp}/pm-gobuild-$1.XXXXXX")"
  cd "$WRAP"
  go mod init "local/pm-$1-bin" >/dev/null 2>&1
}

# build_k8s OUT VERSION CMD...: k8s.io/kubernetes/cmd/<CMD> binaries at VERSION into OUT.
build_k8s() {
  local out=$1 kv=$2 minor sv gomod m ldf p c=k8s.io/kubernetes/cmd cmds=()
  shift 2
  for m in "$@"; do cmds+=("$c/$m"); done
  minor=$(echo "$kv" | cut -d. -f2); sv="v0.${kv#v1.}"
  new_wrapper kubernetes
  gomod=$(go mod download -json "k8s.io/kubernetes@$kv" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with ./staging/...; point each at
  # its published tag v0.Y.Z instead (derived from the exact go.mod, so the list is right for any version).
  for m in $(sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/.*#\1#p' "$gomod"); do
    go mod edit -replace="$m=$m@$sv"
  done
  go get "${cmds[@]/%/@$kv}"
  # Same stamping as hack/lib/version.sh: without it /version and `kubectl version` say v0.0.0-master.
  ldf="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldf="$ldf -X $p.gitVersion=$kv -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    ldf="$ldf -X $p.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  done
  go build -trimpath -ldflags "$ldf" -o "$out/" "${cmds[@]}"
}

build_kubernetes() { # OUT VERSION
  build_k8s "$1" "$2" kube-apiserver kube-controller-manager kube-scheduler kubectl
}

# The real node's kubelet (tools/localcluster/realnode.py). Its own cache directory, so adding it did not
# invalidate existing kubernetes builds; on top of a warm kubernetes build it reuses the compiled packages (~35 s).
build_kubelet() { # OUT VERSION
  build_k8s "$1" "$2" kubelet
}

build_etcd() { # OUT VERSION
  new_wrapper etcd
  # server/v3's go.mod replaces its siblings with ../ paths, so `go install @version` is refused; as a plain
  # dependency the siblings resolve to the same published tag. The apiserver reads the version from a constant.
  go get "go.etcd.io/etcd/server/v3@$2"
  go build -trimpath -ldflags "-s -w" -o "$1/etcd" go.etcd.io/etcd/server/v3
}

build_kwok() { # OUT VERSION
  new_wrapper kwok
  go get "sigs.k8s.io/kwok/cmd/kwok@$2"
  # kwok pins the Kubernetes staging modules at an older patch of the same minor (v0.8.0: v0.36.1); move those to
  # the patch our kubernetes build uses, so the cold build reuses its compiled packages instead of compiling
  # client-go & co. a second time. Only same-minor modules move (patch releases keep the Go API).
  local sv="v0.${KUBERNETES_VERSION#v1.}" m v bump=()
  while read -r m v; do
    case "$m" in k8s.io/*) [ "${v%.*}" = "${sv%.*}" ] && [ "$v" != "$sv" ] && bump+=("$m@$sv") ;; esac
  done < <(go list -m -f '{{.Path}} {{.Version}}' all)
  if ((${#bump[@]})); then go get "${bump[@]}"; fi
  go build -trimpath -ldflags "-s -w" -o "$1/kwok" sigs.k8s.io/kwok/cmd/kwok
  # Since v0.8.0 kwok has no built-in Stages; ship the upstream Stage YAMLs (from the module, no download).
  local src
  src="$(go env GOMODCACHE)/sigs.k8s.io/kwok@$2/kustomize/stage"
  cp -R "$src" "$1/stages"
  chmod -R u+w "$1/stages"
  rm -f "$1/stages/stage_test.go"
}

build_helm() { # OUT VERSION
  new_wrapper helm
  go get "helm.sh/helm/v3/cmd/helm@$2"
  go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$2" -o "$1/helm" helm.sh/helm/v3/cmd/helm
}

build_prometheus-operator() { # OUT VERSION
  local m=github.com/prometheus-operator/prometheus-operator
  new_wrapper prometheus-operator
  go get "$m/cmd/operator@$2"
  go build -trimpath -ldflags "-s -w -X github.com/prometheus/common/version.Version=${2#v}" \
    -o "$1/prometheus-operator" "$m/cmd/operator"
}

build_process-exporter() { # OUT VERSION
  new_wrapper process-exporter
  go get "github.com/ncabatoff/process-exporter/cmd/process-exporter@$2"
  go build -trimpath -ldflags "-s -w -X main.version=${2#v}" -o "$1/process-exporter" \
    github.com/ncabatoff/process-exporter/cmd/process-exporter
}

build_promtool() { # OUT VERSION
  # Debian's promtool is built without kubernetes_sd; this one keeps only the Kubernetes SD plugin (Prometheus'
  # remove_all_sd/enable_*_sd build tags, honoured since its plugins/plugin_*.go files exist), enough to check
  # kubernetes_sd configs.
  local m=github.com/prometheus/prometheus ver tags=remove_all_sd,enable_kubernetes_sd
  new_wrapper promtool
  # With the same tags, `go get` does not fetch the other SD plugins' dependencies at all.
  go get -tags "$tags" "$m/cmd/promtool@$2"
  ver=$(cat "$(go env GOMODCACHE)/$m@$2/VERSION")
  go build -trimpath -tags "$tags" \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=$ver" -o "$1/promtool" "$m/cmd/promtool"
}

link_bins() { # TOOL DIR
  local b
  for b in $(binaries_of "$1"); do ln -sfn "$2/$b" "$CACHE/bin/$b"; done
}

build_one() { # TOOL
  local tool=$1 version dir tmp log start rc
  version=$(version_of "$tool")
  dir="$CACHE/$tool-$version"
  if [ -f "$dir/.built" ]; then
    echo "==> $tool $version: cached in $dir"
    link_bins "$tool" "$dir"
    return 0
  fi
  log="$CACHE/logs/$tool-$version.log"
  tmp="$CACHE/.partial-$tool-$version.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  echo "==> $tool $version: building (log: $log) ..."
  start=$(now)
  set +e
  ( set -euo pipefail; "build_$tool" "$tmp" "$version"; rm -rf "$WRAP" ) >"$log" 2>&1
  rc=$?
  set -e
  if [ $rc -ne 0 ]; then
    echo "!!! $tool $version: build FAILED after $(( $(now) - start ))s; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    rm -rf "$tmp"
    return $rc
  fi
  rm -rf "$dir"
  mv "$tmp" "$dir"
  { echo "version=$version"; echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "go=$(go env GOVERSION)";
    echo "seconds=$(( $(now) - start ))"; } >"$dir/.built"
  link_bins "$tool" "$dir"
  echo "==> $tool $version: built in $(( $(now) - start ))s -> $dir"
}

# Everything runs from main, which bash has parsed completely before it starts: editing or `git pull`ing this
# file during a long cold build then cannot make the running bash read half-changed lines.
main() {
  local t need_build tools=("$@")
  [ ${#tools[@]} -gt 0 ] || tools=("${ALL_TOOLS[@]}")
  total_start=$(now)
  need_build=0
  for t in "${tools[@]}"; do [ -f "$CACHE/$t-$(version_of "$t")/.built" ] || need_build=1; done
  if [ $need_build = 1 ]; then
    # One build at a time per cache: several clones/engineers share it, and two builds of the same tool would swap
    # its directory under each other (and halve the speed of both). A second caller waits, then finds it cached.
    # A warm run takes no lock, so it never waits behind someone else's build of another tool.
    exec 9>"$CACHE/.build.lock"
    if ! flock -n 9; then
      echo "==> another build-go-tools.sh holds $CACHE/.build.lock; waiting for it (up to 90 min) ..."
      flock -w 5400 9 || { echo "build-go-tools: gave up waiting for $CACHE/.build.lock" >&2; exit 1; }
    fi
  fi
  for t in "${tools[@]}"; do build_one "$t"; done
  echo "==> Go tools ready in $(( $(now) - total_start ))s; binaries: $CACHE/bin (export PATH=$CACHE/bin:\$PATH)"
}

main "$@"
exit $?
