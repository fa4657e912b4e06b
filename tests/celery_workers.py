"""Real collector processes for tests: `auditctl worker` subprocesses on the machine's Redis/RabbitMQ,
each in its own process group (so a test can kill one whole worker), logging to a file."""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Our own Redis database number, so other engineers' queues and results on this Redis never mix with ours.
REDIS_URL = os.environ.get("AUDITCTL_TEST_REDIS", "redis://127.0.0.1:6379/13")
AMQP_URL = os.environ.get("AUDITCTL_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//")


def unique_queue(prefix: str = "t") -> str:
    return f"auditctl-test-{prefix}-{secrets.token_hex(4)}"


def broker_available(url: str) -> str | None:
    """None if the broker answers, else why not."""
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=3) as c:
            c.ensure_connection(max_retries=1)
        return None
    except Exception as exc:  # pragma: no cover - depends on the machine
        return f"{url}: {type(exc).__name__}: {exc}"


def need_broker(url: str):
    """Skip without the broker; fail on CI, where .ci/run starts it."""
    import pytest

    problem = broker_available(url)
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"broker required on CI: {problem}")
        pytest.skip(problem)


def purge(queue: str, broker: str = REDIS_URL):
    """Drop what a test left in a queue no worker will ever read."""
    from kombu import Connection

    with Connection(broker) as c:
        c.default_channel.queue_purge(queue)


class Bureau:
    """A bureau's wire trust for tests: the dispatcher's key and the registry of collector keys; each
    ``site()`` creates a collector key, registers it, and writes that collector's site configuration."""

    def __init__(self, directory: Path | None = None):
        from audits.run import wire

        self.dir = Path(directory or tempfile.mkdtemp(prefix="auditctl-bureau-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dispatch_key = self.dir / "dispatch.key"
        self.dispatch_pub = self.dir / "dispatch.pub"
        pub = wire.new_key(self.dispatch_key)
        self.dispatch_pub.write_text(wire.public_text(pub) + "\n")
        self.registry = self.dir / "collectors.yaml"
        self.registry.write_text("{}\n")
        self.registered: dict[str, str] = {}

    def site(self, queue: str, connections=("local", "ssh"), register: bool = True, **extra) -> Path:
        from audits.run import wire

        d = self.dir / queue
        d.mkdir(exist_ok=True)
        key = d / "collector.key"
        pub = wire.public_text(wire.load_private(key).public_key() if key.exists() else wire.new_key(key))
        if register:
            self.register(queue, pub)
        cfg = {"site": queue, "dispatcher_keys": [str(self.dispatch_pub)], "signing_key": str(key),
               "state_dir": str(d / "state"), "connections": list(connections), **extra}
        path = d / "site.yaml"
        path.write_text(json.dumps(cfg))
        return path

    def register(self, site: str, pub: str):
        self.registered[site] = pub
        self.registry.write_text("".join(f"{k}: {v}\n" for k, v in self.registered.items()))

    def args(self) -> list[str]:
        return ["--dispatch-key", str(self.dispatch_key), "--collector-keys", str(self.registry)]

    def keys(self):
        from audits.run.dispatch import Keys

        return Keys.load(str(self.dispatch_key), str(self.registry))


_BUREAU: Bureau | None = None


def bureau() -> Bureau:
    """The test session's bureau (one dispatcher key; sites registered as workers start)."""
    global _BUREAU
    if _BUREAU is None:
        _BUREAU = Bureau()
    return _BUREAU


class Worker:
    def __init__(self, queue: str, log: Path, broker: str = REDIS_URL, backend: str | None = None,
                 concurrency: int = 1, visibility_timeout: float = 600, site_config: Path | None = None,
                 bureau_: Bureau | None = None):
        self.queue, self.log = queue, log
        self.site_config = site_config or (bureau_ or bureau()).site(queue)
        cmd = [sys.executable, str(ROOT / "auditctl.py"), "worker", "--site-config", str(self.site_config),
               "--broker", broker,
               "--concurrency", str(concurrency), "--visibility-timeout", str(visibility_timeout)]
        if backend:
            cmd += ["--result-backend", backend]
        self.fh = open(log, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.fh, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.text():
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited {self.proc.returncode}:\n{self.text()[-2000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready in {timeout} s:\n{self.text()[-2000:]}")

    def refused(self) -> list[str]:
        """The refusal lines of this worker's log ('task ... refused: why')."""
        return [line for line in self.text().splitlines() if " refused: " in line]

    def audited(self, host_id: str) -> int:
        """How many times this worker started auditing the host."""
        return self.text().count(f"auditing host {host_id} ")

    def kill(self):
        """SIGKILL the whole worker (its process group): a collector machine that dies mid-task."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.fh.close()
