"""Scheduled audits: a plan's ``schedule:`` as a systemd timer + service or a cron.d line.

The syntax (one meaning for both) is ``audits.run.schedule_syntax``. Units run as an unprivileged user with hardening; files
carry ``# auditctl-…`` marker lines, and only files with them are listed or removed.
"""
from __future__ import annotations

import hashlib
import pwd
import re
import shutil
import sys
from pathlib import Path

from audits.model.errors import InputError, Problem
from audits.run.plan import load_plan
from audits.run.schedule_syntax import Schedule, parse_schedule

SAFE_PATH = re.compile(r"^/[\w./+,:@=-]+$")  # no spaces, quotes, %, $, ; or backslashes in unit/cron lines
USER_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
SUCCESS_EXIT = "1 4"  # 1: --fail-on met (an audit outcome); 4: another run of the plan was still going
PREFIX = "auditctl-"


# -- units and cron lines -------------------------------------------------------------------------
def unit_name(plan_name: str, plan_path: str) -> str:
    """``auditctl-<plan name as [a-z0-9_-]>``; a name that loses characters (Chinese, say) gets a short
    hash of the plan's path so two such plans never share a unit."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", plan_name.lower()).strip("-")[:40]
    if slug != plan_name.lower().replace(" ", "-"):
        slug = (slug + "-" if slug else "plan-") + hashlib.sha256(plan_path.encode()).hexdigest()[:6]
    return PREFIX + slug


def _markers(plan: str, schedule: Schedule, user: str) -> str:
    return (f"# auditctl-plan: {plan}\n# auditctl-schedule: {schedule.text}\n# auditctl-user: {user}\n"
            "# written by `auditctl schedule install`; remove with `auditctl schedule remove`\n")


def service_text(plan: str, schedule: Schedule, user: str, home: str, exe: str, writable: list[str]) -> str:
    paths = " ".join(["-" + home] + ["-" + p for p in writable])
    return (f"{_markers(plan, schedule, user)}[Unit]\nDescription=auditctl audit plan {plan}\n"
            "Wants=network-online.target\nAfter=network-online.target\n\n"
            f"[Service]\nType=oneshot\nUser={user}\nWorkingDirectory={home}\n"
            f"ExecStart={exe} run -q --plan {plan}\nSuccessExitStatus={SUCCESS_EXIT}\n"
            "NoNewPrivileges=yes\nProtectSystem=strict\n"
            f"ReadWritePaths={paths}\nPrivateTmp=yes\nPrivateDevices=yes\nProtectKernelTunables=yes\n"
            "ProtectKernelModules=yes\nProtectControlGroups=yes\nRestrictSUIDSGID=yes\nLockPersonality=yes\n"
            "CapabilityBoundingSet=\n")


def timer_text(name: str, plan: str, schedule: Schedule, user: str) -> str:
    return (f"{_markers(plan, schedule, user)}[Unit]\nDescription=auditctl schedule for {plan}\n\n"
            f"[Timer]\nOnCalendar={schedule.on_calendar()}\nPersistent=true\nUnit={name}.service\n\n"
            "[Install]\nWantedBy=timers.target\n")


def cron_text(plan: str, schedule: Schedule, user: str, exe: str) -> str:
    return (f"{_markers(plan, schedule, user)}SHELL=/bin/sh\nPATH=/usr/local/bin:/usr/bin:/bin\n"
            f"{schedule.cron()} {user} {exe} run -q --plan {plan}\n")


# -- install / list / remove ----------------------------------------------------------------------
def dirs(root: str | None) -> tuple[Path, Path]:
    base = Path(root or "/")
    return base / "etc" / "systemd" / "system", base / "etc" / "cron.d"


def auditctl_path() -> str:
    here = Path(sys.executable).parent / "auditctl"
    found = str(here) if here.exists() else shutil.which("auditctl")
    if not found:
        raise InputError([Problem("command line", 0, "schedule", "cannot find the auditctl program to schedule")])
    return str(Path(found).absolute())


SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/etc", "/dev", "/proc", "/sys", "/run", "/boot", "/nonexistent",
               "/var/spool", "/var/mail", "/var/cache")


def _passwd(user: str, root: str | None) -> tuple[int, str] | None:
    """(uid, home) of a user: from ROOT/etc/passwd when installing into another root, else this system."""
    table = Path(root or "/") / "etc" / "passwd"
    if root and table.is_file():
        for line in table.read_text(encoding="utf-8", errors="replace").splitlines():
            f = line.split(":")
            if len(f) >= 7 and f[0] == user and f[2].isdigit():
                return int(f[2]), f[5]
        return None
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_dir


def _user(user: str, root: str | None) -> tuple[str, str]:
    """The user a schedule runs as, and its home (made writable in the unit): never root, and a home
    of its own (a system user whose home is /usr/sbin or /nonexistent would open system dirs)."""
    bad = lambda msg: InputError([Problem("command line", 0, "--user", msg)])  # noqa: E731
    hint = f"create one: useradd --system --create-home --home-dir /var/lib/{user} {user}"
    if not USER_NAME.match(user):
        raise bad(f"'{user}' is not a valid user name")
    found = _passwd(user, root)
    if user == "root" or (found and found[0] == 0):
        raise bad(f"'{user}' is root; scheduled audits run as an unprivileged user")
    if found is None:
        raise bad(f"no user '{user}'; {hint}")
    home = found[1]
    home = home.rstrip("/")
    if not home.startswith("/") or not home or any(home == d or home.startswith(d + "/") for d in SYSTEM_DIRS):
        raise bad(f"'{user}' has no home directory of its own ({home or '/'}); {hint}")
    return user, home


def _writable(plan) -> list[str]:
    """Directories a plan writes outside the user's home: its report directory, SQLite store and the
    directories of its machine outputs (json, csv, junit files are written atomically: a temporary
    file beside each, so the directory must be writable)."""
    out = []
    if plan.out:
        out.append(str(Path(plan.out).resolve()))
    db = plan.db or ""
    if db.startswith("sqlite:///") or (db and "://" not in db):
        out.append(str(Path(db.removeprefix("sqlite:///")).resolve().parent))
    for path in (plan.json, plan.csv, plan.junit):
        if path and path != "-":
            out.append(str(Path(path).resolve().parent))
    return list(dict.fromkeys(out))


def _safe(path: str, field: str) -> str:
    if not SAFE_PATH.match(path):
        raise InputError([Problem("command line", 0, field, f"{path!r} has characters a unit or cron line "
                                  "cannot carry safely (spaces, quotes, % $ ; \\); move or rename it")])
    return path


def files_for(plan, user: str, cron: bool, root: str | None) -> dict[Path, str]:
    """The unit files (or the cron file) to write for a loaded plan, after every check: file -> text."""
    plan_path = str(Path(plan.source).resolve())
    if not plan.schedule:
        raise InputError([Problem(plan.source, 0, "schedule", "the plan has no schedule: entry")])
    schedule = parse_schedule(plan.schedule)  # already validated by load_plan
    user, home = _user(user, root)
    exe = _safe(auditctl_path(), "auditctl")
    _safe(plan_path, "plan")
    writable = [_safe(p, "outputs") for p in _writable(plan)]
    name = unit_name(plan.name, plan_path)
    systemd_dir, cron_dir = dirs(root)
    if cron:
        files = {cron_dir / name: cron_text(plan_path, schedule, user, exe)}
    else:
        files = {systemd_dir / f"{name}.service": service_text(plan_path, schedule, user, home, exe, writable),
                 systemd_dir / f"{name}.timer": timer_text(name, plan_path, schedule, user)}
    for path in files:
        if path.exists():
            other = read_markers(path).get("plan")
            if other is None:
                raise InputError([Problem(str(path), 0, "schedule", "exists and was not written by auditctl")])
            if other != plan_path:
                raise InputError([Problem(str(path), 0, "schedule", f"already schedules another plan ({other})")])
    return files


def read_markers(path: Path) -> dict:
    out = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh.read(8192).splitlines():
                m = re.match(r"# auditctl-(plan|schedule|user): (.*)$", line)
                if m:
                    out[m[1]] = m[2]
    except OSError:
        pass
    return out


def installed(root: str | None) -> list[dict]:
    systemd_dir, cron_dir = dirs(root)
    found = []
    for kind, pattern, d in (("systemd", f"{PREFIX}*.timer", systemd_dir), ("cron", f"{PREFIX}*", cron_dir)):
        for path in sorted(d.glob(pattern)) if d.is_dir() else []:
            marks = read_markers(path)
            if "plan" in marks:
                found.append({"name": path.name.removesuffix(".timer"), "kind": kind, "file": str(path), **marks})
    return found


def schedule_target(target: str) -> tuple[str, str | None]:
    """(schedule name, plan path or None): for a plan file, its unit name and its absolute path (only
    files whose marker names that very plan are its schedule); else a name given with or without its
    prefix and suffix."""
    if Path(target).is_file():
        plan = load_plan(target)
        plan_path = str(Path(plan.source).resolve())
        return unit_name(plan.name, plan_path), plan_path
    name = target if target.startswith(PREFIX) else PREFIX + target
    return name.removesuffix(".timer").removesuffix(".service"), None


def schedule_name(target: str) -> str:
    """The schedule name of a plan file, or a name given with or without its prefix and suffix."""
    return schedule_target(target)[0]


def schedule_files(name: str, root: str | None, plan: str | None = None) -> list[Path]:
    """A schedule's files that carry auditctl's markers (and, with ``plan``, name that plan)."""
    systemd_dir, cron_dir = dirs(root)
    out = []
    for path in (systemd_dir / f"{name}.timer", systemd_dir / f"{name}.service", cron_dir / name):
        marks = read_markers(path) if path.is_file() else {}
        if "plan" in marks and (plan is None or marks["plan"] == plan):
            out.append(path)
    return out


def remove(name: str, root: str | None, plan: str | None = None) -> list[Path]:
    """Remove a schedule's timer + service and/or cron file; only files carrying auditctl's markers and,
    when removed by plan file (``plan``: its absolute path), only those whose marker names that plan —
    never another plan's schedule that happens to have the same name."""
    gone = []
    for path in schedule_files(name, root, plan):
        path.unlink()
        gone.append(path)
    return gone
