"""`modelmint worker --parent PID`, as `modelmint serve` starts its own worker: it stops
once that process is gone, even when it was killed without stopping the worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

LAUNCHER = """
import subprocess, sys, time
worker = subprocess.Popen([sys.executable, "-m", "modelmint", "worker", "--parent",
                           str(__import__("os").getpid())])
print(worker.pid, flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by init) counts as gone
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ")[-1][0] != "Z"


def test_a_worker_stops_when_the_server_that_started_it_is_killed(tmp_path):
    env = dict(os.environ, MODELMINT_DATA_DIR=str(tmp_path), MODELMINT_SECRET_KEY="k" * 48)
    launcher = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER], env=env, stdout=subprocess.PIPE, text=True
    )
    worker = int(launcher.stdout.readline())
    try:
        time.sleep(2)
        assert alive(worker)
        launcher.send_signal(signal.SIGKILL)
        launcher.wait()
        deadline = time.monotonic() + 60  # its start (torch's import) and one check
        while alive(worker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(worker)
    finally:
        if alive(worker):
            os.kill(worker, signal.SIGKILL)
