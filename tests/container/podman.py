"""Podman on this kind of machine: no container registry, so the base image is built here with debootstrap
(Debian bookworm, python3 and its venv module) and kept between runs; then the project's Dockerfile is built
on it. What the machines need is written in one containers.conf of our own (runc, no default ulimits);
/etc is left alone."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = "localhost/billing-base"
IMAGE = "localhost/billing-contract:test"
SUITE = "bookworm"
BASE_PACKAGES = "python3,python3-venv,ca-certificates"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# crun and podman's default ulimits are refused on these machines.
CONTAINERS_CONF = '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n'


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "billing-contract"


def missing_tools() -> str | None:
    """Why the container tests cannot run here, or None."""
    for tool in ("podman", "runc"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian packages podman, runc, debootstrap: .ci/apt-packages.txt)"
    if os.geteuid() != 0:
        return "the container test builds its base image with debootstrap and runs podman as root"
    return None


def debian_mirror() -> str:
    """The Debian mirror apt uses on this machine (deb822 .sources or one-line sources.list)."""
    candidates = [*sorted(Path("/etc/apt/sources.list.d").glob("*.sources")), Path("/etc/apt/sources.list")]
    for path in candidates:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        found = re.findall(r"^URIs:\s*(\S+)", text, re.M) + re.findall(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)", text, re.M)
        for uri in found:
            if "security" not in uri and uri.startswith(("http://", "https://")):
                return uri.rstrip("/")
    return DEFAULT_MIRROR


@dataclass
class Podman:
    """podman with this project's containers.conf; every call's output is captured."""

    conf: Path

    @classmethod
    def here(cls) -> Podman:
        conf = cache_dir() / "containers.conf"
        conf.parent.mkdir(parents=True, exist_ok=True)
        if not conf.is_file() or conf.read_text() != CONTAINERS_CONF:
            conf.write_text(CONTAINERS_CONF)
        return cls(conf)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_CONF": str(self.conf)}

    def run(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["podman", *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} exited {done.returncode}:\n{_tail(done)}")
        return done

    def image_id(self, image: str) -> str | None:
        done = self.run("image", "inspect", "--format", "{{.Id}}", image, check=False)
        return done.stdout.strip() if done.returncode == 0 else None

    def inspect(self, container: str, template: str) -> str:
        return self.run("inspect", "--format", template, container).stdout.strip()

    def remove(self, container: str) -> None:
        self.run("rm", "--force", "--time", "0", container, check=False, timeout=60)


def _tail(done: subprocess.CompletedProcess[str], size: int = 4000) -> str:
    return (done.stdout or "")[-size:] + (done.stderr or "")[-size:]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One builder at a time on this machine (two test runs share the cache and the image names)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_base_image(podman: Podman) -> str:
    """localhost/billing-base: kept in podman's store; else imported from the debootstrap root kept in the
    cache folder; else debootstrapped first (about a minute)."""
    with _locked(cache_dir() / "base.lock"):
        if podman.image_id(BASE_IMAGE) is not None:
            return BASE_IMAGE
        rootfs = cache_dir() / f"{SUITE}-rootfs"
        if not (rootfs / ".complete").is_file():
            if shutil.which("debootstrap") is None:
                raise AssertionError("debootstrap is not installed (needed once, to build the base image)")
            partial = rootfs.with_name(rootfs.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            shutil.rmtree(rootfs, ignore_errors=True)
            command = ["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", SUITE, str(partial)]
            done = subprocess.run([*command, debian_mirror()], capture_output=True, text=True, timeout=900)
            assert done.returncode == 0, f"debootstrap exited {done.returncode}:\n{_tail(done)}"
            # What an apt-based base image does not carry: downloaded packages and package lists.
            for leftovers in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for entry in (partial / leftovers).glob("*"):
                    if entry.is_file():
                        entry.unlink()
            partial.rename(rootfs)
            (rootfs / ".complete").touch()
        tar = subprocess.Popen(
            ["tar", "-C", str(rootfs), "--exclude", "./.complete", "-c", "."], stdout=subprocess.PIPE
        )
        imported = subprocess.run(
            ["podman", "import", "-", BASE_IMAGE], stdin=tar.stdout, env=podman.env, capture_output=True, timeout=600
        )
        assert tar.stdout is not None
        tar.stdout.close()
        assert tar.wait() == 0 and imported.returncode == 0, imported.stderr.decode(errors="replace")[-3000:]
        return BASE_IMAGE


def build_stage_tag(image: str = IMAGE) -> str:
    return image.replace(":", "-build:", 1) if ":" in image else image + "-build"


def build_image(podman: Podman, base: str, image: str = IMAGE) -> tuple[str, float]:
    """The project's Dockerfile built on `base` from this checkout; the image's id and the build's seconds.
    The build stage is tagged too (build_stage_tag), and what either tag held before is removed, so that
    repeated runs on one machine do not pile up images (the layer cache stays)."""
    stage = build_stage_tag(image)
    with _locked(cache_dir() / "build.lock"):
        previous = {name: podman.image_id(name) for name in (stage, image)}
        started = time.monotonic()
        for target, tag in (("build", stage), (None, image)):
            podman.run(
                "build",
                *(["--target", target] if target else []),
                "--format",  # HEALTHCHECK is kept only in docker's image format
                "docker",
                "--network",
                "host",
                "--volume",  # pip in the build trusts what this machine trusts
                f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro",
                "--build-arg",
                f"BASE_IMAGE={base}",
                "--tag",
                tag,
                "--file",
                str(ROOT / "Dockerfile"),
                str(ROOT),
                timeout=1200,
            )
        elapsed = time.monotonic() - started
        built = podman.image_id(image)
        assert built is not None
        for name, old in previous.items():
            if old is not None and old != podman.image_id(name):
                podman.run("rmi", old, check=False)  # still used by a container: it stays
        return built, elapsed


def container_name(role: str) -> str:
    return f"billing-test-{role}-{uuid.uuid4().hex[:8]}"


def env_args(env: dict[str, str]) -> list[str]:
    return [arg for key, value in env.items() for arg in ("--env", f"{key}={value}")]


def run_args(
    name: str, image: str, env: dict[str, str], extra: Sequence[str] = (), command: Sequence[str] = ()
) -> list[str]:
    """`podman run` arguments for a detached container on the host's network."""
    return ["run", "--detach", "--name", name, "--network", "host", *env_args(env), *extra, image, *command]
