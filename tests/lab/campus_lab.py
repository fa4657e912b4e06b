"""The campus lab: a small "campus" of real OpenSSH hosts in Linux network namespaces.

Used by the integration tests of the SSH fleet runner. Needs root, ``ip`` (iproute2), OpenSSH
(``/usr/sbin/sshd``, ``ssh-keygen``, ``ssh``) and ``sudo``. See tests/lab/README.md.

Topology (defaults)::

    root namespace: bridge cabr0 10.203.0.1/24, route "blackhole 10.203.0.0/24 metric 4000" (kept)
      ├─ ca-v10 ══ veth ══ netns ca-lab-compliant-01  eth0 10.203.0.10  sshd
      ├─ ca-v11 ══ veth ══ netns ca-lab-compliant-02  eth0 10.203.0.11  sshd
      ├─ ...                                            (n_hosts: the compliant/misconfigured mix)
      ├─ ca-v201 ═ veth ══ netns ca-lab-silent-01     eth0 10.203.0.201 accepts TCP, never speaks
      └─ (nothing)                                     10.203.0.200 lab-down-01: no such host

Each SSH host has its own /etc view: ``/etc/netns/<netns>`` is a symlink to
``WORKDIR/hosts/<id>/etc``, and ``ip netns exec`` bind-mounts every entry found there
(``passwd``, ``group``, ``shadow``, ``login.defs``, ``sudoers``, ``sudoers.d/``, ``ssh/``) over
``/etc/<entry>`` in a private mount namespace. sshd is started through ``ip netns exec``, so sshd,
its sessions and everything they run (``sudo sshd -T``, ``cat /etc/login.defs``) see that host's
files. File bind mounts pin the inode: rewrite such files in place (``Path.write_text``, or
``CampusLab.write_etc_file``), never by rename (``sed -i``), or restart the host afterwards.

The lab never adds a default route to a host namespace and never bridges to a real interface:
the only traffic is between the root namespace and the lab subnet (plus loopback).
"""
from __future__ import annotations

import argparse
import atexit
import errno
import fcntl
import grp
import ipaddress
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

SSHD = "/usr/sbin/sshd"
NS_PREFIX = "ca-"           # every lab network namespace (and nothing else) is named ca-*
VETH_PREFIX = "ca-v"        # root side of each host's veth pair: ca-v<last octet>
BRIDGE = "cabr0"
NETNS_ETC = Path("/etc/netns")
LOCK_FILE = Path("/run/campus-lab.lock")
PRIVSEP_DIR = Path("/run/sshd")

AUDIT_USER = "audit"
AUDIT_UID = 2001
EMPTY_PASSWORD_USER = "guest"
EMPTY_PASSWORD_UID = 2002
EXTRA_UID0_USER = "toor"

FIRST_OCTET = 10            # SSH hosts get .10, .11, ...
DOWN_OCTET = 200            # declared but absent
SILENT_OCTET = 201          # accepts TCP on 22, never sends a byte
MAX_HOSTS = DOWN_OCTET - FIRST_OCTET

KINDS = ("compliant", "misconfigured", "neglected", "weakpw", "down", "silent")
SSH_KINDS = ("compliant", "misconfigured", "neglected", "weakpw")
# neglected and weakpw hosts appear only where a test asks for them (mix=, the campus_lab_mixed fixture)
DEFAULT_MIX = ("compliant", "compliant", "compliant", "misconfigured", "misconfigured")
_SLUG = {"compliant": "compliant", "misconfigured": "misconf", "neglected": "neglected", "weakpw": "weakpw",
         "down": "down", "silent": "silent"}
TEACHER_USER, TEACHER_UID = "zhanglei", 1001    # a teacher's own account: password 123456 on the neglected and weakpw hosts
SUDO_USER, SUDO_UID = "wangwei", 1002           # an ordinary user with NOPASSWD: ALL on the neglected host

# The hardened baseline of every SSH host: Debian 12's stock files (from the debs: libpam-runtime,
# libpam-modules, libpwquality-common, util-linux, passwd) with a careful administrator's edits, each
# marked 'campus:' (tests/lab/hardened/): faillock lockout in auth (preauth/authfail) and account,
# pwquality minlen 10 / minclass 3 / enforce_for_root, pwhistory remember=5, su limited to group sudo,
# INACTIVE=30 for new accounts, TMOUT=600 readonly and exported with umask 027 in profile.d. Bound
# over the host's /etc entries (directories start as copies of this machine's).
HARDENED_DIR = Path(__file__).resolve().parent / "hardened"
HARDENED_FILES: dict[str, str] = {str(f.relative_to(HARDENED_DIR)): f.read_text()
                                  for f in sorted(HARDENED_DIR.rglob("*")) if f.is_file()}
# sshd settings of the baseline besides the per-kind ones: strong MACs only, a 60 s login grace
HARDENED_SSHD = {"LoginGraceTime": "60",
                 "MACs": "hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512,hmac-sha2-256"}

# The same files as Debian 12 ships them (tests/lab/stock/: pam.d/su, security/faillock.conf and pwquality.conf,
# default/useradd from the debs as shipped; pam.d/common-auth, -account, -password as pam-auth-update writes them
# from libpam-runtime's templates and pam-configs/unix): the neglected host's, no hardening at all.
STOCK_DIR = Path(__file__).resolve().parent / "stock"
STOCK_FILES: dict[str, str] = {str(f.relative_to(STOCK_DIR)): f.read_text()
                               for f in sorted(STOCK_DIR.rglob("*")) if f.is_file()}
assert set(STOCK_FILES) == set(HARDENED_FILES) - {"profile.d/campus-tmout.sh"}, sorted(STOCK_FILES)

