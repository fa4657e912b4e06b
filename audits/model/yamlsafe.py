"""Safe YAML loading with line numbers.

Builds plain Python values from PyYAML's node graph ourselves so that we can:
remember the line of every mapping key and sequence item, report duplicate keys,
refuse every tag outside YAML's core schema (no ``!!python/object``), and stop
alias bombs by bounding the number of nodes an expansion may produce.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from audits.model.errors import InputError, Problem

CORE = "tag:yaml.org,2002:"
ALLOWED_SCALARS = {CORE + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
MAX_NODES = 200_000
MAX_BYTES = 16 * 1024 * 1024


class YMap(dict):
    """A mapping that remembers the line of each key (``lines``) and its own line."""

    line: int = 0

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.lines: dict = {}

    def line_of(self, key) -> int:
        return self.lines.get(key, self.line)


class YList(list):
    """A sequence that remembers the line of each item and its own line."""

    line: int = 0

    def __init__(self, *a):
        super().__init__(*a)
        self.lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.lines[index] if 0 <= index < len(self.lines) else self.line


MAX_DEPTH = 100  # nesting deeper than any real inventory; also keeps PyYAML's scanner linear


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses deep nesting while scanning: PyYAML's scanner is quadratic in the
    flow depth ('[[[[...') and its composer recursive, so depth is bounded before either bites."""

    def _too_deep(self):
        raise yaml.scanner.ScannerError(None, None, f"nested more than {MAX_DEPTH} levels deep", self.get_mark())

    def fetch_flow_collection_start(self, TokenClass):
        if self.flow_level >= MAX_DEPTH:
            self._too_deep()
        super().fetch_flow_collection_start(TokenClass)

    def add_indent(self, column):
        if len(self.indents) >= MAX_DEPTH:
            self._too_deep()
        return super().add_indent(column)


def _scalar(node: yaml.ScalarNode, loader: yaml.SafeLoader):
    if node.tag == CORE + "timestamp":
        return node.value  # dates stay strings; callers parse them strictly
    return loader.construct_object(node, deep=False)


# The product's own data files (check packs, controls, probe catalogue, password list) are parsed with
# libyaml's composer: ~15x faster than PyYAML's Python scanner (0.25 s of every run's start). Other files
# (inventories, plans, custom packs) too, once ``_shallow`` has bounded their nesting (libyaml's composer has
# no depth bound of its own); the rest goes through _Loader, whose depth bound protects the Python scanner
# and composer from hostile nesting.
BUILTIN = (Path(__file__).resolve().parents[2] / "checks",)


def builtin(path) -> bool:
    """True for a file shipped in the product's checks/ tree (trusted as its code is)."""
    try:
        p = Path(path).resolve()
    except (OSError, RuntimeError):
        return False
    return any(p.is_relative_to(root) for root in BUILTIN)


# Any other file is parsed by libyaml too when it is shallow: a first pass over libyaml's events (C, linear; it stops
# at the first collection nested FAST_DEPTH deep) proves the nesting bound, and the text has only the characters
# PyYAML's reader accepts. Anything else — deeper, not valid YAML, a character the reader refuses, or libyaml
# failing for any reason — goes through _Loader, which decides and words the error exactly as before. (Ansible
# reads inventories with libyaml too.) Loading a 10,000-host inventory: 9.8 s → 3.5 s of CPU in all.
FAST_DEPTH = MAX_DEPTH // 2
_STARTS = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_ENDS = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE.search


def _shallow(text: str) -> bool:
    """True if libyaml parses ``text`` as one document nested at most FAST_DEPTH deep, with only characters
    PyYAML's reader accepts."""
    if not getattr(yaml, "__with_libyaml__", False) or "!" in text or "\t" in text or _NON_PRINTABLE(text):
        return False   # tags ("!", "!!str") and tabs: libyaml and PyYAML read a few of them differently (fuzzing found)
    parser = yaml.CSafeLoader(text)
    try:
        depth = 0
        while (event := parser.get_event()) is not None:
            if isinstance(event, _STARTS):
                depth += 1
                if depth > FAST_DEPTH:
                    return False
            elif isinstance(event, _ENDS):
                depth -= 1
        return True
    except Exception:   # libyaml refused it: _Loader words the error
        return False
    finally:
        parser.dispose()


def _compose_fast(text: str):
    """(root node, loader) by libyaml, or None to let _Loader decide."""
    loader = yaml.CSafeLoader(text)
    try:
        return loader.get_single_node(), loader
    except Exception:
        return None
    finally:
        loader.dispose()


