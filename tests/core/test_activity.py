"""The serving-activity mark: fresh after `mark`, stale after its window, and a waiter
that returns when the server goes idle or when told to give up."""

from __future__ import annotations

import os
import threading
import time

from modelmint.core.activity import ServingActivity


def test_no_server_no_activity(tmp_path):
    activity = ServingActivity(tmp_path / "never-made")
    assert not activity.active()
    assert activity.wait_while_active() < 0.01


def test_a_mark_is_fresh_then_stale(tmp_path):
    activity = ServingActivity(tmp_path / "data", fresh_seconds=5.0)
    activity.mark()
    assert activity.active()
    old = time.time() - 6.0
    os.utime(activity.path, (old, old))
    assert not activity.active()


def test_waiting_lasts_while_marks_keep_coming(tmp_path):
    activity = ServingActivity(tmp_path, fresh_seconds=0.2)
    done = threading.Event()

    def server() -> None:  # marks for 0.5 s, then goes quiet
        until = time.monotonic() + 0.5
        while time.monotonic() < until:
            activity.mark()
            time.sleep(0.05)
        done.set()

    activity.mark()
    thread = threading.Thread(target=server)
    thread.start()
    waited = activity.wait_while_active(poll=0.01)
    thread.join()
    assert done.is_set()
    assert 0.5 <= waited < 2.0


def test_a_waiter_gives_up_when_told(tmp_path):
    activity = ServingActivity(tmp_path, fresh_seconds=60.0)
    activity.mark()
    began = time.monotonic()
    activity.wait_while_active(give_up=lambda: time.monotonic() - began > 0.1, poll=0.01)
    assert time.monotonic() - began < 1.0
