"""The enricher that joins the auditor's index of security fixes with each host's installed packages
(``audits.run.enrich``): for a Debian/Ubuntu host it names the release's security suite from the
host's ``/etc/os-release``, finds it in the held index — refreshing it once per run from the mirrors the
plan names, else the one the host's own APT sources name, then the distribution's — and writes
``facts.meta["patch_index"]``:

``basis``      "index" (judge against it) or "none" (``error`` says why; the check falls back to the
               host's own lists, and says so)
``suite``      what the index is (dist, suite, via fetched/imported, source, Release date, as of,
               signature), ``as_of`` (ISO), ``age_days`` at the run's start, ``max_age_days``, ``stale``
``offered``    ``{"name:arch": [version, source package]}`` for every installed package the suite has
``fetch``      what the refresh did (fetched / unchanged / not tried / failed: …)

Checks compare versions themselves (``patching.security_updates``); this module only fetches and looks up.
Plan parameters (of ``patching.security_updates``): ``index_mirrors`` (the only mirrors tried when set),
``index_fetch`` (false: never touch the network, use what is held), ``index_refresh_hours`` (a fetched
index younger than this is used without asking a mirror; an imported one until it is stale), ``index_max_age_days`` (older: stale, a
finding for the auditor). An index that goes stale in a run is announced once through ``say``.
"""
from __future__ import annotations

import datetime as dt
import re
import threading

from audits.model.probes import OS_PROBE, Facts
from audits.patchdata import debrepo, fetch
from audits.patchdata.debrepo import RepoError
from audits.patchdata.index import IndexError_, Store, SuiteIndex, _iso
from audits.run.enrich import enricher

CHECK = "patching.security_updates"
DEFAULTS = {"index_mirrors": [], "index_fetch": True, "index_refresh_hours": 6, "index_max_age_days": 7}


def _params(context: dict) -> dict:
    out = dict(DEFAULTS)
    try:
        from checks.registry import load_registry

        check = load_registry().by_id.get(CHECK)
        if check is not None:
            out.update({k: v for k, v in check.params.items() if k in DEFAULTS})
    except Exception:  # the defaults above stand
        pass
    plan = context.get("params") or {}
    for key in ("patching", CHECK):
        out.update({k: v for k, v in dict(plan.get(key) or {}).items() if k in DEFAULTS})
    return out


