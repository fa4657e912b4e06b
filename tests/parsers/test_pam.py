"""checks.parsers.pam: PAM stacks (includes, substacks, controls) and libpwquality/faillock settings."""
from checks.parsers.common import grep_files
from checks.parsers.pam import (OLD_DEFAULTS, conf_settings, effective_min_length, is_enforcing, lockout_active,
                                lockout_settings, pam_entries, pam_stack, pwquality_conf, quality_settings,
                                required_classes, strip_comment)

from ._grep import fixture, grep_h


def _pam_files(files: dict[str, str]) -> dict[str, list[str]]:
    return {p: [strip_comment(x) for x in lines] for p, lines in grep_files(grep_h(files)).items()}


def test_entries_read_controls_modules_and_arguments():
    lines = ["auth [success=1 default=ignore] pam_unix.so nullok", "-session optional /usr/lib/security/pam_systemd.so",
             "password requisite pam_pwquality.so retry=3 minlen=12", "@include common-auth"]
    e = pam_entries(lines)
    assert e[0]["control"] == "[success=1 default=ignore]" and e[0]["module"] == "pam_unix.so"
    assert e[0]["args"] == {"nullok": True}
    assert e[1]["type"] == "session" and e[1]["module"] == "pam_systemd.so"   # '-' prefix and path dropped
    assert e[2]["args"] == {"retry": "3", "minlen": "12"}
    assert e[3]["type"] == "include"


def test_debian_sudo_follows_at_include_into_common_auth_in_place():
    pam = _pam_files({"/etc/pam.d/sudo": fixture("debian12-pam.d-sudo"),
                      "/etc/pam.d/common-auth": fixture("debian12-common-auth")})
    auth = pam_stack(pam, "/etc/pam.d/sudo", "auth")
    assert [e["module"] for e in auth] == ["pam_unix.so", "pam_deny.so", "pam_permit.so", "pam_cap.so"]
    assert {e["file"] for e in auth} == {"/etc/pam.d/common-auth"}
    assert pam_stack(pam, "/etc/pam.d/sudo", "password") == []   # common-password was not gathered


def test_rhel_sshd_substack_reaches_password_auth_and_skips_missing_postlogin():
    pam = _pam_files({"/etc/pam.d/sshd": fixture("rhel9-pam.d-sshd"),
                      "/etc/pam.d/password-auth": fixture("rhel9-authselect-system-auth")})
    auth = pam_stack(pam, "/etc/pam.d/sshd", "auth")
    assert [e["module"] for e in auth][:3] == ["pam_env.so", "pam_faildelay.so", "pam_faillock.so"]
    assert auth[-1]["module"] == "pam_deny.so"
    lock = [e for e in auth if e["module"] == "pam_faillock.so"]
    assert lockout_active(lock)
    assert not lockout_active([e for e in lock if "authfail" in e["args"]])   # no preauth line: no lock


def test_an_include_loop_ends():
    pam = _pam_files({"/etc/pam.d/a": "auth include b\nauth required pam_a.so\n",
                      "/etc/pam.d/b": "auth include a\nauth required pam_b.so\n"})
    assert [e["module"] for e in pam_stack(pam, "/etc/pam.d/a", "auth")] == ["pam_b.so", "pam_a.so"]


def test_optional_and_sufficient_do_not_enforce():
    assert not is_enforcing({"control": "optional"}) and not is_enforcing({"control": "sufficient"})
    assert is_enforcing({"control": "requisite"}) and is_enforcing({"control": "[success=1 default=bad]"})


def test_pwquality_debian_stock_file_keeps_defaults_and_dropins_lose_to_the_main_file():
    raw = grep_h({"/etc/security/pwquality.conf.d/50-site.conf": "minlen = 14\nminclass = 3\n",
                  "/etc/security/pwquality.conf.d/10-early.conf": "minlen = 10\ndcredit = -1\n",
                  "/etc/security/pwquality.conf": fixture("debian12-pwquality.conf") + "minclass = 2\n"})
    settings, source = pwquality_conf(grep_files(raw), raw)
    assert settings["minlen"] == "14" and source["minlen"].endswith("50-site.conf")   # later drop-in wins
    assert settings["dcredit"] == "-1"
    assert settings["minclass"] == "2" and source["minclass"] == "/etc/security/pwquality.conf"   # main file last
    assert source["ucredit"] == "default"


def test_centos7_commented_credit_lines_mean_old_defaults():
    raw = grep_h({"/etc/security/pwquality.conf": "# dcredit = 1\n# minlen = 9\n"})
    settings, _ = pwquality_conf(grep_files(raw), raw)
    assert settings == OLD_DEFAULTS


def test_pam_arguments_override_files_and_cracklib_ignores_them():
    files_s, files_src = {"minlen": "14", "dcredit": "0"}, {"minlen": "/etc/security/pwquality.conf", "dcredit": "default"}
    pwq = pam_entries(["password requisite pam_pwquality.so minlen=8 retry=3"])[0]
    s, src = quality_settings(pwq, files_s, files_src)
    assert s["minlen"] == "8" and src["minlen"] == "PAM" and s["dcredit"] == "0"
    crack = pam_entries(["password requisite pam_cracklib.so retry=3"])[0]
    s, src = quality_settings(crack, files_s, files_src)
    assert s["minlen"] == 9 and src["minlen"] == "default"


def test_positive_credits_shorten_and_negative_credits_require_classes():
    assert effective_min_length({"minlen": "12", "dcredit": "1", "ucredit": "1"}, "pam_pwquality.so")[0] == 10
    assert effective_min_length({"minlen": "3"}, "pam_pwquality.so")[0] == 6       # raised to the module's floor
    assert effective_min_length({"minlen": "3"}, "pam_cracklib.so")[0] == 5
    assert effective_min_length({"minlen": "12", "dcredit": "-1", "ucredit": "-2"}, "pam_pwquality.so")[0] == 12
    assert required_classes({"minclass": "2", "dcredit": "-1", "ucredit": "-1", "ocredit": "-1"})[0] == 3
    assert required_classes({"minclass": "9"})[0] == 4


def test_faillock_settings_defaults_conf_then_arguments():
    fl = pam_entries(["auth required pam_faillock.so preauth silent deny=5"])[0]
    assert lockout_settings(fl, {}) == {"deny": "5", "unlock_time": "600", "source": "default", "preauth": True,
                                        "silent": True}
    s = lockout_settings(pam_entries(["auth required pam_faillock.so authfail"])[0], {"deny": "4", "unlock_time": "900"})
    assert (s["deny"], s["unlock_time"], s["source"]) == ("4", "900", "/etc/security/faillock.conf")
    tally = lockout_settings(pam_entries(["auth required pam_tally2.so onerr=fail"])[0], {"deny": "4"})
    assert tally["deny"] == "0"   # pam_tally2 reads no faillock.conf


def test_conf_settings_reads_equals_spaces_and_flags():
    assert conf_settings(["deny = 3", "even_deny_root", "unlock_time 600"]) == {
        "deny": "3", "even_deny_root": "true", "unlock_time": "600"}
