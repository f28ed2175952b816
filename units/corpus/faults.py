"""Fault injection for tests: kill or pause the labeller at a named point, without timing races."""

from __future__ import annotations

import os

__all__ = ["maybe_die", "maybe_pause"]


def maybe_die(point: str, count: int) -> None:
    """Test hook: SIGKILL this process at `point` once `count` reaches SPIRE_TEST_KILL=point:count.

    Lets tests kill a labelling run at an exact place (after k parts, during the merge, with a
    summary half written) without timing races; unset in normal use, so it costs one dict lookup.
    Points: part, merge, shard-summary, summary, final-rejects, final-summary.
    """
    wanted = os.environ.get("SPIRE_TEST_KILL")
    if not wanted:
        return
    name, _, number = wanted.partition(":")
    if name == point and count >= int(number or 0):
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def maybe_pause(point: str) -> None:
    """Test hook: sleep at `point` for the seconds in SPIRE_TEST_PAUSE=point:seconds.

    Lets a test hold a run at a known place (its shard locks taken) while a second process
    starts, so "two runs at once" overlap for sure; unset in normal use.
    """
    wanted = os.environ.get("SPIRE_TEST_PAUSE")
    if not wanted:
        return
    name, _, seconds = wanted.partition(":")
    if name == point:
        import time

        time.sleep(float(seconds or 0))
