"""Pending security updates judged against the auditor's index, on the campus lab's real sshd hosts.

The lab hosts share this machine's /usr and dpkg database, so they have the same installed packages;
each gets its own /var/lib/apt/lists (``CampusLab.bind_path``):

- lab-compliant-01: fresh lists (``apt-get update`` run now into a private directory),
- lab-compliant-02: no lists at all (removed),
- lab-compliant-03: lists a year old (their security list offers what was installed back then).

All three must be judged alike, on the auditor's index of bookworm-security fetched once by the run
from the mirror the hosts' sources name, and the pending set must agree with ``apt-get -s upgrade``
run on this machine with fresh lists in a private ``Dir::State::Lists`` (nothing is installed).
"""
import json
import os
import re
import shutil
import subprocess
import time

import pytest
import yaml

import auditctl
from audits.patchdata.index import Store
from checks.parsers import debian_version_newer

pytestmark = pytest.mark.lab
C1, C2, C3 = "lab-compliant-01", "lab-compliant-02", "lab-compliant-03"
CHECK = "patching.security_updates"
YEAR = 365 * 24 * 3600
SEC_PREFIX = "deb.debian.org_debian-security_dists_bookworm-security"


def _apt(lists, *args):
    """apt-get with a private lists directory and no package cache files: never the machine's own lists."""
    opts = ["-o", f"Dir::State::Lists={lists}", "-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache=",
            "-o", "APT::Get::List-Cleanup=false", "-o", "Debug::NoLocking=true"]
    return subprocess.run(["apt-get", *opts, *args], capture_output=True, text=True, timeout=600)


def _installed():
    out = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Architecture} ${Version} ${db:Status-Abbrev}\n"],
                         capture_output=True, text=True, check=True).stdout
    return [ln.split()[:3] for ln in out.splitlines() if len(ln.split()) >= 4 and ln.split()[3][1:2] == "i"]


@pytest.fixture(scope="module")
def fresh_lists(campus_lab, tmp_path_factory):
    if not shutil.which("apt-get") or not os.path.exists("/etc/os-release") or \
            "VERSION_CODENAME=bookworm" not in open("/etc/os-release").read():
        pytest.skip("needs a Debian 12 machine (the lab hosts share its packages)")
    lists = tmp_path_factory.mktemp("apt-lists")
    (lists / "partial").mkdir()
    res = _apt(lists, "-q", "update")
    if res.returncode != 0 or not list(lists.glob(f"{SEC_PREFIX}_*Packages*")):
        if os.environ.get("CI") == "true":
            raise AssertionError(f"apt-get update into a private lists directory failed: {res.stderr[-500:]}")
        pytest.skip(f"the Debian mirror is not reachable: {res.stderr[-300:]}")
    sim = _apt(lists, "-s", "upgrade")
    assert sim.returncode == 0, sim.stderr
    return lists, sim.stdout


def _plant(lab, root, fresh):
    installed = {n.split(":")[0]: v for n, _a, v in _installed()}
    for h, kind in ((C1, "fresh"), (C2, "removed"), (C3, "year-old")):
        d = root / h
        d.mkdir(parents=True)
        os.chmod(root, 0o755)
        os.chmod(d, 0o755)
        if kind == "fresh":
            for f in fresh.iterdir():
                if f.is_file():
                    shutil.copy2(f, d / f.name)
        elif kind == "year-old":  # what a year-old apt-get update left: the security list offers what is installed
            (d / f"{SEC_PREFIX}_InRelease").write_text("Origin: Debian\nCodename: bookworm-security\n")
            pkgs = "".join(f"Package: {n}\nVersion: {installed[n]}\nArchitecture: amd64\n\n"
                           for n in ("openssh-server", "libssl3", "libc6") if n in installed)
            (d / f"{SEC_PREFIX}_main_binary-amd64_Packages").write_text(pkgs)
            for f in d.iterdir():
                os.utime(f, (time.time() - YEAR, time.time() - YEAR))
        lab.bind_path(h, d, "/var/lib/apt/lists")


def _audit(lab, tmp, name, plan_params=None):
    inv = tmp / "lab.yaml"
    if not inv.exists():
        lab.write_inventory(inv)
    js = tmp / f"{name}.json"
    args = ["run", "-q", "-i", str(inv), "--limit", f"{C1},{C2},{C3}", "--packs", "patching",
            "--db", str(tmp / f"{name}.db"), "--json", str(js), "--out", str(tmp / f"{name}-out"), "--known-hosts", str(lab.known_hosts)]
    if plan_params:
        plan = tmp / f"{name}-plan.yaml"
        plan.write_text(yaml.safe_dump({"params": plan_params}))
        args[1:1] = ["--plan", str(plan)]
    auditctl.main(args)
    doc = json.loads(js.read_text())
    return {h["id"]: {r["check_id"]: r for r in h["results"]} for h in doc["hosts"] if h["status"] == "audited"}


