"""What check packs share about gathered facts: the probes several packs name, reading a probe's
result (``gathered``, ``probe_state``), the host's os family, evidence formatting, listeners, and
ages of dated evidence against the run's start.

Every probe here is read-only. Probes are de-duplicated per host, so checks that name the same
probe object (or an equal one) cost one command on the host. Multi-file probes use
``grep -Hs '' FILES`` so each line arrives as ``path:line`` and a missing file is simply absent.

Ages: checks stay pure, the runner puts the run's start into ``facts.meta['run_started']`` and
fixture cases pin it with ``meta: {run_started: ...}``. A timestamp that cannot be read, or that
lies in the future beyond ``CLOCK_SKEW``, is an ``error`` outcome, never a pass: a host whose clock
or marker is wrong proves nothing about its backups or patches.
"""
from __future__ import annotations

import datetime as dt
import functools

from audits.model.probes import Facts, Probe
from checks.contract import Outcome
from checks.probe_catalogue import named, named_by_family
from checks.parsers.common import grep_files as files
from checks.parsers.common import listening
from checks.parsers.times import CLOCK_SKEW, parse_when, stamp

PASSWD = named("passwd")
GROUP = named("group")
SHADOW = named("shadow")          # hashes are blanked on the host (audits.collect.script.REDACT)
LOGIN_DEFS = named("login_defs")
SSHD_T = named("sshd_t")
SS = named("ss")
SS_PROCS = named("ss_procs")  # with process names (root sees every process)
PS = named("ps")
DPKG_VERSIONS = named("dpkg_versions")
# PAM stacks: Debian/Ubuntu (and Kylin/UOS desktop) use common-*, the RHEL family system-auth/password-auth.
PAM = named_by_family("pam")
# libpwquality and faillock configuration (later pwquality.conf.d files override the main file).
SECURITY_CONF = named("security_conf")
PROFILE = named("profile")
LOOPBACK = ("127.", "::1", "localhost")


def per_host(fn):
    """``fn(facts)`` computed once per host: the answer is kept on the facts object and given again to the host's
    other checks (the PAM stacks executed for lockout by four checks, for password quality by four more). It is
    kept only while the host's probes, their result objects and its os family are the same (checks are pure: nothing
    changes a result while the host is judged); callers only read what they get (it is shared)."""
    key = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def wrapper(facts: Facts):
        memo = facts.__dict__.setdefault("_per_host", {})
        stamp_ = (facts.meta.get("os_family"), tuple(facts.results), tuple(map(id, facts.results.values())))
        hit = memo.get(key)
        if hit is not None and hit[0] == stamp_:
            return hit[1]
        out = fn(facts)
        memo[key] = (stamp_, out)
        return out

    return wrapper


def os_family(facts: Facts, host=None) -> str:
    """'debian' or 'rhel' from the gathered OS metadata, else from the inventory's ``os``; '' otherwise."""
    fam = facts.meta.get("os_family") or getattr(host, "os", "") or ""
    return fam if fam in ("debian", "rhel") else ""


def gathered(facts: Facts, probe: Probe, *, missing: str | None = "") -> tuple[str | None, Outcome | None]:
    """The probe's stdout, or an Outcome to return when it could not be judged.

    ``missing`` is what a file/command that does not exist reads as ("" = empty text); ``None``
    turns a missing target into an error.
    """
    res = facts.get(probe)
    if res.error:
        return None, Outcome.error(f"无法采集 {probe}：{res.error}", f"could not gather {probe}: {res.error}")
    if res.rc == 0:
        return res.stdout, None
    if probe.kind == "command" and probe.arg.startswith("grep ") and res.rc in (1, 2):
        return res.stdout, None  # grep: 1 = nothing matched, 2 = some file missing (-s keeps it quiet)
    if res.missing() and missing is not None:
        return missing, None
    return None, Outcome.error(f"采集 {probe} 失败（退出码 {res.rc}）", f"gathering {probe} failed (exit {res.rc})",
                               res.stderr[:300])


def probe_state(facts: Facts, probe: Probe):
    """('ok' | 'missing' | 'error', result). A sudo command that is not installed reaches us as a
    gathering error ("sudo: nft: command not found"), which means missing, not denied."""
    res = facts.get(probe)
    if res.error:
        return ("missing" if "command not found" in res.error else "error"), res
    if res.rc == 0:
        return "ok", res
    if res.rc == 127 or res.missing():
        return "missing", res
    return "error", res


def probe_failure(res) -> str:
    """Why a probe's result cannot be judged, in one line (for messages and evidence)."""
    return res.error or f"exit {res.rc}: {(res.stderr or '').strip()[:200]}"


def evidence_lines(lines, cap: int = 20) -> str:
    """At most ``cap`` lines, then how many more there were."""
    lines = list(lines)
    more = f"\n… {len(lines) - cap} more" if len(lines) > cap else ""
    return "\n".join(lines[:cap]) + more