def load(text: str, filename: str, trusted: bool = False) -> object:
    """Parse one YAML document into YMap/YList/scalars, or raise InputError. ``trusted``: a file of the
    product's own (``builtin``), parsed by libyaml when PyYAML has it; any other file by libyaml when
    ``_shallow`` proves it safe to, else by _Loader."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise InputError([Problem(filename, 1, "(file)", f"larger than {MAX_BYTES} bytes")])
    composed = _compose_fast(text) if not trusted and _shallow(text) else None
    if composed is not None:
        return _build(*composed, filename)
    loader = None
    try:
        fast = trusted and getattr(yaml, "__with_libyaml__", False)
        loader = yaml.CSafeLoader(text) if fast else _Loader(text)  # the reader refuses control characters
        root = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 1
        if isinstance(exc, yaml.reader.ReaderError):
            line = text.count("\n", 0, exc.position) + 1
            problem = f"character #x{exc.character:04x} is not allowed in YAML" if isinstance(exc.character, int) \
                else "not readable as YAML text"
        else:
            problem = getattr(exc, "problem", None) or str(exc)
        raise InputError([Problem(filename, line, "(yaml)", f"not valid YAML: {problem}")]) from None
    except RecursionError:
        raise InputError([Problem(filename, 1, "(yaml)", "not valid YAML: nested too deeply")]) from None
    except (ValueError, OverflowError) as exc:  # PyYAML lets some bad escapes through, e.g. "\U7fffffff"
        line = loader.get_mark().line + 1 if loader is not None else 1
        raise InputError([Problem(filename, line, "(yaml)", f"not valid YAML: {exc}")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    return _build(root, loader, filename)


def _build(root, loader, filename: str) -> object:
    """YMap/YList/scalars from a composed node graph: lines kept, core tags only, duplicate keys and merge keys
    refused, at most MAX_NODES nodes however aliases expand."""
    if root is None:
        return None
    problems: list[Problem] = []
    budget = [MAX_NODES]

    def build(node, path: str):
        budget[0] -= 1
        if budget[0] < 0:
            raise InputError([Problem(filename, node.start_mark.line + 1, path or "(root)",
                                      f"document expands to more than {MAX_NODES} nodes (alias bomb?)")])
        line = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode):
            if node.tag not in ALLOWED_SCALARS:
                problems.append(Problem(filename, line, path or "(root)", f"YAML tag {node.tag!r} is not allowed"))
                return None
            try:
                return _scalar(node, loader)
            except (yaml.YAMLError, ValueError) as exc:
                problems.append(Problem(filename, line, path or "(root)", f"bad value: {exc}"))
                return None
        if isinstance(node, yaml.SequenceNode):
            if node.tag != CORE + "seq":
                problems.append(Problem(filename, line, path or "(root)", f"YAML tag {node.tag!r} is not allowed"))
            out = YList()
            out.line = line
            for i, item in enumerate(node.value):
                out.append(build(item, f"{path}[{i}]"))
                out.lines.append(item.start_mark.line + 1)
            return out
        if node.tag != CORE + "map":
            problems.append(Problem(filename, line, path or "(root)", f"YAML tag {node.tag!r} is not allowed"))
        out = YMap()
        out.line = line
        for knode, vnode in node.value:
            kline = knode.start_mark.line + 1
            if knode.tag == CORE + "merge":
                problems.append(Problem(filename, kline, path or "(root)", "YAML merge keys (<<) are not supported"))
                continue
            key = build(knode, path)
            if isinstance(key, (dict, list)):
                problems.append(Problem(filename, kline, path or "(root)", "mapping keys must be plain scalars"))
                continue
            kpath = f"{path}.{key}" if path else str(key)
            if key in out:
                problems.append(Problem(filename, kline, kpath,
                                        f"duplicate key (first defined on line {out.lines[key]})"))
                continue
            out[key] = build(vnode, kpath)
            out.lines[key] = kline
        return out

    try:
        value = build(root, "")
    except RecursionError:
        raise InputError([Problem(filename, 1, "(yaml)", "not valid YAML: nested too deeply")]) from None
    if problems:
        raise InputError(problems)
    return value


class TooLarge(Exception):
    """A regular file over the limit, by its size: not read at all."""

    def __init__(self, size: int):
        super().__init__(size)
        self.size = size


def read_capped(path, limit: int) -> bytes:
    """A file's bytes, its size checked before reading: a regular file larger than ``limit`` is not read
    (TooLarge); a device (/dev/zero) or a pipe is read to at most ``limit + 1`` bytes, never to the end, so
    the caller sees it is over the limit. OSError as raised."""
    import os
    import stat

    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        if stat.S_ISREG(st.st_mode) and st.st_size > limit:
            raise TooLarge(st.st_size)
        return fh.read(limit + 1)


def read_text(path) -> str:
    """An input file's text through read_capped (MAX_BYTES); over the limit, unreadable or not UTF-8 is an
    error naming the file (and the line)."""
    from pathlib import Path

    p = Path(path)
    try:
        raw = read_capped(p, MAX_BYTES)
    except TooLarge:
        raise InputError([Problem(str(p), 0, "(file)", f"larger than {MAX_BYTES} bytes; not read")]) from None
    except OSError as exc:
        raise InputError([Problem(str(p), 0, "(file)", f"cannot read: {exc.strerror}")]) from None
    if len(raw) > MAX_BYTES:
        raise InputError([Problem(str(p), 0, "(file)", f"larger than {MAX_BYTES} bytes; read no further")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError([Problem(str(p), line, "(file)", "not UTF-8 text")]) from None


def load_file(path) -> object:
    return load(read_text(path), str(path), trusted=builtin(path))
