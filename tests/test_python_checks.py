"""Python checks: the @check decorator, entry-point discovery, and a check's own bug contained."""
import sys

import pytest

from audits.model.errors import InputError
from audits.model.probes import Facts, Probe, ProbeResult
from checks import registry
from checks.contract import Outcome, check
from checks.testing import fixture_host

PLUGIN = '''
from audits.model.probes import Probe
from checks.contract import Outcome, check

@check(id="bureau.motd.present", title={"zh": "登录提示存在", "en": "Login banner present"}, severity="low",
       refs=["GB/T 22239-2019 8.1.4.1 a", "GB/T 22239-2019 7.1.4.1 a"], probes=["file:/etc/motd"], params={"word": "授权"})
def motd(facts, host, params):
    res = facts.get(Probe("file", "/etc/motd"))
    if params["word"] in res.stdout:
        return Outcome.passed("有提示", "banner present", res.stdout[:50])
    return Outcome.failed("缺少提示", "banner missing", res.stdout[:50])
'''


@pytest.fixture
def plugin_dist(tmp_path, monkeypatch):
    """A real installed distribution (dist-info with entry_points.txt) providing a bureau's check module."""
    (tmp_path / "bureau_pack.py").write_text(PLUGIN, encoding="utf-8")
    info = tmp_path / "bureau_pack-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bureau-pack\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[auditctl.checks]\nbureau = bureau_pack\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    monkeypatch.undo()
    sys.modules.pop("bureau_pack", None)
    registry.load_registry(refresh=True)


def test_entry_point_pack_is_discovered_and_evaluates(plugin_dist):
    reg = registry.load_registry(refresh=True)
    assert "bureau" in reg.packs()
    c = reg.by_id["bureau.motd.present"]
    host = fixture_host({"level": 2})
    ok = Facts("h", {Probe("file", "/etc/motd"): ProbeResult("未经授权禁止访问\n", 0)})
    bad = Facts("h", {Probe("file", "/etc/motd"): ProbeResult("Welcome\n", 0)})
    assert c.run(ok, host).status.value == "pass"
    assert c.run(bad, host).status.value == "fail"
    assert c.run(bad, host, {"word": "Welcome"}).status.value == "pass"


def test_duplicate_check_ids_are_refused(plugin_dist, tmp_path):
    (tmp_path / "bureau_pack-1.0.dist-info" / "entry_points.txt").write_text(
        "[auditctl.checks]\nbureau = bureau_pack\nagain = bureau_pack\n")
    with pytest.raises(InputError, match="duplicate check id"):
        registry.load_registry(refresh=True)


def test_broken_plugin_is_an_error_naming_it(tmp_path, monkeypatch):
    info = tmp_path / "broken-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[auditctl.checks]\nbroken = no_such_module_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(InputError, match="entry point broken.*no_such_module_xyz"):
            registry.load_registry(refresh=True)
    finally:
        monkeypatch.undo()
        registry.load_registry(refresh=True)


def test_a_check_that_raises_becomes_an_error_result():
    @check(id="t.boom", title="boom", severity="low", refs=["GB/T 22239-2019 8.1.4.1 a"], probes=["file:/x"])
    def boom(facts, host):
        raise KeyError("surprise")

    out = boom.check.run(Facts("h"), fixture_host({}))
    assert out.status.value == "error" and "KeyError" in out.message.en


def test_evidence_is_bounded_and_stripped_of_control_characters():
    @check(id="t.loud", title="loud", severity="low", refs=["GB/T 22239-2019 8.1.4.1 a"], probes=["file:/x"])
    def loud(facts, host):
        return Outcome.failed("x", "x", "\x1b[31mred\x00" + "A" * 10000)

    out = loud.check.run(Facts("h"), fixture_host({}))
    assert len(out.evidence) <= 2000 and "\x1b" not in out.evidence and "\x00" not in out.evidence


def test_decorator_rejects_bad_metadata():
    with pytest.raises(ValueError, match="severity"):
        check(id="t.x", title="x", severity="urgent", refs=["GB/T 22239-2019 8.1.4.1 a"], probes=["file:/x"])(lambda f, h: None)
    with pytest.raises(ValueError, match="reference"):
        check(id="t.x", title="x", severity="low", refs=[], probes=["file:/x"])(lambda f, h: None)
    with pytest.raises(ValueError, match="check id"):
        check(id="NoPack", title="x", severity="low", refs=["GB/T 22239-2019 8.1.4.1 a"], probes=["file:/x"])(lambda f, h: None)