# What each kind of SSH host is configured with: the hardened baseline, and on the misconfigured
# hosts planted problems, listed with the MLPS-pack check that should fail because of each.
PROFILES: dict[str, dict] = {
    "compliant": {
        "sshd": {"PermitRootLogin": "no", "PermitEmptyPasswords": "no", "MaxAuthTries": "4",
                 "ClientAliveInterval": "300", "ClientAliveCountMax": "2", **HARDENED_SSHD},
        "login_defs": {"PASS_MAX_DAYS": "90", "PASS_MIN_DAYS": "1", "PASS_WARN_AGE": "7", "UMASK": "027"},
        "files": HARDENED_FILES,
        "ssh_from_management_net": True,
        "extra_uid0": False,
        "empty_password": False,
        "problems": {},
    },
    "misconfigured": {
        "sshd": {"PermitRootLogin": "yes", "PermitEmptyPasswords": "no", "MaxAuthTries": "10",
                 "ClientAliveInterval": "0", "ClientAliveCountMax": "3", **HARDENED_SSHD},
        "login_defs": {"PASS_MAX_DAYS": "99999", "PASS_MIN_DAYS": "1", "PASS_WARN_AGE": "7", "UMASK": "027"},
        "files": HARDENED_FILES,
        "ssh_from_management_net": True,
        "extra_uid0": True,
        "empty_password": True,
        "problems": {
            "sshd_config: PermitRootLogin yes": "mlps.access.sshd_root_login",
            "sshd_config: MaxAuthTries 10": "mlps.auth.sshd_max_auth_tries",
            "sshd_config: ClientAliveInterval 0": "mlps.auth.sshd_idle_timeout",
            "login.defs: PASS_MAX_DAYS 99999": "mlps.auth.login_defs_max_days",
            # a problem can rightly be found by more than one check: toor shares root's UID, guest
            # is a default account name with a login shell
            f"passwd: extra UID-0 account '{EXTRA_UID0_USER}'": ("mlps.auth.uid0_only_root", "mlps.auth.duplicate_ids"),
            # ... and a loginable generic account anyone may use: a shared account
            f"shadow: account '{EMPTY_PASSWORD_USER}' has an empty password": ("mlps.auth.empty_passwords",
                                                                               "mlps.access.vendor_accounts",
                                                                               "mlps.access.shared_accounts",
                                                                               "mlps.auth.weak_passwords"),
        },
    },
    # Debian 12 as installed, never hardened, plus what an overworked campus admin leaves behind: each problem
    # below (planted, or a stock default the baseline would have changed) with the check(s) that find it.
    "neglected": {
        "sshd": {"PermitRootLogin": "yes", "PasswordAuthentication": "yes"},
        "login_defs": {"PASS_MAX_DAYS": "99999", "PASS_MIN_DAYS": "0", "PASS_WARN_AGE": "7", "UMASK": "022"},
        "files": {**STOCK_FILES,
                  # the proxy settings someone made writable for everyone "so the teachers can change it"
                  "profile.d/campus-proxy.sh": "# campus proxy\nexport http_proxy=http://10.0.0.1:3128/\n"},
        "file_modes": {"profile.d/campus-proxy.sh": 0o666},
        "sudoers_d": {"campus-helpers": f"# the student assistant who helps with the PCs\n{SUDO_USER}\tALL=(ALL:ALL) NOPASSWD: ALL\n"},
        # (name, uid, password): hashed with this machine's libcrypt (yescrypt) at build time and written to the
        # host's own shadow only; None: a random password nobody knows
        "accounts": [(TEACHER_USER, TEACHER_UID, "123456"), (SUDO_USER, SUDO_UID, None)],
        "ssh_from_management_net": False,
        "extra_uid0": True,
        "empty_password": True,
        "problems": {},   # below
    },
}
PROFILES["neglected"]["problems"] = {
    # planted: what the admin did or left
    f"shadow: teacher account '{TEACHER_USER}' has the password 123456": "mlps.auth.weak_passwords",
    f"sudoers.d: '{SUDO_USER}' (an ordinary user) may run ALL with NOPASSWD": "mlps.access.sudo_nopasswd_all",
    "sshd_config: PermitRootLogin yes (with PasswordAuthentication yes)": "mlps.access.sshd_root_login",
    f"passwd: extra UID-0 account '{EXTRA_UID0_USER}'": ("mlps.auth.uid0_only_root", "mlps.auth.duplicate_ids"),
    f"shadow: shared account '{EMPTY_PASSWORD_USER}' has an empty password": ("mlps.auth.empty_passwords",
                                                                              "mlps.access.vendor_accounts",
                                                                              "mlps.access.shared_accounts"),
    "profile.d/campus-proxy.sh: world-writable (0666)": "mlps.access.world_writable_etc",
    # left at Debian's defaults (what the hardened baseline changes)
    "login.defs: PASS_MAX_DAYS 99999 (password accounts never expire)": ("mlps.auth.login_defs_max_days",
                                                                         "mlps.auth.account_max_age"),
    "login.defs: PASS_MIN_DAYS 0": "mlps.auth.login_defs_min_days",
    "login.defs: UMASK 022, no umask in the profile": "mlps.access.umask",
    "profile: no TMOUT": "mlps.auth.shell_timeout",
    "sshd_config: no ClientAliveInterval": "mlps.auth.sshd_idle_timeout",
    "sshd_config: MaxAuthTries 6 (default)": "mlps.auth.sshd_max_auth_tries",
    "sshd_config: LoginGraceTime 120 (default)": "mlps.auth.sshd_login_grace_time",
    "sshd_config: default MACs (umac-64, hmac-sha1)": "mlps.confidentiality.ssh_macs",
    "sshd_config: SSH from any address (no AllowUsers)": "mlps.intrusion.ssh_source_restricted",
    "pam.d: stock, no pam_faillock (no lockout)": ("mlps.auth.lockout_enabled", "mlps.auth.lockout_deny",
                                                   "mlps.auth.lockout_unlock_time", "mlps.auth.lockout_root"),
    "pam.d: stock, no pam_pwquality or pam_pwhistory": ("mlps.auth.pwquality_in_pam", "mlps.auth.password_min_length",
                                                        "mlps.auth.password_classes",
                                                        "mlps.auth.password_enforce_for_root",
                                                        "mlps.auth.password_history"),
    "pam.d/su: stock, pam_wheel commented out (su open to all)": "mlps.access.su_restricted",
    "default/useradd: INACTIVE=-1 (accounts never disabled)": "mlps.access.inactive_lock",
}
# the hardened baseline with one weak password: a teacher account with 123456
PROFILES["weakpw"] = {**PROFILES["compliant"], "accounts": [(TEACHER_USER, TEACHER_UID, "123456")],
                      "problems": {f"shadow: teacher account '{TEACHER_USER}' has the password 123456":
                                   "mlps.auth.weak_passwords"}}


def _crypt(password: str) -> str:
    """A yescrypt hash from this machine's libcrypt (the lab hosts share it)."""
    import ctypes

    lib = ctypes.CDLL("libcrypt.so.1")
    lib.crypt.restype = lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    out = lib.crypt(password.encode(), lib.crypt_gensalt(b"$y$", 0, None, 0))
    if not out or not out.startswith(b"$y$"):
        raise LabError("this machine's libcrypt cannot make a yescrypt hash")
    return out.decode()


def audit_sudoers(inventory=None) -> str:
    """The audit user's sudoers.d entry on the lab hosts: what `auditctl sudoers` prints for every
    pack (computed once), or for every pack and the declarations of an inventory (`-i`)."""
    global _AUDIT_SUDOERS
    from audits.trust.sudoers import fragment
    from checks.registry import load_registry

    if inventory is not None:
        from audits.inventory.load import load_inventory

        return fragment(load_registry().select(None), AUDIT_USER, hosts=load_inventory(inventory).hosts.values())[0]
    if _AUDIT_SUDOERS is None:
        _AUDIT_SUDOERS = fragment(load_registry().select(None), AUDIT_USER)[0]
    return _AUDIT_SUDOERS


_AUDIT_SUDOERS: str | None = None


class LabError(RuntimeError):
    """The lab could not be built or driven; the message says why and what to install."""


