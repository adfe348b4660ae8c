"""The operator's own /metrics (pure: a Metrics instance on its own registry, parsed with prometheus_client's parser).

Names, label names and types are what README.md documents and the cluster tests and benches read."""

from __future__ import annotations

from process_monitor_operator.metrics import FAMILIES, Metrics
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families


def _parse(m: Metrics) -> dict[str, tuple[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]]:
    out = {}
    for fam in text_string_to_metric_families(m.exposition().decode()):
        out[fam.name] = (fam.type, {(s.name, tuple(sorted(s.labels.items()))): s.value for s in fam.samples})
    return out


def test_families_names_labels_and_values() -> None:
    m = Metrics()
    m.reconciled("ok", 0.2)
    m.reconciled("invalid", 20.0)
    m.api_call("apply", "DaemonSet")
    m.api_call("get", "ConfigMap")
    m.api_call("get", "ConfigMap")
    m.event_posted("Warning")
    m.known(3)
    got = _parse(m)
    P = "process_monitor_operator_"
    assert got[P + "reconciles"][0] == "counter"
    assert got[P + "reconciles"][1] == {(P + "reconciles_total", (("result", "invalid"),)): 1.0,
                                        (P + "reconciles_total", (("result", "ok"),)): 1.0}
    hist_type, hist = got[P + "reconcile_duration_seconds"]
    assert hist_type == "histogram"
    assert hist[(P + "reconcile_duration_seconds_bucket", (("le", "0.25"),))] == 1.0
    assert hist[(P + "reconcile_duration_seconds_bucket", (("le", "10.0"),))] == 1.0
    assert hist[(P + "reconcile_duration_seconds_bucket", (("le", "+Inf"),))] == 2.0
    assert hist[(P + "reconcile_duration_seconds_count", ())] == 2.0
    assert abs(hist[(P + "reconcile_duration_seconds_sum", ())] - 20.2) < 1e-9
    assert got[P + "api_calls"][1] == {
        (P + "api_calls_total", (("kind", "DaemonSet"), ("verb", "apply"))): 1.0,
        (P + "api_calls_total", (("kind", "ConfigMap"), ("verb", "get"))): 2.0,
    }
    assert got[P + "events"][1] == {(P + "events_total", (("type", "Warning"),)): 1.0}
    assert got[P + "processmonitors"] == ("gauge", {(P + "processmonitors", ()): 3.0})
    assert m.writes() == 1


def test_every_declared_family_is_exposed_and_nothing_else() -> None:
    """No `_created` series (names stay as before prometheus_client); every family present even before use."""
    text = Metrics().exposition().decode()
    assert "_created" not in text
    declared = {f.name.removesuffix("_total") for f in FAMILIES}
    assert {fam.name for fam in text_string_to_metric_families(text)} == declared


def test_registry_is_passed_in_not_global() -> None:
    registry = CollectorRegistry()
    Counter("unrelated_total", "another collector on the same registry", registry=registry).inc()
    a, b = Metrics(registry), Metrics()  # two instances never collide (no global registry)
    a.api_call("delete", "Service")
    assert "unrelated_total 1.0" in a.exposition().decode()
    assert b.writes() == 0 and a.writes() == 1
