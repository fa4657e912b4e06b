"""The school HTML report: hostile text stays text, no network fetches, bilingual (the real-browser
tests are in tests/test_browser.py)."""
from reports.html import render_school, write_reports
from reports.scoring import item_table, round_half_up

HOSTILE = "<script>alert(1)</script>{{ 7*7 }}{% raw %}<img src=x onerror=alert(2)>"


def doc(evidence=HOSTILE):
    res = {"check_id": "mlps.access.sshd_root_login", "status": "fail", "severity": "high",
           "references": ["GB/T 22239-2019 8.1.4.2 b"], "evidence": evidence,
           "title": {"zh": "禁止 root 远程登录", "en": "No remote root login"},
           "message": {"zh": "消息 " + HOSTILE, "en": "message " + HOSTILE},
           "remediation": {"zh": "设置 PermitRootLogin no", "en": "Set PermitRootLogin no"}}
    return {"schema_version": "1.0", "tool": {"name": "auditctl", "version": "0.1.0"},
            "run": {"id": "20260101T000000Z-abcdef", "started_at": "2026-01-01T00:00:00Z",
                    "finished_at": "2026-01-01T00:00:05Z", "status": "incomplete"},
            "summary": {}, "hosts": [
                {"id": "web" + HOSTILE, "address": "10.0.0.1", "school": "s1", "district": "d1", "level": 3,
                 "os_family": "debian", "status": "audited", "reason": None, "detail": None, "results": [res]},
                {"id": "down01", "address": "10.0.0.2", "school": "s1", "district": "d1", "level": 3,
                 "os_family": None, "status": "unreachable", "reason": "timeout", "detail": "banner " + HOSTILE,
                 "results": []}]}


def test_everything_from_hosts_is_escaped():
    html = render_school(doc(), "s1")
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html and ">49<" not in html  # template syntax from a host is not evaluated


def test_self_contained_no_network_fetches():
    html = render_school(doc(), "s1")
    for bad in ('src="http', "src='http", 'href="http', "@import", "url(http", "<link ", "<script"):
        assert bad not in html


def test_chinese_by_default_english_on_request():
    zh, en = render_school(doc(), "s1"), render_school(doc(), "s1", "en")
    assert 'lang="zh-CN"' in zh and "禁止 root 远程登录" in zh and "无法连接的主机" in zh
    assert 'lang="en"' in en and "No remote root login" in en and "Unreachable hosts" in en


def test_print_css_present():
    assert "@media print" in render_school(doc(), "s1")


def test_score_verdict_high_risk_and_fix_first_are_at_the_top():
    """A level-3 host failing the key point of 8.1.4.2 b at high severity (an SNMP default community: a default
    password in use) beside a failing remote root login: 0 % (every other item awaits evidence), verdict 不符合,
    one high-risk candidate labelled 默认口令处理措施缺失 — the root-login check is supporting and labels nothing —
    and the candidate's check is the first fix."""
    d = doc()
    d["hosts"][0]["results"].append(
        {"check_id": "network.service.snmp_default_community", "status": "fail", "severity": "high",
         "references": ["GB/T 22239-2019 8.1.4.2 b"], "evidence": "community public",
         "title": {"zh": "SNMP 未使用默认团体名", "en": "No default SNMP community"},
         "message": {"zh": "public 可读", "en": "public answers"}, "remediation": {"zh": "改团体名", "en": "change it"}})
    zh, en = render_school(d, "s1"), render_school(d, "s1", "en")
    top = zh[zh.index('id="score"'):zh.index('id="families"')]
    assert "0.0%" in top and "不符合" in top and "高风险候选" in top and "默认口令处理措施缺失" in top
    assert top.count("默认口令处理措施缺失") == 1          # sshd_root_login (supporting) raises no trigger
    assert "优先整改" in top and "network.service.snmp_default_community" in top and "消除高风险" in top
    assert "docs/scoring.md" in top
    assert "Compliance rate" in en and "non-compliant" in en and "default account with default password" in en
    # every item nothing answered is listed as awaiting evidence, with what to attest
    assert "待取证" in top and "没有检查覆盖此项；请提供 GB/T 22239-2019 8.1.4.9 a" in top
    assert "awaiting evidence" in en and "no check covers it; attest GB/T 22239-2019 8.1.4.9 a" in en
    d["hosts"][0]["results"] = [dict(r, status="pass") for r in d["hosts"][0]["results"]]
    top = render_school(d, "s1")
    top = top[top.index('id="score"'):top.index('id="families"')]
    assert "高风险候选" in top and "默认口令处理措施缺失" not in top
    assert "100.0%" not in top   # one item conforms; the other 32 applicable items still await evidence