@dataclass
class LabHost:
    """One declared host of the lab."""

    id: str
    address: str
    kind: str                       # 'compliant' | 'misconfigured' | 'neglected' | 'weakpw' | 'down' | 'silent'
    user: str = AUDIT_USER
    port: int = 22
    netns: str | None = None        # None for the down host
    veth: str | None = None
    problems: dict[str, str] = field(default_factory=dict)   # planted problem -> check id that should fail
    sshd: dict[str, str] = field(default_factory=dict)       # sshd_config settings written
    login_defs: dict[str, str] = field(default_factory=dict)
    dir: Path | None = None         # WORKDIR/hosts/<id>

    @property
    def expected_failures(self) -> list[str]:
        """MLPS-pack check ids that should fail on this host (empty for compliant hosts)."""
        return sorted({c for ids in self.problems.values() for c in ((ids,) if isinstance(ids, str) else ids)})

    @property
    def has_sshd(self) -> bool:
        return self.kind in SSH_KINDS

    @property
    def pass_max_days(self) -> int | None:
        v = self.login_defs.get("PASS_MAX_DAYS")
        return int(v) if v is not None else None

    @property
    def etc(self) -> Path | None:
        """This host's own /etc entries (what /etc/netns/<netns> points to)."""
        return self.dir / "etc" if self.dir and self.has_sshd else None

    def as_dict(self) -> dict:
        return {"id": self.id, "address": self.address, "kind": self.kind, "user": self.user, "port": self.port,
                "netns": self.netns, "veth": self.veth, "problems": dict(self.problems),
                "expected_failures": self.expected_failures, "sshd": dict(self.sshd),
                "login_defs": dict(self.login_defs), "dir": str(self.dir) if self.dir else None}


# ---------------------------------------------------------------------------------------------
# small helpers

def _run(args, *, input=None, check=True, timeout=60) -> subprocess.CompletedProcess:
    try:
        p = subprocess.run([str(a) for a in args], input=input, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as e:
        raise LabError(f"{args[0]}: not found ({e})") from None
    if check and p.returncode != 0:
        raise LabError(f"`{' '.join(map(str, args))}` failed (exit {p.returncode}): {p.stderr.strip()[:2000]}")
    return p


def _ip_batch(lines: list[str], *, netns: str | None = None, force=False):
    if not lines:
        return None
    args = ["ip"] + (["-n", netns] if netns else []) + (["-force"] if force else []) + ["-batch", "-"]
    return _run(args, input="\n".join(lines) + "\n", check=not force)


def _write(path: Path, text: str, mode: int, uid: int = 0, gid: int = 0):
    path.write_text(text)      # in place: keeps the inode a running host may have bind-mounted
    os.chown(path, uid, gid)
    os.chmod(path, mode)


def _sysctl(path: str, value: str):
    try:
        Path(path).write_text(value)
    except OSError:
        pass  # e.g. IPv6 disabled in the kernel: nothing to switch off


def _gid(name: str, default: int) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return default


def _netns_list() -> list[str]:
    out = _run(["ip", "-j", "netns", "list"], check=False).stdout.strip()
    try:
        return [n["name"] for n in json.loads(out or "[]") if isinstance(n, dict) and "name" in n]
    except ValueError:
        return [l.split()[0] for l in out.splitlines() if l.strip()]


def _netns_pids(ns: str) -> list[int]:
    out = _run(["ip", "netns", "pids", ns], check=False).stdout
    return [int(x) for x in out.split() if x.isdigit()]


def _kill_pids(pids, sig=signal.SIGKILL):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _link_names() -> list[str]:
    out = _run(["ip", "-j", "link", "show"], check=False).stdout
    try:
        return [l["ifname"] for l in json.loads(out or "[]")]
    except ValueError:
        return []


def namespace_support_problem() -> str | None:
    """Why this machine cannot make network namespaces (None if it can). Used to skip lab tests."""
    if not sys.platform.startswith("linux"):
        return f"network namespaces need Linux (this is {sys.platform})"
    if os.geteuid() != 0:
        return f"the campus lab needs root (running as uid {os.geteuid()})"
    if not shutil.which("ip"):
        return "no `ip` command (apt-get install iproute2)"
    probe = f"{NS_PREFIX}probe-{os.getpid()}"
    p = _run(["ip", "netns", "add", probe], check=False)
    if p.returncode != 0:
        return f"`ip netns add` does not work here: {p.stderr.strip()}"
    _run(["ip", "netns", "del", probe], check=False)
    return None


def missing_tools() -> list[str]:
    """Programs the lab needs that are not installed, each with the Debian package that has it."""
    need = {SSHD: "openssh-server", "ssh-keygen": "openssh-client", "ssh": "openssh-client",
            "sudo": "sudo", "ip": "iproute2"}
    return [f"{prog} (apt-get install {pkg})" for prog, pkg in need.items()
            if not (os.access(prog, os.X_OK) if prog.startswith("/") else shutil.which(prog))]


def _sshd_version() -> tuple[int, int]:
    p = _run([SSHD, "-V"], check=False)
    m = re.search(r"OpenSSH_(\d+)\.(\d+)", p.stdout + p.stderr)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def _small_moduli() -> str:
    """Two groups of each size from the system's /etc/ssh/moduli (for diffie-hellman-group-exchange)."""
    try:
        lines = Path("/etc/ssh/moduli").read_text().splitlines()
    except OSError:
        return ""
    keep, seen = [], {}
    for line in lines:
        f = line.split()
        if len(f) == 7 and not line.startswith("#"):
            seen[f[4]] = seen.get(f[4], 0) + 1
            if seen[f[4]] > 2:
                continue
        keep.append(line)
    return "\n".join(keep) + "\n"


_MODULI = _small_moduli()


def acquire_lock(timeout: float, note: str) -> int:
    """Hold /run/campus-lab.lock (one lab per machine); wait up to timeout s. Returns the fd."""
    fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise
            if time.monotonic() > deadline:
                holder = os.pread(fd, 300, 0).decode(errors="replace").strip()
                os.close(fd)
                raise LabError(f"another campus lab is running ({holder or 'holder unknown'}); "
                               f"waited {timeout:.0f} s for {LOCK_FILE}") from None
            time.sleep(0.5)
    os.ftruncate(fd, 0)
    os.pwrite(fd, (note + "\n").encode(), 0)
    return fd


def release_lock(fd: int):
    try:
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)   # closing the descriptor releases the flock


# ---------------------------------------------------------------------------------------------

