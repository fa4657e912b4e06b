"""MLPS scoring: item verdicts per host, the weighted 符合率, high-risk gating, fixes that raise the
score most, and roll-ups school → district → bureau. The method is documented in docs/scoring.md.

Pure functions of the run document's hosts. The verdict rules themselves (item verdicts, high-risk candidates,
the summable ``Tally`` of a score) live in ``audits.model.verdicts``, shared with the store's aggregates
(``audits.store.aggregates``, computed at ingest); their names are re-exported here.
"""
from __future__ import annotations

from collections import defaultdict

from audits.model.verdicts import AWAITING, Item, Tally, high_risks, host_items, point_of
from audits.model.verdicts import _clause_of, _judge  # top_fixes re-judges only the items a fixed check cites

# re-exported: what reports and tests have always taken from here
from audits.model.verdicts import item_table, round_half_up, verdict  # noqa: F401

__all__ = ["Tally", "awaiting", "high_risks", "host_items", "item_breakdown", "item_table", "point_of", "rollup",
           "round_half_up", "score_hosts", "system_scores", "top_fixes", "verdict"]


def awaiting(hosts: list[dict]) -> list[dict]:
    """Items awaiting evidence (待取证) on the audited hosts — they score 0 until answered — grouped by item and
    by what to attest: [{clause, weight, hosts, checks, attest: {zh, en}}], in clause order."""
    return _awaiting([(h["id"], host_items(h)) for h in hosts if h["status"] == "audited"])


def _awaiting(judged: list[tuple[str, dict[str, Item]]]) -> list[dict]:
    groups: dict[tuple, dict] = {}
    for hid, items in judged:
        for clause, item in items.items():
            if item.verdict == AWAITING:
                g = groups.setdefault((clause, item.ask["zh"]), {"clause": clause, "weight": item.weight, "hosts": [],
                                                                 "checks": sorted(item.checks), "attest": item.ask})
                g["hosts"].append(hid)
    return [groups[k] for k in sorted(groups, key=lambda k: (_clause_key(k[0]), k[1]))]


def _clause_key(clause: str) -> tuple:
    return [int(x) for x in clause.split()[0].split(".")], clause.split()[-1]


def score_hosts(hosts: list[dict]) -> dict:
    """The score of a set of hosts (one host, a system, a school).

    Per level present, an item's value is the mean of its scores over the hosts that assessed it; the
    符合率 is the weighted mean of those values over every assessed (level, item) pair, × 100."""
    audited = [h for h in hosts if h["status"] == "audited"]
    items = [host_items(h) for h in audited]
    out = _aggregate([(h["level"], it) for h, it in zip(audited, items)], [x for h in audited for x in high_risks(h)])
    out["awaiting"] = _awaiting([(h["id"], it) for h, it in zip(audited, items)])
    return out


def _aggregate(judged: list[tuple[int, dict[str, Item]]], risks: list[dict]) -> dict:
    tally = Tally()
    for level, items in judged:
        tally.add(level, items)
    tally.risks = len(risks)
    sc = tally.score()
    return {"rate": sc["rate"], "verdict": sc["verdict"], "high_risk": risks, "attested": sc["attested"],
            "items": sc["items"], "points": sc["points"]}


def system_scores(hosts: list[dict]) -> dict[str, dict]:
    """The score of each system (§3 over the audited hosts serving it; a host serving two systems counts in
    both), with its name, level and hosts. Hosts that serve no declared system are grouped under ""."""
    groups: dict[str, list[dict]] = defaultdict(list)
    info: dict[str, dict] = {}
    for h in hosts:
        for sy in h.get("systems") or [{"id": "", "name": "", "level": h.get("level")}]:
            groups[sy["id"]].append(h)
            info.setdefault(sy["id"], sy)
    out = {}
    for sid, hs in sorted(groups.items()):
        sc = score_hosts(hs)
        out[sid] = {"name": info[sid].get("name") or sid, "level": info[sid].get("level"),
                    "hosts": [h["id"] for h in hs], "rate": sc["rate"], "verdict": sc["verdict"],
                    "high_risk": len(sc["high_risk"])}
    return out


def item_breakdown(hosts: list[dict]) -> dict[str, list[dict]]:
    """Per control point, its items as judged on the audited hosts: how many hosts found each verdict and
    which checks failed on which hosts. Keys are control points ('1'..'11'), items sorted by clause."""
    acc: dict[str, dict] = {}
    for h in hosts:
        if h["status"] != "audited":
            continue
        for clause, item in host_items(h).items():
            row = acc.setdefault(clause, {"clause": clause, "weight": item.weight, "verdicts": defaultdict(int),
                                          "failing": defaultdict(list)})
            row["verdicts"][item.verdict] += 1
            for cid, st in item.checks.items():
                if st == "fail":
                    row["failing"][cid].append(h["id"])
    points: dict[str, list[dict]] = defaultdict(list)
    for clause in sorted(acc, key=_clause_key):
        row = acc[clause]
        points[point_of(clause)].append({**row, "verdicts": dict(row["verdicts"]),
                                         "failing": {c: hs for c, hs in sorted(row["failing"].items())}})
    return dict(sorted(points.items(), key=lambda kv: int(kv[0])))


