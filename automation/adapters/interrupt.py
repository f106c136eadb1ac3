"""SIGINT/SIGTERM while an operation runs: ask the Pulumi CLI to stop, wait a bounded time, then stop it.

CI timeouts and cancellations send SIGTERM (or SIGINT) to the engine, not to the CLI it started. The
first signal forwards SIGINT to the engine's ``pulumi`` child processes (Pulumi's own graceful cancel:
in-flight steps finish, the state is written, the lock released) and starts a timer; when the timer
runs out, or on a second signal, the children are killed. The operation then fails, the runner reports
it as ``interrupted``, cancels a lock the killed CLI left behind, skips what was not started and
publishes the reports (exit 130).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

#: the executable names of the processes asked to stop (the CLI the Automation API starts)
CLI_NAMES = frozenset({"pulumi"})


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, name) of every process, from /proc (empty where there is no /proc)."""
    table: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        try:
            table[int(entry.name)] = (int(fields.get("PPid", "0").strip()), fields.get("Name", "").strip())
        except ValueError:
            continue
    return table


def cli_children(parent: int | None = None) -> list[int]:
    """PIDs of the ``pulumi`` processes whose parent is ``parent`` (default: this process)."""
    parent = os.getpid() if parent is None else parent
    return sorted(pid for pid, (ppid, name) in _processes().items() if ppid == parent and name in CLI_NAMES)


def descendants(pids: list[int]) -> list[int]:
    """The processes started by ``pids`` (provider plugins), deepest first, so none is left running on its own."""
    table = _processes()
    found: list[int] = []
    frontier = list(pids)
    while frontier:
        children = [pid for pid, (ppid, _) in table.items() if ppid in frontier and pid not in found]
        found = children + found
        frontier = children
    return found


class Interrupts:
    """Records the first SIGINT/SIGTERM and stops the CLI children as described above."""

    def __init__(self, notify: Callable[[str], None], grace_s: float = 30.0,
                 children: Callable[[], list[int]] = cli_children, kill: Callable[[int, int], None] = os.kill,
                 tree: Callable[[list[int]], list[int]] = descendants) -> None:
        self.notify = notify
        self.grace_s = grace_s
        self.children = children
        self.tree = tree
        self.kill = kill
        self.received: str | None = None
        self._timer: threading.Timer | None = None

    def __call__(self) -> str | None:
        """The signal received (``SIGTERM``), or None."""
        return self.received

    def _send(self, sig: int) -> list[int]:
        sent = []
        for pid in self.children():
            try:
                self.kill(pid, sig)
                sent.append(pid)
            except ProcessLookupError:
                pass
        return sent

    def _force(self) -> None:
        plugins = self.tree(self.children())  # found before the CLI dies and they are re-parented
        pids = self._send(signal.SIGKILL)
        for pid in plugins:
            try:
                self.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if pids:
            self.notify(f"the Pulumi CLI did not stop within {self.grace_s:g}s: killed (pid {', '.join(map(str, pids))})")

    def handle(self, signum: int, _frame: FrameType | None = None) -> None:
        name = signal.Signals(signum).name
        if self.received is not None:
            self.notify(f"{name} received again: stopping the Pulumi CLI now")
            self._force()
            return
        self.received = name
        # A terminal's Ctrl-C reaches the whole foreground process group, the CLI included: do not send it twice.
        from_terminal = signum == signal.SIGINT and _foreground_terminal()
        pids = self.children() if from_terminal else self._send(signal.SIGINT)
        self.notify(f"{name} received: asking the Pulumi CLI to stop (pid {', '.join(map(str, pids)) or 'none'}), "
                    f"waiting up to {self.grace_s:g}s before stopping it")
        self._timer = threading.Timer(self.grace_s, self._force)
        self._timer.daemon = True
        self._timer.start()

    @contextmanager
    def installed(self) -> Iterator[Interrupts]:
        """Handle SIGINT and SIGTERM in the body (main thread only; elsewhere nothing is installed)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.signal(sig, self.handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if self._timer is not None:
                self._timer.cancel()


def _foreground_terminal() -> bool:
    try:
        return sys.stdin.isatty() and os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except OSError:
        return False
