"""Local Kubernetes control plane for tests and the quick start.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (fake nodes), all built from the Go module
proxy by tools/build-go-tools.sh and started as plain processes on 127.0.0.1. Modules:
`tools` (where the Go-built binaries are), `pki` (certificates), `cluster` (start/stop/status),
`ports` (free loopback ports), `__main__` (the `python -m localcluster up|down|status` CLI behind
`make cluster-up`), `pytest_plugin` (fixtures).
"""
