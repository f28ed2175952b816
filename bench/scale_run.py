"""Run one command of the scale check and measure it: wall seconds and peak memory of its whole
process tree (torchrun and accelerate start worker processes), read from /proc while it runs.

Two numbers are kept: `peak_gb`, the largest sum of resident memory over the tree seen at one
poll (what the machine had to hold), and `peak_proc_gb`, the largest high-water mark (VmHWM) of
any single process (exact, not sampled). `kill_when` ends the run's whole process tree with
SIGKILL once it returns True (the scale check kills a training run mid-way this way).

>>> result = run_measured(["python", "-c", "print(1)"], log=Path("/tmp/x.log"))  # doctest: +SKIP
>>> result.returncode, result.seconds > 0  # doctest: +SKIP
(0, True)
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

_POLL_S = 0.25


@dataclass(frozen=True)
class Measured:
    """What one command did: exit code, wall seconds, peak memory (GB = 1e9 bytes), its log."""

    argv: tuple[str, ...]
    returncode: int
    seconds: float
    peak_gb: float
    peak_proc_gb: float
    processes: int
    killed: bool
    timed_out: bool
    log: Path

    def tail(self, lines: int = 25) -> str:
        """The last lines of the command's output (for failure messages)."""
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _tree(root: int) -> list[int]:
    """`root` and all its descendants (via /proc/<pid>/task/<tid>/children)."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as handle:
                    todo.extend(int(c) for c in handle.read().split())
            except (OSError, ValueError):
                continue
    return found


def _kill_tree(root: int, wait_s: float = 60.0) -> None:
    """SIGKILL `root` and every descendant, by pid, and wait until all are gone.

    Launchers (torchrun, accelerate) start each worker in a session of its own, so killing
    the launcher's process group would leave the workers training (and writing) on.
    """
    pids = _tree(root)
    for pid in pids:  # the launcher first: a live elastic agent would restart its workers
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.perf_counter() + wait_s
    while time.perf_counter() < deadline:
        alive = [pid for pid in pids[1:] if os.path.exists(f"/proc/{pid}") and _status_kb(pid, "VmRSS")]
        if not alive:
            return
        time.sleep(_POLL_S)


def available_gb() -> float:
    """MemAvailable of this machine, in GB."""
    with open("/proc/meminfo", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024 / 1e9
    return 0.0


def run_measured(
    argv: Sequence[str],
    *,
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout_s: float = 3600.0,
    kill_when: Callable[[], bool] | None = None,
) -> Measured:
    """Run `argv` to completion (or until `kill_when()`), writing its output to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    peak_kb, hwm, seen = 0, {}, set()
    killed = timed_out = False
    with log.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,  # its own process group: one killpg ends workers too
        )
        while process.poll() is None:
            pids = _tree(process.pid)
            seen.update(pids)
            peak_kb = max(peak_kb, sum(_status_kb(pid, "VmRSS") for pid in pids))
            for pid in pids:
                hwm[pid] = max(hwm.get(pid, 0), _status_kb(pid, "VmHWM"))
            timed_out = time.perf_counter() - start > timeout_s
            if timed_out or (kill_when is not None and kill_when()):
                _kill_tree(process.pid)
                killed = True
                break
            time.sleep(_POLL_S)
    returncode = process.wait()
    return Measured(
        argv=tuple(argv),
        returncode=returncode,
        seconds=time.perf_counter() - start,
        peak_gb=peak_kb * 1024 / 1e9,
        peak_proc_gb=max(hwm.values(), default=0) * 1024 / 1e9,
        processes=len(seen),
        killed=killed,
        timed_out=timed_out,
        log=log,
    )


RESULT_TAG = "SCALE-RESULT "


def emit(facts: dict, failures: list[str]) -> None:
    """Print a step's facts and failed invariants as the one line `read_result` looks for."""
    import json

    print(RESULT_TAG + json.dumps({"facts": facts, "failures": failures}), flush=True)


def read_result(measured: Measured) -> dict:
    """The facts and failures a step printed with `emit` ({} and a failure when it printed none)."""
    import json

    text = measured.log.read_text(encoding="utf-8", errors="replace")
    lines = [line for line in text.splitlines() if line.startswith(RESULT_TAG)]
    if not lines:
        return {"facts": {}, "failures": [f"{measured.argv[2:4]} printed no result; see {measured.log}"]}
    return json.loads(lines[-1][len(RESULT_TAG):])
