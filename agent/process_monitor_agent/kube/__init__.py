"""Kubernetes attribution without the API server: which pod and container a process belongs to.

- cgroup_path.py: the pod UID and container ID in a process's cgroup path (every kubelet/runtime layout).
- podlogs.py: pod UID / container ID -> namespace, pod and container names from the kubelet's log directories.
- attribution.py: the Attributor the tracker and collector call; it joins the two and caches per container.

Nothing here runs unless a name template uses a Kubernetes field or -kubernetes.labels is on. docs/attribution.md
says why these sources and not the kubelet's Pods API, the CRI socket or an API server watch.
"""
