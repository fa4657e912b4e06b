"""Fuzzed inputs (hypothesis): the YAML loader, the inventory loader, the YAML check loader and the
audit-plan loader turn any input into either a valid object or an InputError whose problems say
FILE:LINE: field: message (and `auditctl validate` exits 2) — never another exception, a hang, or a
memory blow-up. Alias bombs and deep nesting included. Longer run: --hypothesis-profile=fuzz."""
import contextlib
import json
import io
import re
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

import auditctl
from audits.model import yamlsafe
from audits.model.errors import InputError
from audits.model.inventory import SETTINGS
from audits.inventory.load import load_inventory
from audits.run.plan import load_plan
from checks.yaml_checks import load_pack_file

FUZZ = settings(deadline=2000, suppress_health_check=[HealthCheck.too_slow])  # examples: the profile's (conftest)
PROBLEM = re.compile(r"^.+:\d+: \S.*: .+$", re.S)

SPECIAL = list("{}[]:,-&*!|>'\"#%@?~\\\n\t ") + ["<<", "!!python/object:os.system", "&a", "*a", "---", "..."]
yaml_text = st.lists(st.one_of(st.sampled_from(SPECIAL), st.text(max_size=6)), max_size=60).map("".join)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=True),
                    st.text(max_size=20), st.dates().map(str), st.sampled_from(["yes", "no", "~", "0o777", "1e3"]))

INVENTORY_KEYS = ["bureau", "defaults", "districts", "schools", "school", "hosts", "vault", "id", "name", "district",
                  "vars", "systems", "level", "address", "waivers", "attestations", "check", "reason", "approver",
                  "expires", "by", "document", "date", "scope", "all", "children", "ansible_host", "ansible_port",
                  "ansible_user", "ansible_ssh_common_args", "mlps_level", *SETTINGS]
CHECK_KEYS = ["checks", "pack", "id", "title", "zh", "en", "severity", "refs", "probe", "sudo", "parse", "expect",
              "key", "eq", "ge", "regex", "lines", "mode_max", "owner", "params", "param", "when_missing", "manual",
              "applies", "os", "roles", "levels", "remediation", "rationale", "debian", "rhel"]
PLAN_KEYS = ["name", "inventory", "limit", "packs", "params", "outputs", "fail_on", "forks", "schedule", "lang",
             "out", "json", "csv", "junit", "db", "waivers", "attestations", "scope", "check", "mlps"]


def structures(keys):
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.one_of(st.sampled_from(keys), scalars), inner, max_size=6)), max_leaves=40)


def mutate(text: str, data) -> str:
    for _ in range(data.draw(st.integers(0, 3))):
        i = data.draw(st.integers(0, len(text)))
        op = data.draw(st.sampled_from(["insert", "delete", "duplicate"]))
        if op == "insert":
            text = text[:i] + data.draw(st.sampled_from(SPECIAL)) + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + 1:]
        else:
            lines = text.splitlines(True)
            if lines:
                j = data.draw(st.integers(0, len(lines) - 1))
                text = "".join(lines[: j + 1] + lines[j:])
    return text


def expect_object_or_input_error(load, text: str, name: str = "f.yaml"):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        t0 = time.monotonic()
        try:
            return load(path)
        except InputError as e:
            assert e.problems, "an InputError must carry its problems"
            for p in e.problems:
                assert PROBLEM.match(str(p)) and isinstance(p.line, int), repr(p)
            return e
        finally:
            assert time.monotonic() - t0 < 5


@FUZZ
@given(yaml_text)
def test_yaml_loader_any_text(text):
    try:
        yamlsafe.load(text, "f.yaml")
    except InputError as e:
        assert all(PROBLEM.match(str(p)) for p in e.problems)


SEED_INVENTORY = {"bureau": {"id": "b"}, "districts": [{"id": "d1", "schools": [{"id": "s1", "systems": [
    {"id": "web", "level": 3}], "hosts": [{"id": "h1", "address": "10.0.0.1", "systems": ["web"]}]}]}]}


@FUZZ
@given(structures(INVENTORY_KEYS), st.data())
def test_inventory_loader_any_structure(extra, data):
    doc = dict(SEED_INVENTORY)
    if isinstance(extra, dict):
        doc.update({k: v for k, v in extra.items() if isinstance(k, str)})
    else:
        doc = extra
    text = mutate(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), data)
    got = expect_object_or_input_error(load_inventory, text)
    if not isinstance(got, InputError):
        assert got.hosts is not None


