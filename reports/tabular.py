"""Machine formats of a run document: CSV (one row per result, spreadsheet-safe) and JUnit XML (one
test suite per host, one test case per check) for CI systems and dashboards. JSON is the document
itself (docs/results-schema.md).
"""
from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET

FORMATS = ("json", "csv", "junit")
CSV_COLUMNS = ("run_id", "district", "school", "host", "address", "level", "host_status", "host_reason",
               "check_id", "status", "underlying", "severity", "references", "title", "message", "evidence")
# Characters XML 1.0 cannot carry at all; host text is hostile and may hold any of them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _cell(value) -> str:
    """A spreadsheet cannot be made to run a formula from host text: a leading = + - @ (or tab/CR) is
    quoted with an apostrophe, as OWASP advises for CSV injection."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(doc: dict, lang: str = "zh") -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for h in doc["hosts"]:
        base = [doc["run"]["id"], h.get("district"), h["school"], h["id"], h["address"], h.get("level"),
                h["status"], h.get("reason")]
        for r in h["results"]:
            w.writerow([_cell(v) for v in base + [
                r["check_id"], r["status"], r.get("underlying"), r["severity"], "; ".join(r["references"]),
                r["title"][lang], r["message"][lang], r["evidence"]]])
        if not h["results"]:
            w.writerow([_cell(v) for v in base] + [""] * (len(CSV_COLUMNS) - len(base)))
    return out.getvalue()


def _xml(text) -> str:
    return _NOT_XML.sub("\ufffd", "" if text is None else str(text))


def to_junit(doc: dict, lang: str = "zh") -> str:
    """fail → <failure>, error → <error>, not_applicable/manual/waived → <skipped>; an unreachable host
    is a suite whose one case, ``connection``, is an error with the reason."""
    root = ET.Element("testsuites", name=f"auditctl {doc['run']['id']}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for h in doc["hosts"]:
        suite = ET.SubElement(root, "testsuite", name=_xml(f"{h['school']}/{h['id']}"),
                              hostname=_xml(h["address"]))
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        if h["status"] != "audited":
            case = ET.SubElement(suite, "testcase", classname="fleet", name="connection")
            ET.SubElement(case, "error", message=_xml(h.get("reason")), type="unreachable").text = _xml(h.get("detail"))
            counts["tests"] += 1
            counts["errors"] += 1
        for r in h["results"]:
            case = ET.SubElement(suite, "testcase", classname=r["check_id"].split(".", 1)[0], name=r["check_id"])
            counts["tests"] += 1
            message = _xml(f"{r['title'][lang]} — {r['message'][lang]} [{'; '.join(r['references'])}]")
            if r["status"] == "fail":
                ET.SubElement(case, "failure", message=message, type=r["severity"]).text = _xml(r["evidence"])
                counts["failures"] += 1
            elif r["status"] == "error":
                ET.SubElement(case, "error", message=message, type="error").text = _xml(r["evidence"])
                counts["errors"] += 1
            elif r["status"] in ("not_applicable", "manual", "waived"):
                ET.SubElement(case, "skipped", message=_xml(f"{r['status']}: {r['message'][lang]}"))
                counts["skipped"] += 1
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
    for k, v in totals.items():
        root.set(k, str(v))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def dumps_indented(doc) -> str:
    """``json.dumps(doc, ensure_ascii=False, indent=2)``, byte for byte, in C when orjson is installed
    (the run document is ~125 KB per host: the pure-Python indenting encoder took ~10 ms per host)."""
    try:
        import orjson
    except ImportError:
        orjson = None
    if orjson is not None:
        try:
            return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()
        except TypeError:  # what orjson refuses (integers past 64 bits, keys that are not strings): the stdlib
            pass
    import json

    return json.dumps(doc, ensure_ascii=False, indent=2)


def render(doc: dict, fmt: str, lang: str = "zh") -> str:
    if fmt == "json":
        return dumps_indented(doc) + "\n"
    if fmt == "csv":
        return to_csv(doc, lang)
    if fmt == "junit":
        return to_junit(doc, lang)
    raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
