"""Release keys shared by the feeds and the hosts: ``<distro>:<version>`` ('debian:12', 'ubuntu:22.04',
'rhel:9', 'openeuler:22.03-LTS-SP2'); the Debian and Ubuntu codenames feeds use; the releases whose
vendor fixes never reach the host (end of life)."""
from __future__ import annotations

import re

DEBIAN = {"jessie": "8", "stretch": "9", "buster": "10", "bullseye": "11", "bookworm": "12", "trixie": "13",
          "forky": "14", "duke": "15"}
UBUNTU = {"xenial": "16.04", "bionic": "18.04", "focal": "20.04", "jammy": "22.04", "noble": "24.04",
          "oracular": "24.10", "plucky": "25.04", "questing": "25.10", "resolute": "26.04"}
# RHEL rebuilds judged with Red Hat's data when no feed of their own is imported (labelled as borrowed).
RHEL_CLONES = ("centos", "rocky", "almalinux", "ol")
# Releases past their end of life whose upstream keeps fixing (ELS): a fix dated after the date never reaches
# the host's mirrors. CentOS 7 ended on 2024-06-30 while RHEL 7 ELS advisories continue.
EOL_AFTER = {("centos", "7"): "2024-06-30", ("centos", "8"): "2021-12-31"}


def host_release(osrel: dict) -> tuple[str, str, str]:
    """os-release fields → (distro id, release key, label) — ('', '', …) when unknown."""
    distro = (osrel.get("ID") or "").strip().lower()
    vid = (osrel.get("VERSION_ID") or "").strip()
    code = (osrel.get("VERSION_CODENAME") or "").strip().lower()
    if distro == "debian":
        ver = vid or DEBIAN.get(code, "")
        return distro, f"debian:{ver}" if ver else "", f"Debian {ver or code}"
    if distro == "ubuntu":
        ver = vid or UBUNTU.get(code, "")
        return distro, f"ubuntu:{ver}" if ver else "", f"Ubuntu {ver}"
    if distro == "openeuler":
        m = re.search(r"\(([A-Za-z0-9-]+)\)", osrel.get("VERSION", ""))  # VERSION="22.03 (LTS-SP2)"
        ver = f"{vid}-{m.group(1)}" if m and vid else vid
        return distro, f"openeuler:{ver}" if ver else "", f"openEuler {ver}"
    if distro in ("rhel",) + RHEL_CLONES:
        major = vid.split(".")[0]
        return distro, f"{distro}:{major}" if major else "", f"{osrel.get('NAME', distro)} {vid}".strip()
    return distro, f"{distro}:{vid}" if distro and vid else "", f"{osrel.get('NAME', distro)} {vid}".strip()


def debian_release(codename: str) -> str:
    """Tracker/OVAL codename → release key ('' for sid, experimental and unknown names)."""
    c = codename.lower()
    if c in DEBIAN:
        return f"debian:{DEBIAN[c]}"
    if c in UBUNTU:
        return f"ubuntu:{UBUNTU[c]}"
    return ""
