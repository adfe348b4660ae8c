"""Build the project's container images and load them into the real node's containerd: `make images`.

Called by `python -m localcluster images` (the Makefile's `images` target), by the quick start and by the real-node
pytest fixture. Two builders, chosen by what the machine has:

- a Docker engine that answers `docker info`: `docker build` of Dockerfile.agent and Dockerfile.operator, as any
  user of the project would run it;
- otherwise buildah (Debian's package; no daemon, no registry): the same Dockerfiles, unchanged, with only the
  `PYTHON_IMAGE` build argument pointing at a base image this module makes itself by debootstrap of Debian bookworm
  with Python 3.11 (the minor of `python:3.11-slim`). No container registry is reachable here.

Slow results are cached outside the clone, under ${PM_IMAGES_CACHE:-~/.cache/process-monitor/images}/, each keyed by
a hash of its recipe, so a warm run only rebuilds what changed: `base-<key>/` (the debootstrap rootfs as a tar),
`pause-<key>/` (the sandbox image, see docker/pause.c), `buildah/` (buildah's storage with its layer cache) and
`out/` (OCI archives of the built images, which `ctr images import` loads into the node's containerd).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence

REPO = pathlib.Path(__file__).resolve().parents[2]
AGENT_IMAGE = "localhost/process-monitor-agent:dev"
OPERATOR_IMAGE = "localhost/process-monitor-operator:dev"
PAUSE_IMAGE = "localhost/pause:local"
# image name -> Dockerfile (both built from the repository root)
APP_IMAGES: dict[str, str] = {AGENT_IMAGE: "Dockerfile.agent", OPERATOR_IMAGE: "Dockerfile.operator"}

# The base image's recipe: every input that changes its bytes, hashed into its cache key.
BASE_SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "python-is-python3")
BASE_PRUNE = ("var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/info",
              "usr/share/locale", "var/log")
BASE_RECIPE_VERSION = 1  # bump when the steps below change in a way the other fields do not show
# This network re-signs TLS: pip inside a build trusts the host's CA bundle, mounted read-only at build time.
HOST_CA = pathlib.Path("/etc/ssl/certs/ca-certificates.crt")

Progress = Callable[[str], None]


class ImageError(RuntimeError):
    """An image could not be built or imported; the message names the step and shows the end of its output."""


def cache_dir() -> pathlib.Path:
    explicit = os.environ.get("PM_IMAGES_CACHE")
    return pathlib.Path(explicit).expanduser() if explicit else pathlib.Path.home() / ".cache/process-monitor/images"


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def apt_mirror() -> str:
    """The Debian mirror apt uses on this machine (debootstrap must use the same one: no other is reachable)."""
    for src in sorted(pathlib.Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in src.read_text().splitlines():
            if line.startswith("URIs:") and "debian-security" not in line:
                uri = line.split(None, 1)[1].strip()
                if "debian" in uri:
                    return uri
    lists = pathlib.Path("/etc/apt/sources.list")
    if lists.exists():
        for line in lists.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[0] == "deb" and "security" not in fields[1]:
                return fields[1]
    return "http://deb.debian.org/debian"


def base_key(mirror: str) -> str:
    return _key(BASE_SUITE, BASE_PACKAGES, BASE_PRUNE, BASE_RECIPE_VERSION, mirror)


def base_image_name(key: str) -> str:
    return f"localhost/process-monitor-python-base:{key}"


def _run(argv: Sequence[str], step: str, *, timeout: float, cwd: pathlib.Path | None = None,
         log: pathlib.Path | None = None) -> str:
    """Run one build step; on failure raise ImageError with the step's name and the end of its output."""
    try:
        proc = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise ImageError(f"{step}: {argv[0]} not found; run `make setup` (installs it)") from None
    except subprocess.TimeoutExpired:
        raise ImageError(f"{step}: no result after {timeout:.0f}s ({' '.join(argv[:3])} ...)") from None
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as fh:
            fh.write(f"\n=== {' '.join(argv)}\n{proc.stdout}{proc.stderr}")
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise ImageError(f"{step} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def docker_available() -> bool:
    """True when a Docker engine answers (then `docker build` is used, as the README's users would)."""
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=15, check=False).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@dataclasses.dataclass(frozen=True)
class Buildah:
    """buildah with its own storage under the images cache (never the system's /var/lib/containers)."""

    root: pathlib.Path
    log: pathlib.Path

    @classmethod
    def in_cache(cls, cache: pathlib.Path) -> Buildah:
        return cls(cache / "buildah", cache / "logs" / "buildah.log")

    def __call__(self, *args: str, step: str, timeout: float = 900.0) -> str:
        return _run(["buildah", "--root", str(self.root / "root"), "--runroot", str(self.root / "run"),
                     "--storage-driver", "overlay", *args], step, timeout=timeout, cwd=REPO, log=self.log)

    def image_id(self, name: str) -> str | None:
        try:
            out = self("images", "--noheading", "--no-trunc", "--format", "{{.ID}}", name, step=f"look up {name}",
                       timeout=60)
        except ImageError:
            return None
        return out.split()[0] if out.split() else None

    def from_tar(self, tar: pathlib.Path, name: str, config: Sequence[str]) -> None:
        """Commit a rootfs tar as image `name` (`FROM scratch` + ADD, with image config flags)."""
        ctr = self("from", "scratch", step="buildah from scratch").strip()
        try:
            self("add", ctr, str(tar), "/", step=f"add {tar.name}")
            self("config", *config, ctr, step=f"configure {name}")
            self("commit", "--rm", ctr, name, step=f"commit {name}")
        except ImageError:
            self("rm", ctr, step="remove the build container", timeout=60)
            raise

    def push_archive(self, name: str, out: pathlib.Path) -> None:
        """Write `name` as an OCI archive whose index names it (what `ctr images import` reads)."""
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        self("push", name, f"oci-archive:{tmp}:{name}", step=f"export {name}")
        tmp.replace(out)