class RunIndex:
    """The index as one run sees it: each suite looked up (and refreshed) at most once, thread-safe."""

    def __init__(self, params: dict, say=None, store: Store | None = None, now: dt.datetime | None = None,
                 keyring: str | None = None):
        self.params = params
        self.keyring = keyring  # None: the distribution's keyring
        self.say = say or (lambda _msg: None)
        self.store = store or Store()
        self.now = now or dt.datetime.now(dt.timezone.utc)
        self._lock = threading.Lock()
        self._suites: dict[tuple, tuple] = {}

    def suite(self, dist: str, suite: str, mirrors: list[str], components: list[str],
              archs: list[str]) -> tuple[SuiteIndex | None, str, str | None]:
        """(index or None, what the refresh did, error) for one suite (and set of components and
        architectures), once per run."""
        key = (dist, suite, tuple(sorted(components)), tuple(sorted(archs)))
        with self._lock:
            if key not in self._suites:
                self._suites[key] = self._get(dist, suite, mirrors, components, archs)
                idx, note, err = self._suites[key]
                if err:
                    self.say(f"patch index {dist} {suite}: {err}")
                elif idx is not None and self._age_days(idx) > float(self.params["index_max_age_days"]):
                    self.say(f"patch index {dist} {suite} is stale: as of {_iso(idx.as_of)}, "
                             f"{self._age_days(idx):.1f} days old (limit {self.params['index_max_age_days']}); "
                             "refresh it (auditctl patches fetch / patches import)")
            return self._suites[key]

    def _fresh(self, idx) -> bool:
        """A fetched index is fresh for ``index_refresh_hours``; an imported one (the site chose to import it)
        until it is stale (``index_max_age_days``), so an air-gapped run does not keep trying the network."""
        hours = float(self.params["index_max_age_days"]) * 24 if idx.meta.get("via") == "imported" \
            else float(self.params["index_refresh_hours"])
        return (self.now - idx.as_of).total_seconds() < hours * 3600

    def _age_days(self, idx: SuiteIndex) -> float:
        return (self.now - idx.as_of).total_seconds() / 86400

    def _get(self, dist, suite, mirrors, components, archs):
        held, damaged = None, None
        try:
            held = self.store.held(dist, suite)
        except (OSError, ValueError, KeyError, RepoError) as exc:
            damaged = f"the held index is unusable: {exc}"[:300]
        if held is not None:
            have = set(held.meta.get("files", []))
            complete = all(any(n in have for n in debrepo.packages_paths(c, a)) for c in components for a in archs)
            if complete and self._fresh(held):
                return held, f"not fetched: the {'imported' if held.meta.get('via') == 'imported' else 'held'} index is fresh", None
        if not self.params.get("index_fetch", True):
            if held is not None:
                have = set(held.meta.get("files", []))
                lacking = [f"{c}/binary-{a}" for c in components for a in archs
                           if not any(n in have for n in debrepo.packages_paths(c, a))]
                return held, "not fetched: fetching is off (index_fetch: false)" + (
                    f"; the held index lacks {', '.join(lacking)}: packages there are not judged" if lacking else ""), None
            return None, "not fetched", damaged or ("no index is held for this suite and fetching is off "
                                                   "(index_fetch: false); import one with auditctl patches import")
        errors = []
        for mirror in mirrors:
            try:
                idx, did = self.store.refresh(mirror, suite, components, archs, keyring=self.keyring)
                return idx, f"{did} from {mirror}", None
            except (fetch.FetchError, RepoError, OSError, ValueError, IndexError_) as exc:
                errors.append(f"{mirror}: {exc}"[:300])
        failed = "fetch failed: " + "; ".join(errors) if errors else "no mirror to fetch from"
        if held is not None:
            self.say(f"patch index {dist} {suite}: {failed}; using the held index as of {_iso(held.as_of)}")
            return held, failed, None
        return None, failed, damaged or (failed + "; no index is held for this suite")

    def rpm_repo(self, release: str, repo: str, baseurl: str):
        """(RpmIndex or None, what was done, error) for one RPM repository, once per run."""
        key = ("rpm", f"{release}/{repo}")
        with self._lock:
            if key not in self._suites:
                self._suites[key] = self._get_rpm(release, repo, baseurl)
                idx, _did, err = self._suites[key]
                if err:
                    self.say(f"patch index {release} {repo}: {err}")
                elif idx is not None and self._age_days(idx) > float(self.params["index_max_age_days"]):
                    self.say(f"patch index {release} {repo} is stale: as of {_iso(idx.as_of)}, "
                             f"{self._age_days(idx):.1f} days old (limit {self.params['index_max_age_days']}); "
                             "refresh it (auditctl patches import --release)")
            return self._suites[key]

    def _get_rpm(self, release, repo, baseurl):
        held = None
        try:
            held = self.store.held_rpm(release, repo)
        except (OSError, ValueError, KeyError, RepoError) as exc:
            if not baseurl or not self.params.get("index_fetch", True):
                return None, "not fetched", f"the held index is unusable: {exc}"[:300]
        if held is not None and self._fresh(held):
            return held, f"not fetched: the {'imported' if held.meta.get('via') == 'imported' else 'held'} index is fresh", None
        if not baseurl or not self.params.get("index_fetch", True):
            if held is not None:
                return held, "not fetched: " + ("fetching is off" if baseurl else "no baseurl"), None
            return None, "not fetched", "no index is held for this repository and fetching is off or impossible"
        try:
            idx, did = self.store.refresh_rpm(baseurl, release, repo)
            return idx, f"{did} from {baseurl}", None
        except (fetch.FetchError, RepoError, OSError, ValueError) as exc:
            failed = f"fetch failed: {exc}"[:300]
            if held is not None:
                self.say(f"patch index {release} {repo}: {failed}; using the held index as of {_iso(held.as_of)}")
                return held, failed, None
            return None, failed, failed


