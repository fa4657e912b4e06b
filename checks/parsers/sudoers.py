"""sudoers(5): ``/etc/sudoers`` and ``/etc/sudoers.d`` as read by ``grep -rH ^``, with sudo's semantics.

Reading: sudo starts at ``/etc/sudoers`` and reads an ``@include``/``#include`` file or the files of
an ``@includedir``/``#includedir`` directory (names without ``.`` and not ending in ``~``, in lexical
order) at the place of the directive — a file in ``/etc/sudoers.d`` that no directive reads is not
read. ``\\`` continues a line; ``#`` starts a comment unless it is ``#include…`` or a ``#uid``.
Aliases (``User_Alias``, ``Runas_Alias``, ``Host_Alias``, ``Cmnd_Alias``, several per line with ``:``)
are expanded, ``!`` included. In a command list the Runas list and the tags (``NOPASSWD``/``PASSWD``,
``NOEXEC``/``EXEC``) carry over to the commands after them. ``Defaults`` (global, ``:user``, ``!cmnd``)
may turn ``authenticate`` off or ``noexec`` on.

Judging (``root_grants``): which rules let a user become root without a password — ``ALL``, a
Cmnd_Alias of ALL, a whole directory of programs, or any command with a known shell escape
(``sudo_escapes.yaml``: shells, su, editors, pagers, interpreters, ``find -exec``, ``tar
--checkpoint-action``, ``rsync -e``, …). ``!command`` entries never restrict ``ALL``: the user can run
another shell or a copy of the excluded program. NOEXEC defeats escapes that need to execute a program.
Pure functions (the escape list is package data read once), no host I/O.
"""
from __future__ import annotations

import functools
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from audits.model.once import once

_TAG = re.compile(r"^\s*(NOPASSWD|PASSWD|NOEXEC|EXEC|SETENV|NOSETENV|LOG_INPUT|NOLOG_INPUT|LOG_OUTPUT|NOLOG_OUTPUT|"
                  r"MAIL|NOMAIL|FOLLOW|NOFOLLOW|INTERCEPT|NOINTERCEPT)\s*:")
_OPTION = re.compile(r"^\s*(ROLE|TYPE|CWD|CHROOT|TIMEOUT|NOTBEFORE|NOTAFTER|APPARMOR_PROFILE|PRIVS|LIMITPRIVS)\s*=\s*\S+")
_DIGEST = re.compile(r"^\s*(sha224|sha256|sha384|sha512)\s*:\s*\S+\s+")
_ALIAS = re.compile(r"^(User_Alias|Runas_Alias|Host_Alias|Cmnd_Alias|Cmd_Alias)\s+(.*)$")
_ALIAS_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_HOST_SEGMENT = re.compile(r"\s:\s*(?=[^\s=:()]+\s*=)")
_INCLUDE = re.compile(r"^[@#](include|includedir)\s+(\S+|\"[^\"]+\")\s*$")
_WILD = re.compile(r"(?<!\\)[*?\[]")
ROOT_RUNAS = {"ALL", "root", "#0"}
BIN_DIRS = ("/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/usr/local/bin/", "/usr/local/sbin/")
ESCAPES_FILE = Path(__file__).with_name("sudo_escapes.yaml")
MAX_READ = 20000
SENSITIVE = re.compile(r"(^|\s)/etc/(sudoers|shadow|passwd|group|gshadow|crontab|cron\.d|pam\.d|ssh/sshd_config)")


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside parentheses and not escaped with ``\\`` ('(alice, bob : staff)' stays whole).
    By tokens (an escape and its character, a parenthesis, ``sep``, a run of anything else), not by character:
    the audit account's own Cmnd_Alias is ~5 KB."""
    if "\\" not in text and "(" not in text and ")" not in text:
        return [s.strip() for s in text.split(sep) if s.strip()]
    out, depth, cur = [], 0, []
    for tok in _split_tokens(sep).findall(text):
        if tok == sep and depth == 0:
            out.append("".join(cur))
            cur = []
            continue
        depth += tok == "("
        depth -= tok == ")"
        cur.append(tok)
    out.append("".join(cur))
    return [s.strip() for s in out if s.strip()]


@functools.lru_cache(maxsize=8)
def _split_tokens(sep: str) -> re.Pattern:
    s = re.escape(sep)
    return re.compile(rf"\\.?|[()]|{s}|[^\\(){s}]+", re.S)


def _logical(raw_lines: list[str]) -> list[str]:
    """Continuations joined, comments dropped (``#include`` directives and ``#uid`` kept)."""
    out, pending = [], ""
    for line in raw_lines:
        line = pending + line
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        s = line.strip()
        if _INCLUDE.match(s):
            out.append(s)
            continue
        s = re.sub(r"(?<!\\)#(?!\d).*$", "", s).strip()  # '#1000' is a uid, not a comment
        if s:
            out.append(s)
    if pending.strip():
        out.append(pending.strip())
    return out


