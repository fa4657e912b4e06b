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


# ------------------------------------------------------------------------------------- the stack as Linux-PAM runs it
from checks.parsers.pam import (QUALITY, checks_lock, control_actions, enforced, failures_recorded, flatten, pam_tree,  # noqa: E402
                                regular_user, stack_paths)


def _run(files: dict[str, str], path: str, kind: str, missing=frozenset()):
    tree = pam_tree(_pam_files(files), path, kind)
    return tree, stack_paths(tree, missing)[0]


def _lock(files, path="/etc/pam.d/common-auth", missing=frozenset()):
    _tree, paths = _run(files, path, "auth", missing)
    is_fail = lambda e: e["module"] == "pam_faillock.so" and "authfail" in e["args"]  # noqa: E731
    return (enforced(paths, checks_lock)[0], failures_recorded(paths, checks_lock, is_fail, regular_user)[0],
            failures_recorded(paths, checks_lock, is_fail)[0])


def _quality(files, path):
    _tree, paths = _run(files, path, "password")
    return enforced(paths, lambda e: e["module"] in QUALITY)


def test_pam_control_keywords_and_brackets():
    assert control_actions("sufficient") == {"success": "done", "new_authtok_reqd": "done", "default": "ignore"}
    assert control_actions("[success=2 default=ignore]") == {"success": "2", "default": "ignore"}
    assert control_actions("[success=ok]")["default"] == "bad"


def test_pam_debian12_faillock_example_locks_and_counts_passes():
    assert _lock({"/etc/pam.d/common-auth": fixture("debian12-faillock-common-auth")}) == (True, True, True)


def test_pam_debian12_stock_has_no_lock_fails():
    assert _lock({"/etc/pam.d/common-auth": fixture("debian12-stock-common-auth")})[0] is False


def test_pam_sufficient_before_faillock_fails():
    text = ("auth sufficient pam_unix.so nullok\nauth required pam_faillock.so preauth\n"
            "auth [default=die] pam_faillock.so authfail\nauth required pam_deny.so\n")
    ok, rec, _ = _lock({"/etc/pam.d/common-auth": text})
    assert not ok   # a right password returns 'done' before the lock is asked


def test_pam_preauth_skipped_by_a_jump_fails():
    ok, rec, _ = _lock({"/etc/pam.d/common-auth": fixture("broken-preauth-skipped-by-jump-common-auth")})
    assert (ok, rec) == (False, True)


def test_pam_faillock_only_in_account_fails():
    files = {"/etc/pam.d/common-auth": fixture("broken-faillock-account-only-common-auth")}
    assert not any(e["module"] == "pam_faillock.so" for e in flatten(_run(files, "/etc/pam.d/common-auth", "auth")[0]))
    assert _lock(files)[0] is False


def test_pam_authsucc_checks_the_lock_without_preauth_passes():
    text = ("auth [success=1 default=ignore] pam_unix.so nullok\nauth [default=die] pam_faillock.so authfail\n"
            "auth sufficient pam_faillock.so authsucc\nauth requisite pam_deny.so\nauth required pam_permit.so\n")
    assert _lock({"/etc/pam.d/common-auth": text}) == (True, True, True)


def test_pam_rhel8_sssd_profile_never_records_root_failures():
    got = _lock({"/etc/pam.d/system-auth": fixture("rhel8-authselect-sssd-faillock-system-auth")}, "/etc/pam.d/system-auth")
    assert got == (True, True, False)   # ordinary accounts yes; uid < 1000 dies at pam_succeed_if before authfail


def test_pam_rhel9_sshd_substack_into_authselect_with_faillock_passes():
    files = {"/etc/pam.d/sshd": fixture("rhel9-pam.d-sshd"), "/etc/pam.d/password-auth": fixture("rhel9-authselect-system-auth")}
    assert _lock(files, "/etc/pam.d/sshd") == (True, True, True)
    assert _lock({"/etc/pam.d/sshd": fixture("rhel9-pam.d-sshd"),
                  "/etc/pam.d/password-auth": fixture("rhel9-authselect-sssd-nofaillock-system-auth")}, "/etc/pam.d/sshd")[0] is False


