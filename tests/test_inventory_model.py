"""Inventory: inheritance, directory trees, every validation error with its line, Ansible form, validate CLI."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import auditctl
from audits.model.errors import InputError
from audits.inventory.load import load_inventory

ROOT = Path(__file__).resolve().parent.parent


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(path) -> list[str]:
    with pytest.raises(InputError) as e:
        load_inventory(path)
    return [str(p) for p in e.value.problems]


BASE = """\
bureau: {id: city, name: 示范市}
defaults: {user: audit, port: 22, sudo: true, facts: {backup: nightly, owner: bureau}, roles: [server]}
districts:
  - id: d1
    vars: {port: 2222, facts: {owner: district}}
    schools:
      - id: s1
        vars: {user: schooladm, jump: bastion.s1.example}
        systems:
          - {id: portal, level: 3, rpo_hours: 24}
          - {id: library, level: 2}
        hosts:
          - {id: web01, address: 10.1.1.10, systems: [portal, library], roles: [web], facts: {owner: host}}
          - {id: lib01, address: lib01.s1.example, systems: [library], port: 22022}
          - {id: misc01, address: 10.1.1.30}
"""


def test_settings_inherit_down_and_the_nearest_wins(tmp_path):
    inv = load_inventory(write(tmp_path / "inv.yaml", BASE))
    web, lib, misc = inv.hosts["web01"], inv.hosts["lib01"], inv.hosts["misc01"]
    assert web.settings["user"] == "schooladm"          # school vars beat bureau defaults
    assert web.settings["port"] == 2222                 # district vars beat bureau defaults
    assert lib.settings["port"] == 22022                # the host's own value wins
    assert web.settings["sudo"] is True and web.settings["jump"] == "bastion.s1.example"
    assert web.facts == {"backup": "nightly", "owner": "host"}    # facts merge key by key
    assert lib.facts == {"backup": "nightly", "owner": "district"}
    assert web.roles == ["web"] and lib.roles == ["server"]       # roles are replaced, not merged
    assert web.level == 3 and lib.level == 2            # highest level of the systems served
    assert misc.level == 2 and any("misc01" in str(w) for w in inv.warnings)
    assert inv.schools["s1"].systems["portal"].rpo_hours == 24
    assert (web.school, web.district) == ("s1", "d1")


def test_directory_tree_one_file_per_school_loads_the_same_model(tmp_path):
    write(tmp_path / "tree" / "bureau.yaml", """\
        bureau: {id: city}
        defaults: {user: audit}
        districts: [{id: d1, vars: {port: 2222}}]
        """)
    write(tmp_path / "tree" / "schools" / "s1.yaml", """\
        school:
          id: s1
          district: d1
          systems: [{id: portal, level: 3}]
          hosts: [{id: web01, address: 10.1.1.10, systems: [portal]}]
        """)
    write(tmp_path / "tree" / "schools" / "s2.yaml", """\
        school:
          id: s2
          district: d1
          hosts: [{id: web02, address: 10.1.2.10, level: 2}]
        """)
    write(tmp_path / "tree" / ".hidden.yaml", "not: [valid")
    inv = load_inventory(tmp_path / "tree")
    assert sorted(inv.hosts) == ["web01", "web02"]
    assert inv.hosts["web02"].settings["port"] == 2222 and inv.hosts["web02"].settings["user"] == "audit"
    assert inv.districts["d1"].schools == ["s1", "s2"]


def test_every_problem_is_reported_with_file_line_and_field(tmp_path):
    f = write(tmp_path / "bad.yaml", """\
        bureau: {id: city}
        districts:
          - id: d1
            schools:
              - id: s1
                systems:
                  - {id: portal, level: 5}
                  - {id: lib, level: 0}
                hosts:
                  - {id: web01, adress: 10.1.1.10}
                  - {id: web02, address: 10.0.0.300, port: twenty-two}
                  - {id: web03, address: "bad host!", roles: web}
                  - {id: web01, address: 10.1.1.11}
                  - {id: web04, address: 10.1.1.12, systems: [portl]}
        hosts:
          - {id: orphan, address: 10.9.9.9}
          - {id: lost, address: 10.9.9.8, school: s9}
        """)
    got = problems(f)
    p = str(f)
    expected = [
        f"{p}:7: districts[0].schools[0].systems[0].level: MLPS level 5 out of range 1-4",
        f"{p}:8: districts[0].schools[0].systems[1].level: MLPS level 0 out of range 1-4",
        f"{p}:10: districts[0].schools[0].hosts[0].adress: unknown field (did you mean 'address'?)",
        f"{p}:11: districts[0].schools[0].hosts[1].address: '10.0.0.300' is not an IP address or host name",
        f"{p}:11: districts[0].schools[0].hosts[1].port: wrong type or value 'twenty-two': expected a port number 1-65535",
        f"{p}:12: districts[0].schools[0].hosts[2].address: 'bad host!' is not an IP address or host name",
        f"{p}:12: districts[0].schools[0].hosts[2].roles: wrong type or value 'web': expected a list of role names",
        f"{p}:13: districts[0].schools[0].hosts[3].id: duplicate host id 'web01' (first defined at {p}:10)",
        f"{p}:14: districts[0].schools[0].hosts[4].systems[0]: unknown system 'portl' in school 's1' (did you mean 'portal'?)",
        f"{p}:16: hosts[0].school: host 'orphan' is in no school: list it under a school's hosts or set 'school: ID'",
        f"{p}:17: hosts[1].school: host 'lost' is in no school: unknown school 's9'",
    ]
    for line in expected:
        assert line in got, f"missing: {line}\ngot:\n" + "\n".join(got)


def test_duplicate_host_across_files_names_the_first_definition(tmp_path):
    a = write(tmp_path / "t" / "a.yaml", "school: {id: s1, district: d1, hosts: [{id: h1, address: 10.0.0.1}]}\n")
    b = write(tmp_path / "t" / "b.yaml", "school:\n  id: s2\n  district: d1\n  hosts:\n    - {id: h1, address: 10.0.0.2}\n")
    assert f"{b}:5: school.hosts[0].id: duplicate host id 'h1' (first defined at {a}:1)" in problems(tmp_path / "t")


@pytest.mark.parametrize("text,line,needle", [
    ("bureau: {id: a}\nbureau: {id: b}\n", 2, "bureau: duplicate key (first defined on line 1)"),
    ("bureau: !!python/object/apply:os.system [echo hi]\n", 1, "YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed"),
    ("bureau: {id: a\n", 2, "(yaml): not valid YAML"),
    ("districts:\n  - id: d1\n    schools: [{id: s1, hosts: [{id: h, address: 10.0.0.1, level: 7}]}]\n", 3, "MLPS level 7 out of range 1-4"),
])
def test_yaml_level_problems(tmp_path, text, line, needle):
    f = tmp_path / "x.yaml"
    f.write_text(text)
    got = problems(f)
    assert any(g.startswith(f"{f}:{line}: ") and needle in g for g in got), got


def test_alias_bomb_is_refused_quickly(tmp_path):
    import time

    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 10) + "]")
    f = tmp_path / "bomb.yaml"
    f.write_text("\n".join(lines) + "\n")
    t0 = time.monotonic()
    got = problems(f)
    assert time.monotonic() - t0 < 5
    assert any("alias bomb" in g for g in got)


def test_non_utf8_file_is_reported(tmp_path):
    f = tmp_path / "gbk.yaml"
    f.write_bytes("bureau: {id: a, name: 测试}\n".encode("gbk"))
    assert problems(f) == [f"{f}:1: (file): not UTF-8 text"]


ANSIBLE = """\
all:
  vars: {ansible_user: ops, district: east}
  children:
    school_a:
      vars: {school: school-a, mlps_level: 3, ansible_port: 2200}
      children:
        web:
          vars: {ansible_port: 2201, ansible_become: true}
          hosts:
            web[01:03].a.example:
            special.a.example: {ansible_host: 10.5.0.9, ansible_port: 2299, ansible_ssh_private_key_file: /k/id,
                                ansible_ssh_common_args: '-o ProxyJump=bastion.a.example'}
    school_b:
      hosts:
        b1: {ansible_host: 10.6.0.1, ansible_connection: local}
