"""process-monitor operator: a kopf operator that owns everything a ProcessMonitor needs.

Public surface: `render.render_all` (pure renderer), `main.main` (the operator), `cli.main` (the user CLI).
Everything else is internal and thin (handlers, app, reconcile, k8s, status).

Layers, lowest first; a module imports only from layers below it (type-only imports under TYPE_CHECKING aside):
1. constants, names, metrics            fixed names; child names; the operator's own metric families
2. spec                                 ProcessMonitor dict -> `Source` with the CRD defaults
3. k8s.serialize, k8s.compare           byte-exact JSON/YAML; "does the live object hold what we would apply"
4. monitoring                           PromQL, alert checks, rule groups, the Grafana dashboard (no Kubernetes)
5. render                               one module per child kind (+ common, options, gpu, kubernetes helpers)
6. validation, status, events, rbac_rules   spec problems; the status; what a watch event means; RBAC
7. settings, login, k8s.api, k8s.applier    operator config and kopf settings; API client; apply-if-different
8. reconcile                            the Reconciler: scheduling and the level-based reconcile
9. app, handlers                        start-up wiring; one-line kopf handlers
10. main, cli, __main__                 entry points
"""

from __future__ import annotations

__version__ = "0.1.0"
