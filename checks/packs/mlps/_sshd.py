"""The sshd views the MLPS checks judge: ``sshd -T`` for the connection classes that matter, else the
configuration files read as sshd reads them."""
from __future__ import annotations

from checks.contract import Outcome
from checks.facts import SSHD_T, files
from checks.parsers.sshd import effective_config, sshd_values
from checks.probe_catalogue import named

SSHD_OUTSIDE = named("sshd_outside")
SSHD_USER_OUTSIDE = named("sshd_user_outside")
SSHD_CONFIG_FILES = named("sshd_config_files")
# The connection classes judged: sshd -T alone (no Match applied), root and an ordinary account from outside.
SSHD_CLASSES = (("sshd -T", SSHD_T, ("", "", "")),
                ("root from 203.0.113.7", SSHD_OUTSIDE, ("root", "outside.invalid", "203.0.113.7")),
                ("user nobody from 203.0.113.7", SSHD_USER_OUTSIDE, ("nobody", "outside.invalid", "203.0.113.7")))


def sshd_views(facts):
    """([(connection class, {key: [words]})], note) from the ``sshd -T`` probes that ran, else from the
    configuration files (Include and Match followed by checks.parsers.sshd.effective_config);
    (None, Outcome) when sshd is absent or nothing could be read."""
    views, failures = [], []
    for label, probe, _conn in SSHD_CLASSES:
        res = facts.get(probe)
        if res.error and "not gathered" in res.error:
            continue
        if res.error or res.rc != 0:
            if probe is SSHD_T and res.missing():
                return None, Outcome.not_applicable("未安装 sshd", "sshd is not installed")
            failures.append(f"{label}: {res.error or f'exit {res.rc}'}")
            continue
        views.append((label, sshd_values(res.stdout)))
    if views:
        return views, ""
    res = facts.get(SSHD_CONFIG_FILES)
    if not res.error and res.stdout.strip():
        cfg = {p: lines for p, lines in files(res.stdout).items()}
        return [(f"{label} (from the configuration files)", effective_config(cfg, *conn)) for label, _p, conn in SSHD_CLASSES], \
            "sshd -T could not run: " + "; ".join(failures)
    why = "; ".join(failures) or "no sshd -T result"
    return None, Outcome.error(f"无法读取 sshd 的有效配置：{why}", f"cannot read sshd's effective configuration: {why}")


