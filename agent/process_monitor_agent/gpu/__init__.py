"""GPU processes (opt-in with -gpu.enabled): per-process GPU memory and utilisation from NVIDIA's NVML.

Nothing here is imported unless the flag is on (cli.py builds a `monitor.GpuMonitor` and hands it to the
Collector), so the default agent neither loads `nvidia-ml-py` nor touches the driver. Modules, in data-flow order:
`model` (devices, per-process use, per-group use), `nvml` (the only code that calls the binding: device discovery,
MIG instances, per-process memory and utilisation; `nvml_codes` holds NVML's return codes and the Failure carrying
one, `nvml_records` turns the binding's process and utilisation records into per-process use), `deadline` (runs
one NVML read per collection in a worker thread, waiting at most -gpu.timeout), `monitor` (the collector's hook:
feeds the tracker the GPU PIDs for the `gpu:` matcher and `.GPUs` template field, folds per-process use into
groups, counts and logs errors once), `families` (the exposition rows).
"""
