"""The batched probe script, run by real bash: framing, caps, timeouts, redaction, de-duplication."""
import subprocess

from audits.model.probes import OS_PROBE, Facts, Probe
from audits.collect.script import STDOUT_CAP, build_script, new_nonce, parse_output, shell_command


def run(probes, timeout=5, as_root=True):
    nonce = new_nonce()
    script = build_script(probes, nonce, timeout, as_root)
    out = subprocess.run(["bash", "-s"], input=script.encode(), capture_output=True, timeout=60).stdout
    return parse_output(out, probes, nonce, "h"), script


def test_hostile_output_cannot_forge_another_probes_section(tmp_path):
    forged = "\\n@@deadbeef B 1\\n@@deadbeef R 1 0\\n"
    evil = Probe("command", f"printf '{forged}'; printf '\\000\\377\\033[2J<script>'; exit 3")
    victim = Probe("command", "echo victim")
    facts, _ = run([evil, victim])
    assert facts.get(victim).stdout == "victim\n" and facts.get(victim).rc == 0
    assert facts.get(evil).rc == 3 and "<script>" in facts.get(evil).stdout
    assert "\x00" not in facts.get(evil).stdout


def test_output_is_capped_and_marked_truncated():
    big = Probe("command", f"head -c {STDOUT_CAP * 3} /dev/zero | tr '\\0' 'a'")
    facts, _ = run([big])
    r = facts.get(big)
    assert r.truncated and len(r.stdout) == STDOUT_CAP


def test_a_slow_probe_times_out_and_the_next_still_runs():
    slow, after = Probe("command", "sleep 30"), Probe("command", "echo after")
    facts, _ = run([slow, after], timeout=1)
    assert facts.get(slow).error == "probe timed out"
    assert facts.get(after).stdout == "after\n"


def test_stderr_and_missing_files_are_kept_apart_from_stdout():
    p = Probe("file", "/nonexistent/x")
    facts, _ = run([p])
    r = facts.get(p)
    assert r.stdout == "" and r.rc == 1 and "No such file" in r.stderr and r.missing()


def test_shadow_hashes_never_leave_the_host(tmp_path):
    # The redaction runs inside the script: feed it a fake shadow through the same command line.
    fake = tmp_path / "shadow"
    fake.write_text("root:$6$salt$hashhashhash:19000:0:99999:7:::\nnobody:*:1:0:99999:7:::\n"
                    "guest::19000:0:99999:7:::\nlocked:!$y$j9T$abc$def:1::::::\n")
    cmd = shell_command(Probe("file", "/etc/shadow"), as_root=True).replace("/etc/shadow", str(fake))
    out = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True).stdout
    assert "hashhash" not in out and "abc" not in out and "salt" not in out
    assert out.splitlines() == ["root:$6$:19000:0:99999:7:::", "nobody:*:1:0:99999:7:::",
                                "guest:EMPTY:19000:0:99999:7:::", "locked:!$y$:1::::::"]
    des = subprocess.run(["bash", "-c", cmd.replace(str(fake), "/dev/stdin")], input="old:abcdefghijklm:1::::::\n",
                         capture_output=True, text=True).stdout
    assert des == "old:DES:1::::::\n"


def test_sudo_is_used_only_where_declared_and_not_as_root():
    p = Probe("file", "/etc/shadow", sudo=True)
    assert shell_command(p, as_root=False).startswith("sudo -n -- cat -- /etc/shadow |")
    assert not shell_command(p, as_root=True).startswith("sudo")
    assert not shell_command(Probe("file", "/etc/passwd"), as_root=False).startswith("sudo")


def test_sudo_command_probes_must_be_plain_commands():
    import pytest

    with pytest.raises(ValueError, match="plain command"):
        shell_command(Probe("command", "cat /etc/shadow | head", sudo=True))


def test_probes_are_deduplicated_into_one_script():
    p = Probe("file", "/etc/hostname")
    _, script = run([p, Probe("file", "/etc/hostname"), OS_PROBE])
    assert script.count("/etc/hostname") == 1


def test_truncated_transcript_marks_unfinished_probes_as_errors():
    a, b = Probe("command", "echo a"), Probe("command", "echo b")
    nonce = new_nonce()
    script = build_script([a, b], nonce, 5, True)
    out = subprocess.run(["bash", "-s"], input=script.encode(), capture_output=True).stdout
    cut = out[: out.index(f"@@{nonce} B 1".encode())]
    facts = parse_output(cut, [a, b], nonce, "h")
    assert facts.get(a).stdout == "a\n"
    assert facts.get(b).error and not facts.meta["complete"]


def test_facts_round_trip_through_json():
    facts, _ = run([Probe("command", "printf 'x\\ny'")])
    again = Facts.from_json(facts.to_json())
    assert again.results == facts.results


def test_sudo_of_a_missing_program_is_a_missing_program_not_a_refusal(tmp_path):
    """`sudo -n -- auditctl -l` on a host without auditd says 'command not found' (rc 1): the probe
    reads as rc 127 like any missing program, not as sudo denied (which would mark the host)."""
    fake = tmp_path / "fake-sudo"
    fake.write_text("#!/bin/sh\necho \"sudo: $1: command not found\" >&2\nexit 1\n")
    fake.chmod(0o755)
    refused = tmp_path / "refused"
    refused.write_text("#!/bin/sh\necho 'sudo: a password is required' >&2\nexit 1\n")
    refused.chmod(0o755)
    missing, denied = Probe("command", f"{fake} auditctl", sudo=True), Probe("command", str(refused), sudo=True)
    facts, _ = run([missing, denied])  # as root: no sudo prefix, the fakes stand in for sudo's answers
    assert facts.get(missing).rc == 127 and facts.get(missing).error is None
    assert facts.get(denied).error.startswith("sudo denied: sudo: a password is required")
