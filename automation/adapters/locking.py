"""One mutating operation per stack at a time, on this machine: queued, not rejected.

A per-stack file lock (filelock) held for the whole operation. Across CI runners GitHub's concurrency
group (one per stack, never cancelling) serializes jobs, and the state backend's own update lock
(ConcurrentUpdateError, retried by the runner) catches anything else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock

from automation.model.errors import ConfigError, LockTimeout


class StackLocks:
    def __init__(self, lock_dir: Path, timeout_s: float, notify: Callable[[str], None] | None = None) -> None:
        self.lock_dir = lock_dir
        self.timeout_s = timeout_s
        self.notify = notify or (lambda _msg: None)

    def path(self, stack: str) -> Path:
        return self.lock_dir / f"{stack}.lock"

    @contextmanager
    def hold(self, stack: str) -> Iterator[float]:
        """Hold the stack's lock; yields the seconds spent waiting. :raises LockTimeout: after ``timeout_s``."""
        try:
            self.lock_dir.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ConfigError(f"--lock-dir {self.lock_dir}: a file is in the way; the lock directory must be a directory") from None
        except OSError as exc:
            raise ConfigError(f"--lock-dir {self.lock_dir}: cannot create it ({exc.strerror})") from None
        lock = filelock.FileLock(str(self.path(stack)))
        start = time.monotonic()
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            self.notify(f"stack {stack} is busy with another operation; queued (waiting up to {self.timeout_s:.0f}s)")
            try:
                lock.acquire(timeout=self.timeout_s, poll_interval=0.2)
            except filelock.Timeout:
                waited = time.monotonic() - start
                raise LockTimeout(f"stack {stack}: gave up after waiting {waited:.0f}s for the lock held by another "
                                  f"operation ({self.path(stack)}); retry later or raise --lock-timeout") from None
        waited = time.monotonic() - start
        try:
            yield waited
        finally:
            lock.release()