@FUZZ
@given(yaml_text)
def test_validate_cli_any_text_exits_0_or_2(text):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "inv.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = auditctl.main(["validate", str(path)])
    assert rc in (0, 2) and "Traceback" not in err.getvalue()
    if rc == 2:
        assert all(PROBLEM.match(line) for line in err.getvalue().splitlines() if not line.endswith("(warning)"))


SEED_CHECK = {"checks": [{"id": "fuzz.one", "title": {"zh": "测", "en": "t"}, "severity": "low",
                          "refs": ["GB/T 22239-2019 8.1.4.1 a"], "probe": "file:/etc/login.defs", "parse": "keyvalue",
                          "expect": [{"key": "PASS_MAX_DAYS", "le": 90}]}]}


@FUZZ
@given(structures(CHECK_KEYS), st.data())
def test_yaml_check_loader_any_structure(extra, data):
    entry = dict(SEED_CHECK["checks"][0])
    if isinstance(extra, dict):
        entry.update({k: v for k, v in extra.items() if isinstance(k, str)})
        doc = {"checks": [entry, *([extra] if data.draw(st.booleans()) else [])]}
    else:
        doc = {"checks": extra}
    text = mutate(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), data)
    expect_object_or_input_error(load_pack_file, text)


@FUZZ
@given(structures(PLAN_KEYS), st.data())
def test_plan_loader_any_structure(extra, data):
    doc = {"name": "p", "packs": ["mlps"], "outputs": {"json": "r.json"}}
    if isinstance(extra, dict):
        doc.update({k: v for k, v in extra.items() if isinstance(k, str)})
    else:
        doc = extra
    text = mutate(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), data)
    expect_object_or_input_error(load_plan, text)


def alias_bomb(levels: int, width: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("loader,name", [(load_inventory, "inv.yaml"), (load_pack_file, "checks.yaml"),
                                         (load_plan, "plan.yaml")])
@pytest.mark.parametrize("text", [alias_bomb(12), "x: " + "[" * 1500 + "]" * 1500, "- " * 1500 + "x",
                                  "a: {" * 1500 + "}" * 1500, "a: 1\nb: \x00\n", "a: \x1b[2J\n"],
                         ids=["billion-laughs", "deep-flow", "deep-block", "deep-map", "nul", "escape"])
def test_bombs_and_deep_nesting_are_clear_errors(loader, name, text):
    got = expect_object_or_input_error(loader, text, name)
    assert isinstance(got, InputError)
    assert any(w in str(got) for w in ("alias bomb", "levels deep", "not allowed")), str(got)


def test_regression_deep_flow_nesting_is_refused_in_linear_time():
    """Found by fuzzing: PyYAML's scanner is quadratic in flow depth ('[' * n), so 16 MB of '['
    would hang a run; the loader now refuses nesting over MAX_DEPTH while scanning."""
    t0 = time.monotonic()
    with pytest.raises(InputError, match="nested more than 100 levels deep"):
        yamlsafe.load("[" * 5_000_000, "f.yaml")
    assert time.monotonic() - t0 < 2
    assert yamlsafe.load("a: " + "[" * 99 + "]" * 99, "f.yaml")  # deep but legal still loads


def test_regression_control_characters_and_empty_keys_are_file_line_errors():
    """Found by fuzzing: a NUL byte escaped as a yaml ReaderError traceback; an empty key printed
    as an empty field."""
    with pytest.raises(InputError, match=r"f.yaml:2: \(yaml\): not valid YAML: character #x0000"):
        yamlsafe.load("a: 1\nb: \x00\n", "f.yaml")
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "inv.yaml").write_text('"": 1\n')
        with pytest.raises(InputError, match=r"inv.yaml:1: '': unknown field"):
            load_inventory(Path(d) / "inv.yaml")


def test_regression_keys_with_spaces_are_quoted_in_problems():
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "inv.yaml").write_text("' 0': null\n")
        with pytest.raises(InputError, match=r"inv.yaml:1: ' 0': unknown field"):
            load_inventory(Path(d) / "inv.yaml")


@pytest.mark.parametrize("extra,words", [({"when_missing": []}, "when_missing: must be one of"),
                                         ({"parse": []}, "parse: unknown parser"),
                                         ({"applies": False}, "applies: must be a mapping"),
                                         ({"applies": {"os": 3}}, "checks[0]")])
