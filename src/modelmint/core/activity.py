"""Serving's claim on the CPU: a file in the data dir whose modification time says when
the server last had a request generating.

The server touches it a few times a second while any engine has work (`mark`); a
fine-tuning worker on the same machine pauses its training while the mark is fresh
(`wait_while_active`), so a chat asked during a job is answered at serving speed and the
job goes on in the gaps. A worker on another machine never sees the file and never waits.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

ACTIVITY_FILE = "serving.active"
FRESH_SECONDS = 1.0  # a mark older than this: the server is idle (it marks every 0.25 s)


class ServingActivity:
    def __init__(self, data_dir: Path, fresh_seconds: float = FRESH_SECONDS) -> None:
        self.path = data_dir / ACTIVITY_FILE
        self.fresh_seconds = fresh_seconds

    def mark(self) -> None:
        """Say that the server is generating now."""
        try:
            os.utime(self.path)
        except FileNotFoundError:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()

    def active(self) -> bool:
        try:
            marked = self.path.stat().st_mtime
        except FileNotFoundError:
            return False
        return time.time() - marked < self.fresh_seconds

    def wait_while_active(
        self, give_up: Callable[[], bool] = lambda: False, poll: float = 0.05
    ) -> float:
        """Block while the server is generating (or until `give_up()`); the seconds waited."""
        began = time.monotonic()
        while self.active() and not give_up():
            time.sleep(poll)
        return time.monotonic() - began
