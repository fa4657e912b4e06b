"""Log shipping agents' configuration: where each one sends what it collects. One reader per agent,
each from the agent's documented configuration language, all read from ``grep -Hs ''`` output:

- filebeat (``/etc/filebeat/filebeat.yml``): the ``output.<type>`` section (``logstash``,
  ``elasticsearch``, ``kafka``, ``redis``) and its ``hosts``; ``output.file`` / ``output.console``
  keep logs on the host.
- fluent-bit (``fluent-bit.conf`` / td-agent-bit): ``[OUTPUT]`` sections (``Name``, ``Host``); the
  YAML form's ``outputs:`` items (``name``, ``host``). ``stdout``, ``file``, ``null``, ``counter``
  keep logs on the host.
- vector (``vector.yaml`` / ``vector.toml``): sinks (``[sinks.NAME]`` with ``type``) other than
  ``console``, ``file``, ``blackhole``.
- wazuh-agent / OSSEC agent (``/var/ossec/etc/ossec.conf``): ``<client><server><address>``.
- nxlog (``nxlog.conf``): ``<Output>`` blocks with a network ``Module`` (``om_tcp``, ``om_udp``,
  ``om_ssl``, ``om_http``, ``om_batchcompress``, ``om_kafka``...) and their ``Host``/``URL``.
- systemd-journal-upload (``/etc/systemd/journal-upload.conf`` and ``.conf.d``): ``URL=`` under
  ``[Upload]``.

Only the destination is returned: credentials in these files (filebeat ``password``, nxlog
``HTTPBasicAuth``…) are never part of the result. Pure functions, no I/O.
"""
from __future__ import annotations

import re

# agent → the file paths its configuration lives in (prefixes), and its process names (``ps -o comm``)
AGENTS = {
    "filebeat": {"paths": ("/etc/filebeat/",), "procs": ("filebeat",)},
    "fluent-bit": {"paths": ("/etc/fluent-bit/", "/etc/td-agent-bit/"), "procs": ("fluent-bit", "td-agent-bit")},
    "vector": {"paths": ("/etc/vector/",), "procs": ("vector",)},
    "wazuh-agent": {"paths": ("/var/ossec/etc/",), "procs": ("wazuh-agentd", "ossec-agentd")},
    "nxlog": {"paths": ("/etc/nxlog/", "/etc/nxlog.conf"), "procs": ("nxlog",)},
    "systemd-journal-upload": {"paths": ("/etc/systemd/journal-upload.conf",), "procs": ()},
}

_LOCAL_SINKS = {"stdout", "file", "null", "counter", "console", "blackhole", "discard"}
_MAX = 200


def _short(text: str) -> str:
    return re.sub(r"[^\w.:/\[\]@,\- ]", "", text)[:_MAX]


def _host_of(value: str) -> str:
    """A host out of 'host:port', 'tcp://host:port/path', '["a:5044", "b:5044"]'."""
    v = value.strip().strip("[]").split(",")[0].strip().strip("'\"")
    v = re.sub(r"^[a-z][a-z0-9+.-]*://", "", v, flags=re.I)
    v = v.split("/", 1)[0].split("@")[-1]
    if v.startswith("["):
        return v[1:v.index("]")] if "]" in v else v
    return v.rsplit(":", 1)[0] if v.count(":") == 1 else v


def _filebeat(lines: list[str]) -> list[dict]:
    out, section, stype = [], None, None
    for ln in lines:
        raw = ln.rstrip()
        indent = len(raw) - len(raw.lstrip())
        s = raw.strip()
        m = re.match(r"^output\.(\w+)(?:\.hosts)?\s*:\s*(.*)$", s)
        if indent == 0 and m:
            section, stype = "output", m.group(1).lower()
            rest = m.group(2)
            if s.split(":")[0].endswith(".hosts") and rest:
                out.append({"type": stype, "target": _host_of(rest), "line": s})
            elif stype in ("file", "console"):
                out.append({"type": stype, "target": "", "line": s})
            continue
        if indent == 0 and s and not s.startswith("-"):
            section = None
            continue
        if section == "output":
            hm = re.match(r"^hosts\s*:\s*(.+)$", s)
            if hm:
                out.append({"type": stype, "target": _host_of(hm.group(1)), "line": f"output.{stype}: {s}"})
            elif s.startswith("- ") and out and out[-1]["type"] == stype and not out[-1]["target"]:
                out[-1]["target"] = _host_of(s[2:])
            elif s == "hosts:":
                out.append({"type": stype, "target": "", "line": f"output.{stype}: hosts"})
    return out


def _fluentbit(lines: list[str]) -> list[dict]:
    out, cur = [], None
    yaml_items: list[dict] = []
    in_outputs = False
    for ln in lines:
        s = ln.strip()
        if s.startswith("["):
            cur = {"type": "", "target": "", "line": s} if s.upper() == "[OUTPUT]" else None
            if cur is not None:
                out.append(cur)
            continue
        if cur is not None:
            k, _, v = s.partition(" ")
            if k.lower() == "name":
                cur["type"] = v.strip().lower()
            elif k.lower() == "host":
                cur["target"] = v.strip()
            continue
        # YAML form: pipeline: outputs: - name: forward / host: ...
        if re.match(r"^outputs\s*:\s*$", s):
            in_outputs = True
            continue
        if in_outputs:
            if re.match(r"^(inputs|filters|service|parsers)\s*:", s):
                in_outputs = False
                continue
            m = re.match(r"^-?\s*(name|host)\s*:\s*(\S+)", s)
            if m and m.group(1) == "name" and s.startswith("-"):
                yaml_items.append({"type": m.group(2).strip("'\"").lower(), "target": "", "line": s})
            elif m and m.group(1) == "host" and yaml_items:
                yaml_items[-1]["target"] = m.group(2).strip("'\"")
    return out + yaml_items


