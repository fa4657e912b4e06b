"""Scheduled audits: the schedule syntax and its two renderings (cron fields, systemd OnCalendar, the
latter cross-checked against systemd's own calendar parser), units and cron files installed, listed
and removed in a temporary root, and the per-plan lock between two real processes."""
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import auditctl
from audits.run.schedule_syntax import parse_schedule

ROOT = Path(__file__).resolve().parent.parent

VALID = {  # schedule -> (cron fields, OnCalendar)
    "hourly": ("0 * * * *", "*-*-* *:00:00"),
    "daily": ("0 0 * * *", "*-*-* 00:00:00"),
    "daily 2:05": ("5 2 * * *", "*-*-* 02:05:00"),
    "weekly": ("0 0 * * 1", "Mon *-*-* 00:00:00"),
    "weekly sat,sun 23:59": ("59 23 * * 0,6", "Sun,Sat *-*-* 23:59:00"),
    "monthly 15 03:00": ("0 3 15 * *", "*-*-15 03:00:00"),
    "*/20 8-10 * * mon-fri": ("0,20,40 8,9,10 * * 1,2,3,4,5", "Mon,Tue,Wed,Thu,Fri *-*-* 08,09,10:00,20,40:00"),
    "30 1 1,15 */3 *": ("30 1 1,15 1,4,7,10 *", "*-01,04,07,10-01,15 01:30:00"),
    "0 4 * * 7": ("0 4 * * 0", "Sun *-*-* 04:00:00"),
    "0 4 * * 0-7": ("0 4 * * *", "*-*-* 04:00:00"),
}
INVALID = {
    "": "empty schedule",
    "sometimes": "use hourly, daily",
    "daily 24:00": "must be HH:MM",
    "weekly caturday": "day of week",
    "61 * * * *": "minute: '61' is outside 0-59",
    "0 0 31 2 1": "not both",
    "0 0 * * * *": "five cron fields",
    "*/0 * * * *": "step must be at least 1",
    "5-1 * * * *": "outside",
    "hourly 5": "hourly takes nothing",
}


@pytest.mark.parametrize("text", list(VALID))
def test_schedule_renders_to_cron_and_systemd(text):
    s = parse_schedule(text)
    assert (s.cron(), s.on_calendar()) == VALID[text]


@pytest.mark.parametrize("text", list(INVALID))
def test_bad_schedules_say_what_is_wrong(text):
    with pytest.raises(ValueError, match=re.escape(INVALID[text])):
        parse_schedule(text)


def _cron_next(sets, start: dt.datetime, n: int) -> list[dt.datetime]:
    """The next n times cron would fire (minute by minute, the plain definition)."""
    out, t = [], start.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    while len(out) < n:
        values = (t.minute, t.hour, t.day, t.month, (t.weekday() + 1) % 7)
        if all(s is None or v in s for s, v in zip(sets, values)):
            out.append(t)
        t += dt.timedelta(minutes=1)
    return out


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
@pytest.mark.parametrize("text", list(VALID))
def test_on_calendar_fires_when_cron_would(text):
    """systemd's own parser reads our OnCalendar= as the same instants as the cron fields."""
    s = parse_schedule(text)
    for _ in range(2):  # a minute boundary between the two computations: try once more
        start = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        out = subprocess.run(["systemd-analyze", "calendar", "--iterations=4", s.on_calendar()],
                             capture_output=True, text=True, env={**os.environ, "TZ": "UTC"}, check=True).stdout
        got = [dt.datetime.strptime(m, "%Y-%m-%d %H:%M:%S")
               for m in re.findall(r"(?:Next elapse|Iter\. #\d): \w+ (\S+ \S+) UTC", out)]
        if got == _cron_next(s.sets, start, 4):
            return
    assert got == _cron_next(s.sets, start, 4), out


