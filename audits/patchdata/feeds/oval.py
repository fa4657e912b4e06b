"""OVAL definitions of the Debian family, streamed with defusedxml's ``iterparse`` (no DTD, no entities):
Canonical's ``com.ubuntu.<codename>.cve.oval.xml(.bz2)`` and Debian's ``oval-definitions-<codename>.xml``.

A ``definition`` (class vulnerability) names its CVE (``reference@ref_id`` or the title), its severity
(``advisory/severity``) and, through ``criterion@test_ref``, ``dpkginfo_test``s. A test's object names the
package (directly or through a ``constant_variable`` of binary names); its state, ``evr`` "less than" V,
makes V the fixed version; a test without a state asks only whether the package is installed, and the
criterion's comment says how Ubuntu triaged it (needs fixing → affected, defer → fix deferred, ignore →
will not fix, may need fixing / not known → undetermined; Debian's say nothing: affected). Rows are
keyed on the *source* package: Ubuntu's criterion comment names it ("openssl package in jammy was
vulnerable but has been fixed"), Debian's object does. The release comes from the definition ids
(``oval:com.ubuntu.jammy:…``), the platform ("Debian GNU/Linux 12") or the file name. The file's date is the
``generator/timestamp``. Memory holds the small maps of tests, objects, states and variables, never the tree.
"""
from __future__ import annotations

import re

from defusedxml import ElementTree as ET
from defusedxml.common import DefusedXmlException

from audits.patchdata.feeds import Advisory, FeedError, FeedInfo, check_row, clean_text, shaped
from audits.patchdata.releases import DEBIAN, debian_release

SEVERITY = {"critical": "critical", "high": "high", "important": "high", "medium": "medium", "moderate": "medium",
            "low": "low", "negligible": "negligible", "unimportant": "negligible"}
_CVE = re.compile(r"CVE-\d{4}-\d{4,}")
_UBUNTU_ID = re.compile(r"^oval:com\.ubuntu\.([a-z]+):")
_SRC_COMMENT = re.compile(r"^(?:The ')?([A-Za-z0-9][A-Za-z0-9.+-]*)'?(?: source)? package in ")
# Ubuntu's criterion comments carry the triage (its tests without a state only ask "is it installed?")
_COMMENT_STATUS = (("pending publication", "pending"), ("has been fixed", "fixed"), ("is not affected", "not_affected"),
                   ("decision has been made to defer", "fix_deferred"), ("decision has been made to ignore", "will_not_fix"),
                   ("may need fixing", "undetermined"), ("not known", "undetermined"), ("needs fixing", "affected"))


def comment_status(comment: str) -> str:
    """The status a criterion comment states ('' when it states none, as in Debian's OVAL)."""
    low = comment.lower()
    return next((st for phrase, st in _COMMENT_STATUS if phrase in low), "")
