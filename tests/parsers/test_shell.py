"""checks.parsers.shell: the start-up order of a login shell and TMOUT's readonly/unset/condition semantics."""
from checks.parsers.shell import csh_autologout, read_order, tmout

DEB_PROFILE = ['if [ "${PS1-}" ]; then', '  if [ "${BASH-}" ] && [ "$BASH" != "/bin/sh" ]; then',
               '    if [ -f /etc/bash.bashrc ]; then', '      . /etc/bash.bashrc', '    fi', '  fi', 'fi',
               'if [ -d /etc/profile.d ]; then', '  for i in /etc/profile.d/*.sh; do', '    if [ -r $i ]; then',
               '      . $i', '    fi', '  done', '  unset i', 'fi']


def _t(files, family="debian"):
    return tmout(read_order({"/etc/profile": DEB_PROFILE, **files}, family=family))


def test_shell_profile_d_read_in_name_order_after_bash_bashrc():
    order = read_order({"/etc/profile": DEB_PROFILE, "/etc/bash.bashrc": ["A=1"], "/etc/profile.d/b.sh": ["B=1"],
                        "/etc/profile.d/a.sh": ["C=1"]}, family="debian")
    assert [p for p, _l, _c in order if p != "/etc/profile"] == ["/etc/bash.bashrc", "/etc/profile.d/a.sh", "/etc/profile.d/b.sh"]


def test_shell_later_assignment_overrides_an_earlier_one_fails():
    t = _t({"/etc/profile.d/a.sh": ["export TMOUT=600"], "/etc/profile.d/z.sh": ["TMOUT=3600"]})
    assert (t.value, t.readonly) == ("3600", False)


def test_shell_readonly_refuses_later_assignment_and_unset_passes():
    t = _t({"/etc/profile.d/a.sh": ["TMOUT=600; readonly TMOUT; export TMOUT"], "/etc/profile.d/z.sh": ["TMOUT=0", "unset TMOUT"]})
    assert (t.value, t.readonly, len(t.refused)) == ("600", True, 2)
    assert _t({"/etc/profile.d/a.sh": ["declare -r TMOUT=300"]}).readonly
    assert _t({"/etc/profile.d/a.sh": ["typeset -rx TMOUT=300"]}).readonly


def test_shell_unset_without_readonly_removes_it_fails():
    assert _t({"/etc/profile.d/a.sh": ["export TMOUT=600"], "/etc/profile.d/b.sh": ["unset -v TMOUT"]}).value is None


def test_shell_user_test_exempts_root_fails():
    t = _t({"/etc/profile.d/a.sh": ['if [ "$(id -u)" -ne 0 ]; then readonly TMOUT=600; export TMOUT; fi']})
    assert t.value == "600" and "id -u" in t.condition
    t = _t({"/etc/profile.d/a.sh": ['if [ $UID -ge 1000 ]', 'then', '  readonly TMOUT=600', 'fi']})
    assert t.condition
    assert not _t({"/etc/profile.d/a.sh": ['if [ -n "$PS1" ]; then readonly TMOUT=600; fi']}).condition


def test_shell_files_nothing_sources_are_not_read():
    assert _t({"/etc/bashrc": ["readonly TMOUT=600"]}).value is None                    # Debian: /etc/bashrc is RHEL's
    assert _t({"/etc/bashrc": ["readonly TMOUT=600"]}, family="rhel").value == "600"    # RHEL reads it last


def test_shell_tcsh_autologout_minutes():
    assert csh_autologout({"/etc/csh.cshrc": ["set autologout = 10"]})[0] == 600
    assert csh_autologout({})[0] is None
