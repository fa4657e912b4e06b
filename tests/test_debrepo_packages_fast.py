"""The plain-Packages fast path of ``debrepo.parse_packages`` reads exactly what python-debian reads: every text
it accepts gives the same paragraphs (fields, values) as ``deb822.Packages.iter_paragraphs``, and anything
else falls back to python-debian itself."""
import io
import random

import pytest
from debian import deb822

from audits.patchdata import debrepo


def reference(data: bytes) -> list[dict]:
    return [dict(p) for p in deb822.Packages.iter_paragraphs(io.BytesIO(data), use_apt_pkg=False,
                                                             fields=list(debrepo._PACKAGES_FIELDS))]


def parse_reference(data: bytes) -> dict:
    """parse_packages as it was: python-debian for every text."""
    plain = debrepo._plain_paragraphs
    try:
        debrepo._plain_paragraphs = lambda _data: None
        return debrepo.parse_packages(data)
    finally:
        debrepo._plain_paragraphs = plain


def same(data: bytes) -> None:
    fast = debrepo._plain_paragraphs(data)
    if fast is not None:
        assert fast == reference(data), data
    def outcome(parse):
        try:
            return parse(data)
        except Exception as exc:  # noqa: BLE001 - the same failure either way
            return type(exc)

    assert outcome(debrepo.parse_packages) == outcome(parse_reference)


CASES = [
    b"",
    b"\n\n",
    b"Package: a\nVersion: 1.0\nArchitecture: amd64\n",
    b"Package: a\nVersion: 1.0\nArchitecture: amd64\nSource: b (0.9)\n\nPackage: a\nVersion: 1.1\nArchitecture: amd64\n",
    b"\n \n\t\nPackage: a\nVersion: 1\nArchitecture: all\n\n\n\nPackage: c\nVersion: 2\nArchitecture: all\n  \n",
    b"Package: a\nDescription: x\n more\n .\n even more\nVersion: 1\nArchitecture: all\n",
    b"Package: a\nVersion: 1\n 2\nArchitecture: all\n",          # a wanted field continued
    b"Package:a\nVersion :  1  \nArchitecture:\tall\t\n",
    b"Package: a\npackage: b\nVERSION: 2\nVersion: 1\nArchitecture: all\n",
    b"Package: a\nPackage: b\nVersion: 1\nVersion: 2\nArchitecture: all\n",
    b"Package: a\nVersion:\nArchitecture: all\n",
    b"Package: a\nPackage-Foo: z\nVersion: 1\nArchitecture: all\n",
    b"Package: a\ngarbage line\n continued\nVersion: 1\nArchitecture: all\n",
    b"Package a\nVersion: 1\nArchitecture: all\n",
    b"Description: only\n\nPackage: a\nVersion: 1\nArchitecture: all\n",  # no wanted field: python-debian stops
    b"# comment\nPackage: a\nVersion: 1\nArchitecture: all\n",
    b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nPackage: a\nVersion: 1\nArchitecture: all\n",
    b"Package: a\r\nVersion: 1\r\nArchitecture: all\r\n",
    b"Package: \xe4\nVersion: 1\nArchitecture: all\n",
    "Package: ä\nVersion: 1\nArchitecture: all\nSource: ö (1)\n".encode(),
    "Package: a\n\u3000Version: 1\nArchitecture: all\n".encode(),
    "Package: a\nVersion: 1\n\u3000\nArchitecture: all\n".encode(),
    "Package: a\u00a0b\nVersion: 1\u2003\nArchitecture: all\n\x0c\nPackage: c\nVersion: 2\nArchitecture: all\n".encode(),
    b"Package: a\nVersion: 1\nArchitecture: all\n\x0b\x0c\nPackage: b\nVersion: 1\nArchitecture: all",
    b"Package: a\nVersion: not a version!\nArchitecture: all\n\nPackage: a\nVersion: 2\nArchitecture: all\n",
]


@pytest.mark.parametrize("data", CASES)
def test_cases_read_as_python_debian_reads_them(data):
    same(data)


def test_plain_mirror_text_takes_the_fast_path():
    data = (b"Package: openssl\nSource: openssl (3.0.15-1~deb12u1)\nVersion: 3.0.15-1~deb12u1\nArchitecture: amd64\n"
            b"Description: tool\n more\n\nPackage: libssl3\nVersion: 3.0.15-1~deb12u1\nArchitecture: amd64\n")
    assert debrepo._plain_paragraphs(data) is not None
    same(data)


def test_random_texts_read_as_python_debian_reads_them():
    rng = random.Random(21)
    atoms = ["Package", "Version", "Architecture", "Source", "package", "Description", "Depends", "X-Y", "Pack age"]
    seps = [": ", ":", " : ", ":\t", "  "]
    values = ["a", "1.0-1", "all", "amd64", "b (1.2)", "", " x ", "ä", "1:2.3~rc1", "a\u00a0b"]
    for _ in range(3000):
        lines = []
        for _ in range(rng.randint(0, 14)):
            kind = rng.random()
            if kind < 0.6:
                lines.append(rng.choice(atoms) + rng.choice(seps) + rng.choice(values))
            elif kind < 0.75:
                lines.append(rng.choice(["", " ", "\t", "  \t"]))
            elif kind < 0.9:
                lines.append(rng.choice([" more", "\tmore", " .", "\u3000x", "\x0cx", "\x85y", "a\u2028b", "\x1cz"]))
            else:
                lines.append(rng.choice(["garbage", "#c", "-x", "Package", "\u2003Version: 2"]))
        same("\n".join(lines).encode() + rng.choice([b"", b"\n", b"\n\n"]))
