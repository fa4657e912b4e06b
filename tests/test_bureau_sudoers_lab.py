"""Issue #18, finding 1, proven with the real `sudo` on a lab host: the fragment `auditctl sudoers -i`
generates for an inventory with declared backup paths allows each generated command exactly as
written, and refuses every argument split and every extension of each of them (extra arguments, the
find options that wrote root-owned files — `-fprintf FILE TEXT`, `-fprint`, `-delete`, `-exec` — and
an inserted `--`). Data-driven: every command the generator lists, nothing picked by hand."""
from __future__ import annotations

import shlex
import shutil

import pytest
import yaml

from audits.inventory.load import load_inventory
from audits.model.probes import sudo_argv
from audits.trust.sudoers import fragment, sudo_probes
from checks.registry import load_registry

pytestmark = pytest.mark.lab

DECLARED = {"targets": [{"path": "/srv/backup/portal"}, {"path": "/srv/backup/portal~old"},
                        {"remote": "backup@dr.example:/pool", "marker": "/var/backups/portal.offsite"}],
            "marker": "/var/backups/portal.ok", "listing": {"format": "borg", "file": "/var/log/borg.json"},
            "restore_test": "/srv/backup/portal.restore-test"}
EXTENSIONS = (["-fprintf", "/tmp/auditctl-pwn", "X"], ["-fprint", "/tmp/auditctl-pwn"], ["-delete"],
              ["-exec", "sh", "-c", "id", ";"], ["/etc/gshadow"], ["x"], [""])


def _inventory(lab, path):
    lab.write_inventory(path)
    doc = yaml.safe_load(path.read_text())
    system = doc["districts"][0]["schools"][0]["systems"][0]
    system.update({"rpo_hours": 24, "backup": DECLARED})
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return path


def _variants(argv: list[str]) -> list[list[str]]:
    """Every way of passing the same words differently that must NOT be allowed."""
    out = [argv + ext for ext in EXTENSIONS]
    out.append([argv[0], "--", *argv[1:]])
    out.append([argv[0], *argv[1:-1], "--", argv[-1]] if len(argv) > 2 else [argv[0], "--", "--"])
    for i, a in enumerate(argv[1:], 1):  # split each argument in two, at its first and middle character
        for at in sorted({1, len(a) // 2}):
            if 0 < at < len(a):
                out.append(argv[:i] + [a[:at], a[at:]] + argv[i + 1:])
        if " " in a:  # and at its spaces: the same joined text sudo compares, other words for the program
            out.append(argv[:i] + a.split(" ") + argv[i + 1:])
    return out


def test_lab_sudo_refuses_every_split_and_extension_of_every_generated_command(campus_lab, tmp_path):
    from tests.test_lab_smoke import ssh

    inv_path = _inventory(campus_lab, tmp_path / "lab.yaml")
    hosts = list(load_inventory(inv_path).hosts.values())
    checks = load_registry().select(None)
    text, skipped = fragment(checks, "audit", hosts=hosts)
    assert not [s for s in skipped if "/srv/backup" in s or "/var/backups" in s], skipped
    host = campus_lab.by_kind("compliant")[0]
    campus_lab.set_sudo(host.id, True, inventory=inv_path)
    assert "/srv/backup/portal" in (host.etc / "sudoers.d" / "campus-lab-audit").read_text()
    commands = []
    for p in sudo_probes(checks, hosts):
        try:
            argv = sudo_argv(p)
        except ValueError:
            continue
        if shutil.which(argv[0], path="/usr/sbin:/usr/bin:/sbin:/bin") and not any(s.startswith(str(p)) for s in skipped):
            commands.append(argv)
    declared = [a for a in commands if any(x.startswith(("/srv/backup", "/var/backups", "/var/log/borg")) for x in a)]
    assert len(commands) >= 12 and len(declared) >= 5, (commands, declared)
    # sudo compares arguments joined by spaces: no listed argument may hold one
    assert [a for a in commands if any(" " in x for x in a)] == []
    refused = [v for a in commands for v in _variants(a)]
    script = "".join(f"sudo -n -l -- {shlex.join(a)} >/dev/null 2>&1; echo $?\n" for a in commands + refused)
    # and the attack itself, run for real: find's -fprintf must not write a root-owned file
    find = next(a for a in declared if a[0] == "find")
    script += (f"sudo -n -- {shlex.join(find[:2] + ['-fprintf', '/tmp/auditctl-pwn', 'X', '-quit'] + find[2:])}"
               " >/dev/null 2>&1; test -e /tmp/auditctl-pwn && echo WROTE || echo clean\n")
    r = ssh(campus_lab, host, script, timeout=600)
    codes = r.stdout.split()
    assert len(codes) == len(commands) + len(refused) + 1, r.stderr[-2000:]
    assert [a for a, c in zip(commands, codes) if c != "0"] == []
    allowed_variants = [v for v, c in zip(refused, codes[len(commands):]) if c != "1"]
    assert allowed_variants == [], allowed_variants[:20]
    assert codes[-1] == "clean"
