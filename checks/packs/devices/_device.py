"""What the device pack's evaluators share: the parsed model of a host's configuration (or the error
outcome saying why there is none), outcomes for values nobody could decide, bounded evidence lines."""
from __future__ import annotations

from checks.contract import Outcome
from checks.parsers.devices import NAMES, DeviceConfig, device_model
from checks.parsers.devices.model import Setting

MAX_LINES = 20


def model(facts, host) -> tuple[DeviceConfig | None, Outcome | None]:
    cfg, why = device_model(facts, host)
    if cfg is None:
        return None, Outcome.error(f"无法读取设备配置：{why}", f"the device configuration could not be read: {why}")
    return cfg, None


def lines(items) -> str:
    items = [str(i) for i in items if i]
    more = len(items) - MAX_LINES
    return "\n".join(items[:MAX_LINES] + ([f"… and {more} more"] if more > 0 else []))


def vendor(cfg: DeviceConfig) -> str:
    return NAMES.get(cfg.platform, cfg.platform) + (f" {cfg.release}" if cfg.release else "")


def passed(cfg: DeviceConfig, zh: str, en: str, evidence: str = "") -> Outcome:
    """A pass — unless the configuration was cut at the size cap: then nothing after the cut was read."""
    if cfg.truncated:
        return Outcome.error("配置超过读取上限，已截断，无法判定为符合", "the configuration exceeded the size cap and was cut; "
                             "not judged as passing", evidence)
    return Outcome.passed(zh, en, evidence)


def undecided(setting: Setting, zh: str, en: str) -> Outcome:
    """A value neither the configuration nor the vendor-default table decides: a person must confirm it."""
    return Outcome.manual(f"{zh}：配置中没有相应命令，且该版本的厂商默认值未知，请人工核实",
                          f"{en}: the configuration does not say and the vendor default for this release is not known; "
                          "confirm on the device", setting.evidence())