# -- install / list / remove ----------------------------------------------------------------------
@pytest.fixture
def sysroot(tmp_path):
    """A temporary system root with its own passwd: an unprivileged audit user, a user whose home is a
    system directory, and root."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n"
                                         "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                                         "audit:x:990:990:audits:/var/lib/audit:/usr/sbin/nologin\n")
    return root


def plan(tmp_path, schedule="weekly mon 02:30", name="nanhu nightly", extra=""):
    p = tmp_path / "plans" / "nightly.yaml"
    p.parent.mkdir(exist_ok=True)
    p.write_text(f"name: {name}\ninventory: inv.yaml\nschedule: {json.dumps(schedule)}\n"
                 f"outputs: {{db: ../data/school.db, out: ../reports}}\n{extra}", encoding="utf-8")
    return p


def sched(*argv):
    return auditctl.main(["schedule", *map(str, argv)])


def unit(path: Path) -> dict:
    out = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out[k] = v
    return out


def test_systemd_units_installed_listed_removed(tmp_path, sysroot, capsys):
    p = plan(tmp_path)
    assert sched("install", p, "--user", "audit", "--root", sysroot) == 0
    d = sysroot / "etc" / "systemd" / "system"
    service, timer = d / "auditctl-nanhu-nightly.service", d / "auditctl-nanhu-nightly.timer"
    assert sorted(x.name for x in d.iterdir()) == [service.name, timer.name]
    err = capsys.readouterr().err
    assert "then run: systemctl enable --now auditctl-nanhu-nightly.timer" in err  # printed, not run, under --root
    s, t = unit(service), unit(timer)
    exe = s["ExecStart"].split()[0]
    assert os.path.isabs(exe) and Path(exe).name == "auditctl" and os.access(exe, os.X_OK)
    assert s["ExecStart"].split()[1:] == ["run", "-q", "--plan", str(p.resolve())]
    assert s["User"] == "audit" and s["NoNewPrivileges"] == "yes" and s["ProtectSystem"] == "strict"
    assert s["ReadWritePaths"].split() == ["-/var/lib/audit", f"-{(tmp_path / 'reports').resolve()}",
                                           f"-{(tmp_path / 'data').resolve()}"]
    assert s["Type"] == "oneshot" and s["SuccessExitStatus"] == "1 4" and s["CapabilityBoundingSet"] == ""
    assert t["OnCalendar"] == "Mon *-*-* 02:30:00" and t["Persistent"] == "true"
    assert t["Unit"] == service.name and t["WantedBy"] == "timers.target"
    if shutil.which("systemd-analyze"):  # systemd's own checker reads both files
        r = subprocess.run(["systemd-analyze", "verify", str(service), str(timer)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    capsys.readouterr()
    assert sched("list", "--root", sysroot, "--json") == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row == {"name": "auditctl-nanhu-nightly", "kind": "systemd", "file": str(timer), "plan": str(p.resolve()),
                   "schedule": "weekly mon 02:30", "user": "audit"}
    assert sched("install", p, "--user", "audit", "--root", sysroot) == 0  # re-install the same plan: replaced
    assert sched("remove", "nanhu-nightly", "--root", sysroot) == 0
    assert list(d.iterdir()) == []
    assert sched("remove", "nanhu-nightly", "--root", sysroot) == 2


def test_machine_output_directories_are_writable_in_the_unit(tmp_path, sysroot):
    """outputs: json/csv/junit are files written beside themselves (a temporary file, then a rename):
    under ProtectSystem=strict their directories must be in ReadWritePaths too."""
    p = tmp_path / "plans" / "nightly.yaml"
    p.parent.mkdir(exist_ok=True)
    p.write_text("name: nanhu nightly\ninventory: inv.yaml\nschedule: daily 02:30\n"
                 "outputs: {db: ../data/school.db, json: ../exports/run.json, csv: ../exports/run.csv, "
                 "junit: ../ci/junit.xml}\n", encoding="utf-8")
    assert sched("install", p, "--user", "audit", "--root", sysroot) == 0
    s = unit(sysroot / "etc" / "systemd" / "system" / "auditctl-nanhu-nightly.service")
    assert s["ReadWritePaths"].split() == ["-/var/lib/audit", f"-{(tmp_path / 'data').resolve()}",
                                           f"-{(tmp_path / 'exports').resolve()}", f"-{(tmp_path / 'ci').resolve()}"]


def test_cron_line(tmp_path, sysroot):
    p = plan(tmp_path, schedule="*/30 6-7 * * 1-5")
    assert sched("install", p, "--cron", "--user", "audit", "--root", sysroot) == 0
    f = sysroot / "etc" / "cron.d" / "auditctl-nanhu-nightly"
    assert "." not in f.name and oct(f.stat().st_mode & 0o777) == "0o644"  # run-parts skips names with dots
    text = f.read_text()
    assert text.endswith("\n") and "SHELL=/bin/sh\n" in text
    (line,) = [x for x in text.splitlines() if x and not x.startswith("#") and "=" not in x]
    m = re.fullmatch(r"(\S+ \S+ \S+ \S+ \S+) (\S+) (/\S+/auditctl) run -q --plan (\S+)", line)
    assert m and m[1] == "0,30 6,7 * * 1,2,3,4,5" and m[2] == "audit" and m[4] == str(p.resolve())
    assert sched("remove", p, "--root", sysroot) == 0 and not f.exists()  # by plan file, too


@pytest.mark.parametrize("user,message", [("root", "is root"), ("daemon", "no home directory of its own"),
                                          ("nosuch", "no user 'nosuch'"), ("bad name", "not a valid user name")])
def test_unprivileged_user_with_a_home_required(tmp_path, sysroot, capsys, user, message):
    assert sched("install", plan(tmp_path), "--user", user, "--root", sysroot) == 2
    assert message in capsys.readouterr().err
    assert not (sysroot / "etc" / "systemd").exists()


def test_install_refusals_write_nothing(tmp_path, sysroot, capsys):
    p = plan(tmp_path, schedule="every now and then")
    assert sched("install", p, "--user", "audit", "--root", sysroot) == 2
    assert re.search(rf"{re.escape(str(p))}:3: schedule: use hourly", capsys.readouterr().err)
    p.write_text("name: x\ninventory: inv.yaml\n")
    assert sched("install", p, "--user", "audit", "--root", sysroot) == 2
    assert "no schedule" in capsys.readouterr().err
    spaced = tmp_path / "my plans"
    spaced.mkdir()
    (spaced / "p.yaml").write_text("name: x\nschedule: daily\n")
    assert sched("install", spaced / "p.yaml", "--user", "audit", "--root", sysroot) == 2
    assert "cannot carry safely" in capsys.readouterr().err
    foreign = sysroot / "etc" / "cron.d" / "auditctl-nanhu-nightly"
    foreign.parent.mkdir(parents=True)
    foreign.write_text("0 0 * * * root something-else\n")
    assert sched("install", plan(tmp_path), "--cron", "--user", "audit", "--root", sysroot) == 2
    assert "not written by auditctl" in capsys.readouterr().err
    assert foreign.read_text() == "0 0 * * * root something-else\n"
    assert sched("remove", "nanhu-nightly", "--root", sysroot) == 2 and foreign.exists()  # not ours: kept
    assert not (sysroot / "etc" / "systemd").exists()


def test_two_plans_never_share_a_unit(tmp_path, sysroot):
    a = plan(tmp_path, name="南湖一中 nightly")
    other = tmp_path / "other"
    other.mkdir()
    b = plan(other, name="北湖中学 nightly")
    assert sched("install", a, "--user", "audit", "--root", sysroot) == 0
    assert sched("install", b, "--user", "audit", "--root", sysroot) == 0
    timers = sorted((sysroot / "etc" / "systemd" / "system").glob("*.timer"))
    assert len(timers) == 2 and all(re.fullmatch(r"auditctl-nightly-[0-9a-f]{6}\.timer", t.name) for t in timers)


# -- overlap lock ---------------------------------------------------------------------------------
HOLDER = textwrap.dedent("""\
    import sys
    from audits.run.lock import plan_lock
    with plan_lock(sys.argv[1]):
        print("locked", flush=True)
        sys.stdin.read()
    """)


def test_second_run_of_a_plan_exits_4_while_the_first_holds_the_lock(tmp_path):
    inv = tmp_path / "inv.yaml"
    inv.write_text("school: {id: s1, district: d1, systems: [{id: x, level: 2}], hosts: "
                   "[{id: me, address: 127.0.0.1, connection: local, systems: [x]}]}\n")
    p = tmp_path / "plan.yaml"
    p.write_text(f"inventory: {inv}\npacks: [fleet]\noutputs: {{db: {tmp_path / 'r.db'}, out: {tmp_path / 'out'}}}\n")
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "PYTHONPATH": str(ROOT)}
    run = [sys.executable, str(ROOT / "auditctl.py"), "run", "-q", "--plan", str(p)]
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(p)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=env, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "locked"
        second = subprocess.run(run, capture_output=True, text=True, env=env, timeout=60)
        assert second.returncode == 4, second.stderr
        assert f"another run of plan {p} is in progress (pid {holder.pid};" in second.stderr
        assert not (tmp_path / "r.db").exists()  # nothing was started
    finally:
        holder.kill()  # killed, not released: the kernel drops the lock with the process
        holder.wait()
    # a real run takes the lock (its pid is written only once flock succeeded), and only then works.
    # Watch the file's content, never flock it: a probe's own lock would make the run exit 4.
    from audits.run.lock import lock_path

    again = subprocess.Popen(run, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    lock = tmp_path / "state" / "auditctl" / "locks" / lock_path(str(p)).name
    seen_held = False
    while again.poll() is None and not seen_held:
        seen_held = lock.read_text().strip() == str(again.pid)
    assert again.wait(timeout=120) == 0, again.stderr.read()
    assert seen_held and (tmp_path / "r.db").exists()
