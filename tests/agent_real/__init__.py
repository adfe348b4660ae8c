"""Agent on the real /proc, side by side with process-exporter.

The process kit these tests use lives in tools/harness (shared with `bench/`): `realprocs` spawns real processes
with chosen names, cmdlines, parents, threads and open files; `exporters` starts process-exporter or our agent on
a free 127.0.0.1 port and scrapes it; `exposition` parses what it serves. `scene` (here) builds the test scenes.
"""
