"""Fault injection for tests: kill the labeller at a named point, without timing races."""

from __future__ import annotations

import os

__all__ = ["maybe_die"]


def maybe_die(point: str, count: int) -> None:
    """Test hook: SIGKILL this process at `point` once `count` reaches SPIRE_TEST_KILL=point:count.

    Lets tests kill a labelling run at an exact place (after k parts, during the merge) without
    timing races; unset in normal use, so it costs one dict lookup.
    """
    wanted = os.environ.get("SPIRE_TEST_KILL")
    if not wanted:
        return
    name, _, number = wanted.partition(":")
    if name == point and count >= int(number or 0):
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
