"""A progress bar for corpus jobs: files/s and ETA from tqdm, audio done and the speed as a
multiple of real time beside them ("1.25 h audio, 310x real time").

>>> bar = CorpusProgress(total=2, desc="label", enabled=False)
>>> bar.update(files=2, audio_s=7200.0)
>>> round(bar.audio_s / 3600, 1)
2.0
>>> bar.close()
"""

from __future__ import annotations

import time


class CorpusProgress:
    """Counts files and audio seconds; shows them with tqdm when `enabled` (stderr).

    `audio_s` counts only audio actually processed in this run (resumed parts add files but no
    audio), so the audio-hours rate is the real throughput.
    """

    def __init__(
        self, *, total: int | None, desc: str, enabled: bool = True, position: int = 0
    ) -> None:
        self.files = 0
        self.audio_s = 0.0
        self._start = time.perf_counter()
        self._bar = None
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=total,
                desc=desc,
                unit="file",
                position=position,
                dynamic_ncols=True,
                leave=True,
            )

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self._start

    def update(self, *, files: int, audio_s: float = 0.0) -> None:
        self.files += files
        self.audio_s += audio_s
        if self._bar is not None:
            self._bar.update(files)
            if self.audio_s > 0:
                self._bar.set_postfix_str(self.rate_text(), refresh=False)

    def rate_text(self) -> str:
        """Audio done and how many times faster than real time, e.g. "1.25 h audio, 310x real time".

        >>> bar = CorpusProgress(total=1, desc="x", enabled=False)
        >>> bar.update(files=1, audio_s=90.0); bar.rate_text().startswith("1.5 min audio, ")
        True
        """
        done = f"{self.audio_s / 3600:.2f} h" if self.audio_s >= 3600 else f"{self.audio_s / 60:.1f} min"
        return f"{done} audio, {self.audio_s / max(self.elapsed_s, 1e-9):,.0f}x real time"

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
