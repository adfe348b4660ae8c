"""The safe Go-template subset: rendering of every field as Go prints it, and rejection of everything else."""

from __future__ import annotations

import pytest
from process_monitor_agent.rules import ProcAttrs
from process_monitor_agent.template import TemplateError, compile_template, go_time_string


def render(src: str, **kw) -> str:
    a = ProcAttrs(
        kw.pop("comm", "nginx"),
        kw.pop("cmdline", ["/usr/sbin/nginx", "-g", "daemon off;"]),
        pid=kw.pop("pid", 4242),
        start_time=kw.pop("start_time", 1700000123.45),
        username=kw.pop("username", "www-data"),
        cgroups=kw.pop("cgroups", ["/a", "/b"]),
    )
    return compile_template(src).render(a, kw.pop("matches", {"x": "cap"}))


def test_fields() -> None:
    assert render("{{.Comm}}") == "nginx"
    assert render("{{.ExeBase}}|{{.ExeFull}}") == "nginx|/usr/sbin/nginx"
    assert render("{{.Username}}/{{.PID}}") == "www-data/4242"
    assert render("{{.Matches.x}} {{.Matches.y}}") == "cap <no value>"
    assert render("{{.Cgroups}}") == "[/a /b]"
    assert render("{{.StartTime}}") == "2023-11-14 22:15:23.45 +0000 UTC"
    assert render("{{ .Comm }}-{{.ExeBase}}", cmdline=[]) == "nginx-nginx"  # empty argv: ExeBase is comm


def test_literal_and_trim_markers() -> None:
    assert render("plain") == "plain"
    assert render("a  {{- .Comm -}}  b") == "anginxb"
    assert compile_template("static").static and not compile_template("x{{.Comm}}").static


def test_go_time_string() -> None:
    assert go_time_string(0) == "1970-01-01 00:00:00 +0000 UTC"
    assert go_time_string(1700000000.5) == "2023-11-14 22:13:20.5 +0000 UTC"


@pytest.mark.parametrize(
    "src",
    [
        "{{.Comm.Foo}}",
        "{{.Matches}}",
        "{{.Matches.a.b}}",
        "{{.__class__}}",
        "{{printf \"%s\" .Comm}}",
        "{{if .Comm}}x{{end}}",
        "{{.Comm | upper}}",
        "{{}}",
        "{{.Comm",
        "{{.Bogus}}",
    ],
)
def test_rejected(src: str) -> None:
    with pytest.raises(TemplateError):
        compile_template(src)
