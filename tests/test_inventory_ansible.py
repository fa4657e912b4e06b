"""Ansible inventories as Ansible reads them: our view compared with ``ansible-inventory --list`` itself
(YAML and INI, string ports, yes/no booleans, groups and children, ranges, group_vars/ and host_vars/,
group depth and priority), the campus mapping with Ansible's coercion, bounded ranges, id rules."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audits.inventory.load import ansible_view, load_inventory
from audits.model.errors import InputError

ANSIBLE_INVENTORY = shutil.which("ansible-inventory", path=str(Path(sys.executable).parent)) \
    or shutil.which("ansible-inventory")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# Each case: {relative path: text}; the first file is the inventory given to -i.
CASES = {
    "yaml_strings": {
        "hosts.yml": """\
all:
  vars: {ansible_user: ops, district: east, ansible_become: "yes"}
  children:
    school_a:
      vars: {school: school-a, mlps_level: "3", ansible_port: "2200"}
      children:
        web:
          vars: {ansible_port: "22", ansible_become: "True"}
          hosts:
            web[01:03].a.example:
            special.a.example: {ansible_host: 10.5.0.9, ansible_port: 2299}
    school_b:
      hosts:
        b1: {ansible_host: 10.6.0.1, ansible_connection: local, ansible_become: no}
        web02.a.example: {extra: 1}
""",
    },
    "ini_groups": {
        "hosts": """\
# a comment
lonely ansible_host=10.9.9.9
[web]
web[1:3] ansible_port="22" flag=yes
db-[a:c]:2222 ansible_become=True
h[0:8:4]
[web:vars]
ansible_become=yes
ansible_user=deploy
level_s=3
[db]
db-b ansible_port=5432
[campus:children]
web
db
[campus:vars]
school=campus-1
ansible_user=campus
; another comment
""",
    },
    "vars_dirs": {
        "inv/hosts.ini": """\
[school_a]
a1 ansible_host=10.1.0.1
a2
[school_b]
b1
[labs:children]
school_a
[labs:vars]
district=lab
""",
        "inv/group_vars/all.yml": "ansible_user: everyone\nansible_port: '22'\n",
        "inv/group_vars/school_a.yaml": "ansible_port: 2022\nmlps_level: 3\n",
        "inv/group_vars/labs/main.yml": "district: labs-gv\nansible_become: 'yes'\n",
        "inv/group_vars/labs/zz.yml": "ansible_become: 'no'\n",
        "inv/host_vars/a2": "ansible_port: '2222'\n",
        "inv/host_vars/b1.yml": "ansible_user: b-user\n",
    },
    "priority_and_depth": {
        "hosts.yml": """\
all:
  vars: {v: all}
  hosts:
    solo:
  children:
    alpha:
      vars: {v: alpha, w: alpha}
      hosts: {x1: {}}
    beta:
      vars: {v: beta, w: beta, ansible_group_priority: 5}
      hosts: {x1: {}}
      children:
        deep:
          vars: {w: deep}
          hosts: {x2: {}}
    zulu:
      vars: {v: zulu}
      hosts: {x1: {}, x2: {v: host}}
