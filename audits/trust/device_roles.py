"""Least privilege on network devices: the configuration that gives the audit account exactly the
commands a live device session sends (``audits/collect/device_commands.py``) and nothing it can
change with (``auditctl device-role --platform huawei-vrp --user audit``), the devices' counterpart
of ``auditctl sudoers``.

Written from the vendors' documented syntax; each recipe says what was verified where:
✅ the syntax is in the vendor's command reference, ◐ seen in secondary sources only, ❓ not
verified on real firmware (which command level a command has by default, and what a restricted
account sees, vary by release). Nothing here is sent to a device: an administrator applies it.
The password is a placeholder; a real one is never printed.
"""
from __future__ import annotations

import re

from audits.collect.device_commands import COMMANDS, PLATFORMS

USER = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,31}$")  # every vendor accepts these; no spaces or syntax

_HUAWEI = """\
# Huawei VRP (V200R0xx, S/AR series): an SSH-only local user at level 1 (monitoring: display commands),
# with the configuration display lowered to level 1. Lines starting with '#' are notes, not commands.
# ✅ 'command-privilege level <level> view <view> <command>' and 'local-user ... privilege level' are in the
#    command references; 'display current-configuration' is a level-3 (management) command by default.
# ❓ the view name of user view ('shell') and whether 'screen-length 0 temporary' is level 1 on every release;
#    VRP8 (CE series, '[~HUAWEI]' prompts) changes take effect after 'commit'.
# ❓ lowering a command's level applies to every level-1 user of the device: keep level 1 for auditors.
system-view
aaa
 local-user {user} password irreversible-cipher <PASSWORD>
 local-user {user} privilege level 1
 local-user {user} service-type ssh
 quit
ssh user {user}
ssh user {user} authentication-type password
ssh user {user} service-type stelnet
command-privilege level 1 view shell display current-configuration
command-privilege level 1 view shell screen-length
user-interface vty 0 4
 authentication-mode aaa
 protocol inbound ssh
 quit
# the audit sends only: {commands}
"""

_H3C = """\
# H3C Comware V7: a user role whose rules permit exactly the commands the audit sends (RBAC), given to
# an SSH-only local user instead of the default network-operator role. Lines starting with '#' are notes.
# ✅ 'role name', 'rule N permit command <command>', 'local-user ... class manage',
#    'authorization-attribute user-role' are in the RBAC / login command references.
# ❓ whether the rule must also permit the role's own commands in user view on every release; the
#    predefined role network-operator can run display commands, but whether it sees
#    'display current-configuration' and 'display password-control' fully is unverified.
# Comware V5 has no RBAC: use 'local-user {user}' with 'authorization-attribute level 3' ❓ instead.
system-view
role name {role}
 description auditctl read-only
 rule 1 permit command screen-length disable
 rule 2 permit command display current-configuration
 rule 3 permit command display version
 rule 4 permit command display password-control
 quit
local-user {user} class manage
 password simple <PASSWORD>
 service-type ssh
 authorization-attribute user-role {role}
 undo authorization-attribute user-role network-operator
 quit
ssh user {user} service-type stelnet authentication-type password
line vty 0 63
 authentication-mode scheme
 protocol inbound ssh
 quit
# the audit sends only: {commands}
"""

_CISCO = """\
! Cisco IOS / IOS-XE: a CLI view (role-based CLI) holding exactly the commands the audit sends, for a local
! SSH user. Lines starting with '!' are notes.
! ✅ 'parser view', 'secret', 'commands exec include', 'username ... view' are in the Role-Based CLI Access guide;
!    CLI views need 'aaa new-model' and are configured from the root view ('enable view').
! ✅ a privilege-level account below 15 sees in 'show running-config' only the lines its level may change
!    (Cisco tech note "IOS privilege levels cannot see complete running configuration"): a level-5 account with
!    'privilege exec level 5 show running-config' would yield an incomplete configuration and wrong results.
! ❓ whether a CLI view sees the complete running configuration on every release. If it does not, use a
!    privilege-15 account whose commands are limited by TACACS+ command authorization to the list below.
aaa new-model
aaa authentication login default local
aaa authorization exec default local
parser view {role}
 secret <VIEW-SECRET>
 commands exec include terminal length
 commands exec include show running-config
 commands exec include show version
 exit
username {user} view {role} secret <PASSWORD>
line vty 0 15
 transport input ssh
! the audit sends only: {commands}
"""

_RUIJIE = """\
! Ruijie RGOS (10.x/11.x): a local user at a dedicated privilege level that is given exactly the commands the
! audit sends. Lines starting with '!' are notes.
! ◐ 'username ... privilege N', 'privilege exec level N <command>' follow the IOS-style syntax of RGOS
!    configuration guides; 'enable service ssh-server' is in public RGOS configurations.
! ❓ whether 'show running-config' at a level below 15 shows the complete configuration (on Cisco it does not):
!    check that the output matches a level-15 'show running-config' once; if not, use level 15 with AAA
!    command authorization limited to the list below.
username {user} privilege 5 secret <PASSWORD>
privilege exec level 5 terminal length
privilege exec level 5 show running-config
privilege exec level 5 show version
enable service ssh-server
line vty 0 4
 login local
 transport input ssh
! the audit sends only: {commands}
"""

RECIPES = {"huawei-vrp": _HUAWEI, "h3c-comware": _H3C, "cisco-ios": _CISCO, "ruijie-rgos": _RUIJIE}
assert set(RECIPES) == set(PLATFORMS)


def recipe(platform: str, user: str = "audit", role: str = "auditctl-ro") -> str:
    """The least-privilege configuration for ``platform``; ValueError for an unknown platform or a
    user/role name that could not be pasted safely."""
    if platform not in RECIPES:
        raise ValueError(f"unknown device platform {platform!r} (one of {', '.join(PLATFORMS)})")
    for what, value in (("user", user), ("role", role)):
        if not USER.match(value):
            raise ValueError(f"{what} {value!r}: letters, digits, '_', '.', '-', starting with a letter, at most 32")
    c = COMMANDS[platform]
    return RECIPES[platform].format(user=user, role=role, commands="; ".join((c.paging_off, *c.commands)))
