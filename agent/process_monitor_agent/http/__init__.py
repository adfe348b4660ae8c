"""The agent's HTTP side: routes (telemetry path, /healthz, /-/reload, landing page), the bounded HTTP/1.1
server under them, and -web.config.file (TLS, basic auth).

`routes` (make_server: the router and its answers; cli.py calls it), `server` (accept loop, connection cap and
eviction, own metrics), `connection` (one connection: whole-request and write deadlines), `protocol` (request
parsing, pure), `webconfig` (TLS context and the basic-auth check). Nothing is imported here.
"""