def sudoers_files(text: str) -> dict[str, list[str]]:
    """``grep -rH ^`` output → {path: raw lines} in the order printed."""
    files: dict[str, list[str]] = {}
    for raw in text.splitlines():
        path, sep, line = raw.partition(":")
        if sep and path.startswith("/"):
            files.setdefault(path, []).append(line)
    return files


def _dir_members(files: dict, directory: str) -> list[str]:
    d = directory.rstrip("/") + "/"
    return sorted(p for p in files if p.startswith(d) and "/" not in p[len(d):]
                  and "." not in p[len(d):] and not p.endswith("~"))


def read_order(text: str, start: str = "/etc/sudoers") -> tuple[list[tuple[str, str]], list[str]]:
    """((file, logical line) in the order sudo reads them, included paths that were not gathered).

    Paths outside /etc/sudoers and /etc/sudoers.d are not gathered by the probe; one named by a
    directive is returned as unread. Without /etc/sudoers in the text, every file is read in turn.
    The last answers are remembered (six checks of a host read the same text); each call returns new lists."""
    out, unread = _read_order(text, start)
    return list(out), list(unread)


@functools.lru_cache(maxsize=64)
def _read_order(text: str, start: str) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    files = sudoers_files(text)
    out: list[tuple[str, str]] = []
    unread: list[str] = []

    budget = [MAX_READ]

    def read(path: str, depth: int, chain: tuple = ()):
        # sudo refuses include loops and nests at most 128 deep; a hostile host's files are read at most
        # MAX_READ lines in all (a directory whose files include it again would otherwise explode)
        if depth > 128 or path in chain:
            return
        chain = chain + (path,)
        for s in _logical(files.get(path, [])):
            budget[0] -= 1
            if budget[0] < 0:
                unread.append(f"{path} (more than {MAX_READ} lines through includes)")
                return
            m = _INCLUDE.match(s)
            if not m:
                out.append((path, s))
                continue
            target = m.group(2).strip('"')
            if "%h" in target:
                unread.append(target)
                continue
            if not target.startswith("/"):  # sudo >= 1.9.1: relative to the including file's directory
                target = posixpath.join(posixpath.dirname(path), target)
            if m.group(1) == "includedir":
                if not (target == "/etc/sudoers.d" or target.startswith("/etc/sudoers.d/")):
                    unread.append(target + "/")
                for member in _dir_members(files, target):
                    read(member, depth + 1, chain)
            elif target in files:
                read(target, depth + 1, chain)
            elif not (target == "/etc/sudoers" or target.startswith("/etc/sudoers.d/")):
                unread.append(target)

    if start in files:
        read(start, 0)
    else:
        for path in files:
            if "/etc/sudoers.d/" in path and (path.endswith("~") or "." in path.rsplit("/", 1)[-1]):
                continue
            for s in _logical(files[path]):
                if not _INCLUDE.match(s):
                    out.append((path, s))
    return tuple(out), tuple(dict.fromkeys(unread))


def sudoers_lines(text: str) -> list[tuple[str, str]]:
    """(file, logical line) of everything sudo reads, include directives left out."""
    return read_order(text)[0]


# --------------------------------------------------------------------------------------------- aliases
def aliases(lines: list[tuple[str, str]]) -> dict[str, dict[str, list[str]]]:
    """{'User'|'Runas'|'Host'|'Cmnd': {NAME: members}} from the alias definitions read."""
    out: dict[str, dict[str, list[str]]] = {"User": {}, "Runas": {}, "Host": {}, "Cmnd": {}}
    for _, s in lines:
        m = _ALIAS.match(s)
        if not m:
            continue
        kind = "Cmnd" if m.group(1) in ("Cmnd_Alias", "Cmd_Alias") else m.group(1).split("_")[0]
        for part in split_top_level(m.group(2), ":"):
            name, eq, members = part.partition("=")
            if eq:
                out[kind][name.strip()] = split_top_level(members)
    return out


def expand(items: list[str], table: dict[str, list[str]], _depth: int = 0) -> list[str]:
    """Alias names replaced by their members (recursively); a ``!`` before an alias negates each member."""
    out = []
    for it in items:
        neg = ""
        body = it.strip()
        while body.startswith("!"):
            neg = "" if neg else "!"
            body = body[1:].strip()
        if _ALIAS_NAME.match(body) and body != "ALL" and body in table and _depth < 32:
            for member in expand(table[body], table, _depth + 1):
                if neg:
                    member = member[1:] if member.startswith("!") else "!" + member
                out.append(member)
        else:
            out.append(neg + body)
    return out


