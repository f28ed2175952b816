"""fit_with_report: a typed result (quantizer + report) whose dict form is fit_report.json."""

import json

import numpy as np
import pytest

from units.errors import UnitsError
from units.kmeans.quantizer import KMeansQuantizer
from units.kmeans.report import FitConfig, FitReport, KMeansFit, describe_report, fit_with_report

# The keys fit_report.json had when the report was a dict: readers (the miniature) rely on them.
REPORT_KEYS = [
    "k",
    "dim",
    "train_frames",
    "heldout_frames",
    "train_inertia_per_frame",
    "heldout_inertia_per_frame",
    "clusters_used",
    "perplexity",
    "checksum",
    "config",
]


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    rng = np.random.default_rng(0)
    means = rng.normal(scale=5.0, size=(4, 3))
    return (means[rng.integers(4, size=400)] + rng.normal(size=(400, 3))).astype(np.float32)


def test_fit_returns_the_quantizer_and_a_typed_report(frames, tmp_path):
    fit = fit_with_report(
        frames, FitConfig(k=4, niter=5, heldout_fraction=0.1), provenance={"type": "t"}
    )
    assert isinstance(fit, KMeansFit) and isinstance(fit.report, FitReport)
    assert isinstance(fit.quantizer, KMeansQuantizer) and fit.quantizer.provenance == {"type": "t"}
    report = fit.report
    assert (report.k, report.dim, report.train_frames, report.heldout_frames) == (4, 3, 360, 40)
    assert report.checksum == fit.quantizer.checksum and report.config.heldout_fraction == 0.1
    assert 1 <= report.clusters_used <= 4 and 1.0 <= report.perplexity <= 4.0
    assert report.heldout_inertia_per_frame == pytest.approx(
        fit.quantizer.inertia(frames) / len(frames), rel=0.5
    )
    data = report.to_dict()
    assert list(data) == REPORT_KEYS and data["config"]["k"] == 4
    # JSON round trip: what fit_report.json holds reads back to the same report.
    (tmp_path / "r.json").write_text(json.dumps({**data, "features": "f.npy"}))
    assert FitReport.from_dict(json.loads((tmp_path / "r.json").read_text())) == report
    with pytest.raises(AttributeError):
        report.k = 5  # frozen
    assert describe_report(report) == report.describe()
    assert "clusters used" in report.describe() and "(40 frames)" in report.describe()


def test_no_heldout_frames_reports_none(frames):
    report = fit_with_report(frames, FitConfig(k=4, niter=3, heldout_fraction=0.0)).report
    assert report.heldout_frames == 0 and report.heldout_inertia_per_frame is None
    assert "held-out n/a" in report.describe()


def test_errors_name_parameters_not_flags(frames):
    with pytest.raises(UnitsError, match="lower k") as error:
        fit_with_report(frames[:10], FitConfig(k=50))
    assert "--" not in str(error.value)
    with pytest.raises(UnitsError, match=r"heldout_fraction must be in \[0, 1\)"):
        fit_with_report(frames, FitConfig(k=4, heldout_fraction=1.0))
    with pytest.raises(UnitsError, match=r"\['perplexity'\]"):
        FitReport.from_dict({k: 0 for k in REPORT_KEYS if k != "perplexity"})