def ensure_base(b: Buildah, cache: pathlib.Path, progress: Progress) -> str:
    """The Python base image (debootstrap of bookworm), built once per recipe key; returns its image name."""
    mirror = apt_mirror()
    key = base_key(mirror)
    name = base_image_name(key)
    if b.image_id(name):
        progress(f"base image {name}: cached")
        return name
    tar = cache / f"base-{key}" / "rootfs.tar"
    if not tar.exists():
        if os.geteuid() != 0:
            raise ImageError("debootstrap of the base image needs root (or build where a Docker engine runs)")
        progress(f"base image: debootstrap {BASE_SUITE} with {', '.join(BASE_PACKAGES)} from {mirror} "
                 "(about a minute, once per recipe) ...")
        start = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="pm-base-", dir=cache) as tmp:
            rootfs = pathlib.Path(tmp) / "rootfs"
            _run(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", BASE_SUITE,
                  str(rootfs), mirror], "debootstrap of the base image", timeout=1200,
                 log=cache / "logs" / f"base-{key}.log")
            for rel in BASE_PRUNE:
                target = rootfs / rel
                if target.is_dir():
                    for child in target.iterdir():
                        if child.is_dir() and not child.is_symlink():
                            shutil.rmtree(child)
                        else:
                            child.unlink()
            part = pathlib.Path(tmp) / "rootfs.tar"
            _run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(part), "."], "tar of the base rootfs",
                 timeout=600)
            tar.parent.mkdir(parents=True, exist_ok=True)
            part.replace(tar)
        progress(f"base image: rootfs made in {time.monotonic() - start:.0f}s ({tar.stat().st_size / 1e6:.0f} MB)")
    b.from_tar(tar, name, ["--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                           "--env", "LANG=C.UTF-8", "--cmd", "python3",
                           "--label", f"org.opencontainers.image.description=debootstrap {BASE_SUITE} "
                                      f"{' '.join(BASE_PACKAGES)} (process-monitor base, recipe {key})"])
    progress(f"base image {name}: committed")
    return name


