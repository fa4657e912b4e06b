"""The vendor-neutral model of a network device's configuration: what the device pack judges, whatever the
vendor. Every effective value is a ``Setting`` saying what decided it — a line of the configuration, another
command's output (H3C ``display password-control``), or the vendor-default table for the release — so a
result's evidence can always say "line 42: …" or "vendor default for VRP V200R0xx: …".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EXPLICIT, DEFAULT, UNKNOWN = "explicit", "default", "unknown"


@dataclass
class Setting:
    value: Any
    source: str = UNKNOWN          # explicit | default | unknown
    line: int | None = None        # the configuration line (explicit)
    text: str = ""                 # the line itself, or the default's description

    @classmethod
    def at(cls, node, value) -> "Setting":
        from .common import mask   # evidence never carries a secret the line holds (a RADIUS key, an SNMPv3 pass phrase)

        return cls(value, EXPLICIT, node.line, mask(node.text))

    @property
    def known(self) -> bool:
        return self.source != UNKNOWN

    def evidence(self) -> str:
        if self.source == EXPLICIT:
            return f"line {self.line}: {self.text}" if self.line else self.text
        if self.source == DEFAULT:
            return self.text
        return self.text or "not configured, and the vendor default is not known"


def unknown(why: str = "") -> Setting:
    return Setting(None, UNKNOWN, None, why)


@dataclass
class Account:
    name: str
    line: int
    storage: str = "none"          # hashed | encrypted (reversible cipher) | obfuscated (Cisco type 7) | cleartext | none
    secret_line: int | None = None
    secret_text: str = ""          # the line with the secret value masked
    cleartext: str | None = None   # a cleartext password, kept in memory only to compare with defaults; never shown
    privilege: int | None = None
    role: str | None = None        # H3C user-role, Huawei/Cisco privilege level as text
    services: tuple = ()
    idle_seconds: Setting | None = None   # Huawei local-user idle-timeout overrides the line's


@dataclass
class Line:
    kind: str                      # vty | con | aux | web
    name: str                      # "vty 0 4"
    line: int
    idle_seconds: Setting = field(default_factory=unknown)   # 0 = never
    inbound: Setting = field(default_factory=unknown)        # frozenset of 'ssh'/'telnet'/… allowed
    acl: str | None = None
    acl_line: int | None = None
    auth: str | None = None        # password | aaa | scheme | none | login …
    auth_line: int | None = None
    has_password: bool = False


@dataclass
class Community:
    line: int
    text: str                      # masked
    name: str | None               # cleartext community when the configuration shows it, else None (cipher)
    write: bool = False
    acl: str | None = None


@dataclass
class Interface:
    name: str
    line: int
    shutdown: bool = False
    configured: bool = False       # has an address, VLAN, description, mode … (in use)
    access_port: bool = False
    physical: bool = True


@dataclass
class AclRule:
    line: int
    text: str
    action: str                    # permit | deny
    any_any: bool = False          # permits/denies every source and destination
    catch_all: bool = False        # matches everything (deny-all / permit-all)


@dataclass
class Acl:
    name: str
    line: int
    rules: list = field(default_factory=list)
    implicit_deny: bool = False    # the vendor denies what no rule matched (Cisco/Ruijie)


@dataclass
class DeviceConfig:
    platform: str
    release: str = ""              # 'V200R019C10', '7.1.070', '15.2', 'RGOS 11.4(1)B12'
    release_line: int | None = None
    hostname: str = ""
    truncated: bool = False
    lines: int = 0
    accounts: list = field(default_factory=list)
    enable_secrets: list = field(default_factory=list)    # Accounts named 'enable' (Cisco/Ruijie enable password/secret)
    min_length: Setting = field(default_factory=unknown)
    complexity: Setting = field(default_factory=unknown)  # minimum character classes
    max_age_days: Setting = field(default_factory=unknown)  # 0 = never expires
    lockout: Setting = field(default_factory=unknown)     # {attempts, window_min, lock_min} or False (off)
    lines_: list = field(default_factory=list)            # Line
    ssh_server: Setting = field(default_factory=unknown)
    ssh_v1: Setting = field(default_factory=unknown)      # SSHv1 compatibility allowed
    telnet_server: Setting = field(default_factory=unknown)
    http_server: Setting = field(default_factory=unknown)
    https_server: Setting = field(default_factory=unknown)
    ssh_acl: Setting = field(default_factory=unknown)     # a global SSH server ACL (H3C/Huawei ssh server acl)
    ssh_users: dict = field(default_factory=dict)          # Huawei/H3C ``ssh user NAME … authentication-type T``: Setting(T)
    http_acl: Setting = field(default_factory=unknown)
    snmp_enabled: bool = False
    snmp_versions: Setting = field(default_factory=unknown)   # frozenset of 'v1','v2c','v3'
    communities: list = field(default_factory=list)
    snmp_v3_users: int = 0
    logging: Setting = field(default_factory=unknown)         # logging on
    log_hosts: list = field(default_factory=list)             # Setting per host
    ntp_servers: list = field(default_factory=list)
    timezone: Setting = field(default_factory=unknown)
    aaa_servers: list = field(default_factory=list)           # Setting: ('hwtacacs'|'radius'|'tacacs+', address)
    remote_login_auth: Setting = field(default_factory=unknown)  # login authenticated by a remote AAA server
    services: dict = field(default_factory=dict)              # name -> Setting(bool)
    interfaces: list = field(default_factory=list)
    dhcp_snooping: Setting = field(default_factory=unknown)
    arp_inspection: Setting = field(default_factory=unknown)
    acls: dict = field(default_factory=dict)                  # name -> Acl
    applied_acls: list = field(default_factory=list)          # (acl name, interface, line, text)
    notes: list = field(default_factory=list)                 # what the parser could not read

    @property
    def vty(self) -> list:
        return [ln for ln in self.lines_ if ln.kind == "vty"]