_DEB_PLATFORM = re.compile(r"Debian GNU/Linux (\d+)")
_FILE_CODENAME = re.compile(r"(?:oval-definitions-|com\.ubuntu\.)([a-z]+)[.-]")
CONTAINERS = {"definitions", "tests", "objects", "states", "variables"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


@shaped
def rows(stream, name: str, info: FeedInfo):
    defs: list = []          # (cve, severity, release, [(test_ref, source name or '')])
    tests: dict = {}         # test id → (object ref, state ref)
    objects: dict = {}       # object id → (names, var ref)
    states: dict = {}        # state id → (evr, operation)
    variables: dict = {}     # var id → [values]
    file_release = ""
    m = _FILE_CODENAME.search(name.rsplit("/", 1)[-1])
    if m:
        file_release = debian_release(m.group(1))
    source = "ubuntu-oval" if ".ubuntu." in name or "ubuntu" in file_release else "debian-oval"
    container = None
    n = 0
    try:
        for event, el in ET.iterparse(stream, events=("start", "end"), forbid_dtd=True):
            tag = _local(el.tag)
            if event == "start":
                if tag in CONTAINERS:
                    container = el
                continue
            if tag == "timestamp" and not info.as_of:
                info.as_of = (el.text or "").strip()[:40]
            elif tag == "definition":
                d = _definition(el, file_release)
                if d:
                    defs.append(d)
                    if d[2].startswith("ubuntu:"):
                        source = "ubuntu-oval"
            elif tag.endswith("_test") and el.get("id"):
                obj = st = ""
                for c in el:
                    if _local(c.tag) == "object":
                        obj = c.get("object_ref", "")
                    elif _local(c.tag) == "state":
                        st = c.get("state_ref", "")
                tests[el.get("id")] = (obj, st)
            elif tag.endswith("_object") and el.get("id"):
                names, var = [], ""
                for c in el:
                    if _local(c.tag) == "name":
                        var = c.get("var_ref", "")
                        if c.text and c.text.strip():
                            names.append(c.text.strip())
                objects[el.get("id")] = (names, var)
            elif tag.endswith("_state") and el.get("id"):
                for c in el:
                    if _local(c.tag) == "evr":
                        states[el.get("id")] = ((c.text or "").strip(), c.get("operation", "equals"))
            elif tag == "constant_variable" and el.get("id"):
                variables[el.get("id")] = [(v.text or "").strip() for v in el if _local(v.tag) == "value"][:500]
            else:
                continue
            el.clear()
            n += 1
            if container is not None and n % 1000 == 0:
                container.clear()  # drop the emptied elements the parser keeps under the container
    except ET.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else 0
        raise FeedError(name, line, "XML", f"not well-formed: {clean_text(str(exc), 200)}") from None
    except DefusedXmlException as exc:
        raise FeedError(name, 0, "XML", f"refused: {type(exc).__name__}") from None
    info.sources.add(source)
    info.full = True
    for cve, sev, release, crits in defs:
        info.documents += 1
        seen = set()
        for test_ref, src_name, said in crits:
            obj_ref, ste_ref = tests.get(test_ref, ("", ""))
            names, var = objects.get(obj_ref, ([], ""))
            pkgs = [src_name] if src_name else (names or variables.get(var, [])[:1])
            evr, op = states.get(ste_ref, ("", ""))
            if ste_ref and (op != "less than" or not evr):
                continue  # a state we do not read (equals, greater than): never guess
            fixed = evr[2:] if evr.startswith("0:") else evr
            for pkg in pkgs:
                if (pkg, fixed) in seen or not pkg:
                    continue
                seen.add((pkg, fixed))
                if fixed in ("0", ""):
                    if ste_ref:  # "less than 0": nothing is below it
                        continue
                    status = said if said in ("affected", "fix_deferred", "will_not_fix", "undetermined",
                                              "not_affected") else "affected"
                    a = Advisory(source, release, pkg, "source", cve, status, severity=sev, doc=cve)
                else:  # "pending publication": fixed, not yet in the archive
                    a = Advisory(source, release, pkg, "source", cve, "fixed", fixed_version=fixed, severity=sev,
                                 released=0 if said == "pending" else 1, doc=cve,
                                 note="update pending publication" if said == "pending" else "")
                yield check_row(a, name, 0, f"definition {cve}")


def _definition(el, file_release: str):
    if el.get("class") not in ("vulnerability", "patch"):
        return None
    m = _UBUNTU_ID.match(el.get("id", ""))
    release = debian_release(m.group(1)) if m else ""
    cve, sev, crits = "", "unknown", []
    for c in el.iter():
        t = _local(c.tag)
        if t == "reference" and not cve and _CVE.fullmatch(c.get("ref_id", "")):
            cve = c.get("ref_id")
        elif t == "title" and not cve:
            mm = _CVE.search(c.text or "")
            cve = mm.group(0) if mm else ""
        elif t == "severity":
            sev = SEVERITY.get((c.text or "").strip().lower(), sev)
        elif t == "platform" and not release:
            mm = _DEB_PLATFORM.search(c.text or "")
            if mm and mm.group(1) in DEBIAN.values():
                release = f"debian:{mm.group(1)}"
        elif t == "criterion" and c.get("test_ref"):
            comment = c.get("comment", "")
            mm = _SRC_COMMENT.match(comment)
            crits.append((c.get("test_ref"), mm.group(1) if mm else "", comment_status(comment)))
    release = release or file_release
    if not cve or not release or not crits:
        return None
    return cve, sev, release, crits
