"""An evaluation report: model, data, decoding settings and scores, as JSON and Markdown.

Published numbers often fail to reproduce because decoding settings went unrecorded, so a
report cannot be built without them.

>>> from spire.evaluation.metrics import Score
>>> report = EvalReport(task="asr", model={"path": "m"}, data={"path": "d", "examples": 2},
...                     decoding={"num_beams": 1}, scores=[Score(name="wer", value=5.0, signature="s")])
>>> "| wer | 5.00 |" in report.to_markdown()
True
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from pathlib import Path
from typing import Any

from spire.evaluation.metrics import Score
from units.files import write_text


@dataclasses.dataclass(frozen=True, kw_only=True)
class EvalReport:
    """Everything needed to read and reproduce one evaluation run.

    >>> EvalReport(task="mt", model={}, data={}, decoding={}, scores=[]).score("bleu") is None
    True
    """

    task: str
    """"asr", "st" or "mt"."""
    model: dict[str, Any]
    """Model folder, its unit settings (config.spire) and the extractor's provenance."""
    data: dict[str, Any]
    """Data path, number of examples, reference column, target language, audio hours."""
    decoding: dict[str, Any]
    """Decoding settings used for every example (beams, max new tokens, batch size, chunking)."""
    scores: list[Score]
    """Corpus scores with their signatures."""
    examples: list[dict[str, str]] = dataclasses.field(default_factory=list)
    """A few hypothesis/reference pairs, for a first look."""
    timing: dict[str, float] = dataclasses.field(default_factory=dict)
    """Wall-clock seconds and the real-time factor (speech tasks)."""
    notes: list[str] = dataclasses.field(default_factory=list)
    """Anything skipped and why (e.g. COMET without a local model)."""
    created_at: str = dataclasses.field(
        default_factory=lambda: datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        )
    )
    """UTC time the report was made."""

    def score(self, name: str) -> Score | None:
        """The score called `name`, or None."""
        return next((s for s in self.scores if s.name == name), None)

    def as_dict(self) -> dict[str, Any]:
        from spire import __version__

        out = dataclasses.asdict(self)
        out["spire_version"] = __version__
        return out

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False, default=str)

    def to_markdown(self) -> str:
        lines = [
            f"# spire eval: {self.task}",
            "",
            "| metric | value | signature |",
            "|---|---|---|",
        ]
        lines += [f"| {s.name} | {s.value:.2f} | `{s.signature}` |" for s in self.scores]
        for title, section in (
            ("Model", self.model),
            ("Data", self.data),
            ("Decoding", self.decoding),
            ("Timing", self.timing),
        ):
            lines += ["", f"## {title}", ""]
            lines += [f"- {key}: `{_short(value)}`" for key, value in section.items()]
        if self.examples:
            lines += ["", "## Examples", "", "| hypothesis | reference |", "|---|---|"]
            lines += [
                f"| {_cell(e.get('hypothesis', ''))} | {_cell(e.get('reference', ''))} |"
                for e in self.examples
            ]
        if self.notes:
            lines += ["", "## Notes", ""] + [f"- {note}" for note in self.notes]
        lines += ["", f"_created {self.created_at}_", ""]
        return "\n".join(lines)

    def save(self, out_dir: str | Path, stem: str = "report") -> tuple[Path, Path]:
        """Write `stem.json` and `stem.md` into `out_dir`; returns both paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        json_path, md_path = out / f"{stem}.json", out / f"{stem}.md"
        write_text(json_path, self.to_json() + "\n")
        write_text(md_path, self.to_markdown())
        return json_path, md_path


def _short(value: Any, limit: int = 200) -> str:
    text = (
        json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else value
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cell(text: str) -> str:
    return _short(text, 120).replace("|", "\\|").replace("\n", " ")