# --------------------------------------------------------------------------------------------- rules
@dataclass
class Command:
    path: str                    # ALL, an absolute path, a directory ending in '/', sudoedit, or an alias left unexpanded
    args: str | None             # None: any arguments; '': none allowed; else the fixed argument text
    negated: bool = False
    runas_users: list[str] | None = None   # None: no Runas list (root)
    runas_groups: list[str] | None = None
    tags: dict = field(default_factory=dict)
    via: str = ""                # the Cmnd_Alias it came from, if any


@dataclass
class Rule:
    file: str
    line: str
    users: list[str]
    hosts: list[str]
    commands: list[Command]


def _command(text: str) -> tuple[str, str | None]:
    text = _DIGEST.sub("", text).strip()
    m = re.match(r"^((?:\\.|\S)+)\s*(.*)$", text)
    if not m:
        return text, None
    path, rest = m.group(1), m.group(2).strip()
    if not rest:
        return path, None
    if rest == '""':
        return path, ""
    return path, rest


def rules(text: str) -> tuple[list[Rule], dict]:
    """(user specifications in read order with aliases expanded, the alias tables)."""
    lines = sudoers_lines(text)
    table = aliases(lines)
    out = []
    for path, s in lines:
        if s.startswith("Defaults") or _ALIAS.match(s) or "=" not in s:
            continue
        lhs, _, rhs = s.partition("=")
        who = re.sub(r"\s*,\s*", ",", lhs.strip()).split()
        if len(who) < 2:
            continue
        users = expand(who[0].split(","), table["User"])
        hosts = expand(who[1].split(","), table["Host"])
        cmds: list[Command] = []
        for i, seg in enumerate(_HOST_SEGMENT.split(rhs)):
            if i:
                seg = re.sub(r"^[^\s=:()]+\s*=\s*", "", seg)  # ': otherhost = …'
            runas_u, runas_g, tags = None, None, {}
            for item in split_top_level(seg):
                m = re.match(r"^\(([^)]*)\)\s*", item)
                if m:
                    u, colon, g = m.group(1).partition(":")
                    runas_u = expand(split_top_level(u), table["Runas"]) if u.strip() else ([] if colon else None)
                    runas_g = expand(split_top_level(g), table["Runas"]) if colon and g.strip() else None
                    if not u.strip() and not colon:
                        runas_u = None
                    item = item[m.end():]
                while True:
                    m = _OPTION.match(item) or _TAG.match(item)
                    if not m:
                        break
                    if m.re is _TAG:
                        tag = m.group(1)
                        for on, off in (("NOPASSWD", "PASSWD"), ("NOEXEC", "EXEC")):
                            if tag in (on, off):
                                tags = {**tags, on: tag == on}
                    item = item[m.end():]
                neg = False
                body = item.strip()
                while body.startswith("!"):
                    neg, body = not neg, body[1:].strip()
                members = [body]
                via = ""
                if _ALIAS_NAME.match(body) and body != "ALL" and body in table["Cmnd"]:
                    members, via = expand([body], table["Cmnd"]), body
                for mem in members:
                    mneg = neg
                    while mem.startswith("!"):
                        mneg, mem = not mneg, mem[1:].strip()
                    p, a = _command(mem)
                    cmds.append(Command(p, a, mneg, runas_u, runas_g, dict(tags), via))
        out.append(Rule(path, s, users, hosts, cmds))
    return out, table


def rule_lines(text: str) -> list[tuple[str, str]]:
    """(file, line) of the user specifications (not Defaults, not alias definitions), in read order."""
    return [(p, s) for p, s in sudoers_lines(text) if not s.startswith("Defaults") and not _ALIAS.match(s) and "=" in s]


# --------------------------------------------------------------------------------------------- Defaults
@dataclass
class DefaultsState:
    authenticate: bool = True
    per_user: dict = field(default_factory=dict)      # user -> {authenticate: bool, noexec: bool}
    per_cmnd: list = field(default_factory=list)      # (command path, setting, value)
    noexec: bool = False
    lines: list = field(default_factory=list)         # (file, users or ['ALL'], line) turning authentication off


def defaults(text: str) -> DefaultsState:
    """The ``authenticate`` and ``noexec`` settings of the Defaults lines, in read order (later wins)."""
    lines = sudoers_lines(text)
    table = aliases(lines)
    st = DefaultsState()
    for path, s in lines:
        m = re.match(r"^Defaults([:@>!])?(\S*)\s+(.*)$", s)
        if not m or m.group(1) in ("@", ">"):
            continue  # per host / per runas user: not this judgement
        scope, target = m.group(1), m.group(2)
        for opt in split_top_level(m.group(3)):
            o = opt.replace(" ", "")
            for name in ("authenticate", "noexec"):
                if o in (name, "!" + name):
                    val = not o.startswith("!")
                    if scope == ":":
                        for u in expand(split_top_level(target), table["User"]):
                            st.per_user.setdefault(u, {})[name] = val
                    elif scope == "!":
                        for c in expand(split_top_level(target), table["Cmnd"]):
                            st.per_cmnd.append((_command(c)[0], name, val))
                    else:
                        setattr(st, name, val)
                    if name == "authenticate" and not val:
                        st.lines.append((path, expand(split_top_level(target), table["User"]) if scope == ":" else ["ALL"], s))
    return st