def _cited(host: dict) -> tuple[dict[str, dict[str, dict]], dict[str, set[str]]]:
    """The host's results by the items they cite (clause -> check id -> its last result citing it, as
    ``host_items`` gathers them) and the items each check cites (check id -> clauses)."""
    clause_of = _clause_of(host.get("level") or 0)
    cited: dict[str, dict[str, dict]] = {}
    touched: dict[str, set[str]] = defaultdict(set)
    for r in host["results"]:
        for ref in r["references"]:
            clause = clause_of.get(ref)
            if clause is not None:
                cited.setdefault(clause, {})[r["check_id"]] = r
                touched[r["check_id"]].add(clause)
    return cited, touched


def _rejudged(host: dict, items: dict[str, Item], check_id: str, cited=None) -> dict[str, Item]:
    """``host_items`` of the host as if ``check_id``'s failed results there had passed, from ``items``
    (its items as they are): only the items that check cites are judged again (top_fixes asks this once
    per failing check and host). ``cited``: ``_cited(host)``, when the caller asks for several checks."""
    level = host.get("level") or 0
    table = item_table()
    weights = table.weights.get(level)
    results = host["results"]
    if not items or not weights:
        return host_items(dict(host, results=[dict(r, status="pass") if r["check_id"] == check_id and
                                              r["status"] == "fail" else r for r in results]))
    by_clause, touched = cited if cited is not None else _cited(host)
    again = {}
    for c in touched.get(check_id, ()):
        rows = by_clause[c]
        r = rows[check_id]  # the check's last result citing c: the one every judgement of c sees
        if r["status"] == "fail":
            rows = {**rows, check_id: dict(r, status="pass")}
        again[c] = _judge(table, c, weights[c], rows)
    return {**items, **again}


def top_fixes(hosts: list[dict], n: int = 10) -> list[dict]:
    """The checks whose fixing (on every host where they fail) raises the 符合率 most, best first.
    Only the hosts where a check fails are judged again for it."""
    audited = [h for h in hosts if h["status"] == "audited"]
    items = [host_items(h) for h in audited]
    risks = [high_risks(h) for h in audited]
    base = _aggregate([(h["level"], it) for h, it in zip(audited, items)], [x for rs in risks for x in rs])
    if base["rate"] is None:
        return []
    failing_on: dict[str, list[int]] = defaultdict(list)
    for i, h in enumerate(audited):
        for cid in sorted({r["check_id"] for r in h["results"] if r["status"] == "fail"}):
            failing_on[cid].append(i)
    out = []
    cited = {i: _cited(audited[i]) for i in sorted({i for where in failing_on.values() for i in where})}
    for cid, where in sorted(failing_on.items()):
        new_items, new_risks = list(items), list(risks)
        for i in where:
            # as if cid's failures on this host passed: only the items cid cites change, and only its
            # unwaived high-risk candidates go (a waived failure stays one)
            new_items[i] = _rejudged(audited[i], items[i], cid, cited[i])
            new_risks[i] = [x for x in risks[i] if x["check_id"] != cid or x["waived"]]
        after = _aggregate([(h["level"], it) for h, it in zip(audited, new_items)], [x for rs in new_risks for x in rs])
        gain = round_half_up((after["rate"] or 0) - base["rate"], 1)
        lifts_cap = len(after["high_risk"]) < len(base["high_risk"])
        if gain > 0 or lifts_cap:
            out.append({"check_id": cid, "gain": gain, "hosts": len(where), "removes_high_risk": lifts_cap})
    out.sort(key=lambda f: (-f["removes_high_risk"], -f["gain"], f["check_id"]))
    return out[:n]


def rollup(hosts: list[dict]) -> dict:
    """Scores per school (with its systems), per district (mean of its schools' rates) and for the whole run
    (mean of schools); per city too (mean of its schools' rates) when the hosts carry a ``city``.
    reports/rollup_sql.py computes the same numbers (systems aside) as SQL aggregations over a results store."""
    by_school: dict[str, list[dict]] = defaultdict(list)
    district_of: dict[str, str] = {}
    city_of: dict[str, str] = {}
    for h in hosts:
        by_school[h["school"]].append(h)
        district_of[h["school"]] = h.get("district") or ""
        city_of[h["school"]] = h.get("city") or ""
    schools = {s: {**score_hosts(hs), "district": district_of[s], "systems": system_scores(hs)}
               for s, hs in sorted(by_school.items())}
    districts: dict[str, list[str]] = defaultdict(list)
    cities: dict[str, list[str]] = defaultdict(list)
    for s, sc in schools.items():
        districts[sc["district"]].append(s)
        cities[city_of[s]].append(s)

    def mean(names):
        rates = [schools[s]["rate"] for s in names if schools[s]["rate"] is not None]
        return round_half_up(sum(rates) / len(rates), 1) if rates else None

    def group(by):
        return {k: {"rate": mean(ss), "schools": len(ss), "high_risk_schools": sum(1 for s in ss if schools[s]["high_risk"])}
                for k, ss in sorted(by.items())}

    out = {"method": "docs/scoring.md", "schools": schools, "districts": group(districts),
           "overall": {"rate": mean(schools), "schools": len(schools)}}
    if any(h.get("city") for h in hosts):
        out["cities"] = group(cities)
    return out