@pytest.fixture(scope="module")
def index_runs(campus_lab, fresh_lists, tmp_path_factory):
    lists, _ = fresh_lists
    tmp = tmp_path_factory.mktemp("patch-index-lab")
    _plant(campus_lab, campus_lab.workdir / "patch-index-lab", lists)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp / "cache"))
        first = _audit(campus_lab, tmp, "first")
        second = _audit(campus_lab, tmp, "second")
        mp.setenv("XDG_CACHE_HOME", str(tmp / "empty-cache"))
        offline = _audit(campus_lab, tmp, "offline", {CHECK: {"index_fetch": False}})
    return {"first": first, "second": second, "offline": offline, "cache": tmp / "cache" / "auditctl" / "patches"}


def _count(result):
    m = re.search(r"(\d+) security update\(s\) pending", result["message"]["en"])
    return int(m.group(1)) if m else 0


def test_hosts_with_fresh_removed_and_year_old_lists_are_judged_alike(index_runs):
    run = index_runs["first"]
    got = {h: (run[h][CHECK]["status"], run[h][CHECK]["message"]["en"], run[h][CHECK]["evidence"]) for h in (C1, C2, C3)}
    assert got[C1] == got[C2] == got[C3], got
    r = run[C2][CHECK]
    assert "judged against the auditor's index debian bookworm-security as of" in r["message"]["en"]
    assert "依据审计端安全更新索引 debian bookworm-security，截至" in r["message"]["zh"]
    assert "verified: gpgv, debian-archive-keyring.gpg" in r["evidence"]
    # the age of the host's own lists is a finding of its own, independent of the pending updates
    ages = {h: run[h]["patching.package_lists_age"]["status"] for h in (C1, C2, C3)}
    assert ages == {C1: "pass", C2: "fail", C3: "fail"}, ages


def test_the_index_is_fetched_once_then_used_from_the_cache(index_runs):
    first, second = index_runs["first"][C1][CHECK], index_runs["second"][C1][CHECK]
    assert first["evidence"].splitlines()[0].endswith("; fetched from http://deb.debian.org/debian-security")
    assert "not fetched: the held index is fresh" in second["evidence"].splitlines()[0]
    assert (second["status"], _count(second)) == (first["status"], _count(first))
    assert (index_runs["cache"] / "debian" / "bookworm-security" / "meta.json").exists()


def test_no_index_and_no_lists_is_an_error_never_a_pass(index_runs):
    off = index_runs["offline"]
    assert off[C2][CHECK]["status"] == "error", off[C2][CHECK]["message"]
    assert "index_fetch: false" in off[C2][CHECK]["evidence"]
    # with lists (fresh or old) the host's own lists are the fallback, and the result says so with their date
    for h in (C1, C3):
        assert "judged on the host's own package lists (as of" in off[h][CHECK]["message"]["en"]
    assert off[C3][CHECK]["status"] == "pass"  # a year-old list knows nothing newer: why the index exists


def test_pending_updates_agree_with_apt_get_simulate(campus_lab, index_runs, fresh_lists):
    """The full pending set (the report shows the first lines) computed from the lab host's own dpkg-query
    over SSH against the run's index, against apt-get -s upgrade | grep '^Inst .*-security' with fresh lists."""
    _, sim = fresh_lists
    h = campus_lab.host(C2)
    out = subprocess.run(["ssh", "-F", "/dev/null", "-i", str(campus_lab.key_file), "-o", "IdentitiesOnly=yes",
                          "-o", f"UserKnownHostsFile={campus_lab.known_hosts}", "-o", "StrictHostKeyChecking=yes",
                          f"{h.user}@{h.address}",
                          "dpkg-query -W -f='${Package} ${Architecture} ${Version} ${db:Status-Abbrev}\\n'"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    idx = Store(index_runs["cache"]).held("debian", "bookworm-security")
    ours = set()
    for ln in out.splitlines():
        p = ln.split()
        if len(p) >= 4 and p[3][1:2] == "i":
            o = idx.lookup(p[0].split(":")[0], p[1])
            if o is not None and debian_version_newer(o.version, p[2]):
                ours.add(p[0].split(":")[0])
    assert _count(index_runs["first"][C2][CHECK]) == len(ours)
    apt_sec = {ln.split()[1] for ln in sim.splitlines() if re.match(r"^Inst .*-security", ln)}
    kept = set()
    m = re.search(r"The following packages have been kept back:\n((?:  .*\n)+)", sim)
    if m:
        kept = set(m.group(1).split())
    apt_other = {ln.split()[1] for ln in sim.splitlines() if ln.startswith("Inst ")} - apt_sec
    # Every difference has a reason: apt keeps back an upgrade that needs new packages (the kernel
    # metapackages), or its candidate is a newer non-security version (a point release superseding the fix).
    unexplained_ours = ours - apt_sec - kept - apt_other
    unexplained_apt = apt_sec - ours
    jaccard = len(ours & apt_sec) / max(1, len(ours | apt_sec))
    print(f"pending: ours {len(ours)}, apt -security {len(apt_sec)}, both {len(ours & apt_sec)}, "
          f"kept back {len(ours & kept)}, newer elsewhere {len(ours & apt_other)}, Jaccard {jaccard:.3f}")
    assert not unexplained_ours and not unexplained_apt, (sorted(unexplained_ours), sorted(unexplained_apt))
    assert ours, "this machine has pending security updates, so the comparison is not vacuous"