def _installed(text: str) -> list[tuple[str, str, str]]:
    """The dpkg_packages probe: (package, architecture, version) of installed packages (ii/hi)."""
    out = []
    for ln in text.splitlines():
        parts = ln.split()
        if len(parts) >= 4 and len(parts[3]) >= 2 and parts[3][1] == "i":
            out.append((parts[0].split(":")[0], parts[1], parts[2]))
    return out


def enrich_debian(run: RunIndex, facts: Facts, dpkg_probe, sources_probe) -> None:
    res = facts.get(dpkg_probe)
    if res.error or res.rc != 0:
        return  # no package list: the check reports that itself
    osr = debrepo.os_release(facts.get(OS_PROBE).stdout)
    which = debrepo.default_security_suite(osr)
    if which is None:
        facts.meta["patch_index"] = {"basis": "none", "error": "the release is not a Debian or Ubuntu release "
                                     f"the index knows (ID={osr.get('ID', '?')!s:.40}, "
                                     f"VERSION_CODENAME={osr.get('VERSION_CODENAME', '?')!s:.40})"}
        return
    dist, suite = which
    entries = [e for e in debrepo.parse_sources(facts.get(sources_probe).stdout)
               if debrepo.security_suite(e) and e.suite == suite]
    # A plan's mirrors replace the rest (the auditor then sends no request to a URL a host named).
    mirrors = [str(m).rstrip("/") for m in run.params.get("index_mirrors") or []]
    if not mirrors:
        mirrors = [e.uri for e in entries if e.uri.startswith(("http://", "https://"))]
        mirrors.append(debrepo.DEFAULT_MIRRORS[dist])
    mirrors = list(dict.fromkeys(mirrors))
    components = sorted({c for e in entries for c in e.components} or {"main"})
    installed = _installed(res.stdout)
    archs = sorted({a for _, a, _ in installed if a != "all"}) or ["amd64"]
    idx, did, err = run.suite(dist, suite, mirrors, components, archs)
    if idx is None:
        facts.meta["patch_index"] = {"basis": "none", "dist": dist, "suite": suite, "fetch": did, "error": err}
        return
    offered = {}
    for name, arch, _version in installed:
        o = idx.lookup(name, arch)
        if o is not None:
            offered[f"{name}:{arch}"] = [o.version, o.source]
    age = run._age_days(idx)
    limit = float(run.params["index_max_age_days"])
    facts.meta["patch_index"] = {"basis": "index", "suite": idx.describe(), "as_of": _iso(idx.as_of),
                                 "age_days": round(age, 2), "max_age_days": limit, "stale": age > limit,
                                 "fetch": did, "host_sources": [f"{e.uri} {e.suite}" for e in entries][:10],
                                 "offered": offered}


RHEL_FAMILY = ("rhel", "rocky", "almalinux", "ol", "openeuler", "centos")


