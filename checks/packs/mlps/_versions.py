"""Installed versions of the software whose semantics changed between releases (Linux-PAM,
libpwquality, OpenSSH), from the package listing the host gave: DPKG_VERSIONS on dpkg hosts, the
``rpm_auth_versions`` probe on RPM hosts."""
from __future__ import annotations

from checks.facts import DPKG_VERSIONS, per_host
from checks.parsers.packages import dpkg_versions, upstream_version
from checks.probe_catalogue import named

RPM_AUTH = named("rpm_auth_versions")
PAM_PKGS = ("libpam-modules", "libpam0g", "pam")
PWQ_PKGS = ("libpwquality1", "libpwquality-common", "libpwquality")
SSH_PKGS = ("openssh-server",)


@per_host
def versions(facts) -> dict[str, str]:
    """{package: version} from whichever package listing was gathered (empty when none was); shared by a host's
    checks (read only)."""
    out: dict[str, str] = {}
    res = facts.get(DPKG_VERSIONS)
    if not res.error and res.rc == 0:
        out.update(dpkg_versions(res.stdout))
    res = facts.get(RPM_AUTH)
    if not res.error:
        for ln in res.stdout.splitlines():
            parts = ln.split()
            if len(parts) == 2 and not ln.startswith("package "):
                out[parts[0]] = parts[1]
    return out


def package_version(facts, names) -> tuple[str | None, tuple | None]:
    """(version text, upstream numbers) of the first of ``names`` installed, or (None, None)."""
    vs = versions(facts)
    for n in names:
        if n in vs:
            return vs[n], upstream_version(vs[n])
    return None, None


