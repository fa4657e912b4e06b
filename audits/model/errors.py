"""Input problems reported as ``FILE:LINE: field: message``, the exception that carries them, and the
"did you mean" hint every message about an unknown name ends with."""
from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    field: str
    message: str

    def __post_init__(self):  # a field named after a YAML key may be None, an int, a date...
        if not isinstance(self.field, str):
            object.__setattr__(self, "field", str(self.field))

    def __str__(self) -> str:
        f = self.field  # quoted when it would read ambiguously (an empty key, ' 0', a control character)
        field = f if f and f.strip() == f and f.isprintable() else repr(f)
        return f"{self.file}:{self.line}: {field}: {self.message}"


class InputError(Exception):
    """Raised with every problem found in a user-supplied file (inventory, plan, check pack)."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


def did_you_mean(word: str, choices) -> str:
    m = difflib.get_close_matches(str(word), sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean '{m[0]}'?)" if m else ""
