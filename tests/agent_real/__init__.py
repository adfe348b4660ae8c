"""Agent on the real /proc, side by side with process-exporter.

The modules here are also a small library that `bench/` imports (with `tests/` on sys.path):
`procs` spawns real processes with chosen names, cmdlines, parents, threads and open files; `exporters` starts
process-exporter or our agent on a free 127.0.0.1 port and scrapes it; `exposition` parses what it serves.
"""