def enrich_rpm(run: RunIndex, facts: Facts, rpm_probe, repos_probe) -> None:
    """RHEL family: the security errata (updateinfo.xml) of the repositories the host names (baseurl), held per
    release and repository; CentOS 7/Stream publish none, which is said (``no_errata``), never "nothing pending"."""
    from audits.patchdata import rpmrepo
    from audits.patchdata.index import rpm_release_key

    res = facts.get(rpm_probe)
    if res.error or res.rc != 0:
        return
    osr = debrepo.os_release(facts.get(OS_PROBE).stdout)
    os_id, ver = osr.get("ID", "").lower(), osr.get("VERSION_ID", "")
    if (os_id, ver.split(".")[0]) in rpmrepo.NO_ERRATA:
        zh, en = rpmrepo.NO_ERRATA[(os_id, ver.split(".")[0])]
        facts.meta["patch_index"] = {"basis": "none", "no_errata": {"zh": zh, "en": en}, "error": en}
        return
    if os_id not in RHEL_FAMILY or not re.fullmatch(r"[0-9]+(\.[0-9]+)*", ver):
        facts.meta["patch_index"] = {"basis": "none", "error": f"no index for ID={os_id[:40]!r} VERSION_ID={ver[:20]!r}"}
        return
    release = rpm_release_key(os_id, ver)
    installed = [ln.split() for ln in res.stdout.splitlines() if len(ln.split()) == 3]
    arches = [a for _, a, _ in installed if a not in ("noarch", "(none)")]
    basearch = max(set(arches), key=arches.count) if arches else "x86_64"
    releasever = ver if os_id == "openeuler" else ver.split(".")[0]
    repos = rpmrepo.parse_repos(facts.get(repos_probe).stdout, releasever, basearch)
    held_ids = sorted(p.name for p in (run.store.root / "rpm" / release).glob("*") if (p / "meta.json").exists())
    wanted = [(r.id.lower(), r.baseurl) for r in repos] or [(i, "") for i in held_ids]
    indexes, notes, errors = [], [], []
    for repo_id, url in wanted:
        idx, did, err = run.rpm_repo(release, repo_id, url)
        if idx is not None:
            indexes.append(idx)
            notes.append(f"{repo_id}: {did}")
        elif err and "publishes no updateinfo" not in err:
            errors.append(f"{repo_id}: {err}")
    if not indexes:
        facts.meta["patch_index"] = {"basis": "none", "dist": release,
                                     "error": "; ".join(errors)[:600] or f"no repository of {release} with security errata "
                                     "is held or named by the host (auditctl patches import DIR --release ID:VERSION)"}
        return
    offered = {}
    for name, arch, _evr in installed:
        best = None
        for idx in indexes:
            fix = idx.fixes.get((name, arch))
            if fix is not None and (best is None or rpmrepo.evr_newer(fix.evr, best.evr)):
                best = fix
        if best is not None:
            offered[f"{name}:{arch}"] = [best.evr, best.advisory, best.severity]
    oldest = min(indexes, key=lambda i: i.as_of)
    desc = {**oldest.describe(), "suite": ", ".join(i.repo for i in indexes)}
    age = (run.now - oldest.as_of).total_seconds() / 86400
    limit = float(run.params["index_max_age_days"])
    facts.meta["patch_index"] = {"basis": "index", "family": "rpm", "suite": desc, "as_of": _iso(oldest.as_of),
                                 "age_days": round(age, 2), "max_age_days": limit, "stale": age > limit,
                                 "fetch": "; ".join(notes + errors)[:600], "offered": offered}


@enricher
def patch_index(context: dict):
    """Factory: one RunIndex per run; the returned function enriches each Debian/Ubuntu or RHEL-family host."""
    from checks.probe_catalogue import named

    dpkg_probe, sources_probe = named("dpkg_packages"), named("apt_sources")
    rpm_probe, repos_probe = named("rpm_packages"), named("yum_repos")
    started = context.get("run_started") or dt.datetime.now(dt.timezone.utc)
    run = RunIndex(_params(context), context.get("say"), now=started)

    def enrich_patch_index(facts: Facts, host) -> None:
        if dpkg_probe in facts.results and facts.get(dpkg_probe).rc == 0 and not facts.get(dpkg_probe).error:
            enrich_debian(run, facts, dpkg_probe, sources_probe)
        elif rpm_probe in facts.results:
            enrich_rpm(run, facts, rpm_probe, repos_probe)

    return enrich_patch_index
