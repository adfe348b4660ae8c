"""Support code shared by the tests, the benchmarks (bench/) and the quick start (tools/quickstart.py).

One implementation each of: waiting with a deadline (`wait`), supervising a process with a log file
(`supervise`, built on localcluster.procs), reading a Prometheus text exposition (`exposition`, with
prometheus_client's parser), running the operator on the host against a cluster (`operator_host`), and the
real-process kit of the side-by-side tests and benches: processes with chosen names, argv, parents, threads and
files and their /proc truth (`realprocs`, `worker`), and process-exporter or the agent on a free port (`exporters`).

tools/ is on pytest's pythonpath and packaged; bench/ scripts put tools/ on sys.path. Nothing here imports tests/.
"""
