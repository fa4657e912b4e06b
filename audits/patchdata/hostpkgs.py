"""A host's installed packages as the vulnerability matching needs them, from the patching pack's probes:
``dpkg_sources`` (binary, status, version, source package, source version — binNMUs ``+bN`` and binaries
versioned apart from their source are matched through the source) and ``rpm_sources`` (name, epoch,
version, release, arch, source RPM, vendor). Hostile output is bounded: at most ``MAX_PACKAGES`` lines,
fields of bounded length; a malformed line is skipped."""
from __future__ import annotations

import re
from dataclasses import dataclass

MAX_PACKAGES = 50_000
_FIELD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+:~^_-]{0,199}$")


@dataclass(frozen=True)
class Pkg:
    name: str          # binary package name (without :arch)
    version: str       # binary version (deb) or 'E:V-R' (rpm)
    source: str        # source package / source RPM name
    source_version: str  # deb: ${source:Version}; rpm: the binary's EVR (a source RPM has the same)
    arch: str = ""
    epoch: int = 0
    vendor: str = ""


def dpkg_sources(text: str) -> list[Pkg]:
    out = []
    for ln in text.splitlines()[:MAX_PACKAGES]:
        parts = ln.split("\t")
        if len(parts) != 5:
            continue
        binary, status, version, source, sver = (p.strip() for p in parts)
        if not status.startswith(("ii", "hi")):  # installed (held or not); 'rc' left config only
            continue
        name, _, arch = binary.partition(":")
        source = source or name
        sver = sver or version
        if source.startswith("linux-signed"):  # signed kernel images: the feeds track the 'linux' source, and
            source, sver = "linux", version     # the image carries linux's version ('6.1.119+1' is the wrapper's)
        if all(_FIELD.match(x) for x in (name, version, source, sver)):
            out.append(Pkg(name, version, source, sver, arch))
    return out


def rpm_sources(text: str) -> list[Pkg]:
    from audits.patchdata.feeds.cvrf import parse_rpm_filename

    out = []
    for ln in text.splitlines()[:MAX_PACKAGES]:
        parts = ln.split("\t")
        if len(parts) < 6:
            continue
        name, epoch, version, release, arch, srpm = (p.strip() for p in parts[:6])
        vendor = parts[6].strip()[:100] if len(parts) > 6 else ""
        if name == "gpg-pubkey" or not all(_FIELD.match(x) for x in (name, version, release, arch)):
            continue
        try:
            e = int(epoch) if epoch not in ("", "(none)") else 0
        except ValueError:
            continue
        parsed = parse_rpm_filename(srpm) if srpm and srpm != "(none)" else None
        source = parsed[0] if parsed else name
        evr = f"{e}:{version}-{release}"
        out.append(Pkg(name, evr, source, evr, arch, e, vendor))
    return out
