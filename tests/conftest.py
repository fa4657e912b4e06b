"""Shared fixtures: results-store URLs for SQLite and the real PostgreSQL server."""

pytest_plugins = ["tests.lab.fixtures"]
import os
import secrets
from contextlib import contextmanager

import pytest
from hypothesis import settings

# Fuzzing (tests/test_safety_fuzz.py): modest by default so CI stays fast; `--hypothesis-profile=fuzz` for a long local run.
settings.register_profile("ci", max_examples=100)
settings.register_profile("fuzz", max_examples=5000)
settings.load_profile("ci")

PG_ADMIN_URL = os.environ.get("AUDITCTL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def fresh_pg_database(prefix: str = "auditctl_test_"):
    """A new database on the PostgreSQL server, dropped afterwards. Skips when the server is not
    reachable, except in CI (CI=true), which must have it."""
    from sqlalchemy import create_engine, text

    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        name = prefix + secrets.token_hex(4)
        with admin.connect() as c:
            c.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # pragma: no cover - depends on the machine
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url():
    """A fresh PostgreSQL database for this session (dropped afterwards). CI must have the server."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'results.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(autouse=True, scope="session")
def _session_patch_index(tmp_path_factory):
    """Runs in tests hold the auditor's patch index (audits/patchdata) in a directory of this session,
    never the user's ~/.cache: a run of the patching pack fetches it once per session."""
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old