"""


def test_ansible_inventory_groups_vars_and_connection_variables(tmp_path):
    inv = load_inventory(write(tmp_path / "hosts.yml", ANSIBLE))
    assert sorted(inv.hosts) == ["b1", "special.a.example", "web01.a.example", "web02.a.example", "web03.a.example"]
    web = inv.hosts["web02.a.example"]
    assert web.settings["port"] == 2201 and web.settings["user"] == "ops" and web.settings["sudo"] is True
    assert web.school == "school-a" and web.district == "east" and web.level == 3
    sp = inv.hosts["special.a.example"]
    assert sp.address == "10.5.0.9" and sp.settings["port"] == 2299 and sp.settings["key_file"] == "/k/id"
    assert sp.settings["jump"] == "bastion.a.example"
    b1 = inv.hosts["b1"]
    assert b1.school == "school_b" and b1.connection == "local" and b1.address == "10.6.0.1"
    assert b1.level == 2 and any("b1" in str(w) for w in inv.warnings)


def test_ansible_bad_port_is_reported_with_file_and_line(tmp_path):
    f = write(tmp_path / "hosts.yml", "all:\n  hosts:\n    h1: {ansible_port: ssh}\n")
    assert any(g.startswith(f"{f}:3: h1.ansible_port: wrong type or value 'ssh'") for g in problems(f)), problems(f)


def test_limit_selects_hosts_schools_districts_roles_and_globs(tmp_path):
    inv = load_inventory(write(tmp_path / "inv.yaml", BASE))
    ids = lambda p: sorted(h.id for h in inv.select(p))  # noqa: E731
    assert ids("web01") == ["web01"]
    assert ids("s1") == ["lib01", "misc01", "web01"] == ids("d1")
    assert ids("web") == ["web01"] and ids("*01") == ["lib01", "misc01", "web01"]
    assert ids("web01,lib01") == ["lib01", "web01"] and ids("nothing") == []


def test_validate_cli_exit_codes_and_no_traceback(tmp_path):
    good = write(tmp_path / "good.yaml", BASE)
    bad = write(tmp_path / "bad.yaml", BASE.replace("address: 10.1.1.30", "adress: 10.1.1.30"))
    r = subprocess.run([sys.executable, "auditctl.py", "validate", str(good)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and "3 hosts" in r.stdout
    r = subprocess.run([sys.executable, "auditctl.py", "validate", str(bad)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"{bad}:15: districts[0].schools[0].hosts[2].adress: unknown field (did you mean 'address'?)" in r.stderr
    assert auditctl.main(["validate", str(tmp_path / "missing.yaml")]) == 2


def test_nothing_is_written_when_the_inventory_is_invalid(tmp_path):
    bad = write(tmp_path / "bad.yaml", BASE.replace("level: 3", "level: 9"))
    rc = auditctl.main(["run", "-q", "-i", str(bad), "--db", str(tmp_path / "x.db"), "--out", str(tmp_path / "out"),
                        "--json", str(tmp_path / "x.json")])
    assert rc == 2
    assert not any((tmp_path / n).exists() for n in ("x.db", "out", "x.json"))


def test_shipped_inventories_are_valid():
    for inv in [ROOT / "inventories" / "localhost.yaml", *(p for p in (ROOT / "inventories").iterdir() if p.is_dir()
                                                          and not p.name.startswith("_"))]:
        load_inventory(inv)