def _vector(lines: list[str]) -> list[dict]:
    out, cur, in_sinks, sink_indent = [], None, False, None
    for ln in lines:
        raw = ln.rstrip()
        s = raw.strip()
        m = re.match(r"^\[sinks\.([\w-]+)\]$", s)
        if m:
            cur = {"type": "", "target": "", "line": s}
            out.append(cur)
            continue
        if s.startswith("[") and s.endswith("]"):
            cur = None
            in_sinks = False
            continue
        if re.match(r"^sinks\s*:\s*$", raw):
            in_sinks, cur, sink_indent = True, None, None
            continue
        if in_sinks and raw and not raw[0].isspace():
            in_sinks, cur = False, None
        indent = len(raw) - len(raw.lstrip())
        if in_sinks and re.match(r"^\s+[\w-]+\s*:\s*$", raw) and (sink_indent is None or indent == sink_indent):
            sink_indent = indent
            cur = {"type": "", "target": "", "line": f"sinks.{s.rstrip(':').strip()}"}
            out.append(cur)
            continue
        if cur is not None:
            m = re.match(r"""^(type|address|endpoint|endpoints|uri|bootstrap_servers)\s*[:=]\s*(.+)$""", s)
            if m:
                val = m.group(2).strip().strip("'\"")
                if m.group(1) == "type":
                    cur["type"] = val.lower()
                elif not cur["target"]:
                    cur["target"] = _host_of(val)
            elif s.startswith("- ") and not cur["target"]:
                cur["target"] = _host_of(s[2:])
    return out


def _wazuh(lines: list[str]) -> list[dict]:
    text = " ".join(lines)
    out = []
    for block in re.findall(r"<client>(.*?)</client>", text, re.S | re.I):
        for addr in re.findall(r"<address>\s*([^<\s]+)\s*</address>", block, re.I):
            out.append({"type": "wazuh-manager", "target": addr, "line": f"<client><server><address>{_short(addr)}"})
    return out


def _nxlog(lines: list[str]) -> list[dict]:
    out, cur = [], None
    for ln in lines:
        s = ln.strip()
        if re.match(r"^<Output\b", s, re.I):
            cur = {"type": "", "target": "", "line": s}
            out.append(cur)
            continue
        if re.match(r"^</Output>", s, re.I):
            cur = None
            continue
        if cur is not None:
            m = re.match(r"^(Module|Host|URL)\s+(\S+)", s, re.I)
            if m:
                key, val = m.group(1).lower(), m.group(2)
                if key == "module":
                    cur["type"] = val.lower()
                elif not cur["target"]:
                    cur["target"] = _host_of(val)
    return [o for o in out if o["type"] != "om_file"] + [
        {**o, "type": "file"} for o in out if o["type"] == "om_file"]


def _journal_upload(lines: list[str]) -> list[dict]:
    out, section = [], ""
    for ln in lines:
        s = ln.strip()
        if s.startswith("["):
            section = s
            continue
        k, eq, v = s.partition("=")
        if eq and section == "[Upload]" and k.strip() == "URL" and v.strip():
            url = re.sub(r"//[^/@\s]*@", "//", v.strip())  # never show user:password@ of a URL
            out.append({"type": "journal-remote", "target": _host_of(url), "line": f"[Upload] URL={_short(url)}"})
    return out


_READERS = {"filebeat": _filebeat, "fluent-bit": _fluentbit, "vector": _vector, "wazuh-agent": _wazuh,
            "nxlog": _nxlog, "systemd-journal-upload": _journal_upload}


def grep_lines(text: str) -> dict[str, list[str]]:
    """``grep -Hs ''`` output → {path: lines}, indentation kept (YAML needs it), comments and blank lines dropped."""
    out: dict[str, list[str]] = {}
    for ln in (text or "").splitlines():
        path, sep, line = ln.partition(":")
        if not sep or not path.startswith("/"):
            continue
        out.setdefault(path, [])
        if line.strip() and not line.lstrip().startswith("#"):
            out[path].append(line.rstrip()[:2000])
    return out


def agent_outputs(text: str) -> list[dict]:
    """Every configured output of every known agent in ``grep -Hs ''`` output:
    [{agent, type, target, remote, where}]. ``remote`` is False for outputs that keep logs on the
    host (a file, the console) or name no host."""
    by_file = grep_lines(text)
    out = []
    for agent, spec in AGENTS.items():
        for path, lines in by_file.items():
            if not path.startswith(spec["paths"]):
                continue
            for o in _READERS[agent](lines):
                target = _short(o["target"])
                remote = bool(target) and o["type"] not in _LOCAL_SINKS
                out.append({"agent": agent, "type": _short(o["type"]), "target": target, "remote": remote,
                            "where": f"{path}: {_short(o['line'])}"})
    return out


def agent_of_process(comm: str) -> str | None:
    """The agent a process name (``ps -o comm``, cut to 15 characters) belongs to."""
    for agent, spec in AGENTS.items():
        if comm in {p[:15] for p in spec["procs"]}:
            return agent
    return None


__all__ = ["AGENTS", "agent_outputs", "agent_of_process", "grep_lines"]
