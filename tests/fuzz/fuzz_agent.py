"""Coverage-guided fuzz targets (atheris, libFuzzer) for the agent's input parsers.

Run by tests/fuzz/test_fuzz.py, one target per subprocess for a bounded time:
    python tests/fuzz/fuzz_agent.py TARGET [libFuzzer flags] WORK_CORPUS SEED_CORPUS
Targets and the only exception each may raise (anything else, a hang past -timeout, or memory past -rss_limit_mb
is a crash, and libFuzzer writes the input under -artifact_prefix):
- config:   config.parse_config(bytes)         -> ConfigError (the documented one-line error)
- template: template.compile_template(str) and Template.render -> TemplateError at compile, nothing at render
- procfs:   the first byte picks a parser from PARSERS, the rest is the file -> ValueError or IndexError, what the
            tracker catches and counts for an odd process (a file the kernel wrote cannot be malformed; a fake
            -procfs tree or a kernel change can)
- http:     http/protocol.parse_head + body_length + accepts_gzip -> HTTPError
- webconfig: webconfig.parse_web_config(bytes) -> WebConfigError; OpenSSL's loading of the files it names is
            replaced by a double that refuses them (the target is the validation; a fuzzed path such as /dev/zero
            must not make OpenSSL read forever)
"""

from __future__ import annotations

import contextlib
import sys

import atheris

with atheris.instrument_imports(include=["process_monitor_agent", "yaml"]):
    from process_monitor_agent.config import ConfigError, parse_config
    from process_monitor_agent.http.protocol import HTTPError, accepts_gzip, body_length, parse_head
    from process_monitor_agent.http.webconfig import WebConfigError, parse_web_config
    from process_monitor_agent.procfs.cgroup import parse_cgroup
    from process_monitor_agent.procfs.cmdline import parse_cmdline
    from process_monitor_agent.procfs.io import parse_io
    from process_monitor_agent.procfs.limits import parse_max_open_files
    from process_monitor_agent.procfs.schedstat import parse_runtime_ns
    from process_monitor_agent.procfs.smaps import parse_smaps_rollup
    from process_monitor_agent.procfs.stat import parse_stat, split_stat
    from process_monitor_agent.procfs.status import parse_status
    from process_monitor_agent.procfs.system import parse_boot_time
    from process_monitor_agent.procfs.wchan import parse_wchan
    from process_monitor_agent.rules import ProcAttrs
    from process_monitor_agent.template import TemplateError, compile_template

PARSERS = (parse_cgroup, parse_cmdline, parse_io, parse_max_open_files, parse_runtime_ns, parse_smaps_rollup,
           parse_stat, split_stat, parse_status, parse_boot_time, parse_wchan)


def fuzz_config(data: bytes) -> None:
    try:
        parse_config(data, "fuzz.yaml")
    except ConfigError as e:
        msg = str(e)
        if "\n" in msg or len(msg) > 2000:
            raise AssertionError(f"ConfigError not one bounded line ({len(msg)} characters)") from None


def fuzz_template(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    source = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 512))
    try:
        tpl = compile_template(source)
    except TemplateError:
        return
    attrs = ProcAttrs(
        fdp.ConsumeUnicodeNoSurrogates(16),
        [fdp.ConsumeUnicodeNoSurrogates(32) for _ in range(fdp.ConsumeIntInRange(0, 3))],
        pid=fdp.ConsumeIntInRange(0, 1 << 22),
        start_time=fdp.ConsumeFloatInRange(0.0, 4e9),
        username=fdp.ConsumeUnicodeNoSurrogates(8),
        cgroups=[fdp.ConsumeUnicodeNoSurrogates(16)],
    )
    matches = {fdp.ConsumeUnicodeNoSurrogates(8): fdp.ConsumeUnicodeNoSurrogates(8) for _ in range(2)}
    out = tpl.render(attrs, matches)
    if not isinstance(out, str):
        raise AssertionError("render returned a non-string")


def fuzz_procfs(data: bytes) -> None:
    if not data:
        return
    parser = PARSERS[data[0] % len(PARSERS)]
    with contextlib.suppress(ValueError, IndexError):
        parser(data[1:])


def fuzz_http(data: bytes) -> None:
    with contextlib.suppress(HTTPError):
        body_length(parse_head(data))
    accepts_gzip(data.decode("latin-1"))


def _refuse_tls_files(*_args: object, **_kw: object) -> None:
    """Test double for ssl.SSLContext.load_cert_chain/load_verify_locations (see the module docstring)."""
    import ssl

    raise ssl.SSLError("TLS files are not loaded while fuzzing")


def fuzz_webconfig(data: bytes) -> None:
    try:
        parse_web_config(data, "fuzz-web.yaml")
    except WebConfigError as e:
        if "\n" in str(e):
            raise AssertionError("WebConfigError not one line") from None


def fuzz_selfcheck(data: bytes) -> None:
    """Crashes on its seed: proves the harness reports a crash (tests/fuzz/test_fuzz.py)."""
    if data.startswith(b"crash"):
        raise RuntimeError("selfcheck crash")


TARGETS = {"config": fuzz_config, "template": fuzz_template, "procfs": fuzz_procfs, "http": fuzz_http,
           "webconfig": fuzz_webconfig, "selfcheck": fuzz_selfcheck}


def main() -> None:
    target = TARGETS[sys.argv.pop(1)]
    if target is fuzz_webconfig:
        import ssl

        ssl.SSLContext.load_cert_chain = _refuse_tls_files  # type: ignore[method-assign]
        ssl.SSLContext.load_verify_locations = _refuse_tls_files  # type: ignore[method-assign]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
