"""Device pack, 安全审计 (8.1.4.3, 8.1.3.5): logging on, a remote log server, NTP and the time zone."""
from __future__ import annotations

from checks.contract import Outcome, evaluator

from ._device import lines, model, passed, undecided


@evaluator("devices.audit.logging")
def logging_on(facts, host):
    cfg, err = model(facts, host)
    if err:
        return err
    s = cfg.logging
    if not s.known:
        return undecided(s, "日志功能", "logging")
    if not s.value:
        return Outcome.failed("设备日志功能被关闭", "logging is switched off on the device", s.evidence())
    return passed(cfg, "设备日志功能开启", "logging is on", s.evidence())


@evaluator("devices.audit.log_server")
def log_server(facts, host, params):
    cfg, err = model(facts, host)
    if err:
        return err
    if cfg.logging.known and not cfg.logging.value:
        return Outcome.failed("日志功能关闭，未发送到日志服务器", "logging is off; nothing reaches a log server", cfg.logging.evidence())
    if len(cfg.log_hosts) < params["min_servers"]:
        return Outcome.failed("未配置远程日志服务器，审计记录只保存在设备本地（重启或覆盖即丢失）",
                              "no remote log server: records stay on the device (lost on reboot or overwrite)",
                              lines(s.evidence() for s in cfg.log_hosts) or "no info-center loghost / logging host / logging server line")
    return passed(cfg, f"日志发送到 {len(cfg.log_hosts)} 台日志服务器", f"logs go to {len(cfg.log_hosts)} log server(s)",
                  lines(s.evidence() for s in cfg.log_hosts))


@evaluator("devices.audit.time_sync")
def time_sync(facts, host, params):
    cfg, err = model(facts, host)
    if err:
        return err
    bad = []
    if not cfg.ntp_servers:
        bad.append(("未配置 NTP 服务器", "no NTP server"))
    if params["require_timezone"] and not cfg.timezone.known:
        bad.append(("未设置时区", "no time zone"))
    ev = lines([s.evidence() for s in cfg.ntp_servers] + ([cfg.timezone.evidence()] if cfg.timezone.known else []))
    if bad:
        return Outcome.failed("审计记录时间不可靠：" + "、".join(b[0] for b in bad), "audit record times are unreliable: "
                              + ", ".join(b[1] for b in bad), ev or "no ntp-service unicast-server / ntp server / clock timezone line")
    return passed(cfg, "已配置 NTP 时间同步与时区", "NTP and the time zone are configured", ev)
