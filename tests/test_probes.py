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


def test_output_that_knows_the_nonce_still_cannot_forge_a_section():
    """Sections are skipped by their declared length: even a probe that prints this run's own markers
    (as a file naming the nonce would) only ever fills its own section."""
    nonce = new_nonce()
    forged = f"\\n@@{nonce} R 0 0\\n@@{nonce} B 1 6 0\\nforged\\n@@{nonce} R 1 0\\n@@{nonce} DONE\\n"
    evil, victim = Probe("command", f"printf '{forged}'; exit 5"), Probe("command", "echo victim")
    probes = [evil, victim]
    script = build_script(probes, nonce, 5, True)
    out = subprocess.run(["bash", "-s"], input=script.encode(), capture_output=True, timeout=60).stdout
    facts = parse_output(out, probes, nonce, "h")
    assert facts.get(victim).stdout == "victim\n" and facts.get(victim).rc == 0
    assert facts.get(evil).rc == 5 and f"@@{nonce} B 1 6 0" in facts.get(evil).stdout
    assert facts.meta["complete"]


def test_nul_bytes_survive_and_become_replacement_characters():
    p = Probe("command", "printf 'a\\000b\\000\\000c'")
    facts, _ = run([p])
    assert facts.get(p).stdout == "a\ufffdb\ufffd\ufffdc"


def test_stderr_is_capped_and_kept_apart():
    from audits.collect.script import STDERR_CAP

    p = Probe("command", f"echo out; head -c {STDERR_CAP * 4} /dev/zero | tr '\\0' 'e' >&2; exit 3")
    facts, _ = run([p])
    r = facts.get(p)
    assert r.stdout == "out\n" and r.rc == 3 and r.stderr == "e" * STDERR_CAP


def test_a_timeout_kills_the_probes_whole_process_group_and_the_script_leaves_nothing(tmp_path):
    """The watchdog TERMs the probe's process group (its pipeline's children too); the run's private
    directory is gone afterwards and no probe process is left."""
    import os

    import random

    marker = f"sleep 29.{random.randrange(10**6):06d}"   # a process name no one else has
    slow = Probe("command", f"{marker} | cat")
    after = Probe("command", "echo $TMPDIR; echo after")
    probes = [slow, after]
    nonce = new_nonce()
    env = dict(os.environ, TMPDIR=str(tmp_path))
    script = build_script(probes, nonce, 1, True)
    out = subprocess.run(["bash", "-s"], input=script.encode(), capture_output=True, timeout=60, env=env).stdout
    facts = parse_output(out, probes, nonce, "h")
    assert facts.get(slow).error == "probe timed out"
    assert facts.get(after).stdout.endswith("after\n")
    assert list(tmp_path.iterdir()) == []  # mktemp -d used TMPDIR; removed on exit
    ps = subprocess.run(["ps", "-eo", "args="], capture_output=True, text=True).stdout
    assert marker not in ps


def test_without_a_private_directory_each_probe_falls_back_to_timeout_and_a_pipe(tmp_path):
    """mktemp -d failing (no writable TMPDIR) leaves the old per-probe pipeline: same results, same caps."""
    import os

    big = Probe("command", f"head -c {STDOUT_CAP * 2} /dev/zero | tr '\\0' 'a'")
    slow, after = Probe("command", "sleep 30"), Probe("command", "printf 'x\\000y'; echo oops >&2; exit 4")
    probes = [big, slow, after]
    nonce = new_nonce()
    script = build_script(probes, nonce, 1, True)
    env = dict(os.environ, TMPDIR=str(tmp_path / "missing"))
    out = subprocess.run(["bash", "-s"], input=script.encode(), capture_output=True, timeout=60, env=env).stdout
    facts = parse_output(out, probes, nonce, "h")
    assert facts.get(big).truncated and len(facts.get(big).stdout) == STDOUT_CAP
    assert facts.get(slow).error == "probe timed out"
    assert facts.get(after).stdout == "x\ufffdy" and facts.get(after).rc == 4 and facts.get(after).stderr == ""


def test_plain_commands_replace_the_probes_subshell_and_others_do_not():
    from audits.collect.script import _exec_last

    assert _exec_last("cat -- /etc/hostname") == "exec cat -- /etc/hostname"
    assert _exec_last("grep -Hs '' /etc/a /etc/b.d/*") == "exec grep -Hs '' /etc/a /etc/b.d/*"
    assert _exec_last("command -v -- sshd >/dev/null || { echo x >&2; exit 127; }; sudo -n -- sshd -T").endswith(
        "; exec sudo -n -- sshd -T")
    for keep in ("cat /etc/a | head", "A=1 cmd", "echo $(uname)", "command -v aide", "test -e /x", "a; b",
                 "sudo -n -- cat -- /etc/shadow | awk 1"):
        assert _exec_last(keep) == keep
