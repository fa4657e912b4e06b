"""Real collector processes for tests: `auditctl worker` subprocesses on the machine's Redis/RabbitMQ,
each in its own process group (so a test can kill one whole worker), logging to a file."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
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


class Worker:
    def __init__(self, queue: str, log: Path, broker: str = REDIS_URL, backend: str | None = None,
                 concurrency: int = 1, visibility_timeout: float = 600):
        self.queue, self.log = queue, log
        cmd = [sys.executable, str(ROOT / "auditctl.py"), "worker", "--queue", queue, "--broker", broker,
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
