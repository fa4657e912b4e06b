"""A bare Debian 12 root for the install tests: debootstrap's minbase (no Python, no venv, no pip, no
services), made once from the Debian mirror and kept as a pristine base; each test works in a copy.
Root only (debootstrap, chroot, bind mounts)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

work_output: list[str] = []  # the stdout of each part of the last run_in_chroot
MIRROR = os.environ.get("CAMPUS_AUDIT_DEBIAN_MIRROR", "http://deb.debian.org/debian")


def bare_root(base: Path) -> Path:
    """The pristine base (made on first use; a half-made one is made again)."""
    done = base / ".campus-audit-complete"
    if not done.exists():
        if not shutil.which("debootstrap"):
            subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "debootstrap"],
                           check=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        shutil.rmtree(base, ignore_errors=True)
        base.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(base), MIRROR], check=True,
                       stdout=subprocess.DEVNULL, timeout=1800)
        done.touch()
    return base


def _source_files(src: Path) -> list[str]:
    r = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=src,
                       capture_output=True, check=True)
    return [f for f in r.stdout.decode().split("\0") if f and (src / f).is_file()]


def _kill_inside(root: Path) -> None:
    """End every process this run left in the chroot (daemons the packages or the command started)."""
    import signal
    import time

    for sig in (signal.SIGTERM, signal.SIGKILL):
        left = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.readlink(f"/proc/{pid}/root") == str(root):
                    os.kill(int(pid), sig)
                    left.append(pid)
            except OSError:
                continue
        if not left:
            return
        time.sleep(2)


def run_in_chroot(base: Path, src: Path, command: str, timeout: int = 1500, own_network: bool = False) -> Path:
    """Copy the base and the source tree (as git would check it out), run ``command`` in the tree as root
    in the chroot with a clean environment; return the tree's path (outside the chroot). ``own_network``:
    in a new network namespace whose loopback is its own (services there never meet this machine's on
    the same ports), after the packages are fetched: the command then runs in two parts, ``FETCH ;; RUN``."""
    root = base.parent / f"{base.name}.run"
    shutil.rmtree(root, ignore_errors=True)
    subprocess.run(["cp", "-a", str(base), str(root)], check=True)
    work = root / "src" / "campus-audit"
    for f in _source_files(src):
        (work / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / f, work / f)
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
    # this machine's TLS trust (a site CA, where the network has one) for pip in the chroot; the bare
    # root's own ca-certificates stays as the distribution made it
    host_ca = Path(os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt")
    pip_env = []
    if host_ca.is_file():
        shutil.copy(host_ca, root / "host-ca.crt")
        pip_env = ["PIP_CERT=/host-ca.crt"]
    mounts = []
    work_output.clear()
    try:
        for what, where, opts in (("proc", "proc", ["-t", "proc"]), ("/dev", "dev", ["--bind"]),
                                  ("/dev/pts", "dev/pts", ["--bind"])):
            subprocess.run(["mount", *opts, what, str(root / where)], check=True)
            mounts.append(root / where)
        env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8"]
        env += pip_env + [f"{k}={v}" for k, v in os.environ.items() if k in ("PIP_INDEX_URL", "PIP_DEFAULT_TIMEOUT")]
        parts = command.split(" ;; ", 1) if own_network else [command]
        for i, part in enumerate(parts):
            argv = ["chroot", str(root), "/usr/bin/env", "-i", *env, "/bin/sh", "-c", f"cd /src/campus-audit && {part}"]
            if own_network and i == 1:
                argv = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *argv]
            r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
            assert r.returncode == 0, (f"exit {r.returncode}\n--- stdout\n{r.stdout[-4000:]}\n"
                                       f"--- stderr\n{r.stderr[-4000:]}")
            work_output.append(r.stdout)
    finally:
        _kill_inside(root)
        for m in reversed(mounts):
            subprocess.run(["umount", "-l", str(m)], check=False)
    return work