def listeners(facts: Facts):
    """(sockets listening beyond loopback, None) or (None, why they cannot be listed). From
    ``sudo ss -tulpn`` when it was gathered (each socket with its process names), else from
    ``ss -tuln`` (ports only: ``procs`` empty)."""
    res = facts.get(SS_PROCS)
    if res.error or res.rc != 0:
        res = facts.get(SS)
    if res.error or res.rc != 0:
        return None, res.error or f"ss failed (exit {res.rc})"
    return [entry for entry in listening(res.stdout) if not entry["address"].startswith(LOOPBACK)], None


# The services a listening process provides (``ss -p`` shows the process name, cut to 15 characters).
# A process not listed here, or a super-server that starts others on demand (systemd socket units,
# inetd, xinetd, busybox), says nothing: the port number decides, as without process names.
PROCESS_SERVICES = {
    "sshd": ("ssh",), "dropbear": ("ssh",),
    "in.telnetd": ("telnet",), "telnetd": ("telnet",), "utelnetd": ("telnet",),
    "vsftpd": ("ftp",), "proftpd": ("ftp",), "pure-ftpd": ("ftp",), "in.ftpd": ("ftp",), "ftpd": ("ftp",),
    "in.rshd": ("rsh",), "rshd": ("rsh",), "in.rlogind": ("rlogin",), "rlogind": ("rlogin",),
    "in.rexecd": ("rexec",), "rexecd": ("rexec",),
    "Xvnc": ("vnc",), "Xtigervnc": ("vnc",), "x11vnc": ("vnc",), "vino-server": ("vnc",), "wayvnc": ("vnc",),
    "Xvnc-core": ("vnc",), "krfb": ("vnc",), "gnome-remote-de": ("rdp", "vnc"), "xrdp": ("rdp",),
    "in.tftpd": ("tftp",), "tftpd": ("tftp",), "atftpd": ("tftp",),
    "rpcbind": ("rpcbind",), "smbd": ("smb", "netbios"), "nmbd": ("netbios-ns",), "samba-dcerpcd": ("msrpc",),
    "rsync": ("rsync",), "redis-server": ("redis",), "memcached": ("memcached",), "mongod": ("mongodb",),
    "nginx": ("http", "https"), "apache2": ("http", "https"), "httpd": ("http", "https"), "caddy": ("http", "https"),
    "postgres": ("postgresql",), "mysqld": ("mysql",), "mariadbd": ("mysql",), "named": ("dns",),
    "dnsmasq": ("dns", "dhcp"), "chronyd": ("ntp",), "ntpd": ("ntp",), "cupsd": ("ipp",),
}


def service_of(entry: dict, ports: dict[int, str]) -> str | None:
    """The service behind a listening socket: the one its process provides when ``ss -p`` named a
    known process (telnetd on 2323 is telnet, sshd on 23 is not), else the port's name in
    ``ports`` (None when the port is not listed)."""
    by_port = ports.get(int(entry["port"]))
    known = [PROCESS_SERVICES[p[:15]] for p in entry.get("procs") or [] if p[:15] in PROCESS_SERVICES]
    if not known:
        return by_port
    provided = [svc for group in known for svc in group]
    if by_port in provided:
        return by_port
    wanted = set(ports.values())
    return next((svc for svc in provided if svc in wanted), provided[0])


def running(facts: Facts, names) -> tuple[list[str] | None, Outcome | None]:
    """Which of ``names`` run (``ps -eo comm=`` truncates names to 15 characters)."""
    text, err = gathered(facts, PS, missing=None)
    if err:
        return None, err
    comms = {ln.strip() for ln in text.splitlines() if ln.strip()}
    return [n for n in names if str(n)[:15] in comms], None


def run_start(facts: Facts) -> dt.datetime | None:
    """When this run started (UTC), or None if the facts do not say."""
    return parse_when(facts.meta.get("run_started"))


def age_hours(facts: Facts, when, what: str) -> tuple[float | None, Outcome | None]:
    """(age in hours at the run's start, None) or (None, an error Outcome) for an unreadable,
    future or missing time. ``what`` names the evidence in the message."""
    start = run_start(facts)
    if start is None:
        return None, Outcome.error("不知道本次审计的开始时间，无法计算时长", "the run's start time is unknown: cannot compute ages",
                                   f"run_started: {facts.meta.get('run_started')!r}")
    at = parse_when(when)
    if at is None:
        return None, Outcome.error(f"{what} 的时间无法识别", f"the time of {what} cannot be read", f"{what}: {str(when)[:120]!r}")
    if at - start > CLOCK_SKEW:
        return None, Outcome.error(f"{what} 的时间 {stamp(at)} 晚于本次审计开始时间 {stamp(start)}（时钟或记录有误）",
                                   f"{what} is dated {stamp(at)}, after the run started at {stamp(start)} (wrong clock or record)",
                                   f"{what}: {stamp(at)}; run started {stamp(start)}")
    return max(0.0, (start - at).total_seconds() / 3600), None


__all__ = ["PASSWD", "GROUP", "SHADOW", "LOGIN_DEFS", "SSHD_T", "SS", "PS", "DPKG_VERSIONS", "PAM", "SECURITY_CONF",
           "PROFILE", "LOOPBACK", "os_family", "gathered", "probe_state", "probe_failure", "files", "evidence_lines",
           "listeners", "service_of", "PROCESS_SERVICES", "SS_PROCS", "running", "run_start", "age_hours"]
