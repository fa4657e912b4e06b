"""Network-device configurations (Huawei VRP, H3C Comware, Ruijie RGOS, Cisco IOS) into one vendor-neutral
model (``model.DeviceConfig``): the platforms and the commands whose output a device's facts hold, and
``device_model(facts, platform)``, the one entry the device pack uses. Parsing is pure and bounded
(``tree``); effective values come from the configuration, other command outputs, then the versioned
vendor-default table (``defaults.yaml``), and each value says which decided.
"""
from __future__ import annotations

from functools import lru_cache

from audits.model.probes import Facts, Probe

from . import common, ios, tree, vrp
from .model import DeviceConfig

# The commands a device's facts hold (the seam with the live transport, branch devices-live): the configuration
# command first; a saved configuration fills only that one.
COMMANDS: dict[str, tuple[str, ...]] = {
    "huawei-vrp": ("display current-configuration", "display version"),
    "h3c-comware": ("display current-configuration", "display version", "display password-control"),
    "ruijie-rgos": ("show running-config", "show version"),
    "cisco-ios": ("show running-config", "show version"),
}
PLATFORMS = tuple(COMMANDS)
NAMES = {"huawei-vrp": "Huawei VRP", "h3c-comware": "H3C Comware", "ruijie-rgos": "Ruijie RGOS", "cisco-ios": "Cisco IOS"}


def config_command(platform: str) -> str:
    return COMMANDS[platform][0]


def config_probe(platform: str) -> Probe:
    return Probe("command", config_command(platform))


@lru_cache(maxsize=32)
def parse(platform: str, text: str, outputs: tuple = ()) -> DeviceConfig:
    """The model of one configuration text (``outputs``: other commands' (command, output) pairs)."""
    extra = dict(outputs)
    t = tree.parse(text)
    release = common.release_of(text, *(extra.get(c, "") for c in COMMANDS[platform][1:]))
    module = vrp if platform in ("huawei-vrp", "h3c-comware") else ios
    return module.parse(t, platform, release, extra)


def platform_of(facts: Facts, host) -> str | None:
    """The device platform of a host: its facts' os family (set by the device platform, or a fixture's
    ``os``), else its inventory ``platform``."""
    for p in (facts.meta.get("os_family"), getattr(host, "os", None), getattr(host, "platform", None)):
        if p in COMMANDS:
            return p
    return None


def device_model(facts: Facts, host) -> tuple[DeviceConfig | None, str]:
    """(model, '') or (None, why): the parsed configuration of a device host."""
    platform = platform_of(facts, host)
    if platform is None:
        return None, "not a network device"
    res = facts.get(config_probe(platform))
    if res.error or not res.stdout.strip():
        return None, res.error or f"no output from '{config_command(platform)}'"
    outputs = tuple((c, facts.get(Probe("command", c)).stdout) for c in COMMANDS[platform][1:]
                    if facts.get(Probe("command", c)).stdout)
    return parse(platform, res.stdout, outputs), ""


__all__ = ["COMMANDS", "PLATFORMS", "NAMES", "DeviceConfig", "config_command", "config_probe", "device_model", "parse",
           "platform_of"]
