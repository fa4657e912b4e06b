"""Publishing a stored run: which outputs a run writes (the plan's, then the command line's) and writing
them — machine formats (JSON, CSV, JUnit) to files or stdout, one HTML page per school. The engine
never imports reports: the command line hands ``Publisher`` to ``audits.run.api.run``.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

from audits.atomicfile import atomic_write
from audits.model.errors import InputError, Problem
from audits.model.verdicts import judged_once
from audits.store.database import Store

from .diff import previous_run
from .document import run_document
from .html import write_reports
from .tabular import FORMATS, render


def say(text: str) -> None:
    print(text, file=sys.stderr)


@dataclass
class Outputs:
    formats: dict = field(default_factory=dict)  # format -> path ('-' is stdout)
    out: str | None = None                       # directory of the HTML reports
    lang: str = "zh"


def machine_formats(planned: dict | None = None, json_path: str | None = None, specs=None) -> dict:
    """Machine outputs, format -> path ('-' is stdout): the plan's, then --json, then --format FMT[:FILE]."""
    out = {k: v for k, v in (planned or {}).items() if v}
    if json_path:
        out["json"] = json_path
    for spec in specs or []:
        fmt, _, path = spec.partition(":")
        if fmt not in FORMATS:
            raise InputError([Problem("command line", 0, "--format",
                                      f"unknown format '{fmt}'; use one of {', '.join(FORMATS)} (FMT or FMT:FILE)")])
        out[fmt] = path or "-"
    if sum(1 for p in out.values() if p == "-") > 1:
        raise InputError([Problem("command line", 0, "--format", "only one output can go to stdout ('-')")])
    return out


def publish(store: Store, run_id: str, outputs: Outputs) -> dict:
    """Write the run's outputs; return its run document."""
    with judged_once():   # the scores, the page's breakdown and its top fixes judge each host once
        return _publish(store, run_id, outputs)


def _publish(store: Store, run_id: str, outputs: Outputs) -> dict:
    doc = run_document(store, run_id)
    for fmt, path in outputs.formats.items():
        text = render(doc, fmt, outputs.lang)
        if path == "-":
            sys.stdout.write(text)
        else:
            atomic_write(path, text)
            say(f"{fmt.upper() + ':':6} {path}")
    if outputs.out:
        before = previous_run(store.runs(200), run_id)  # the report shows the score's change since it
        previous = run_document(store, before["id"]) if before else None
        for p in write_reports(doc, outputs.out, outputs.lang, previous):
            say(f"HTML:  {p}")
    return doc


@dataclass
class Publisher:
    """What a run request carries: given the run's plan, the outputs to write (plan merged with the
    command line; bad ones are input errors before anything is written), then writes them."""

    out: str | None = None
    json: str | None = None
    formats: list[str] | None = None
    lang: str | None = None

    def __call__(self, plan) -> "PlanOutputs":
        return PlanOutputs(Outputs(machine_formats({"json": plan.json, "csv": plan.csv, "junit": plan.junit},
                                                   self.json, self.formats),
                                   self.out or plan.out or "reports", self.lang or plan.lang or "zh"))


@dataclass
class PlanOutputs:
    outputs: Outputs

    def __call__(self, store: Store, run_id: str) -> None:
        publish(store, run_id, self.outputs)
