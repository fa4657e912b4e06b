"""Fleet-run progress as people expect it: on a terminal a bar with counts and an ETA, then a closing
summary table; plain lines when not a terminal; nothing with --quiet."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INV = """\
schools:
  - id: s1
    district: d1
    systems: [{id: x, level: 2}]
    hosts:
      - {id: here-a, address: 127.0.0.1, connection: local, systems: [x]}
      - {id: here-b, address: 127.0.0.2, connection: local, systems: [x]}
"""


def _args(tmp_path):
    inv = tmp_path / "inv.yaml"
    inv.write_text(INV, encoding="utf-8")
    return ["run", "-i", str(inv), "--packs", "mlps", "--db", str(tmp_path / "r.db"), "--out", str(tmp_path / "o")]


@pytest.mark.skipif(shutil.which("script") is None, reason="util-linux script(1) missing")
def test_terminal_gets_a_bar_with_eta_and_a_summary_table(tmp_path):
    cmd = " ".join([sys.executable, "-m", "auditctl", *_args(tmp_path)])
    r = subprocess.run(["script", "-qec", f"COLUMNS=120 {cmd}", "/dev/null"], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout
    assert "audit summary" in r.stdout and "here-a" in r.stdout and "ETA" in r.stdout
    assert "[1/2]" not in r.stdout  # the bar, not the plain lines


def test_plain_lines_when_not_a_terminal_and_silence_with_quiet(tmp_path):
    r = subprocess.run([sys.executable, "-m", "auditctl", *_args(tmp_path)], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0 and "[1/2]" in r.stderr and "[2/2]" in r.stderr and "audit summary" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "auditctl", *_args(tmp_path), "-q"], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0 and "[1/2]" not in r.stderr and "audit summary" not in r.stderr
