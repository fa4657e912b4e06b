"""Least privilege: `auditctl sudoers` lists exactly the read-only commands the packs run as root.

Unit tests on the generated text (checked by the real `visudo -cf`), and a lab test where a probe
outside the fragment is reported as `sudo denied` for that check while the rest of the host is audited.
"""
import re
import shutil
import subprocess

import pytest

import auditctl
from audits.model.probes import Probe, sudo_argv
from audits.trust.sudoers import command_paths, fragment, sudo_probes, sudoers_args
from checks.registry import load_registry


def mlps_fragment():
    return fragment(load_registry().select(["mlps"]), "audit")


def entries(text):
    body = text.split("Cmnd_Alias", 1)[1].split("\n", 1)[1].split("\naudit ALL")[0]
    return [e.strip().rstrip(",").rstrip("\\").strip().rstrip(",") for e in body.splitlines() if e.strip()]


@pytest.mark.skipif(not shutil.which("visudo"), reason="sudo (visudo) not installed")
def test_fragment_passes_visudo(tmp_path, capsys):
    assert auditctl.main(["sudoers", "--packs", "mlps", "--user", "audit"]) == 0
    f = tmp_path / "frag"
    f.write_text(capsys.readouterr().out)
    r = subprocess.run(["visudo", "-cf", str(f)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_sudo_probe_is_listed_exactly_and_nothing_else():
    text, skipped = mlps_fragment()
    assert skipped == []
    got = entries(text)
    want = set()
    for p in sudo_probes(load_registry().select(["mlps"])):
        argv = sudo_argv(p)
        for path in command_paths(argv[0]):
            want.add(f"{path} {sudoers_args(argv[1:])}".rstrip() if argv[1:] else f'{path} ""')
    assert set(got) == want
    assert "audit ALL=(root) NOPASSWD: AUDITCTL_AUDIT" in text and "Defaults:audit !requiretty" in text
    for e in got:
        path, _, args = e.partition(" ")
        assert path.startswith("/") and not re.search(r"(?<!\\)[*?\[\]]", e), e   # no wildcard: all escaped
        assert path.rsplit("/", 1)[1] not in ("bash", "sh", "env", "vi", "less", "sudo"), e
        assert args, f"{e}: a command without arguments would allow any arguments"
    assert "/usr/bin/cat -- /etc/shadow" in got and "/bin/cat -- /etc/shadow" in got
    assert "/usr/sbin/sshd -T" in got and "/sbin/sshd -T" in got
    # sudoers syntax characters are escaped, not dropped
    assert any("user\\=root\\,host\\=outside.invalid" in e for e in got)


def test_commands_sudoers_cannot_match_exactly_are_refused_not_widened():
    with pytest.raises(ValueError, match="shell syntax"):
        sudo_argv(Probe("command", "cat /etc/shadow | head", True))
    for bad in (["-rH", "", "/etc/sudoers"], ["a\\b"], ["'q'"], ["a\tb"], ["%T@ %m "], ["/x -fprintf"]):
        with pytest.raises(ValueError, match="exactly"):
            sudoers_args(bad)
    with pytest.raises(ValueError, match="regular expression"):
        sudoers_args(["^x", "y$"])
    # glob and sudoers syntax characters are escaped, so they match only themselves
    assert sudoers_args(["-e", "^[[:space:]]*#", "/etc/*.conf", "a=b,c", "%T@/%m/"]) == \
        "-e ^\\[\\[\\:space\\:\\]\\]\\*\\# /etc/\\*.conf a\\=b\\,c %T@/%m/"

    class FakeCheck:  # the fragment only reads a check's probes
        probes = {"any": (Probe("command", "grep -rH '' /etc/sudoers", True), Probe("file", "/etc/shadow", True))}

    text, skipped = fragment([FakeCheck()], "audit")
    assert len(skipped) == 1 and "cannot be matched exactly" in skipped[0]
    assert "/etc/sudoers" not in entries(text)[0] and "# not listed" in text
    with pytest.raises(ValueError):
        fragment([FakeCheck()], "audit ALL=(ALL) ALL #")


def test_paths_follow_where_the_program_lives(tmp_path):
    (tmp_path / "usr/sbin").mkdir(parents=True)
    tool = tmp_path / "usr/sbin/sshd"
    tool.write_text("")
    tool.chmod(0o755)
    assert command_paths("sshd", str(tmp_path)) == ["/sbin/sshd", "/usr/sbin/sshd"]
    assert command_paths("nosuchtool", str(tmp_path)) == ["/bin/nosuchtool", "/sbin/nosuchtool",
                                                           "/usr/bin/nosuchtool", "/usr/sbin/nosuchtool"]


OUTSIDE = """\
checks:
  - id: safety.outside_fragment
    title: {zh: 片段之外的 sudo 探针, en: A sudo probe outside the fragment}
    severity: low
    refs: ["GB/T 22239-2019 8.1.4.2 d"]
    probe: command:id -u
    sudo: true
    parse: raw
    expect:
      - {lines: any, regex: '^0$'}
"""


@pytest.mark.lab
def test_lab_probe_outside_the_fragment_is_sudo_denied_not_a_host_failure(campus_lab, tmp_path):
    from audits.inventory.load import load_inventory
    from audits.run.runner import run_hosts, start_run
    from audits.store.database import Store
    from checks.yaml_checks import load_pack_file

    host = campus_lab.by_kind("misconfigured")[0]
    assert "NOPASSWD: ALL" not in (host.etc / "sudoers.d" / "campus-lab-audit").read_text()
    (tmp_path / "outside.yaml").write_text(OUTSIDE)
    checks = load_pack_file(tmp_path / "outside.yaml") + [
        c for c in load_registry().select(["mlps"]) if c.id in ("mlps.auth.empty_passwords", "mlps.access.sshd_root_login")]
    inv = load_inventory(campus_lab.write_inventory(tmp_path / "lab.yaml"))
    store = Store(str(tmp_path / "r.db"))
    run = start_run(store, {"inventory": "lab"})
    summary = run_hosts(store, run, [inv.hosts[host.id]], checks, {}, quiet=True,
                        options={"known_hosts": str(campus_lab.known_hosts)})
    (rec,) = store.hosts(run)
    assert summary.status == "completed" and rec.status == "audited" and rec.reason == "sudo_denied"
    assert "id -u" in rec.detail
    res = {r["check_id"]: r for r in store.results(run)[host.id]}
    assert res["safety.outside_fragment"]["status"] == "error"
    assert "sudo denied" in res["safety.outside_fragment"]["message"]["en"]
    # the probes inside the fragment ran as root and found the planted problems
    assert res["mlps.auth.empty_passwords"]["status"] == "fail"
    assert res["mlps.access.sshd_root_login"]["status"] == "fail"


def test_an_absent_program_stays_absent_under_a_restricted_sudoers():
    """A restricted sudoers answers 'a password is required' for a program that is not installed
    (no rule matches it); the probe checks for the program first, so the check sees 'missing'."""
    from audits.collect.script import build_script, new_nonce, parse_output
    from audits.collect.transports.base import run_bounded

    probe = Probe("command", "nosuchprog-auditctl-test -l", True)
    nonce = new_nonce()
    out, _ = run_bounded(["bash", "-s"], build_script([probe], nonce, 5, as_root=False), 20, 1 << 20)
    res = parse_output(out, [probe], nonce, "local").get(probe)
    assert res.rc == 127 and res.missing() and res.error is None, res


@pytest.mark.lab
def test_lab_sudo_allows_exactly_the_fragment(campus_lab):
    """Ask the real sudo on a lab host (`sudo -n -l CMD`, as the audit user): every command of the
    fragment is allowed as written, and near misses (other file, extra argument, shell) are not."""
    import shlex

    from tests.test_lab_smoke import ssh

    host = campus_lab.by_kind("compliant")[0]
    # the lab hosts share this machine's programs: ask about the ones installed here
    allowed = [a for a in (sudo_argv(p) for p in sudo_probes(load_registry().select(None)))
               if shutil.which(a[0], path="/usr/sbin:/usr/bin:/sbin:/bin")]
    assert len(allowed) >= 8
    refused = [["cat", "--", "/etc/gshadow"], ["cat", "--", "/etc/shadow", "/etc/passwd"], ["sshd", "-T", "-f", "/tmp/x"],
               ["grep", "-RHsv", "-e", "x", "/etc/crontab"], ["bash"], ["sh", "-c", "id"], ["find", "/", "-exec", "sh", ";"]]
    cron = next(a for a in allowed if a[:3] == ["grep", "-RHsv", "-e"])
    # were the glob characters of '^[[:space:]]*#' not escaped, '*' would let this read /etc/gshadow:
    refused.append(cron[:3] + ["^", "/etc/gshadow", "#"] + cron[4:])
    script = "".join(f"sudo -n -l -- {shlex.join(a)} >/dev/null 2>&1; echo $?\n" for a in allowed + refused)
    r = ssh(campus_lab, host, script)
    codes = r.stdout.split()
    assert len(codes) == len(allowed) + len(refused), r.stderr
    not_allowed = [a for a, c in zip(allowed, codes) if c != "0"]
    assert not_allowed == [], not_allowed
    assert codes[len(allowed):] == ["1"] * len(refused), list(zip(refused, codes[len(allowed):]))
