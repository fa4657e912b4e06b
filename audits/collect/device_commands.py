"""What a live device session may send, per platform: the session-only paging-off command, the
ordered read-only commands whose outputs are a device's facts (``Probe("command", CMD)``), and the
few fixed answers to interactive prompts. ``check_write`` is the allow-list: the device CLI session
(``transports/devicecli.py``) passes every byte it is about to write through it, at the lowest layer
that writes to the channel, so nothing else can reach a device, not even by a caller's mistake.

The lists are exact strings, not patterns: adding a command is a reviewed edit here. Every command
is a display/show command or the paging-off command, which lasts for the session only (``temporary``
on Huawei; H3C ``screen-length disable`` and Cisco/Ruijie ``terminal length 0`` apply to the current
terminal line only) and writes nothing to the configuration. Prompts are answered "no" and never "yes";
an Enter alone is never sent (a Cisco ``[confirm]`` would take it as yes).
"""
from __future__ import annotations

from dataclasses import dataclass

PLATFORMS = ("huawei-vrp", "h3c-comware", "ruijie-rgos", "cisco-ios")


@dataclass(frozen=True)
class DeviceCommands:
    platform: str
    paging_off: str
    commands: tuple[str, ...]  # the facts, in the order they are run; the first is the configuration
    config_command: str
    error_markers: tuple[str, ...]  # how the CLI starts a refusal (unknown command, too low a level)


# How each CLI says "no": its error lines begin with one of these (checked on the first lines of an output).
_VRP_ERRORS = ("Error:", "            ^", "% Unrecognized command", "% Incomplete command", "% Too many parameters",
               "% Wrong parameter", "% Ambiguous command", "Info: The command is not supported")
_IOS_ERRORS = ("% Invalid input", "% Incomplete command", "% Ambiguous command", "% Authorization failed",
               "% Unknown command", "% Unrecognized command", "% Permission denied", "Command authorization failed")

COMMANDS: dict[str, DeviceCommands] = {
    "huawei-vrp": DeviceCommands("huawei-vrp", "screen-length 0 temporary",
                                 ("display current-configuration", "display version"),
                                 "display current-configuration", _VRP_ERRORS),
    "h3c-comware": DeviceCommands("h3c-comware", "screen-length disable",
                                  ("display current-configuration", "display version", "display password-control"),
                                  "display current-configuration", _VRP_ERRORS),
    "ruijie-rgos": DeviceCommands("ruijie-rgos", "terminal length 0", ("show running-config", "show version"),
                                  "show running-config", _IOS_ERRORS),
    "cisco-ios": DeviceCommands("cisco-ios", "terminal length 0", ("show running-config", "show version"),
                                "show running-config", _IOS_ERRORS),
}
assert set(COMMANDS) == set(PLATFORMS)

NEWLINE = "\n"
# The only interactive answers: "no" in the forms the prompts ask for, and a space for a pager.
ANSWER_NO = {"[Y/N]": "N", "(y/n)": "n", "[yes/no]": "no"}
MORE = " "
# Every read-only command starts with one of these (a guard on the lists above, checked at import).
_READ_ONLY_VERBS = ("display ", "show ")


class CommandNotAllowed(Exception):
    """Something not on the allow-list was about to be written to a device. Nothing was sent."""


def for_platform(platform: str) -> DeviceCommands:
    try:
        return COMMANDS[platform]
    except KeyError:
        raise CommandNotAllowed(f"no live device commands for platform {platform!r}") from None


def allowed_lines(platform: str) -> frozenset[str]:
    """Every line (without its newline) that may be written to a device of this platform."""
    c = for_platform(platform)
    return frozenset((c.paging_off, *c.commands, *ANSWER_NO.values()))


def check_command(platform: str, command: str) -> None:
    """Raise CommandNotAllowed unless ``command`` is one of this platform's read-only fact commands."""
    if command not in for_platform(platform).commands:
        raise CommandNotAllowed(f"{command[:80]!r} is not a read-only command of the {platform} allow-list")


def check_write(platform: str, data: bytes) -> None:
    """The gate in front of every write to a device: ``data`` must be exactly an allowed line plus the
    newline, or the pager's space. Raises CommandNotAllowed before anything is sent."""
    if data == MORE.encode():
        return
    text = data.decode("ascii", "replace")
    if text.endswith(NEWLINE) and text[:-1] in allowed_lines(platform) and text.count(NEWLINE) == 1 \
            and "\r" not in text:
        return
    raise CommandNotAllowed(f"refusing to send {text[:80]!r} to a {platform} device: not on the allow-list")


for _c in COMMANDS.values():  # the lists themselves stay read-only
    assert all(cmd.startswith(_READ_ONLY_VERBS) for cmd in _c.commands), _c
    assert _c.config_command == _c.commands[0]
    assert _c.paging_off in ("screen-length 0 temporary", "screen-length disable", "terminal length 0")