class CampusLab:
    """Builds, drives and tears down the lab. One lab per machine at a time (a lock enforces it).

    >>> with CampusLab(CampusLab.make_workdir(), n_hosts=5) as lab:
    ...     lab.write_inventory(lab.workdir / "inventory.yaml")
    """

    def __init__(self, workdir: Path, n_hosts: int = 5, subnet_prefix: str = "10.203.0", *,
                 mix: tuple[str, ...] = DEFAULT_MIX, with_down: bool = True, with_silent: bool = True,
                 bridge: str = BRIDGE, lock_timeout: float = 120.0, ready_timeout: float = 20.0):
        if not 1 <= n_hosts <= MAX_HOSTS:
            raise ValueError(f"n_hosts must be 1..{MAX_HOSTS}, not {n_hosts}")
        if not mix or any(k not in SSH_KINDS for k in mix):
            raise ValueError(f"mix must be a non-empty sequence of {SSH_KINDS}")
        try:
            self.subnet = ipaddress.ip_network(f"{subnet_prefix}.0/24")
        except ValueError:
            raise ValueError(f"subnet_prefix must be three octets like '10.203.0', not {subnet_prefix!r}") from None
        if not self.subnet.is_private or self.subnet.version != 4:
            raise ValueError(f"the lab subnet must be a private IPv4 /24, not {self.subnet}")
        if len(bridge) > 15:
            raise ValueError("bridge name longer than 15 characters")
        self.workdir = Path(workdir).absolute()
        self.n_hosts = n_hosts
        self.prefix = subnet_prefix
        self.bridge = bridge
        self.gateway = f"{subnet_prefix}.1"
        self.lock_timeout = lock_timeout
        self.ready_timeout = ready_timeout
        self.key_file = self.workdir / "auditor_ed25519"
        self.known_hosts = self.workdir / "known_hosts"
        self.authorized_keys_dir = self.workdir / "authorized_keys"
        self.build_seconds: float | None = None
        self.hosts: list[LabHost] = self._plan(n_hosts, mix, with_down, with_silent)
        self._procs: dict[str, subprocess.Popen] = {}
        self._link_down: set[str] = set()
        self._lock_fd: int | None = None
        self._built = False
        self._extra_sshd: dict[str, str] = {}
        self._orig_keys: dict[str, tuple[bytes, bytes]] = {}   # host id -> (private, public) as built
        self._etc_originals: dict[str, dict[str, tuple[str, int, int, int]]] = {}  # files write_etc_file changed
        self._binds: dict[str, list[str]] = {}  # host id -> targets bind_path mounted in its namespace
        self._dirty = False

    # -- planning ---------------------------------------------------------------------------
    def _plan(self, n, mix, with_down, with_silent) -> list[LabHost]:
        width = 3 if n > 99 else 2
        counts = {k: 0 for k in KINDS}
        hosts = []

        def make(kind, octet):
            counts[kind] += 1
            hid = f"lab-{_SLUG[kind]}-{counts[kind]:0{width if kind in SSH_KINDS else 2}d}"
            h = LabHost(id=hid, address=f"{self.prefix}.{octet}", kind=kind)
            if kind != "down":
                h.dir = self.workdir / "hosts" / hid
                h.netns = NS_PREFIX + hid
                h.veth = f"{VETH_PREFIX}{octet}"
            if kind in PROFILES:
                prof = PROFILES[kind]
                h.sshd, h.login_defs, h.problems = dict(prof["sshd"]), dict(prof["login_defs"]), dict(prof["problems"])
            return h

        for i in range(n):
            hosts.append(make(mix[i % len(mix)], FIRST_OCTET + i))
        if with_down:
            hosts.append(make("down", DOWN_OCTET))
        if with_silent:
            hosts.append(make("silent", SILENT_OCTET))
        return hosts

    def host(self, host_id: str) -> LabHost:
        for h in self.hosts:
            if h.id == host_id:
                return h
        raise KeyError(f"no lab host '{host_id}' (have {', '.join(h.id for h in self.hosts)})")

    def by_kind(self, kind: str) -> list[LabHost]:
        return [h for h in self.hosts if h.kind == kind]

    @property
    def ssh_hosts(self) -> list[LabHost]:
        return [h for h in self.hosts if h.has_sshd]

    # -- public API ---------------------------------------------------------------------------
    def __enter__(self):
        if not self._built:
            self.build()
        return self

    def __exit__(self, *exc):
        self.teardown()
        return False

    @staticmethod
    def make_workdir(base: str | None = None) -> Path:
        """A fresh work directory the lab's ``audit`` user can traverse (pytest's tmp dirs are 0700)."""
        d = Path(tempfile.mkdtemp(prefix="campus-lab-", dir=base or "/tmp"))
        d.chmod(0o755)
        return d

    def build(self) -> "CampusLab":
        if self._built:
            return self
        t0 = time.monotonic()
        self._preflight()
        self._acquire_lock()
        atexit.register(self.teardown)
        try:
            self.cleanup_leftovers(self.bridge)
            self._check_subnet_free()
            self._prepare_workdir()
            with ThreadPoolExecutor(max_workers=16) as pool:
                # ssh-keygen runs while the files and the network are made
                keys = [pool.submit(self._keygen, self.key_file, "campus-lab auditor")]
                keys += [pool.submit(self._keygen, h.etc / "ssh" / "ssh_host_ed25519_key", f"campus-lab {h.id}")
                         for h in self.ssh_hosts]
                for h in self.ssh_hosts:
                    self._write_host_files(h)
                self._make_network(pool)
                for f in keys:
                    f.result()
            shutil.copyfile(self.key_file.with_suffix(".pub"), self.authorized_keys_dir / AUDIT_USER)
            os.chmod(self.authorized_keys_dir / AUDIT_USER, 0o644)
            self._link_netns_etc()
            self._built = True
            for h in self.hosts:
                if h.netns:
                    self._start_service(h)
            self._wait_ready([h for h in self.hosts if h.netns])
            self._verify_etc_views()
            for h in self.ssh_hosts:
                key = h.etc / "ssh" / "ssh_host_ed25519_key"
                self._orig_keys[h.id] = (key.read_bytes(), key.with_suffix(".pub").read_bytes())
            self.write_known_hosts()
            self._dirty = False
        except BaseException:
            self._built = True
            self.teardown()
            raise
        self.build_seconds = time.monotonic() - t0
        self._write_state()
        return self

    def teardown(self):
        """Kill every lab process, delete namespaces, veths, bridge and /etc/netns links. The
        blackhole route for the subnet stays, so lab addresses never leave by the default route."""
        if not self._built:
            self._release_lock()
            return
        for p in self._procs.values():
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 3
        for p in self._procs.values():
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self._procs.clear()
        self.cleanup_leftovers(self.bridge)
        self._built = False
        self._link_down.clear()
        self._orig_keys.clear()
        self._etc_originals.clear()
        self._release_lock()
        try:
            atexit.unregister(self.teardown)
        except Exception:
            pass

    def host_key(self, host_id: str) -> str:
        """The host's current public key as 'ssh-ed25519 AAAA...' (no comment)."""
        h = self.host(host_id)
        if not h.has_sshd:
            raise LabError(f"{host_id} is a {h.kind} host: it has no SSH host key")
        return " ".join((h.etc / "ssh" / "ssh_host_ed25519_key.pub").read_text().split()[:2])

    def write_known_hosts(self) -> Path:
        """(Re)write known_hosts with every SSH host's current key."""
        lines = [f"{h.address} {self.host_key(h.id)}\n" for h in self.ssh_hosts]
        self.known_hosts.write_text("".join(lines))
        os.chmod(self.known_hosts, 0o644)
        return self.known_hosts

    def change_host_key(self, host_id: str, update_known_hosts: bool = False) -> str:
        """Give the host a new ed25519 key and restart its sshd. known_hosts keeps the old key
        (so a client sees a changed key) unless update_known_hosts. Returns the new key."""
        h = self.host(host_id)
        if not h.has_sshd:
            raise LabError(f"{host_id} is a {h.kind} host: it has no SSH host key")
        self._dirty = True
        self._stop_service(h)
        key = h.etc / "ssh" / "ssh_host_ed25519_key"
        key.unlink(missing_ok=True)
        key.with_suffix(".pub").unlink(missing_ok=True)
        self._keygen(key, f"campus-lab {h.id} (changed)")
        self._start_service(h)
        self._wait_ready([h])
        if update_known_hosts:
            self.write_known_hosts()
        return self.host_key(host_id)

    def stop_host(self, host_id: str, how: str = "service"):
        """how='service': kill its sshd (or listener) and sessions, so port 22 refuses connections.
        how='link': take its link down, so it stops answering (connects fail: no route to host)."""
        h = self.host(host_id)
        if not h.netns:
            raise LabError(f"{host_id} is a down host: there is nothing to stop")
        self._dirty = True
        if how == "service":
            self._stop_service(h)
        elif how == "link":
            _run(["ip", "link", "set", h.veth, "down"])
            _run(["ip", "neigh", "flush", "to", h.address, "dev", self.bridge], check=False)
            self._link_down.add(h.id)
        else:
            raise ValueError("how must be 'service' or 'link'")

    def start_host(self, host_id: str):
        """Undo stop_host (either way) and wait until the host answers again."""
        h = self.host(host_id)
        if not h.netns:
            raise LabError(f"{host_id} is a down host: there is nothing to start")
        if h.id in self._link_down:
            _run(["ip", "link", "set", h.veth, "up"])
            self._link_down.discard(h.id)
        p = self._procs.get(h.id)
        if p is None or p.poll() is not None:
            self._start_service(h)
        self._wait_ready([h])

    def set_sudo(self, host_id: str, allowed: bool, inventory=None):
        """Grant (default) or revoke the audit user's passwordless sudo on one host; live at once
        (sudoers.d is a directory bind mount)."""
        h = self.host(host_id)
        if not h.has_sshd:
            raise LabError(f"{host_id} is a {h.kind} host: it has no sudo")
        self._dirty = True
        f = h.etc / "sudoers.d" / "campus-lab-audit"
        if allowed:  # least privilege: exactly the commands `auditctl sudoers [-i inventory]` lists
            _write(f, audit_sudoers(inventory), 0o440)
        else:
            f.unlink(missing_ok=True)

    def write_etc_file(self, host_id: str, name: str, text: str, restart: bool = False):
        """Rewrite one of the host's own /etc files in place (e.g. 'login.defs', 'ssh/sshd_config').
        sshd_config changes reach the running sshd only with restart=True (sshd -T sees them at once)."""
        h = self.host(host_id)
        if not h.has_sshd:
            raise LabError(f"{host_id} is a {h.kind} host: it has no /etc of its own")
        path = (h.etc / name).resolve()
        if h.etc.resolve() not in path.parents or not path.exists():
            raise LabError(f"{name} is not one of {host_id}'s own /etc files")
        st = path.stat()
        rel = str(path.relative_to(h.etc.resolve()))
        self._etc_originals.setdefault(h.id, {}).setdefault(
            rel, (path.read_text(), st.st_mode & 0o7777, st.st_uid, st.st_gid))
        self._dirty = True
        _write(path, text, st.st_mode & 0o7777, st.st_uid, st.st_gid)
        if restart:
            self._stop_service(h)
            self.start_host(host_id)

    def bind_path(self, host_id: str, source, target: str):
        """Show ``source`` (a directory or file of the work directory) at ``target`` for one SSH host
        only: a bind mount made inside its sshd's mount namespace, so sshd's later sessions see it and
        the machine does not (e.g. a host's own /srv or /var/lib/apt/lists). ``target`` must exist on
        the machine with the same type. reset() undoes it; restarting the host drops it."""
        h = self.host(host_id)
        p = self._procs.get(h.id)
        if not h.has_sshd or p is None or p.poll() is not None:
            raise LabError(f"{host_id} has no running sshd to bind {target} for")
        ns = f"/proc/{p.pid}/ns/mnt"
        _run(["nsenter", f"--mount={ns}", "mount", "--bind", str(source), target])
        self._binds.setdefault(h.id, []).append(target)
        self._dirty = True
        seen, own = os.stat(f"/proc/{p.pid}/root{target}"), os.stat(source)
        if (seen.st_dev, seen.st_ino) != (own.st_dev, own.st_ino):
            raise LabError(f"{host_id}: {target} does not show {source} after the bind mount")

    def _unbind_all(self, h: LabHost):
        p = self._procs.get(h.id)
        for target in reversed(self._binds.pop(h.id, [])):
            if p is not None and p.poll() is None:
                _run(["nsenter", f"--mount=/proc/{p.pid}/ns/mnt", "umount", target], check=False)

    def reset(self):
        """Put every host back as built, if any test changed it: original host keys, sshd/listener
        running, links up, sudo granted, /etc files as written; known_hosts lists the current keys.
        The fixture plugin calls this after every test that used the lab."""
        if not self._built:
            return
        if self._dirty:
            restart = []
            for h in self.hosts:
                if not h.netns:
                    continue
                again = False
                self._unbind_all(h)
                if h.id in self._link_down:
                    _run(["ip", "link", "set", h.veth, "up"])
                    self._link_down.discard(h.id)
                if h.has_sshd:
                    key = h.etc / "ssh" / "ssh_host_ed25519_key"
                    priv, pub = self._orig_keys[h.id]
                    if not key.exists() or key.read_bytes() != priv:
                        key.unlink(missing_ok=True)
                        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                        with os.fdopen(fd, "wb") as f:
                            f.write(priv)
                        _write(key.with_suffix(".pub"), pub.decode(), 0o644)
                        again = True
                    for rel, (text, mode, uid, gid) in self._etc_originals.pop(h.id, {}).items():
                        _write(h.etc / rel, text, mode, uid, gid)
                        again = again or rel.startswith("ssh/")
                    sudoers = h.etc / "sudoers.d" / "campus-lab-audit"
                    if not sudoers.exists() or sudoers.read_text() != audit_sudoers():
                        self.set_sudo(h.id, True)
                p = self._procs.get(h.id)
                if again or p is None or p.poll() is not None:
                    self._stop_service(h)
                    self._start_service(h)
                    restart.append(h)
            self._wait_ready(restart)
            self._dirty = False
        expected = "".join(f"{h.address} {self.host_key(h.id)}\n" for h in self.ssh_hosts)
        if not self.known_hosts.exists() or self.known_hosts.read_text() != expected:
            self.write_known_hosts()

    def write_inventory(self, path, *, connect_timeout: float = 5, command_timeout: float = 30,
                        host_timeout: float = 60, kinds: tuple[str, ...] = KINDS) -> Path:
        """A campus-audit native inventory of the lab: district 'lab', school 'lab-school', one
        level-3 system; every host with connection ssh, the audit user, key, known_hosts, sudo."""
        import yaml

        hosts = []
        for h in self.hosts:
            if h.kind not in kinds:
                continue
            hosts.append({"id": h.id, "address": h.address, "name": f"campus lab {h.kind} host",
                          "systems": ["lab-system"], "connection": "ssh", "port": h.port, "user": h.user,
                          "key_file": str(self.key_file), "known_hosts": str(self.known_hosts), "sudo": True,
                          "connect_timeout": connect_timeout, "command_timeout": command_timeout,
                          "host_timeout": host_timeout})
        doc = {"bureau": {"id": "campus-lab", "name": "Campus lab"},
               "districts": [{"id": "lab", "name": "Lab district", "schools": [
                   {"id": "lab-school", "name": "Lab school",
                    "systems": [{"id": "lab-system", "name": "Lab system", "level": 3}],
                    "hosts": hosts}]}]}
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# Generated by tests/lab/campus_lab.py for the lab in {self.workdir}.\n"
                        + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
        return path

    # -- cleanup --------------------------------------------------------------------------------
    @staticmethod
    def cleanup_leftovers(bridge: str = BRIDGE):
        """Remove what a lab (this one or a crashed earlier one) left: processes in ca-* namespaces,
        ca-v* veths, the namespaces, the bridge and /etc/netns/ca-* links. Keeps the blackhole route."""
        nss = [n for n in _netns_list() if n.startswith(NS_PREFIX)]
        for ns in nss:
            _kill_pids(_netns_pids(ns))
        links = [l for l in _link_names() if l.startswith(VETH_PREFIX) or l == bridge]
        # veths first (synchronous), so a new build never races the kernel's async netns cleanup
        _ip_batch([f"link del {l}" for l in links if l != bridge], force=True)
        _ip_batch([f"netns del {ns}" for ns in nss], force=True)
        if bridge in links:
            _run(["ip", "link", "del", bridge], check=False)
        if NETNS_ETC.is_dir():
            for p in NETNS_ETC.iterdir():
                if p.name.startswith(NS_PREFIX):
                    if p.is_symlink() or p.is_file():
                        p.unlink()
                    else:
                        shutil.rmtree(p, ignore_errors=True)
            try:
                NETNS_ETC.rmdir()   # only if empty: nothing else uses it
            except OSError:
                pass

    # -- build steps ------------------------------------------------------------------------------
    def _preflight(self):
        problem = namespace_support_problem()
        if problem:
            raise LabError(problem)
        missing = missing_tools()
        if missing:
            raise LabError("the campus lab needs: " + "; ".join(missing))
        self._extra_sshd = {}
        if _sshd_version() >= (9, 8):
            # newer sshd penalises addresses with failed auths/timeouts; runner tests do that on purpose
            self._extra_sshd["PerSourcePenalties"] = "no"

    def _acquire_lock(self):
        if self._lock_fd is None:
            self._lock_fd = acquire_lock(self.lock_timeout, f"pid {os.getpid()} workdir {self.workdir}")

    def _release_lock(self):
        if self._lock_fd is not None:
            release_lock(self._lock_fd)
            self._lock_fd = None

    def _check_subnet_free(self):
        """Refuse a subnet that is already in use on this machine (it would send lab traffic elsewhere)."""
        for a in json.loads(_run(["ip", "-j", "-4", "addr", "show"]).stdout or "[]"):
            for info in a.get("addr_info", []):
                net = ipaddress.ip_network(f"{info['local']}/{info['prefixlen']}", strict=False)
                if net.overlaps(self.subnet):
                    raise LabError(f"{self.subnet} overlaps {net} on interface {a['ifname']}: choose another subnet_prefix")
        for r in json.loads(_run(["ip", "-j", "-4", "route", "show", "table", "all"]).stdout or "[]"):
            dst = r.get("dst", "")
            if dst in ("", "default") or r.get("type") in ("local", "broadcast"):
                continue
            try:
                net = ipaddress.ip_network(dst if "/" in dst else f"{dst}/32", strict=False)
            except ValueError:
                continue
            if net.overlaps(self.subnet) and not (r.get("type") == "blackhole" and net == self.subnet):
                raise LabError(f"route {dst} ({r.get('dev') or r.get('type')}) overlaps the lab subnet {self.subnet}: "
                               "choose another subnet_prefix")

    def _prepare_workdir(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o755)
        for parent in self.workdir.parents:
            if not parent.stat().st_mode & 0o001:
                raise LabError(f"the lab's '{AUDIT_USER}' user (uid {AUDIT_UID}) cannot reach {self.workdir}: "
                               f"{parent} has mode {oct(parent.stat().st_mode & 0o777)}. "
                               "Use CampusLab.make_workdir() (a directory under /tmp)")
        for p in (self.workdir / "hosts", self.authorized_keys_dir):
            shutil.rmtree(p, ignore_errors=True)
            p.mkdir(mode=0o755)
        for f in (self.key_file, self.key_file.with_suffix(".pub"), self.known_hosts):
            f.unlink(missing_ok=True)
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)   # sshd's privilege-separation directory
        for h in self.hosts:
            if h.dir:
                h.dir.mkdir(mode=0o755)
            if h.has_sshd:
                for d in ("etc", "etc/ssh", "etc/sudoers.d", "home"):
                    (h.dir / d).mkdir(mode=0o755)

    @staticmethod
    def _keygen(path: Path, comment: str):
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path])

    def _write_host_files(self, h: LabHost):
        prof = PROFILES[h.kind]
        etc = h.etc
        today = int(time.time() // 86400)
        shadow_gid, tty_gid = _gid("shadow", 42), _gid("tty", 5)
        try:
            sshd_uid = pwd.getpwnam("sshd").pw_uid
        except KeyError:
            sshd_uid = 105
        home = h.dir / "home" / AUDIT_USER
        home.mkdir(mode=0o755)
        os.chown(home, AUDIT_UID, AUDIT_UID)
        max_days = prof["login_defs"]["PASS_MAX_DAYS"]

        passwd = [
            "root:x:0:0:root:/root:/bin/bash",
            "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
            "bin:x:2:2:bin:/bin:/usr/sbin/nologin",
            "sys:x:3:3:sys:/dev:/usr/sbin/nologin",
            "sync:x:4:65534:sync:/bin:/bin/sync",
            "man:x:6:12:man:/var/cache/man:/usr/sbin/nologin",
            "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin",
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
            f"sshd:x:{sshd_uid}:65534::/run/sshd:/usr/sbin/nologin",
            f"{AUDIT_USER}:x:{AUDIT_UID}:{AUDIT_UID}:campus-lab auditor:{home}:/bin/bash",
        ]
        shadow = [f"{n}:*:{today}:0:99999:7:::" for n in ("daemon", "bin", "sys", "sync", "man", "www-data", "nobody")]
        shadow = [f"root:!:{today}:0:99999:7:::"] + shadow + [
            f"sshd:!:{today}::::::",
            f"{AUDIT_USER}:*:{today}:{prof['login_defs']['PASS_MIN_DAYS']}:{max_days}:7:::",
        ]
        group = ["root:x:0:", "daemon:x:1:", "bin:x:2:", "sys:x:3:", "adm:x:4:", f"tty:x:{tty_gid}:", "man:x:12:",
                 "sudo:x:27:", "www-data:x:33:", f"shadow:x:{shadow_gid}:", "nogroup:x:65534:",
                 f"{AUDIT_USER}:x:{AUDIT_UID}:"]
        if prof["extra_uid0"]:
            passwd.append(f"{EXTRA_UID0_USER}:x:0:0:spare root:/root:/bin/bash")
            shadow.append(f"{EXTRA_UID0_USER}:!:{today}:0:99999:7:::")
        if prof["empty_password"]:
            passwd.append(f"{EMPTY_PASSWORD_USER}:x:{EMPTY_PASSWORD_UID}:{EMPTY_PASSWORD_UID}:guest:/nonexistent:/bin/bash")
            shadow.append(f"{EMPTY_PASSWORD_USER}::{today}:0:99999:7:::")
            group.append(f"{EMPTY_PASSWORD_USER}:x:{EMPTY_PASSWORD_UID}:")
        for name, uid, password in prof.get("accounts", []):
            secret = password if password is not None else secrets.token_urlsafe(24)
            passwd.append(f"{name}:x:{uid}:{uid}:{name}:/home/{name}:/bin/bash")
            shadow.append(f"{name}:{_crypt(secret)}:{today}:{prof['login_defs']['PASS_MIN_DAYS']}:{max_days}:7:::")
            group.append(f"{name}:x:{uid}:")
        _write(etc / "passwd", "\n".join(passwd) + "\n", 0o644)
        _write(etc / "group", "\n".join(group) + "\n", 0o644)
        _write(etc / "shadow", "\n".join(shadow) + "\n", 0o640, 0, shadow_gid)

        ld = prof["login_defs"]
        _write(etc / "login.defs", f"""\
# /etc/login.defs of campus-lab host {h.id} ({h.kind})
# campus-lab host: {h.id}
MAIL_DIR        /var/mail
FTMP_FILE       /var/log/btmp
SU_NAME         su
HUSHLOGIN_FILE  .hushlogin
ENV_SUPATH      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENV_PATH        PATH=/usr/local/bin:/usr/bin:/bin
TTYGROUP        tty
TTYPERM         0600
UMASK           {ld.get('UMASK', '022')}
PASS_MAX_DAYS   {ld['PASS_MAX_DAYS']}
PASS_MIN_DAYS   {ld['PASS_MIN_DAYS']}
PASS_WARN_AGE   {ld['PASS_WARN_AGE']}
UID_MIN         1000
UID_MAX         60000
GID_MIN         1000
GID_MAX         60000
LOGIN_RETRIES   5
LOGIN_TIMEOUT   60
CHFN_RESTRICT   rwh
DEFAULT_HOME    yes
USERGROUPS_ENAB yes
ENCRYPT_METHOD  YESCRYPT
""", 0o644)

        _write(etc / "sudoers", f"""\
# /etc/sudoers of campus-lab host {h.id}
Defaults\tenv_reset
Defaults\tsecure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
Defaults\tuse_pty
root\tALL=(ALL:ALL) ALL
%sudo\tALL=(ALL:ALL) ALL
@includedir /etc/sudoers.d
""", 0o440)
        self.set_sudo(h.id, True)
        for name, text in prof.get("sudoers_d", {}).items():
            _write(etc / "sudoers.d" / name, text, 0o440)

        settings = {**h.sshd, **self._extra_sshd}
        password_auth = settings.pop("PasswordAuthentication", "no")   # sshd takes the first value
        if prof.get("ssh_from_management_net"):
            # SSH only from the management network (the lab subnet); no Match block, so tests may append settings
            settings.setdefault("AllowUsers", f"*@{self.subnet}")
        _write(etc / "ssh" / "sshd_config", f"""\
# /etc/ssh/sshd_config of campus-lab host {h.id} ({h.kind})
# campus-lab host: {h.id}
Port 22
ListenAddress 0.0.0.0
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile none
UsePAM yes
UseDNS no
StrictModes no
AuthorizedKeysFile {self.authorized_keys_dir}/%u
PubkeyAuthentication yes
PasswordAuthentication {password_auth}
KbdInteractiveAuthentication no
X11Forwarding no
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel VERBOSE
""" + "".join(f"{k} {v}\n" for k, v in settings.items()), 0o644)
        if _MODULI:
            _write(etc / "ssh" / "moduli", _MODULI, 0o644)
        self._write_extra_files(h, prof.get("files", {}))
        for name, mode in prof.get("file_modes", {}).items():
            os.chmod(etc / name, mode)

    @staticmethod
    def _write_extra_files(h: LabHost, extra: dict[str, str]):
        """More /etc entries of the host's own (pam.d/, security/, profile.d/, rsyslog.conf, ...). A
        directory entry starts as a copy of this machine's, so PAM, sudo and sshd keep working, and
        the profile's files are written over it."""
        for top in sorted({name.split("/", 1)[0] for name in extra if "/" in name}):
            src, dst = Path("/etc") / top, h.etc / top
            if src.is_dir() and not dst.exists():
                shutil.copytree(src, dst, symlinks=True)
            dst.mkdir(mode=0o755, exist_ok=True)
        for name, text in extra.items():
            path = h.etc / name
            path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            _write(path, text, 0o644)

    def _make_network(self, pool: ThreadPoolExecutor):
        net = str(self.subnet)
        _run(["ip", "route", "replace", "blackhole", net, "metric", "4000"])
        ns_hosts = [h for h in self.hosts if h.netns]
        _ip_batch([f"netns add {h.netns}" for h in ns_hosts]
                  + [f"link add {self.bridge} type bridge"]
                  + [f"link add {h.veth} type veth peer name eth0 netns {h.netns}" for h in ns_hosts])
        # no IPv6 chatter on the root side; answer "no route to host" for absent hosts after ~1 s
        for dev in [self.bridge] + [h.veth for h in ns_hosts]:
            _sysctl(f"/proc/sys/net/ipv6/conf/{dev}/disable_ipv6", "1")
        _sysctl(f"/proc/sys/net/ipv4/neigh/{self.bridge}/retrans_time_ms", "300")
        _ip_batch([f"addr add {self.gateway}/24 dev {self.bridge}", f"link set {self.bridge} up"]
                  + [f"link set {h.veth} master {self.bridge} up" for h in ns_hosts])
        list(pool.map(lambda h: _ip_batch(["link set lo up", f"addr add {h.address}/24 dev eth0",
                                           "link set eth0 up"], netns=h.netns), ns_hosts))

    def _link_netns_etc(self):
        NETNS_ETC.mkdir(mode=0o755, exist_ok=True)
        for h in self.ssh_hosts:
            link = NETNS_ETC / h.netns
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(h.etc)

    def _start_service(self, h: LabHost):
        if h.has_sshd:
            cmd = ["ip", "netns", "exec", h.netns, SSHD, "-D", "-e", "-f", "/etc/ssh/sshd_config"]
            log = h.dir / "sshd.log"
        else:  # silent: accept on 22 and never send a byte
            script = ("import socket\n"
                      "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                      "s.bind(('0.0.0.0', 22)); s.listen(512)\n"
                      "held = []\n"
                      "while True:\n"
                      "    c, _ = s.accept(); held.append(c); held = held[-2000:]\n")
            cmd = ["ip", "netns", "exec", h.netns, sys.executable, "-I", "-c", script]
            log = h.dir / "listener.log"
        with open(log, "ab") as out:
            self._procs[h.id] = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                                 start_new_session=True, close_fds=True)

    def _stop_service(self, h: LabHost):
        self._binds.pop(h.id, None)   # the mount namespace goes with the process
        p = self._procs.pop(h.id, None)
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        _kill_pids(_netns_pids(h.netns))   # sessions the listener left behind
        deadline = time.monotonic() + 3
        while _netns_pids(h.netns) and time.monotonic() < deadline:
            time.sleep(0.05)

    def _wait_ready(self, hosts: list[LabHost]):
        pending = list(hosts)
        deadline = time.monotonic() + self.ready_timeout
        while pending:
            still = []
            for h in pending:
                p = self._procs.get(h.id)
                if p is not None and p.poll() is not None:
                    log = h.dir / ("sshd.log" if h.has_sshd else "listener.log")
                    raise LabError(f"{h.id}: its {'sshd' if h.has_sshd else 'listener'} exited "
                                   f"(code {p.returncode}): {log.read_text(errors='replace')[-2000:]}")
                if not self._answers(h):
                    still.append(h)
            pending = still
            if pending:
                if time.monotonic() > deadline:
                    raise LabError("hosts not ready after %.0f s: %s" % (self.ready_timeout, ", ".join(h.id for h in pending)))
                time.sleep(0.05)
        for h in hosts:
            self._hide_machine_services(h)

    # The machine's own database servers (e.g. the test suite's MariaDB, whose root may have no password) are not
    # part of any lab host: each SSH host sees an empty run directory in their place, so what the MLPS pack finds
    # on a lab host does not depend on what this machine runs. A test that plants a database on a host binds its
    # own directory on top (bind_path), and reset() leaves this one in place.
    MACHINE_SERVICE_DIRS = ("/run/mysqld",)

    def _hide_machine_services(self, h: LabHost):
        p = self._procs.get(h.id)
        if not h.has_sshd or p is None or p.poll() is not None:
            return
        for target in self.MACHINE_SERVICE_DIRS:
            if not Path(target).is_dir():
                continue
            empty = h.dir / ("empty" + target.replace("/", "-"))
            empty.mkdir(mode=0o755, exist_ok=True)
            _run(["nsenter", f"--mount=/proc/{p.pid}/ns/mnt", "mount", "--bind", str(empty), target])

    @staticmethod
    def _answers(h: LabHost) -> bool:
        try:
            with socket.create_connection((h.address, h.port), timeout=1) as s:
                if not h.has_sshd:
                    return True
                s.settimeout(2)
                return s.recv(64).startswith(b"SSH-")
        except OSError:
            return False

    def _verify_etc_views(self):
        """Check through /proc/PID/root that each sshd sees its own host's files: every entry of
        /etc/netns/<netns> must be the same inode at /etc/<entry> in sshd's mount namespace.
        (ip netns exec only warns, and carries on, when a bind mount fails.)"""
        bad = []
        for h in self.ssh_hosts:
            root = Path(f"/proc/{self._procs[h.id].pid}/root/etc")
            for entry in sorted(h.etc.iterdir()):
                try:
                    seen, own = os.stat(root / entry.name), os.stat(entry)
                    ok = (seen.st_dev, seen.st_ino) == (own.st_dev, own.st_ino)
                except OSError:
                    ok = False
                if not ok:
                    bad.append(f"{h.id}:/etc/{entry.name}")
        if bad:
            raise LabError("ip netns exec did not bind-mount /etc/netns/<netns>/* over /etc for: " + ", ".join(bad)
                           + " (the target must exist in the root /etc with the same type; see the sshd logs)")

    def _write_state(self):
        state = {"workdir": str(self.workdir), "subnet": str(self.subnet), "bridge": self.bridge,
                 "key_file": str(self.key_file), "known_hosts": str(self.known_hosts),
                 "build_seconds": self.build_seconds,
                 "pids": {k: p.pid for k, p in self._procs.items()},
                 "hosts": [h.as_dict() for h in self.hosts]}
        (self.workdir / "lab.json").write_text(json.dumps(state, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.lab.campus_lab", description="Run the campus lab by hand.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="build the lab and leave it running")
    up.add_argument("--dir", help="work directory (default: a new /tmp/campus-lab-XXXX)")
    up.add_argument("--hosts", type=int, default=5, help="number of SSH hosts (default 5)")
    up.add_argument("--subnet-prefix", default="10.203.0")
    sub.add_parser("down", help="remove any lab (processes, namespaces, veths, bridge); keeps the blackhole route")
    args = ap.parse_args(argv)
    if args.cmd == "down":
        fd = acquire_lock(10, f"pid {os.getpid()} (campus_lab down)")
        try:
            CampusLab.cleanup_leftovers()
        finally:
            release_lock(fd)
        print("campus lab removed")
        return 0
    workdir = Path(args.dir) if args.dir else CampusLab.make_workdir()
    lab = CampusLab(workdir, n_hosts=args.hosts, subnet_prefix=args.subnet_prefix)
    lab.build()
    inv = lab.write_inventory(workdir / "inventory.yaml")
    atexit.unregister(lab.teardown)   # leave it running; `down` removes it
    lab._release_lock()
    print(f"campus lab up in {lab.build_seconds:.2f} s: {workdir}")
    for h in lab.hosts:
        print(f"  {h.id:22} {h.address:15} {h.kind:14} {h.netns or '-'}")
    print(f"inventory:   {inv}\nkey:         {lab.key_file}\nknown_hosts: {lab.known_hosts}")
    first = lab.ssh_hosts[0]
    print(f"try: ssh -F /dev/null -i {lab.key_file} -o IdentitiesOnly=yes -o UserKnownHostsFile={lab.known_hosts} "
          f"-o StrictHostKeyChecking=yes {first.user}@{first.address} 'cat /etc/login.defs'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
