"""campus-audit as a real package: the wheel carries every data file the source tree has (templates,
YAML packs, controls files, schemas), installs into a fresh venv and runs the local audit from a
directory outside the source tree (``auditctl`` and ``python -m auditctl``); ``pipx install .`` works.
These build and install (pip, network to the package index): about a minute each."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("audits", "checks", "reports", "templates", "inventories")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)], check=True,
                   timeout=600)
    (whl,) = out.glob("campus_audit-*.whl")
    return whl


def tracked(*paths) -> list[str]:
    r = subprocess.run(["git", "ls-files", *paths], cwd=ROOT, capture_output=True, text=True, check=True)
    return r.stdout.split()


def test_wheel_holds_every_tracked_package_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    files = tracked(*PACKAGES)
    assert any(f.endswith(".j2") for f in files) and any(f.endswith(".yaml") for f in files)
    missing = [f for f in files if f not in names and "__pycache__" not in f]
    assert not missing, f"not in the wheel: {missing}"
    assert "auditctl.py" in names


def _clean_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    return {**env, "HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config")}


def test_wheel_installs_in_a_fresh_venv_and_audits_this_machine(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True, timeout=900)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = _clean_env(tmp_path)
    r = subprocess.run([str(venv / "bin" / "auditctl"), "run", "-q", "--lang", "en"], cwd=work, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode in (0, 3), r.stderr
    reports = list(work.glob("reports/*/localhost/index.html"))
    assert reports and "<html" in reports[0].read_text(encoding="utf-8").lower()
    r = subprocess.run([str(venv / "bin" / "python"), "-m", "auditctl", "validate", "-h"], cwd=work, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "usage:" in r.stdout
    # the code ran from the wheel, not from this source tree
    r = subprocess.run([str(venv / "bin" / "python"), "-c", "import audits, auditctl; print(audits.__file__)"],
                       cwd=work, env=env, capture_output=True, text=True, check=True)
    assert str(venv) in r.stdout


@pytest.mark.skipif(shutil.which("pipx", path=str(Path(sys.executable).parent)) is None
                    and os.environ.get("CI") != "true", reason="pipx not installed (pip install '.[test]')")
def test_pipx_install_from_the_source_tree(tmp_path):
    pipx = shutil.which("pipx", path=str(Path(sys.executable).parent))
    assert pipx, "pipx is missing: the test extra installs it"
    env = {**_clean_env(tmp_path), "PIPX_HOME": str(tmp_path / "pipx"), "PIPX_BIN_DIR": str(tmp_path / "bin"),
           "PIPX_MAN_DIR": str(tmp_path / "man")}
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".git", "*.egg-info", "build", "reports",
                                                             "__pycache__"))
    r = subprocess.run([pipx, "install", "--python", sys.executable, "."], cwd=src, env=env, capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([str(tmp_path / "bin" / "auditctl"), "checks", "list"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "mlps.auth.password_min_length" in r.stdout