def test_regression_check_fields_of_the_wrong_shape_are_file_line_errors(extra, words):
    """Found by the long fuzz run: a list as parse/when_missing raised 'unhashable type', a boolean
    'applies' raised AttributeError, instead of FILE:LINE problems."""
    doc = {"checks": [{**SEED_CHECK["checks"][0], **extra}]}
    got = expect_object_or_input_error(load_pack_file, yaml.safe_dump(doc, allow_unicode=True))
    assert isinstance(got, InputError) and words in str(got), str(got)


def test_regression_bad_unicode_escape_and_scalar_refs():
    """Found by the long fuzz run: PyYAML raises a plain ValueError for "\\U7fffffff"; a number as
    a check's refs raised 'float object is not iterable'."""
    with pytest.raises(InputError, match=r"f.yaml:2: \(yaml\): not valid YAML: chr\(\) arg not in range"):
        yamlsafe.load('a: 1\nb: "\\U7fffffff"\n', "f.yaml")
    doc = {"checks": [{**SEED_CHECK["checks"][0], "refs": 1.5}]}
    got = expect_object_or_input_error(load_pack_file, yaml.safe_dump(doc))
    assert isinstance(got, InputError) and "refs: must be a list of clauses" in str(got)


@FUZZ
@given(st.one_of(st.binary(max_size=400), yaml_text.map(str.encode),
                 st.builds(lambda extra: json.dumps({"format": "auditctl-bundle", "version": 1, "body": extra,
                                                     "signer": {"school": "s1"}, "signature": "AA=="}).encode(),
                           structures(["hosts", "run", "school", "key_id", "results"]))))
def test_bundle_importer_any_bytes(data):
    from audits.trust.importer import import_bundle
    from audits.store.database import Store

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.bundle.json"
        path.write_bytes(data)
        store = Store(str(Path(d) / "r.db"))
        try:
            import_bundle(store, path)
        except InputError as e:
            assert e.problems and all(PROBLEM.match(str(p)) for p in e.problems), e.problems


def _both_paths(text: str):
    """yamlsafe.load by libyaml (when _shallow lets it) and by PyYAML's Python loader: each as (value with the
    line of every key and item, or the problems of its InputError)."""
    def outcome():
        try:
            return "ok", _with_lines(yamlsafe.load(text, "f.yaml"))
        except InputError as e:
            return "error", [str(p) for p in e.problems]
    fast = outcome()
    shallow = yamlsafe._shallow
    yamlsafe._shallow = lambda _text: False   # (a hypothesis test cannot take the function-scoped monkeypatch)
    try:
        slow = outcome()
    finally:
        yamlsafe._shallow = shallow
    return fast, slow


def _with_lines(v):
    if isinstance(v, yamlsafe.YMap):
        return ("map", v.line, [(repr(k), v.lines[k], _with_lines(x)) for k, x in v.items()])
    if isinstance(v, yamlsafe.YList):
        return ("list", v.line, v.lines, [_with_lines(x) for x in v])
    return repr(v)


@FUZZ
@given(st.one_of(yaml_text, structures(INVENTORY_KEYS).map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
                 structures(INVENTORY_KEYS).map(lambda d: yaml.safe_dump(d, default_flow_style=True))), st.data())
def test_libyaml_and_the_python_loader_read_any_text_alike(text, data):
    """User files (inventories, plans, packs) are read by libyaml when it is shallow and plain (10x quicker than
    PyYAML's Python scanner): whatever the Python loader reads, libyaml reads to the same values, with the same
    line for every key and item, and the same problems (duplicate keys, tags); whatever both refuse is worded by
    the Python loader. libyaml is the more lenient of the two in a few flow-context corners (``[n?ull]`` is the
    string 'n?ull' to libyaml, an error to PyYAML): those texts now load."""
    text = mutate(text, data)
    fast, slow = _both_paths(text)
    if slow[0] == "error" and (fast[0] == "error" or yamlsafe._shallow(text)):
        return
    assert fast == slow, text


def test_a_large_inventory_is_read_by_libyaml_with_the_same_lines():
    hosts = "".join(f"  - id: h{i}\n    address: 10.0.{i // 250}.{i % 250}\n    systems: [web]\n" for i in range(2000))
    text = "bureau: {id: b}\nschools:\n- id: s1\n  hosts:\n" + hosts.replace("\n  -", "\n  -")
    assert yamlsafe._shallow(text)
    fast, slow = _both_paths(text)
    assert fast == slow and fast[0] == "ok"
    for deep, expect in (("a: " + "[" * 49 + "]" * 49, True), ("a: " + "[" * 51 + "]" * 51, False),
                         ("a: \x1b\n", False), ("a: [\n", False)):
        assert yamlsafe._shallow(deep) is expect
