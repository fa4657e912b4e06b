"""A Celery run auditing the campus lab's SSH hosts with two real collectors on one site queue, one of
them SIGKILLed while it holds a task: every host is still accounted for, exactly once."""
import re
import subprocess
import sys
import time

import pytest
import yaml

from audits.store.database import Store
from tests.celery_workers import bureau, REDIS_URL, ROOT, Worker, need_broker, unique_queue

VISIBILITY = 10   # seconds before the dead collector's unacknowledged task goes to the other one


@pytest.mark.lab
def test_a_collector_killed_mid_task_loses_no_host(campus_lab, tmp_path, pg_url):
    """The bureau store is the real PostgreSQL server, as at a bureau."""
    need_broker(REDIS_URL)
    queue = unique_queue("lab")
    inv = campus_lab.write_inventory(tmp_path / "inv.yaml", connect_timeout=6, host_timeout=30)
    doc = yaml.safe_load(inv.read_text())
    doc["districts"][0]["schools"][0]["site"] = queue
    inv.write_text(yaml.safe_dump(doc, allow_unicode=True))
    silent = campus_lab.by_kind("silent")[0].id          # its audit waits 6 s for a banner: a task in flight
    # both collectors of the site share its configuration: the lab's audit key by name, its known_hosts
    site = bureau().site(queue, connections=("ssh",), keys={"lab": str(campus_lab.key_file)}, default_key="lab",
                         known_hosts=str(campus_lab.known_hosts))
    workers = [Worker(queue, tmp_path / f"w{i}.log", visibility_timeout=VISIBILITY, site_config=site) for i in (1, 2)]
    db = pg_url
    try:
        for w in workers:
            w.wait_ready()
        run = subprocess.Popen([sys.executable, str(ROOT / "auditctl.py"), "run", "-q", "-i", str(inv), "--db", str(db),
                                "--out", "", "--dispatch", "celery", "--broker", REDIS_URL, "--dispatch-timeout", "120",
                                *bureau().args()],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        holder = None
        while holder is None and time.monotonic() < deadline:
            holder = next((w for w in workers if w.audited(silent)), None)
            time.sleep(0.05)
        assert holder is not None, "no collector took the silent host's task"
        holder.kill()                                     # dies holding the unacknowledged task
        survivor = next(w for w in workers if w is not holder)
        out, err = run.communicate(timeout=150)
    finally:
        for w in workers:
            w.stop()
    assert run.returncode == 3, err                       # down and silent hosts are unreachable: incomplete
    run_id = re.search(r"^run (\S+): ", err, re.M).group(1)
    store = Store(db)
    assert store.run(run_id)["status"] == "incomplete"
    hosts = {h.host_id: h for h in store.hosts(run_id)}
    assert sorted(hosts) == sorted(h.id for h in campus_lab.hosts)       # every host, each once
    assert hosts[silent].reason == "timeout"              # audited again by the survivor, not lost
    assert survivor.audited(silent) >= 1
    results = store.results(run_id)
    for h in campus_lab.ssh_hosts:
        assert hosts[h.id].status == "audited", hosts[h.id]
        rows = results[h.id]
        assert len(rows) == len({x["check_id"] for x in rows})          # no doubled results
        failed = {x["check_id"] for x in rows if x["status"] == "fail"}
        assert set(h.expected_failures) <= failed, (h.id, h.expected_failures, failed)
    assert hosts[campus_lab.by_kind("down")[0].id].status == "unreachable"