def test_pam_tally2_missing_from_linux_pam_1_5_fails_and_works_on_1_1_passes():
    files = {"/etc/pam.d/system-auth": fixture("centos7-tally2-system-auth")}
    assert _lock(files, "/etc/pam.d/system-auth")[0] is True
    _tree, paths = _run(files, "/etc/pam.d/system-auth", "auth", frozenset({"pam_tally2.so"}))
    assert {res for res, _ in paths} == {"fail"}   # a required module that cannot load fails every login
    files = {"/etc/pam.d/system-auth": fixture("centos7-tally2-system-auth").replace("auth        required      pam_tally2",
                                                                                      "-auth        required      pam_tally2")}
    assert _lock(files, "/etc/pam.d/system-auth", frozenset({"pam_tally2.so"}))[0] is False   # '-': skipped, no lock


def test_pam_substack_done_ends_only_the_substack():
    files = {"/etc/pam.d/svc": "auth substack inner\nauth requisite pam_faillock.so preauth\nauth required pam_permit.so\n",
             "/etc/pam.d/inner": "auth sufficient pam_unix.so\nauth required pam_deny.so\n"}
    assert _lock(files, "/etc/pam.d/svc")[0] is True       # 'done' in the substack does not skip the parent's preauth
    files["/etc/pam.d/svc"] = files["/etc/pam.d/svc"].replace("substack", "include")
    assert _lock(files, "/etc/pam.d/svc")[0] is False      # with include it ends the whole stack


def test_pam_jump_in_parent_counts_a_substack_as_one_module():
    files = {"/etc/pam.d/svc": "auth [success=1 default=ignore] pam_unix.so\nauth substack inner\n"
                               "auth requisite pam_faillock.so preauth\nauth required pam_permit.so\n",
             "/etc/pam.d/inner": "auth required pam_deny.so\nauth required pam_deny.so\n"}
    assert _lock(files, "/etc/pam.d/svc")[0] is True       # success=1 skips the whole substack, lands on preauth


def test_pam_pwquality_after_sufficient_unix_fails():
    ok, why = _quality({"/etc/pam.d/system-auth": fixture("broken-pwquality-after-sufficient-system-auth")},
                       "/etc/pam.d/system-auth")
    assert not ok and "skipped" in why


def test_pam_pwquality_debian12_pam_auth_update_output_passes():
    assert _quality({"/etc/pam.d/common-password": fixture("debian12-pwquality-common-password")},
                    "/etc/pam.d/common-password")[0]


def test_pam_optional_pwquality_is_not_enforced_fails():
    ok, why = _quality({"/etc/pam.d/common-password": "password optional pam_pwquality.so\n"
                                                      "password [success=1 default=ignore] pam_unix.so\n"
                                                      "password requisite pam_deny.so\npassword required pam_permit.so\n"},
                       "/etc/pam.d/common-password")
    assert not ok and "not fatal" in why


def test_pwquality_versions_credits_and_files():
    raw = grep_h({"/etc/security/pwquality.conf": fixture("centos7-pwquality.conf"),
                  "/etc/security/pwquality.conf.d/10-x.conf": "minlen = 12\n"})
    old, _ = pwquality_conf(grep_files(raw), raw, (1, 2, 3))
    assert old["minlen"] == 9 and old["dcredit"] == 1            # 1.2.x: no pwquality.conf.d, credit 1 per class
    new, _ = pwquality_conf(grep_files(raw), raw, (1, 4, 4))
    assert new["minlen"] == "12" and new["dcredit"] == 0
    raw = grep_h({"/etc/security/pwquality.conf": "enforce_for_root\n"})
    assert "enforce_for_root" not in pwquality_conf(grep_files(raw), raw, (1, 4, 0))[0]   # files may set it from 1.4.1
    assert "enforce_for_root" in pwquality_conf(grep_files(raw), raw, (1, 4, 1))[0]


def test_pam_enumeration_is_bounded_and_says_so():
    lines = [f"auth [success=ok default=ignore] pam_x{i}.so" for i in range(16)] + ["auth required pam_unix.so"]
    tree = [dict(e, file="/x", optional_module=False) for e in pam_entries(lines)]
    paths, cut = stack_paths(tree, limit=500)
    assert cut and len(paths) == 500


def test_pam_include_fan_out_from_a_hostile_host_ends():
    names = [f"/etc/pam.d/f{i}" for i in range(6)]
    files = {n: "".join(f"@include f{j}\n" for j in range(6)) + "auth required pam_unix.so\n" for n in names}
    tree = pam_tree(_pam_files(files), names[0], "auth")
    assert 0 < len(flatten(tree)) <= 2000
