#!/usr/bin/env python3
"""What a flood of `POST /-/reload` costs the agent: CPU seconds, log lines and reloads actually performed.

Starts the agent on a free 127.0.0.1 port with a config file (--config: `catch-all`, the one-entry catch-all, or
`large`, 1,000 entries with a regex each, ~60 KB), then sends up to --requests POSTs from --clients keep-alive
connections, stopping after --seconds whatever the count (bounded in count and time). Measured, per variant:
the agent's utime+stime over the flood (plus the settling after it, until its CPU stops moving, at most 5 s),
the lines it logged, the answers by status, and its own reload counters (`config_reloads_total`, and on this tree
`config_reload_requests_total` by outcome: applied = parsed, unchanged/coalesced = not parsed). Variants:
- this tree without the flag (the default): every POST is answered 403, nothing is reloaded;
- this tree with `-web.enable-lifecycle`: reloads are coalesced, and bytes already in force are not parsed again;
- the same while a writer rewrites the file (a new comment line) every --churn seconds during the flood, so
  reloads do parse: coalescing keeps them to one at a time (the file watch reloads too, counted with them);
- with --baseline-src DIR (another checkout, e.g. `git worktree add /tmp/pm-before <commit>`, or a directory
  holding its process_monitor_agent/, e.g. `git archive` of an older commit's agent/),
  that agent with the same requests (before a440095+1 its endpoint was open to everyone).
Every agent it starts is stopped before it exits. Run it alone on the machine:

    flock /tmp/pm-bench.lock python bench/reload_flood.py --config large
"""

from __future__ import annotations

import argparse
import http.client
import pathlib
import sys
import tempfile
import threading
import time
from collections import Counter

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from harness import exporters  # noqa: E402
from harness import exposition as ex  # noqa: E402


def config_text(kind: str) -> str:
    if kind == "catch-all":
        return "process_names:\n  - name: '{{.Comm}}'\n    cmdline: ['.+']\n"
    lines = ["process_names:"]
    for i in range(1000):
        lines.append(f"  - name: 'svc{i:04d}-{{{{.Matches.port}}}}'\n    comm: [svc{i:04d}]\n"
                     f"    cmdline: ['--port=(?P<port>\\d+)', 'instance-{i}']")
    return "\n".join(lines) + "\n"


def flood(port: int, requests: int, seconds: float, clients: int) -> tuple[Counter[int], int, float]:
    """POST /-/reload from `clients` keep-alive connections; (statuses, requests sent, wall seconds)."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    sent = [0]
    deadline = time.monotonic() + seconds

    def take() -> bool:
        with lock:
            if sent[0] >= requests or time.monotonic() >= deadline:
                return False
            sent[0] += 1
            return True

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            while take():
                try:
                    conn.request("POST", "/-/reload")
                    resp = conn.getresponse()
                    resp.read()
                    code = resp.status
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    code = 0
                with lock:
                    statuses[code] += 1
        finally:
            conn.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    return statuses, sent[0], time.monotonic() - t0


def settle(exp: exporters.Exporter, limit: float = 5.0) -> None:
    """Wait until the agent's CPU stops moving (work queued by the flood finished), at most `limit` seconds."""
    end = time.monotonic() + limit
    last = exp.cpu_seconds()
    while time.monotonic() < end:
        time.sleep(0.25)
        now = exp.cpu_seconds()
        if now - last < 0.005:
            return
        last = now


def rewrite_until(cfg: pathlib.Path, text: str, every: float, stop: threading.Event) -> None:
    """Replace the file atomically with new bytes every `every` seconds until `stop` (bounded by the flood)."""
    n = 0
    while not stop.wait(every):
        n += 1
        tmp = cfg.with_suffix(".tmp")
        tmp.write_text(f"# revision {n}\n{text}")
        tmp.rename(cfg)


def run(name: str, impl: exporters.Implementation, args: list[str], cfg: pathlib.Path, workdir: pathlib.Path,
        opts: argparse.Namespace, churn: float = 0.0) -> dict[str, object]:
    text = config_text(opts.config)
    cfg.write_text(text)
    with exporters.Exporter(impl, ["-config.path", str(cfg), *args], workdir) as exp:
        time.sleep(0.5)
        lines0 = len(exp.log.read_text(errors="replace").splitlines())
        cpu0 = exp.cpu_seconds()
        stop = threading.Event()
        writer = threading.Thread(target=rewrite_until, args=(cfg, text, churn, stop)) if churn else None
        if writer is not None:
            writer.start()
        try:
            statuses, sent, wall = flood(exp.port, opts.requests, opts.seconds, opts.clients)
        finally:
            stop.set()
            if writer is not None:
                writer.join(10)
        settle(exp)
        cpu = exp.cpu_seconds() - cpu0
        lines = len(exp.log.read_text(errors="replace").splitlines()) - lines0
        samples = ex.parse(exp.scrape())
    reloads = {s.labels.get("result"): s.value for s in samples
               if s.name == "process_monitor_agent_config_reloads_total"}
    requests = [s for s in samples if s.name == "process_monitor_agent_config_reload_requests_total"]
    outcomes = {s.labels["outcome"]: s.value for s in requests if s.labels.get("trigger") == "http"}
    # Parsed reloads, all triggers: this tree counts them (outcome applied/refused); older trees parsed on every
    # reload they counted.
    parsed = sum(s.value for s in requests if s.labels.get("outcome") in ("applied", "refused")) if requests else \
        reloads.get("success", 0) + reloads.get("failure", 0)
    return {"variant": name, "sent": sent, "wall": wall, "cpu": cpu, "lines": lines, "parsed": int(parsed),
            "statuses": dict(sorted(statuses.items())), "outcomes": {k: int(v) for k, v in sorted(outcomes.items())}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", choices=["catch-all", "large"], default="large")
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--churn", type=float, default=0.1, help="seconds between rewrites in the churn variant")
    ap.add_argument("--baseline-src", type=pathlib.Path, default=None,
                    help="another checkout (or a directory holding its process_monitor_agent/) to compare with")
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pm-reload-flood-") as tmp:
        workdir = pathlib.Path(tmp)
        cfg = workdir / "config.yaml"
        here = exporters.agent()
        variants: list[tuple[str, exporters.Implementation, list[str], float]] = []
        if opts.baseline_src is not None:
            variants.append((f"baseline ({opts.baseline_src})", exporters.agent(opts.baseline_src), [], 0.0))
        variants.append(("this tree, default (no flag)", here, [], 0.0))
        variants.append(("this tree, -web.enable-lifecycle", here, ["-web.enable-lifecycle"], 0.0))
        variants.append((f"same, file rewritten every {opts.churn:g} s", here, ["-web.enable-lifecycle"], opts.churn))
        results = [run(name, impl, args, cfg, workdir, opts, churn) for name, impl, args, churn in variants]
    print(f"config {opts.config} ({len(config_text(opts.config))} bytes), up to {opts.requests} POSTs in "
          f"{opts.seconds:g} s from {opts.clients} keep-alive connections")
    print(f"| {'variant':<40} | sent | wall s | agent CPU s | CPU s/1k POSTs | log lines | reloads parsed | "
          "answers | outcomes |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        per_k = r["cpu"] / max(1, r["sent"]) * 1000  # type: ignore[operator]
        print(f"| {r['variant']:<40} | {r['sent']} | {r['wall']:.1f} | {r['cpu']:.2f} | {per_k:.3f} | "
              f"{r['lines']} | {r['parsed']} | {r['statuses']} | {r['outcomes'] or '-'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