def ensure_pause(b: Buildah, cache: pathlib.Path, progress: Progress) -> pathlib.Path:
    """The sandbox image: docker/pause.c linked statically into a one-file image; returns its OCI archive."""
    source = REPO / "docker" / "pause.c"
    key = _key(source.read_text(), "gcc -static -O2 -s", 1)
    out = cache / f"pause-{key}" / "pause.tar"
    if out.exists():
        progress(f"sandbox image {PAUSE_IMAGE}: cached")
        return out
    with tempfile.TemporaryDirectory(prefix="pm-pause-", dir=cache) as tmp:
        root = pathlib.Path(tmp) / "root"
        root.mkdir()
        _run(["gcc", "-static", "-O2", "-s", "-o", str(root / "pause"), str(source)], "gcc -static pause.c",
             timeout=120)
        tar = pathlib.Path(tmp) / "pause-rootfs.tar"
        _run(["tar", "--numeric-owner", "--owner=0", "--group=0", "-C", str(root), "-cf", str(tar), "pause"],
             "tar of the pause rootfs", timeout=60)
        b.from_tar(tar, PAUSE_IMAGE, ["--entrypoint", '["/pause"]', "--user", "65535:65535"])
    b.push_archive(PAUSE_IMAGE, out)
    progress(f"sandbox image {PAUSE_IMAGE}: built")
    return out


def _build_app(b: Buildah, name: str, dockerfile: str, base: str, cache: pathlib.Path,
               progress: Progress) -> pathlib.Path:
    out = cache / "out" / (name.rsplit("/", 1)[-1].replace(":", "-") + ".tar")
    before = b.image_id(name)
    start = time.monotonic()
    progress(f"{name}: buildah bud -f {dockerfile} (PYTHON_IMAGE={base}) ...")
    volumes = ["-v", f"{HOST_CA}:{HOST_CA}:ro"] if HOST_CA.exists() else []
    b("bud", "--isolation", "chroot", "--network", "host", "--layers", "--pull=never", *volumes,
      "--build-arg", f"PYTHON_IMAGE={base}", "-f", dockerfile, "-t", name, ".", step=f"build of {name}",
      timeout=1800)
    after = b.image_id(name)
    if after != before or not out.exists():
        b.push_archive(name, out)
    progress(f"{name}: ready in {time.monotonic() - start:.0f}s ({'rebuilt' if after != before else 'unchanged'})")
    return out


@dataclasses.dataclass(frozen=True)
class Built:
    """What `build` produced: OCI archives by image name (empty with Docker: images live in the engine)."""

    archives: dict[str, pathlib.Path]
    builder: str
    ids: dict[str, str] = dataclasses.field(default_factory=dict)  # image name -> image ID (buildah builds)


def build(names: Sequence[str] = tuple(APP_IMAGES), *, progress: Progress = lambda _m: None,
          with_pause: bool = True) -> Built:
    """Build the named app images (and the pause image for a real node) with Docker if it answers, else buildah."""
    if docker_available():
        for name in names:
            tag = name.removeprefix("localhost/")
            progress(f"{tag}: docker build -f {APP_IMAGES[name]}")
            _run(["docker", "build", "-f", APP_IMAGES[name], "-t", tag, "."], f"docker build of {tag}",
                 timeout=1800, cwd=REPO)
        return Built({}, "docker")
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    b = Buildah.in_cache(cache)
    archives: dict[str, pathlib.Path] = {}
    if with_pause:
        archives[PAUSE_IMAGE] = ensure_pause(b, cache, progress)
    base = ensure_base(b, cache, progress)
    for name in names:
        archives[name] = _build_app(b, name, APP_IMAGES[name], base, cache, progress)
    return Built(archives, "buildah", {name: b.image_id(name) or "" for name in names})


def import_archive(ctr: Sequence[str], archive: pathlib.Path, name: str) -> None:
    """Load one OCI archive into containerd's k8s.io namespace (where the kubelet's CRI looks for images). The
    archive's index names the image (`org.opencontainers.image.ref.name`, written by `buildah push`); ctr's
    --index-name is not used: re-importing under it a name that already exists fails to unpack."""
    _run([*ctr, "-n", "k8s.io", "images", "import", str(archive)], f"ctr import of {name}", timeout=600)


def image_sizes(ctr: Sequence[str], names: Sequence[str]) -> dict[str, int]:
    """Unpacked size in bytes of each imported image, as containerd's snapshotter reports it (`ctr images ls`)."""
    out = _run([*ctr, "-n", "k8s.io", "images", "ls"], "ctr images ls", timeout=60)
    sizes: dict[str, int] = {}
    for line in out.splitlines()[1:]:
        fields = line.split()
        if fields and fields[0] in names:
            # columns: REF TYPE DIGEST SIZE UNIT PLATFORMS LABELS; SIZE is the compressed content size
            number, unit = float(fields[3]), fields[4]
            sizes[fields[0]] = int(number * {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}.get(unit, 1))
    return sizes
