"""A device configuration as a tree of command lines, for every vendor: Huawei VRP / H3C Comware (``#``
separators, blocks by indentation, ``quit``/``return``) and Cisco IOS / Ruijie RGOS (``!`` separators,
``end``, banners). Hostile input is bounded here once: at most ``MAX_BYTES`` of text and ``MAX_LINES``
lines are read, each line is cut to ``MAX_LINE`` characters, control characters become U+FFFD, nesting is
capped; nothing is ever evaluated. Every node keeps its 1-based line number for the evidence.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_BYTES = 4 * 1024 * 1024
MAX_LINES = 200_000
MAX_LINE = 2048
MAX_DEPTH = 16
SEPARATORS = {"#", "!", "quit", "return", "end", "exit"}
_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_BANNER = re.compile(r"^banner\s+\S+\s*(\S)?", re.I)


@dataclass
class Node:
    text: str                      # the command, whitespace collapsed
    line: int                      # 1-based line number in the configuration
    indent: int = 0
    children: list["Node"] = field(default_factory=list)

    @property
    def words(self) -> list[str]:
        return self.text.split()

    def find(self, pattern: str) -> list["Node"]:
        """Direct children whose text matches ``pattern`` (a regex anchored at the start)."""
        rx = re.compile(pattern, re.I)
        return [c for c in self.children if rx.match(c.text)]

    def first(self, pattern: str) -> "Node | None":
        found = self.find(pattern)
        return found[-1] if found else None   # the last one wins, as on the device

    def walk(self):
        for c in self.children:
            yield c
            yield from c.walk()

    def evidence(self) -> str:
        return f"line {self.line}: {self.text}"


@dataclass
class Tree:
    root: Node
    truncated: bool = False        # input was longer than MAX_BYTES or MAX_LINES: the rest was not read
    lines: int = 0

    def find(self, pattern: str) -> list[Node]:
        return self.root.find(pattern)

    def first(self, pattern: str) -> Node | None:
        return self.root.first(pattern)


def clean(text: str) -> tuple[list[str], bool]:
    """The configuration's lines, bounded and with control characters replaced."""
    truncated = False
    if len(text) > MAX_BYTES:
        text, truncated = text[:MAX_BYTES], True
    raw = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if len(raw) > MAX_LINES:
        raw, truncated = raw[:MAX_LINES], True
    out = []
    for ln in raw:
        ln = ln.replace("\t", " ")
        if len(ln) > MAX_LINE:   # no command is this long; its tail is dropped, the lines after it are still read
            ln = ln[:MAX_LINE]
        out.append(_CTRL.sub("\ufffd", ln))
    return out, truncated


def parse(text: str) -> Tree:
    """Lines into a tree by indentation. A separator (``#``, ``!``, ``quit``, ``return``, ``end``) at the
    top closes every open block, so Comware's global commands written with one leading space after a ``#``
    are top-level lines; a more indented line is a child of the line above it. Cisco/Ruijie banners
    (``banner motd ^C … ^C``) are skipped whole, so text inside them is never read as commands."""
    lines, truncated = clean(str(text or ""))
    root = Node("", 0, -1)
    stack: list[Node] = [root]
    after_sep = True
    banner_delim: str | None = None
    for i, ln in enumerate(lines, 1):
        if banner_delim is not None:
            if banner_delim in ln:
                banner_delim = None
            continue
        stripped = ln.strip()
        if not stripped:
            continue
        indent = len(ln) - len(ln.lstrip(" "))
        if stripped in SEPARATORS or stripped.startswith(("#", "!")):
            if stripped in ("quit", "exit") and len(stack) > 1 and not after_sep:
                # closes the innermost block only
                while len(stack) > 1 and stack[-1].indent >= indent:
                    stack.pop()
                continue
            stack = [root]
            after_sep = True
            continue
        m = _BANNER.match(stripped)
        if m and indent == 0:
            rest = stripped[m.end(1):] if m.group(1) else ""
            delim = m.group(1) or ""
            if delim == "^" and stripped[m.start(1):m.start(1) + 2] == "^C":
                delim, rest = "^C", stripped[m.start(1) + 2:]
            if delim and delim not in rest:
                banner_delim = delim
            root.children.append(Node(" ".join(stripped.split()[:2]), i, 0))
            stack = [root]
            continue
        node = Node(" ".join(stripped.split()), i, indent)
        if after_sep:
            stack = [root]
            after_sep = False
        while len(stack) > 1 and stack[-1].indent >= indent:
            stack.pop()
        if len(stack) > MAX_DEPTH:
            stack = stack[:MAX_DEPTH]
        stack[-1].children.append(node)
        stack.append(node)
    # Comware prints global commands with one leading space after '#': siblings of equal indent were kept
    # at the top by the rule above; nothing else to fix.
    return Tree(root, truncated, len(lines))
