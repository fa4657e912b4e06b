"""install.sh, the README's first command, on bare machines of each family.

The branch logic runs against fake package managers and fake Pythons (PATH holds only a few real
tools, so nothing of this machine leaks in): Debian 12 and Ubuntu 24.04 without python3-venv, Rocky 9
with only Python 3.9, openEuler, an unknown distribution, a user without root or sudo. The real thing,
a bare Debian 12 root made by debootstrap, is ``test_bare_debian_root`` (root and the Debian mirror).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "install.sh"
REAL_TOOLS = ("dirname", "basename", "id", "env", "cat", "mkdir", "touch", "chmod", "printf", "echo")

FAKE_PYTHON = """#!/bin/sh
# a fake Python {version}: venv/ensurepip present once $FAKE/venv-installed exists
echo "python{version} $*" >> "$FAKE/log"
case "$*" in
  *version_info\\ \\<*) [ "{ok}" = 1 ] ;;
  *"import venv, ensurepip"*) [ -e "$FAKE/venv-installed" ] || [ "{venv}" = 1 ] ;;
  *"print("*) echo "{version}" ;;
  "-m venv "*)
    mkdir -p "$3/bin"
    printf '#!/bin/sh\\necho "pip $*" >> "$FAKE/log"\\n' > "$3/bin/pip"
    printf '#!/bin/sh\\necho "auditctl $*" >> "$FAKE/log"\\n' > "$3/bin/auditctl"
    chmod +x "$3/bin/pip" "$3/bin/auditctl" ;;
esac
"""

FAKE_APT = """#!/bin/sh
echo "apt-get $*" >> "$FAKE/log"
case "$*" in *python3-venv*) touch "$FAKE/venv-installed" ;; esac
case "$*" in *" python3 "*) cp "$FAKE/python3.11.tmpl" "$FAKE/bin/python3"; chmod +x "$FAKE/bin/python3" ;; esac
"""

FAKE_DNF = """#!/bin/sh
echo "dnf $*" >> "$FAKE/log"
case "$*" in
  *"list --available python3.11"*) [ "{has311}" = 1 ] ;;
  *"install"*python3.11*) cp "$FAKE/python3.11.tmpl" "$FAKE/bin/python3.11"; chmod +x "$FAKE/bin/python3.11" ;;
  *"install"*python3*) cp "$FAKE/python3.11.tmpl" "$FAKE/bin/python3"; chmod +x "$FAKE/bin/python3" ;;
