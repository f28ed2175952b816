"""The scale check end to end (about 30 minutes and 24 GB on 2 cores; excluded by default):
`python bench/scale.py` must exit 0, i.e. every invariant held at the paper's shapes."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_scale_check_holds_every_invariant(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "bench/scale.py"), "--work", str(tmp_path / "scale")],
                          cwd=ROOT, capture_output=True, text=True, timeout=4 * 3600)
    report = (tmp_path / "scale_report.md").read_text()
    assert done.returncode == 0, report
    assert "All invariants held." in report
    for stage in ("label-batched", "fit-kmeans", "extend", "CPT resumed", "IT", "final model"):
        assert f"| {stage} |" in report
