"""-web.config.file: the exporter-toolkit format's `tls_server_config` and `basic_auth_users`, and the auth check.

Called by cli.py (load at start-up) and http/routes.py (every request but /healthz). TLS takes cert_file,
key_file and client_ca_file (ssl is imported only then). Basic auth takes bcrypt hashes (`$2a$`, `$2b$`, `$2y$`,
as Go's x/crypto/bcrypt) and checks them with the `bcrypt` package (imported only when users are configured; the
stdlib `crypt` module is gone in Python 3.13). Any other top-level key is refused at start-up with a message, and
so is a hash that is not bcrypt. The file is read with the same bounds as the grouping config (boundedyaml.py).
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any

from .. import boundedyaml
from ..quote import short

_BCRYPT = re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}")


class WebConfigError(ValueError):
    """A -web.config.file that cannot be honoured; str() is the one-line message."""


class WebConfig:
    def __init__(self) -> None:
        self.ssl_context: Any = None
        self.users: dict[str, str] = {}
        # A bcrypt check costs as much CPU as a whole scrape of 2,000 processes, so (like exporter-toolkit) remember
        # the last password verified per user, as a keyed digest: one entry per configured user at most, and a
        # different password always goes through bcrypt again. The key is per process, never stored anywhere.
        self._verified: dict[str, bytes] = {}
        self._digest_key = os.urandom(32)
        # One bcrypt at a time, and at most one more waiting: wrong passwords sent in parallel cost at most one core
        # and hold at most two connections; the rest are told to come back (check_auth returns None -> 429).
        self._hash_lock = threading.Lock()
        self._hash_slots = threading.BoundedSemaphore(2)

    def check_auth(self, header: str | None) -> bool | None:
        """True: authorized; False: not; None: the password needs a bcrypt check and two are under way already."""
        if not self.users:
            return True
        if not header or not header.startswith("Basic "):
            return False
        import base64
        import binascii

        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError, binascii.Error):
            return False
        hashed = self.users.get(user)
        if hashed is None:
            return False
        import hashlib  # only with basic auth configured: keeps the open agent's RSS down
        import hmac

        digest = hmac.new(self._digest_key, f"{hashed}\0{password}".encode(), hashlib.sha256).digest()
        known = self._verified.get(user)
        if known is not None and hmac.compare_digest(known, digest):
            return True
        if not self._hash_slots.acquire(blocking=False):
            return None
        try:
            with self._hash_lock:
                ok = self._bcrypt(password, hashed)
        finally:
            self._hash_slots.release()
        if ok:
            self._verified[user] = digest
        return ok

    @staticmethod
    def _bcrypt(password: str, hashed: str) -> bool:
        import bcrypt

        try:
            return bcrypt.checkpw(password.encode("utf-8"), hashed.encode("ascii"))
        except ValueError:  # over 72 bytes: Go's bcrypt refuses such passwords too
            return False


def load_web_config(path: str) -> WebConfig:
    """The file at `path` ("" = no TLS, no auth). Raises WebConfigError with a one-line message."""
    if not path:
        return WebConfig()
    try:
        data = boundedyaml.read_bounded(path)
    except OSError as e:
        raise WebConfigError(f"-web.config.file {path}: {e.strerror or e}") from None
    except boundedyaml.YAMLLimitError as e:
        raise WebConfigError(f"-web.config.file {path}: {e}") from None
    return parse_web_config(data, path)


def parse_web_config(data: bytes, path: str) -> WebConfig:
    """Validate the file's bytes and build the WebConfig (loads TLS material). Raises WebConfigError."""
    import yaml

    wc = WebConfig()
    try:
        doc = boundedyaml.load(data) or {}
    except (yaml.YAMLError, boundedyaml.YAMLLimitError) as e:
        raise WebConfigError(f"-web.config.file {path}: {boundedyaml.describe(e)}") from None
    if not isinstance(doc, dict):
        raise WebConfigError(f"-web.config.file {path}: top level must be a mapping")
    for key in doc:
        if key not in ("tls_server_config", "basic_auth_users", "http_server_config"):
            raise WebConfigError(f"-web.config.file {path}: unsupported key {short(key)}")
    tls = doc.get("tls_server_config") or {}
    if tls:
        if not isinstance(tls, dict):
            raise WebConfigError(f"-web.config.file {path}: tls_server_config must be a mapping")
        import ssl

        cert, key = tls.get("cert_file"), tls.get("key_file")
        if not isinstance(cert, str) or not isinstance(key, str) or not cert or not key:
            raise WebConfigError(f"-web.config.file {path}: tls_server_config needs cert_file and key_file")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            ctx.load_cert_chain(cert, key)
            if tls.get("client_ca_file"):
                ctx.load_verify_locations(str(tls["client_ca_file"]))
                ctx.verify_mode = ssl.CERT_REQUIRED
        except (OSError, ssl.SSLError) as e:
            raise WebConfigError(f"-web.config.file {path}: {e}") from None
        wc.ssl_context = ctx
    users = doc.get("basic_auth_users") or {}
    if not isinstance(users, dict):
        raise WebConfigError(f"-web.config.file {path}: basic_auth_users must be a mapping user: bcrypt-hash")
    for user, hashed in users.items():
        if not isinstance(hashed, str) or not _BCRYPT.fullmatch(hashed):
            raise WebConfigError(
                f"-web.config.file {path}: basic_auth_users {short(user)}: not a bcrypt hash ($2a$, $2b$ or $2y$)"
            )
    wc.users = {str(k): v for k, v in users.items()}
    return wc