esac
"""


def fake_machine(tmp: Path, os_id: str, python: str | None, venv: bool = False, has311: bool = True,
                 uid: int | None = None, sudo: bool = False) -> tuple[Path, dict]:
    fake = tmp / "fake"
    (fake / "bin").mkdir(parents=True)
    for tool in REAL_TOOLS + ("cp",):
        real = shutil.which(tool)
        if real:
            (fake / "bin" / tool).symlink_to(real)
    (fake / "python3.11.tmpl").write_text(FAKE_PYTHON.format(version="3.11", ok=1, venv=1))
    if python:
        ok = 1 if tuple(map(int, python.split("."))) >= (3, 11) else 0
        p = fake / "bin" / "python3"
        p.write_text(FAKE_PYTHON.format(version=python, ok=ok, venv=int(venv)))
        p.chmod(0o755)
    for name, text in (("apt-get", FAKE_APT), ("dnf", FAKE_DNF.format(has311=int(has311)))):
        (fake / "bin" / name).write_text(text)
        (fake / "bin" / name).chmod(0o755)
    if uid is not None:
        (fake / "bin" / "id").unlink()
        (fake / "bin" / "id").write_text(f"#!/bin/sh\necho {uid}\n")
        (fake / "bin" / "id").chmod(0o755)
    if sudo:
        (fake / "bin" / "sudo").write_text('#!/bin/sh\necho "sudo $*" >> "$FAKE/log"\nexec "$@"\n')
        (fake / "bin" / "sudo").chmod(0o755)
    (fake / "os-release").write_text(os_id)
    tree = tmp / "tree"
    tree.mkdir()
    shutil.copy(SCRIPT, tree / "install.sh")
    env = {"PATH": str(fake / "bin"), "FAKE": str(fake), "OS_RELEASE": str(fake / "os-release"), "HOME": str(tmp)}
    return tree, env


def run_install(tree: Path, env: dict) -> tuple[subprocess.CompletedProcess, list[str]]:
    r = subprocess.run(["/bin/sh", str(tree / "install.sh")], env=env, capture_output=True, text=True, timeout=60)
    log = Path(env["FAKE"]) / "log"
    return r, (log.read_text().splitlines() if log.exists() else [])


DEBIAN = 'ID=debian\nVERSION_ID="12"\n'
UBUNTU = 'ID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n'
ROCKY = 'ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n'
OPENEULER = 'ID="openEuler"\nVERSION_ID="24.03"\n'


@pytest.mark.parametrize("os_release, version", [(DEBIAN, "3.11"), (UBUNTU, "3.12")])
def test_apt_machine_without_python3_venv_gets_it_then_installs(tmp_path, os_release, version):
    tree, env = fake_machine(tmp_path, os_release, python=version, venv=False)
    r, log = run_install(tree, env)
    assert r.returncode == 0, r.stderr
    apt = [line for line in log if line.startswith("apt-get")]
    assert apt[0] == "apt-get update -qq"
    assert apt[1] == f"apt-get install -y -qq --no-install-recommends python3-venv python{version}-venv"
    assert f"python{version} -m venv .venv" in log and "pip install -q ." in log and "auditctl --help" in log


def test_apt_machine_with_everything_installs_no_package(tmp_path):
    tree, env = fake_machine(tmp_path, DEBIAN, python="3.11", venv=True)
    r, log = run_install(tree, env)
    assert r.returncode == 0, r.stderr
    assert not [line for line in log if line.startswith(("apt-get", "dnf"))] and "pip install -q ." in log
    r, log2 = run_install(tree, env)  # a second run reuses .venv
    assert r.returncode == 0 and log2.count("python3.11 -m venv .venv") == 1


def test_apt_machine_without_python_installs_python3_and_venv(tmp_path):
    tree, env = fake_machine(tmp_path, DEBIAN, python=None)
    r, log = run_install(tree, env)
    assert r.returncode == 0, r.stderr
    assert "apt-get install -y -qq --no-install-recommends python3 python3-venv" in log
    assert "pip install -q ." in log


def test_rocky9_with_python39_gets_python311(tmp_path):
    tree, env = fake_machine(tmp_path, ROCKY, python="3.9", has311=True)
    r, log = run_install(tree, env)
    assert r.returncode == 0, r.stderr
    assert "dnf install -y -q python3.11 python3.11-pip" in log
    assert "python3.11 -m venv .venv" in log and "pip install -q ." in log


def test_openeuler_without_python311_package_installs_python3(tmp_path):
    tree, env = fake_machine(tmp_path, OPENEULER, python=None, has311=False)
    r, log = run_install(tree, env)
    assert r.returncode == 0, r.stderr
    assert "dnf install -y -q python3 python3-pip" in log and "pip install -q ." in log


def test_unknown_distribution_without_python_says_what_to_do(tmp_path):
    tree, env = fake_machine(tmp_path, 'ID=plan9\n', python=None)
    r, log = run_install(tree, env)
    assert r.returncode == 1 and "install Python 3.11 or newer" in r.stderr
    assert not [line for line in log if line.startswith(("apt-get", "dnf"))]


def test_user_without_root_uses_sudo_or_says_so(tmp_path):
    tree, env = fake_machine(tmp_path, DEBIAN, python="3.11", venv=False, uid=1000, sudo=True)
    r, log = run_install(tree, env)
    assert r.returncode == 0 and "sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq" in log
    tree2, env2 = fake_machine(tmp_path / "nosudo", DEBIAN, python="3.11", venv=False, uid=1000)
    r, log = run_install(tree2, env2)
    assert r.returncode == 1 and "need root to run: env DEBIAN_FRONTEND=noninteractive apt-get update" in r.stderr


def test_dry_run_prints_package_commands_only(tmp_path):
    tree, env = fake_machine(tmp_path, ROCKY, python="3.9", has311=True)
    r, log = run_install(tree, {**env, "INSTALL_DRY_RUN": "1"})
    assert r.returncode == 0 and "would run: dnf install -y -q python3.11 python3.11-pip" in r.stdout
    assert not any(line.startswith("dnf install") for line in log) and not (tree / ".venv").exists()


def test_readme_first_command_is_the_installer():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "sh install.sh && .venv/bin/auditctl run" in readme


BARE = Path(os.environ.get("CAMPUS_AUDIT_BARE_ROOT", "/var/tmp/campus-audit-bare-bookworm"))


@pytest.mark.lab
@pytest.mark.skipif(os.geteuid() != 0 and os.environ.get("CI") != "true", reason="needs root (chroot, debootstrap)")
def test_bare_debian_root_runs_the_readme_command(tmp_path):
    """debootstrap a minimal Debian 12 (cached: the base is made once), copy the source tree in, run the
    README's first command verbatim in a chroot, and find the report."""
    assert os.geteuid() == 0, "the bare-root test needs root"
    from tests.bare import bare_root, run_in_chroot
    root = bare_root(BARE)
    work = run_in_chroot(root, ROOT, "sh install.sh && .venv/bin/auditctl run --lang en")
    reports = list((work / "reports").glob("*/localhost/index.html"))
    assert reports, "no report written"
    assert "<html" in reports[0].read_text(encoding="utf-8").lower()


