"""The vulnerability enricher: once per run it opens the local vulnerability database (``vulndb``) if one
exists and warns about feeds older than 7 days; per host, after collection and before the checks, it
reads the host's installed packages (the patching pack's ``dpkg_sources``/``rpm_sources`` probes) and
release (the OS probe), matches them (``vulnmatch``) and puts the result in ``facts.meta["vulns"]`` —
including when no feed covers the host, so the check can say CVE data was not available. Nothing here
talks to the host; a host whose package probes were not gathered (the patching pack not selected) is
left alone."""
from __future__ import annotations

import datetime as dt

from audits.model.probes import OS_PROBE
from audits.run.enrich import enricher

STALE_DAYS = 7


def _probes():
    from checks.probe_catalogue import named
    return named("dpkg_sources"), named("rpm_sources")


@enricher
def vulndb_enricher(context: dict):
    from audits.patchdata import vulnmatch
    from audits.patchdata.hostpkgs import dpkg_sources, rpm_sources
    from audits.patchdata.releases import host_release
    from audits.patchdata.vulndb import VulnDB, default_path
    from checks.parsers import os_release

    path = default_path()
    db, broken = None, ""
    say = context.get("say") or (lambda *_: None)
    if path.exists():
        try:
            db = VulnDB(path, create=False)
            sources = db.sources()
        except Exception as exc:  # unreadable, not SQLite, another schema: every host's check says error
            db, broken = None, f"vulnerability database {path} cannot be read: {type(exc).__name__}: {exc}"[:300]
            say(f"vulndb: {broken}")
            sources = []
        now = dt.datetime.now(dt.timezone.utc)
        for s in sources:
            try:
                age = (now - dt.datetime.fromisoformat(s["as_of"].replace("Z", "+00:00"))).days
            except ValueError:
                continue
            if age > STALE_DAYS:
                say(f"vulndb: {s['source']} {s['release']} is {age} days old (as of {s['as_of']}): "
                    f"import a newer feed (auditctl vulndb import)")
    dpkg_probe, rpm_probe = _probes()

    def enrich_vulns(facts, host):
        deb_res, rpm_res = facts.results.get(dpkg_probe), facts.results.get(rpm_probe)
        if deb_res is None and rpm_res is None:
            return
        osrel = os_release(facts.get(OS_PROBE).stdout or "")
        distro, release, label = host_release(osrel)
        running = osrel.get("KERNEL", "")
        meta = {"release": release, "label": label, "db": str(path)}
        if broken:
            facts.meta["vulns"] = {**meta, "available": False, "error": broken}
            return
        if db is None:
            facts.meta["vulns"] = {**meta, "available": False, "no_database": True,
                                   "reason": f"no vulnerability database at {path} (auditctl vulndb import)"}
            return
        res, family = (deb_res, "debian") if deb_res is not None and deb_res.error is None and deb_res.rc == 0 \
            else (rpm_res, "rhel")
        if res is None or res.error or res.rc != 0:
            res = res or deb_res
            facts.meta["vulns"] = {**meta, "available": False, "error":
                                   "cannot list the installed packages: " +
                                   ((res.error or res.stderr or f"exit {res.rc}") if res else "not gathered")[:300]}
            return
        pkgs = dpkg_sources(res.stdout) if family == "debian" else rpm_sources(res.stdout)
        facts.meta["vulns"] = {**meta, **vulnmatch.match(db, distro, release, family, pkgs, running), "label": label}

    return enrich_vulns
