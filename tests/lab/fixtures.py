"""pytest plugin: the session-scoped ``campus_lab`` fixture (real SSH hosts in network namespaces).

Enable it from tests/conftest.py with ``pytest_plugins = ["tests.lab.fixtures"]``.

The lab is built once per session and torn down at its end. Without root or without working
``ip netns`` the fixture skips with the reason; with ``CI=true`` it fails instead, so a CI job
that should run the lab cannot pass by skipping it. Anything else (sshd not installed, subnet in
use, another lab holding the lock) is an error, never a skip.

Environment: ``CAMPUS_LAB_HOSTS`` (SSH hosts, default 5), ``CAMPUS_LAB_SUBNET`` (three octets,
default 10.203.0), ``CAMPUS_LAB_KEEP=1`` (keep the work directory with the sshd logs).
"""
from __future__ import annotations

import os
import shutil

import pytest

from .campus_lab import CampusLab, namespace_support_problem


def pytest_configure(config):
    config.addinivalue_line("markers", "lab: needs the network-namespace campus lab (root)")


_SESSION_LABS: list[CampusLab] = []   # the session lab, while it exists (campus_lab_mixed pauses it)


def _lab_available():
    problem = namespace_support_problem()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"campus lab required on CI but unavailable: {problem}", pytrace=False)
        pytest.skip(f"campus lab unavailable: {problem}")


@pytest.fixture(scope="session")
def campus_lab():
    """A built CampusLab: 5 SSH hosts (3 compliant, 2 misconfigured), a down host, a silent host."""
    _lab_available()
    workdir = CampusLab.make_workdir()
    lab = CampusLab(workdir, n_hosts=int(os.environ.get("CAMPUS_LAB_HOSTS", "5")),
                    subnet_prefix=os.environ.get("CAMPUS_LAB_SUBNET", "10.203.0"))
    _SESSION_LABS.append(lab)
    try:
        lab.build()
        yield lab
    finally:
        _SESSION_LABS.remove(lab)
        lab.teardown()
        if os.environ.get("CAMPUS_LAB_KEEP") != "1":
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def campus_lab_mixed(request):
    """A lab of the test module's own, one SSH host per kind in the module's ``LAB_MIX`` (e.g.
    ``("compliant", "misconfigured", "neglected", "weakpw")``), no down or silent host. One lab per machine:
    a session lab already up is taken down meanwhile and built again afterwards (same addresses and paths,
    new host keys and known_hosts), so every other test keeps the default mix."""
    _lab_available()
    mix = tuple(request.module.LAB_MIX)
    paused = [lab for lab in _SESSION_LABS if lab._built]
    for lab in paused:
        lab.teardown()
    workdir = CampusLab.make_workdir()
    lab = CampusLab(workdir, n_hosts=len(mix), mix=mix, with_down=False, with_silent=False,
                    subnet_prefix=os.environ.get("CAMPUS_LAB_SUBNET", "10.203.0"))
    try:
        lab.build()
        yield lab
    finally:
        lab.teardown()
        if os.environ.get("CAMPUS_LAB_KEEP") != "1":
            shutil.rmtree(workdir, ignore_errors=True)
        for other in paused:
            other.build()


@pytest.fixture(scope="session")
def campus_lab_inventory(campus_lab):
    """Path of a campus-audit native inventory listing every lab host (down and silent included)."""
    return campus_lab.write_inventory(campus_lab.workdir / "inventory.yaml")


@pytest.fixture(autouse=True)
def _campus_lab_reset(request):
    """Around each test that uses the lab, put back whatever was changed (host keys, stopped hosts,
    sudo, /etc files, known_hosts), so one test's changes never leak into the next. Cheap when
    nothing changed. Active for every test only once tests/conftest.py loads this plugin."""
    if "campus_lab" not in request.fixturenames:
        yield
        return
    lab = request.getfixturevalue("campus_lab")
    lab.reset()   # also covers changes made where this fixture was not active
    yield
    lab.reset()