# .ci/run's service part on a bare root: what .ci/services.sh installs and configures, then the same
# start commands as .ci/run, in the chroot's own network namespace.
CI_SERVICES = (
    # fetched with this machine's network, installed (and the clusters made) in the chroot's own, where
    # port 5432 is free as on a bare machine
    "apt-get update -qq && apt-get install -y -qq -d --no-install-recommends postgresql postgresql-client "
    "redis-server rabbitmq-server ;; bash .ci/services.sh install && "
    "pg_ctlcluster --skip-systemctl-redirect \"$(ls /etc/postgresql)\" main start && "
    "for i in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done && "
    "bash .ci/services.sh database && "
    "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no --dir /var/lib/redis "
    "--logfile /var/log/redis/ci.log && sleep 1 && redis-cli -h 127.0.0.1 ping && "
    "redis-cli -h 127.0.0.1 ACL WHOAMI && "
    "rabbitmq-server -detached && "
    "for i in $(seq 60); do rabbitmqctl -q list_vhosts >/dev/null 2>&1 && break; sleep 1; done && "
    "rabbitmqctl -q list_vhosts && echo SERVICES-UP; "
    "rabbitmqctl -q stop >/dev/null 2>&1; redis-cli -h 127.0.0.1 shutdown nosave >/dev/null 2>&1; "
    "pg_ctlcluster \"$(ls /etc/postgresql)\" main stop >/dev/null 2>&1; true"
)


@pytest.mark.lab
@pytest.mark.skipif(os.geteuid() != 0 and os.environ.get("CI") != "true", reason="needs root (chroot, debootstrap)")
def test_bare_debian_root_gets_the_test_services():
    """PostgreSQL, Redis and RabbitMQ from Debian's packages on a root that has none of them: installed,
    configured for the tests (postgres@127.0.0.1 without a password, database test), started, answering."""
    assert os.geteuid() == 0, "the bare-root test needs root"
    from tests.bare import bare_root, run_in_chroot, work_output
    run_in_chroot(bare_root(BARE), ROOT, CI_SERVICES, own_network=True)
    out = work_output[-1]
    assert "postgresql: database test ready" in out and "PONG" in out and "SERVICES-UP" in out, out
    assert "port = 5432" in (BARE.parent / f"{BARE.name}.run" / "etc/postgresql/15/main/postgresql.conf").read_text()