def test_the_main_high_risk_item_is_labelled_right_in_both_languages():
    """Issue #15 item 6: the weak-password trigger's English label is the whole phrase, read from the controls file."""
    d = doc()
    d["hosts"][0]["results"] = [{"check_id": "mlps.auth.empty_passwords", "status": "fail", "severity": "critical",
                                 "references": ["GB/T 22239-2019 8.1.4.1 a"], "evidence": "guest::",
                                 "title": {"zh": "无空口令账户", "en": "No empty passwords"},
                                 "message": {"zh": "guest 空口令", "en": "guest has no password"},
                                 "remediation": {"zh": "设口令", "en": "set one"}}]
    zh, en = render_school(d, "s1"), render_school(d, "s1", "en")
    assert "弱口令、空口令或相同口令" in zh and "weak, empty or shared password" in en


def test_the_attested_share_is_shown():
    d = doc()
    d["hosts"][0]["results"] = [{"check_id": "mlps.auth.multi_factor", "status": "pass", "severity": "high",
                                 "underlying": "manual", "references": ["GB/T 22239-2019 8.1.4.1 d"], "evidence": "",
                                 "title": {"zh": "双因素", "en": "MFA"}, "message": {"zh": "已证明", "en": "attested"},
                                 "remediation": {"zh": "", "en": ""}}]
    zh = render_school(d, "s1")
    # 8.1.4.1 d (w 1.0) answered by an attestation, of every applicable level-3 item's weight (8.1.4.4 d is n/a)
    share = 100 * 1.0 / sum(w for c, w in item_table().weights[3].items() if c != "8.1.4.4 d")
    tile = zh[zh.index('id="attested"'):zh.index('id="attested"') + 200]
    assert "由证明文件回答的权重占比" in tile and f"{round_half_up(share, 1):.1f}%" in tile


def test_per_family_and_per_system_sections():
    """Each control point lists its items with how many hosts found each verdict and the failing checks;
    each system gets its own score; a host's names and systems show; failures carry remediation."""
    d = doc()
    d["hosts"][0]["systems"] = [{"id": "oa", "name": "协同办公系统", "level": 3}]
    d["hosts"][0]["school_name"] = "南湖第一中学"
    zh = render_school(d, "s1")
    fam = zh[zh.index('id="families"'):zh.index('id="systems"')]
    assert "访问控制" in fam and "GB/T 22239-2019 8.1.4.2 b" in fam and "不符合 1" in fam
    assert "禁止 root 远程登录" in fam and "&lt;script&gt;" in fam  # the failing check and its (escaped) host
    systems = zh[zh.index('id="systems"'):zh.index('id="findings"')]
    assert "协同办公系统" in systems and "0.0%" in systems
    assert "<h1>网络安全合规审计报告 — 南湖第一中学</h1>" in zh
    host = zh[zh.index('id="host-1"'):]
    assert "整改建议:</b> 设置 PermitRootLogin no" in host and "协同办公系统" in host
    en = render_school(d, "s1", "en")
    assert "By MLPS control point" in en and "Access control" in en and "By system" in en
