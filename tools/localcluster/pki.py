"""Certificates for the local control plane, made with the openssl CLI (Debian's `openssl`, installed by setup).

Called by localcluster.cluster when a state directory has no PKI yet. One CA signs the apiserver's serving cert
(127.0.0.1 / localhost / the in-cluster names) and the admin client cert (O=system:masters); a separate ECDSA key
signs ServiceAccount tokens. ECDSA P-256 keeps generation fast on a busy machine. Every leaf carries SKI/AKI and
an extendedKeyUsage so strict TLS verifiers (newer Python, Go) accept them.
"""

from __future__ import annotations

import dataclasses
import pathlib
import shutil
import subprocess


class PkiError(RuntimeError):
    """openssl is missing or failed; the message says which step."""


@dataclasses.dataclass(frozen=True)
class Pki:
    """Paths of the PEM files in one PKI directory."""

    directory: pathlib.Path

    @property
    def ca_crt(self) -> pathlib.Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> pathlib.Path:
        return self.directory / "ca.key"

    @property
    def apiserver_crt(self) -> pathlib.Path:
        return self.directory / "apiserver.crt"

    @property
    def apiserver_key(self) -> pathlib.Path:
        return self.directory / "apiserver.key"

    @property
    def admin_crt(self) -> pathlib.Path:
        return self.directory / "admin.crt"

    @property
    def admin_key(self) -> pathlib.Path:
        return self.directory / "admin.key"

    @property
    def sa_key(self) -> pathlib.Path:
        return self.directory / "sa.key"

    @property
    def sa_pub(self) -> pathlib.Path:
        return self.directory / "sa.pub"

    def files(self) -> tuple[pathlib.Path, ...]:
        return (self.ca_crt, self.ca_key, self.apiserver_crt, self.apiserver_key, self.admin_crt, self.admin_key,
                self.sa_key, self.sa_pub)

    def complete(self) -> bool:
        return all(p.is_file() and p.stat().st_size > 0 for p in self.files())


# Names the serving certificate is valid for: loopback plus what in-cluster clients would use (10.0.0.1 is the
# first address of the service range the apiserver is started with).
SERVING_SANS = ("IP:127.0.0.1", "DNS:localhost", "IP:10.0.0.1", "DNS:kubernetes", "DNS:kubernetes.default",
                "DNS:kubernetes.default.svc", "DNS:kubernetes.default.svc.cluster.local")


def _openssl(args: list[str], cwd: pathlib.Path, step: str) -> None:
    exe = shutil.which("openssl")
    if exe is None:
        raise PkiError("openssl not found on PATH; run `make setup` (installs Debian's openssl)")
    proc = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise PkiError(f"openssl failed while making {step}: {proc.stderr.strip()[-800:]}")


def _ec_key(path: pathlib.Path, cwd: pathlib.Path) -> None:
    _openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path)], cwd, path.name)
    path.chmod(0o600)


def _leaf(pki: Pki, name: str, subject: str, ext_lines: list[str], days: int) -> None:
    d = pki.directory
    key, csr, crt, ext = d / f"{name}.key", d / f"{name}.csr", d / f"{name}.crt", d / f"{name}.ext"
    _ec_key(key, d)
    _openssl(["req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr)], d, f"{name} CSR")
    ext.write_text("\n".join([*ext_lines, "subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid"]) + "\n")
    _openssl(["x509", "-req", "-in", str(csr), "-CA", str(pki.ca_crt), "-CAkey", str(pki.ca_key), "-CAcreateserial",
              "-days", str(days), "-sha256", "-extfile", str(ext), "-out", str(crt)], d, f"{name} certificate")
    csr.unlink()
    ext.unlink()


def ensure_pki(directory: pathlib.Path, days: int = 30) -> Pki:
    """Create the PKI in `directory` unless a complete one is already there; returns its paths."""
    pki = Pki(directory)
    if pki.complete():
        return pki
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    _ec_key(pki.ca_key, directory)
    _openssl(["req", "-x509", "-new", "-key", str(pki.ca_key), "-subj", "/CN=process-monitor-local-ca",
              "-days", str(days), "-sha256",
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
              "-addext", "subjectKeyIdentifier=hash",
              "-out", str(pki.ca_crt)], directory, "the CA")
    _leaf(pki, "apiserver", "/CN=kube-apiserver",
          ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature",
           "extendedKeyUsage=serverAuth", "subjectAltName=" + ",".join(SERVING_SANS)], days)
    _leaf(pki, "admin", "/O=system:masters/CN=admin",
          ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature",
           "extendedKeyUsage=clientAuth"], days)
    _ec_key(pki.sa_key, directory)
    _openssl(["pkey", "-in", str(pki.sa_key), "-pubout", "-out", str(pki.sa_pub)], directory, "the SA public key")
    return pki


def ensure_node_client(pki: Pki, node: str, days: int = 30) -> tuple[pathlib.Path, pathlib.Path]:
    """A kubelet's client certificate (CN=system:node:<node>, O=system:nodes), so the real node is authorized by the
    Node authorizer like any kubelet; returns (crt, key). Made once per node name."""
    name = f"node-{node}"
    crt, key = pki.directory / f"{name}.crt", pki.directory / f"{name}.key"
    if not (crt.is_file() and key.is_file()):
        _leaf(pki, name, f"/O=system:nodes/CN=system:node:{node}",
              ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature", "extendedKeyUsage=clientAuth"], days)
    return crt, key
