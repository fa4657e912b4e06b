"""What the device pack's evaluators share: the parsed model of a host's configuration (or the error
outcome saying why there is none), outcomes for values nobody could decide, bounded evidence lines."""
from __future__ import annotations

from checks.contract import Outcome
from checks.parsers.devices import NAMES, DeviceConfig, device_model
from checks.parsers.devices.model import Setting

MAX_LINES = 20


def model(facts, host) -> tuple[DeviceConfig | None, Outcome | None]:
    """The parsed configuration, or the error outcome: none read, or one cut at the size cap (a line after the cut
    may undo any line before it, so nothing of it is judged, neither pass nor fail)."""
    cfg, why = device_model(facts, host)
    if cfg is None:
        return None, Outcome.error(f"无法读取设备配置：{why}", f"the device configuration could not be read: {why}")
    if cfg.truncated:
        return None, Outcome.error("配置超过读取上限（4 MiB 或 20 万行），已截断，不作判定",
                                   "the configuration exceeded the size cap (4 MiB or 200 000 lines) and was cut; not judged",
                                   f"{cfg.lines} lines read")
    return cfg, None


def lines(items) -> str:
    items = [str(i) for i in items if i]
    more = len(items) - MAX_LINES
    return "\n".join(items[:MAX_LINES] + ([f"… and {more} more"] if more > 0 else []))


def vendor(cfg: DeviceConfig) -> str:
    return NAMES.get(cfg.platform, cfg.platform) + (f" {cfg.release}" if cfg.release else "")


def passed(cfg: DeviceConfig, zh: str, en: str, evidence: str = "") -> Outcome:
    """A pass (``model`` never hands over a configuration cut at the size cap)."""
    return Outcome.passed(zh, en, evidence)


def undecided(setting: Setting, zh: str, en: str) -> Outcome:
    """A value neither the configuration nor the vendor-default table decides: a person must confirm it."""
    return Outcome.manual(f"{zh}：配置中没有相应命令，且该版本的厂商默认值未知，请人工核实",
                          f"{en}: the configuration does not say and the vendor default for this release is not known; "
                          "confirm on the device", setting.evidence())