# --------------------------------------------------------------------------------------------- root equivalence
@once
def escapes() -> dict[str, dict]:
    """{program name: entry} from sudo_escapes.yaml (the first entry naming a program wins)."""
    # the product's own data file: libyaml when PyYAML has it (the Python loader took ~50 ms of each run)
    data = yaml.load(ESCAPES_FILE.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    out: dict[str, dict] = {}
    for e in data["escapes"]:
        for n in e["names"]:
            out.setdefault(str(n), e)
    return out


def args_controlled(args: str | None) -> bool:
    """Whether the user chooses the arguments: none written (any allowed), a wildcard, or a ^regex$."""
    if args is None:
        return True
    return bool(_WILD.search(args)) or (args.startswith("^") and args.endswith("$"))


def root_equivalent(cmd: Command, noexec: bool = False) -> str | None:
    """Why running this command as root amounts to a root shell, or None."""
    path, args = cmd.path, cmd.args
    if path == "ALL":
        return "ALL"
    if path.endswith("/"):
        return f"every program in {path}" if path.startswith(BIN_DIRS) or path == "/" else None
    if path == "sudoedit":
        return f"sudoedit {args}" if args and SENSITIVE.search(args) else None
    base = path.rsplit("/", 1)[-1]
    if _WILD.search(base) or _WILD.search(path.rsplit("/", 1)[0]):
        return f"wildcard command path {path} (matches shells)"
    entry = escapes().get(base)
    if entry is None:
        return None
    if noexec and entry.get("via_exec"):
        return None
    kind = entry["kind"]
    if entry.get("any_args"):
        return f"{kind} {base} (escape whatever the arguments)"
    if args_controlled(args):
        return f"{kind} {base} with arguments of the user's choosing"
    if args == "":
        return f"{kind} {base} with no arguments" if entry.get("bare") else None
    pat = entry.get("escape_args")
    if pat and re.search(pat, args):
        return f"{kind} {base} {args}"
    return None


def _runs_as_root(cmd: Command) -> bool:
    if cmd.runas_users is None:
        return True  # no Runas user list: the target user is root (runas_default)
    return any(u.lstrip("!") in ROOT_RUNAS or u.startswith("%") for u in cmd.runas_users if not u.startswith("!"))


@dataclass
class Grant:
    file: str
    users: list[str]
    line: str
    reason: str
    note: str = ""


def root_grants(text: str) -> tuple[list[Grant], list[Grant], list[str]]:
    """(rules letting a user become root without a password, Defaults lines turning authentication
    off, included files that were not gathered)."""
    st = defaults(text)
    found: list[Grant] = []
    for r in rules(text)[0]:
        negated = [c.path for c in r.commands if c.negated]
        for c in r.commands:
            if c.negated or not _runs_as_root(c):
                continue
            nopasswd = c.tags.get("NOPASSWD", False)
            auth = st.authenticate
            noexec = st.noexec
            for u in r.users:
                pu = st.per_user.get(u, {})
                auth = pu.get("authenticate", auth)
                noexec = pu.get("noexec", noexec)
            for cpath, name, val in st.per_cmnd:
                if cpath in (c.path, "ALL"):
                    if name == "authenticate":
                        auth = val
                    else:
                        noexec = val
            if "NOEXEC" in c.tags:
                noexec = c.tags["NOEXEC"]
            if not (nopasswd or not auth):
                continue
            why = root_equivalent(c, noexec)
            if why is None:
                continue
            if c.via:
                why += f" (via Cmnd_Alias {c.via})"
            note = f"'!' exclusions ({', '.join(negated)}) do not restrict it" if negated else ""
            if not nopasswd:
                why += " (authenticate turned off in Defaults)"
            found.append(Grant(r.file, r.users, r.line, why, note))
            break
    _, unread = read_order(text)
    return found, [Grant(p, u, s, "Defaults !authenticate") for p, u, s in st.lines], unread


def sudo_grants(text: str):
    """Backwards-compatible view: ([(file, users, line)] root-equivalent NOPASSWD rules,
    [(file, users, line)] Defaults turning authentication off)."""
    found, dflt, _ = root_grants(text)
    return [(g.file, g.users, g.line) for g in found], [(g.file, g.users, g.line) for g in dflt]