""",
        "host_vars/x2.yml": "w: from-host-vars\n",
        "group_vars/zulu.yml": "v: zulu-gv\n",
    },
}


def ansible_list(inventory: Path) -> dict:
    env = {**os.environ, "ANSIBLE_LOCAL_TEMP": str(inventory.parent / ".ansible-tmp"),
           "ANSIBLE_HOME": str(inventory.parent / ".ansible-home"), "ANSIBLE_NOCOLOR": "1",
           "PYTHONWARNINGS": "ignore"}
    r = subprocess.run([ANSIBLE_INVENTORY, "-i", str(inventory), "--list"], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def ansible_groups_of(listing: dict) -> dict[str, set]:
    """host -> every group it is in (ancestors included), from the --list tree."""
    children = {g: v.get("children", []) for g, v in listing.items() if g != "_meta"}
    direct = {g: v.get("hosts", []) for g, v in listing.items() if g != "_meta"}
    out: dict[str, set] = {}

    def walk(g, above):
        for h in direct.get(g, []):
            out.setdefault(h, set()).update(above | {g})
        for c in children.get(g, []):
            walk(c, above | {g})

    walk("all", set())
    return out


@pytest.mark.skipif(ANSIBLE_INVENTORY is None and os.environ.get("CI") != "true",
                    reason="ansible-inventory not installed (pip install '.[test]')")
@pytest.mark.parametrize("case", sorted(CASES))
def test_resolved_variables_match_ansible_inventory(tmp_path, case):
    assert ANSIBLE_INVENTORY, "ansible-inventory is missing: the test extra installs ansible-core"
    files = [write(tmp_path / rel, text) for rel, text in CASES[case].items()]
    listing = ansible_list(files[0])
    view = ansible_view(files[0])
    ours = {h: v for h, (v, _) in view.resolve().items()}
    assert sorted(ours) == sorted(listing["_meta"]["hostvars"].keys() | set(ansible_groups_of(listing)))
    for h, theirs in listing["_meta"]["hostvars"].items():
        assert ours[h] == theirs, h
    for h in ours:
        assert ours[h] == listing["_meta"]["hostvars"].get(h, {}), h
    memberships = view.host_groups()
    for h, groups in ansible_groups_of(listing).items():
        assert memberships[h] == groups, h


def test_campus_view_coerces_as_ansible_connects(tmp_path):
    inv = load_inventory(write(tmp_path / "hosts.yml", CASES["yaml_strings"]["hosts.yml"]))
    web = inv.hosts["web01.a.example"]
    assert web.settings["port"] == 22 and web.settings["sudo"] is True and web.level == 3
    assert web.school == "school-a" and web.district == "east" and web.settings["user"] == "ops"
    assert inv.hosts["special.a.example"].settings["port"] == 2299
    b1 = inv.hosts["b1"]
    assert b1.settings["sudo"] is False and b1.connection == "local" and b1.school == "school_b"


def test_ini_inventory_with_group_vars_and_host_vars(tmp_path):
    for rel, text in CASES["vars_dirs"].items():
        write(tmp_path / rel, text)
    inv = load_inventory(tmp_path / "inv" / "hosts.ini")
    a1, a2, b1 = inv.hosts["a1"], inv.hosts["a2"], inv.hosts["b1"]
    assert (a1.address, a1.settings["port"], a1.level, a1.school) == ("10.1.0.1", 2022, 3, "labs")
    assert a2.settings["port"] == 2222 and a1.settings["sudo"] is False  # labs/zz.yml wins over labs/main.yml
    assert b1.settings["user"] == "b-user" and b1.settings["port"] == 22 and b1.school == "school_b"
    assert a1.district == "labs-gv" and b1.district == "default"
    # the same directory as an inventory: group_vars/ and host_vars/ are vars, not inventory files
    assert sorted(load_inventory(tmp_path / "inv").hosts) == ["a1", "a2", "b1"]


def test_ini_hosts_ranges_ports_and_inline_literals(tmp_path):
    inv = load_inventory(write(tmp_path / "hosts", CASES["ini_groups"]["hosts"]))
    assert sorted(inv.hosts) == ["db-a", "db-b", "db-c", "h0", "h4", "h8", "lonely", "web1", "web2", "web3"]
    assert inv.hosts["db-a"].settings["port"] == 2222 and inv.hosts["db-b"].settings["port"] == 5432
    assert inv.hosts["web2"].settings["port"] == 22 and inv.hosts["web2"].settings["sudo"] is True
    assert inv.hosts["web2"].settings["user"] == "deploy" and inv.hosts["db-a"].settings["user"] == "deploy"  # web is deeper than campus
    assert inv.hosts["lonely"].school == "ungrouped" and inv.hosts["web1"].school == "campus-1"


def problems(path: Path) -> list[str]:
    with pytest.raises(InputError) as e:
        load_inventory(path)
    return [str(p) for p in e.value.problems]


@pytest.mark.parametrize("pattern", ["h[1:300000]", "h[1:100][1:100]", "x[0:9][0:9][0:9][0:9][0:9][0:9][0:9]"])
def test_host_ranges_are_bounded_with_file_and_line(tmp_path, pattern):
    f = write(tmp_path / "hosts.yml", f"all:\n  children:\n    s1:\n      hosts:\n        {pattern}:\n")
    start = time.monotonic()
    got = problems(f)
    assert time.monotonic() - start < 2
    assert len(got) == 1 and got[0].startswith(f"{f}:5: all.children.s1.hosts.{pattern}: ") and "at most 4096" in got[0], got
    ini = write(tmp_path / "hosts.ini", f"[s1]\nok1\n{pattern} ansible_port=22\n")
    got = problems(ini)
    assert len(got) == 1 and got[0].startswith(f"{ini}:3: [s1].{pattern}: "), got


@pytest.mark.parametrize("text, line, field, words", [
    ("[s1]\nweb[1:b]\n", 2, "[s1].web[1:b]", "numbers or single letters"),
    ("[s1]\nweb[3:1]\n", 2, "[s1].web[3:1]", "begin is after end"),
    ("[s1]\nweb[01:100]\n", 2, "[s1].web[01:100]", "same width"),
    ("[s1]\nweb1 port\n", 2, "[s1].web1", "expected key=value"),
    ("[s1:vars]\nx=1\n", 1, "[s1:vars]", "no section of hosts"),
    ("[s1:nonsense]\n", 1, "[s1:nonsense]", "unknown section type"),
    ("[s1]\nweb1 ansible_port=yes\n", 2, "web1.ansible_port", "expected a port"),
    ("[s1]\nweb1\n[s1:vars]\nansible_become=maybe\n", 4, "web1.ansible_become", "true or false"),
    ("[s1]\n" + "h" * 80 + "\n", 2, "[s1]." + "h" * 80, "at most 64"),
    ("[bad group!]\nweb1\n", 1, "bad group!", "group name"),
    ("[s1]\nweb1 school=no/such\n", 2, "web1.school", "school id"),
])
def test_bad_ini_input_names_file_line_and_field(tmp_path, text, line, field, words):
    f = write(tmp_path / "hosts.ini", text)
    got = problems(f)
    assert any(p.startswith(f"{f}:{line}: {field}: ") and words in p for p in got), got


def test_ansible_host_ids_follow_the_native_rule(tmp_path):
    long = "h" * 80
    f = write(tmp_path / "hosts.yml", f"all:\n  hosts:\n    ok1:\n    {long}:\n    '-dash':\n")
    got = problems(f)
    assert any(p.startswith(f"{f}:4: all.hosts.{long}: host name") for p in got), got
    assert any(p.startswith(f"{f}:5: all.hosts.-dash: host name") for p in got), got
    # a trailing newline never passes an id rule (native ids, Ansible ids, addresses)
    f = write(tmp_path / "nl.yml", 'all:\n  hosts:\n    "web1\\n":\n    web2: {ansible_host: "10.0.0.1\\n"}\n')
    got = problems(f)
    assert any(":3: 'all.hosts.web1\\n': host name" in p for p in got) and any(":4: web2.ansible_host" in p for p in got)
    nat = write(tmp_path / "native.yaml", 'schools:\n  - {id: "s1\\n", district: d}\n')
    assert any(":2: schools[0].id: must be letters" in p for p in problems(nat))


def test_validate_cli_reads_an_ini_inventory(tmp_path):
    f = write(tmp_path / "hosts", "[s1]\nweb1 ansible_host=127.0.0.1 ansible_port='22'\n[s1:vars]\nmlps_level=3\n")
    r = subprocess.run([sys.executable, "-m", "auditctl", "validate", str(f)], capture_output=True, text=True,
                       cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 0 and "1 schools, 0 systems, 1 hosts" in r.stdout, (r.stdout, r.stderr)


from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

_INI_PIECES = st.sampled_from(["[web]", "[web:vars]", "[web:children]", "[all:vars]", "[x:bad]", "[", "web[1:3]",
                               "h[01:5]", "h[a:z]", "h[1:99999]", "db:2222", "ansible_port=22", "ansible_become=yes",
                               "k='v", "school=s1", "mlps_level=3", "=", "# c", "; c", "web", "h\x00", "é"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(_INI_PIECES, min_size=1, max_size=4).map(" ".join), max_size=12))
def test_any_ini_text_gives_a_model_or_file_line_problems(tmp_path, lines):
    f = tmp_path / "fuzz.ini"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        inv = load_inventory(f)
    except InputError as e:
        assert e.problems and all(p.file == str(f) and p.line >= 0 for p in e.problems)
    else:
        assert all(len(h) <= 64 for h in inv.hosts)


def test_children_cycles_and_long_chains(tmp_path):
    f = write(tmp_path / "cycle.ini", "[a]\nh1\n[a:children]\nb\n[b:children]\na\n")
    got = problems(f)
    assert any(p.startswith(f"{f}:") and "is its own ancestor" in p for p in got), got
    chain = "".join(f"[g{i}:children]\ng{i + 1}\n" for i in range(3000)) + "[g3000]\nh1\n"
    inv = load_inventory(write(tmp_path / "chain.ini", chain))
    assert list(inv.hosts) == ["h1"] and inv.hosts["h1"].school == "g0"


def test_yaml_keys_are_read_in_document_order(tmp_path):
    # children before hosts: the parent's later host definition wins, as in ansible-inventory
    f = write(tmp_path / "order.yml", "all:\n  children:\n    s1:\n      children:\n        web:\n          hosts:\n"
                                      "            w1: {ansible_port: 2201}\n      hosts:\n"
                                      "        w1: {ansible_port: 2202}\n")
    assert load_inventory(f).hosts["w1"].settings["port"] == 2202
    if ANSIBLE_INVENTORY:
        assert ansible_list(f)["_meta"]["hostvars"]["w1"]["ansible_port"] == 2202
