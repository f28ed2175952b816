"""KMeansQuantizer: exact assignment, fit, our file format, and the scikit-learn import."""

import json

import joblib
import numpy as np
import pytest
import torch

import units.kmeans.quantizer as kmeans_module
from units.errors import ModelFormatError, UnitsError, UntrustedFileError
from units.kmeans.fitting import KMeansFitError, kmeans_plus_plus
from units.kmeans.quantizer import KMeansQuantizer, cluster_usage


def mixture(n: int, dim: int, n_modes: int, seed: int, spread: float = 4.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=spread, size=(n_modes, dim))
    return (means[rng.integers(n_modes, size=n)] + rng.normal(size=(n, dim))).astype(np.float32)


def brute_force(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    diff = x.astype(np.float64)[:, None, :] - centroids.astype(np.float64)[None, :, :]
    return (diff**2).sum(-1).argmin(axis=1)


@pytest.fixture(scope="module")
def quantizer() -> KMeansQuantizer:
    centroids = mixture(48, 16, 6, seed=1)
    return KMeansQuantizer(centroids, {"provenance": {"type": "test", "layer": 3}})


def test_assign_is_argmin_of_squared_distance(quantizer):
    x = mixture(20000, 16, 6, seed=2)
    expected = brute_force(x, quantizer.centroids)
    np.testing.assert_array_equal(quantizer.assign(x), expected)
    np.testing.assert_array_equal(quantizer.assign(x.astype(np.float64)), expected)
    np.testing.assert_array_equal(quantizer.assign(torch.from_numpy(x)), expected)
    np.testing.assert_array_equal(quantizer.assign(torch.from_numpy(x).double()), expected)


def test_exact_ties_go_to_the_first_centroid_everywhere():
    q = KMeansQuantizer(np.array([[0, 0], [2, 0], [1, 5], [1, -5]], dtype=np.float32))
    # midpoints between centroids 0 and 1 are equidistant: the lower index wins
    x = np.array([[1.0, y] for y in np.linspace(-1, 1, 9)], dtype=np.float32)
    assert q.assign(x).tolist() == [0] * 9
    assert q.assign(torch.from_numpy(x)).tolist() == [0] * 9


def test_near_ties_are_decided_in_float64():
    # two centroids whose float32 distance difference is far below float32 rounding
    base = np.full(256, 100.0, dtype=np.float64)
    c = np.stack([base, base]).astype(np.float32)
    c[1, 0] += np.float32(1e-3)
    q = KMeansQuantizer(c)
    x = np.stack([base + 0.0005 + 1e-5, base + 0.0005 - 1e-5]).astype(np.float32)
    expected = brute_force(x, q.centroids)
    np.testing.assert_array_equal(q.assign(x), expected)
    np.testing.assert_array_equal(q.assign(torch.from_numpy(x)), expected)


def test_torch_assign_runs_in_full_float32_and_restores_settings(quantizer):
    x = torch.from_numpy(mixture(500, 16, 6, seed=13))
    previous = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("medium")
        ids = quantizer.assign(x)
        assert torch.get_float32_matmul_precision() == "medium"
    finally:
        torch.set_float32_matmul_precision(previous)
    np.testing.assert_array_equal(ids, brute_force(x.numpy(), quantizer.centroids))


def test_chunked_assignment_equals_one_chunk(quantizer, monkeypatch):
    x = mixture(3000, 16, 6, seed=3)
    whole = quantizer.assign(x)
    monkeypatch.setattr(kmeans_module, "_CHUNK_SCORES", 48 * 70)  # 70 rows per chunk
    np.testing.assert_array_equal(quantizer.assign(x), whole)
    np.testing.assert_array_equal(quantizer.assign(torch.from_numpy(x)), whole)


def test_assign_checks_the_feature_dimension(quantizer):
    with pytest.raises(UnitsError, match=r"shape \(n_frames, 16\).*but have \(4, 8\)"):
        quantizer.assign(np.zeros((4, 8), dtype=np.float32))
    assert quantizer.assign(np.zeros((0, 16), dtype=np.float32)).shape == (0,)
    rows = quantizer.centroids[[5, 2]].tolist()  # plain lists work too
    assert quantizer.assign(rows).tolist() == [5, 2]


def test_inertia_is_the_summed_squared_distance(quantizer):
    x = mixture(500, 16, 6, seed=4)
    ids = brute_force(x, quantizer.centroids)
    expected = ((x.astype(np.float64) - quantizer.centroids[ids]) ** 2).sum()
    assert quantizer.inertia(x) == pytest.approx(expected, rel=1e-12)
    assert quantizer.inertia(torch.from_numpy(x)) == pytest.approx(expected, rel=1e-12)


def test_save_load_round_trip(tmp_path, quantizer):
    quantizer.save_pretrained(tmp_path / "km")
    config = json.loads((tmp_path / "km" / "kmeans.json").read_text())
    assert (config["k"], config["dim"], config["sha256"]) == (48, 16, quantizer.checksum)
    loaded = KMeansQuantizer.from_pretrained(tmp_path / "km")
    assert loaded.checksum == quantizer.checksum
    assert loaded.provenance == {"type": "test", "layer": 3}
    np.testing.assert_array_equal(loaded.centroids, quantizer.centroids)
    x = mixture(2000, 16, 6, seed=5)
    np.testing.assert_array_equal(loaded.assign(x), quantizer.assign(x))
    assert not list((tmp_path / "km").glob(".*tmp"))


def test_corrupted_centroids_are_detected(tmp_path, quantizer):
    from safetensors.numpy import save_file

    quantizer.save_pretrained(tmp_path)
    changed = quantizer.centroids.copy()
    changed[3, 5] += 1e-3
    save_file({"centroids": changed}, str(tmp_path / "centroids.safetensors"))
    with pytest.raises(ModelFormatError, match="must have sha256 .* modified or corrupted"):
        KMeansQuantizer.from_pretrained(tmp_path)
    (tmp_path / "centroids.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(ModelFormatError, match="must be a safetensors file"):
        KMeansQuantizer.from_pretrained(tmp_path)


def test_bad_folders_are_refused(tmp_path, quantizer):
    with pytest.raises(ModelFormatError, match="kmeans.json is missing"):
        KMeansQuantizer.from_pretrained(tmp_path)
    quantizer.save_pretrained(tmp_path)
    config_path = tmp_path / "kmeans.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "k": 47}))
    with pytest.raises(ModelFormatError, match=r"shape \(47, 16\)"):
        KMeansQuantizer.from_pretrained(tmp_path)
    config_path.write_text(json.dumps({**config, "format": "other"}))
    with pytest.raises(ModelFormatError, match="must have format 'spire-kmeans'"):
        KMeansQuantizer.from_pretrained(tmp_path)
    config_path.write_text("{not json")
    with pytest.raises(ModelFormatError, match="must be JSON"):
        KMeansQuantizer.from_pretrained(tmp_path)


def test_metadata_must_be_json(tmp_path):
    q = KMeansQuantizer(np.eye(2, dtype=np.float32), {"provenance": {"x": object()}})
    with pytest.raises(ModelFormatError, match="JSON-serializable"):
        q.save_pretrained(tmp_path)


def test_invalid_centroids_are_refused():
    with pytest.raises(UnitsError, match="2-D"):
        KMeansQuantizer(np.zeros(3))
    with pytest.raises(UnitsError, match="finite"):
        KMeansQuantizer(np.array([[np.nan, 0.0]]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("model_name", ["KMeans", "MiniBatchKMeans"])
def test_sklearn_import_equals_sklearn_predict(tmp_path, dtype, model_name):
    from sklearn import cluster

    train = mixture(3000, 24, 10, seed=6).astype(dtype)
    model_cls = getattr(cluster, model_name)
    extra = {"batch_size": 512} if model_name == "MiniBatchKMeans" else {}
    model = model_cls(n_clusters=40, n_init=1, random_state=0, **extra).fit(train)
    path = tmp_path / "kmeans.joblib"
    joblib.dump(model, path)

    q = KMeansQuantizer.from_sklearn(path, trust=True)
    assert q.metadata["source"]["class"].endswith(model_name)
    fresh = mixture(50000, 24, 10, seed=7).astype(dtype)
    expected = model.predict(fresh)
    np.testing.assert_array_equal(q.assign(fresh), expected)
    np.testing.assert_array_equal(q.assign(torch.from_numpy(fresh)), expected)
    # Midpoints of centroid pairs are ties up to rounding, where any answer is rounding noise
    # (sklearn's float32 arithmetic, the float64 -> float32 centroids): both pick a nearest one.
    c = model.cluster_centers_
    midpoints = ((c[:-1] + c[1:]) / 2).astype(dtype)
    dist = ((midpoints.astype(np.float64)[:, None] - c[None].astype(np.float64)) ** 2).sum(-1)
    rows = np.arange(len(midpoints))
    for ids in (q.assign(midpoints), model.predict(midpoints)):
        assert np.all(dist[rows, ids] <= dist.min(axis=1) * (1 + 1e-5))
    # converted once, the saved quantizer keeps the assignments
    q.save_pretrained(tmp_path / "converted")
    again = KMeansQuantizer.from_pretrained(tmp_path / "converted")
    np.testing.assert_array_equal(again.assign(fresh), model.predict(fresh))


def test_untrusted_pickle_is_refused(tmp_path):
    from sklearn.cluster import KMeans

    path = tmp_path / "km.joblib"
    joblib.dump(KMeans(n_clusters=2, n_init=1).fit(np.eye(4)), path)
    with pytest.raises(UntrustedFileError, match="trust=True"):
        KMeansQuantizer.from_sklearn(path)
    with pytest.raises(ModelFormatError, match="from_sklearn"):
        KMeansQuantizer.from_pretrained(path)


def test_sklearn_import_refuses_other_pickles(tmp_path):
    path = tmp_path / "other.joblib"
    joblib.dump({"cluster_centers": [1, 2]}, path)
    with pytest.raises(ModelFormatError, match="holds a dict"):
        KMeansQuantizer.from_sklearn(path, trust=True)
    path.write_bytes(b"not a pickle")
    with pytest.raises(ModelFormatError, match="cannot be loaded"):
        KMeansQuantizer.from_sklearn(path, trust=True)
    with pytest.raises(ModelFormatError, match="does not exist"):
        KMeansQuantizer.from_sklearn(tmp_path / "missing.joblib", trust=True)


@pytest.mark.parametrize("init", ["kmeans++", "random"])
def test_fit_is_deterministic_for_a_seed(init):
    x = mixture(4000, 8, 12, seed=8)
    a = KMeansQuantizer.fit(x, 12, niter=8, seed=3, init=init)
    b = KMeansQuantizer.fit(x, 12, niter=8, seed=3, init=init)
    c = KMeansQuantizer.fit(x, 12, niter=8, seed=4, init=init)
    assert a.checksum == b.checksum
    assert a.checksum != c.checksum
    assert a.metadata["training"]["init"] == init


def test_fit_finds_well_separated_clusters_and_records_provenance():
    rng = np.random.default_rng(9)
    means = np.eye(6, 10, dtype=np.float32) * 50
    x = (means[rng.integers(6, size=3000)] + rng.normal(size=(3000, 10))).astype(np.float32)
    q = KMeansQuantizer.fit(x, 6, niter=10, seed=0, provenance={"layer": 22})
    nearest = brute_force(means, q.centroids)
    assert sorted(nearest.tolist()) == list(range(6))
    assert np.abs(q.centroids[nearest] - means).max() < 0.5
    stats = q.metadata["training"]
    assert q.provenance == {"layer": 22}
    assert stats["n_points"] == 3000 and stats["k"] == 6 and stats["backend"] == "faiss-cpu"
    assert stats["mean_sq_distance"] == pytest.approx(q.inertia(x) / 3000, rel=0.05)


def test_kmeans_plus_plus_seeds_one_centre_per_separated_cluster():
    rng = np.random.default_rng(10)
    means = rng.normal(scale=100.0, size=(8, 5))
    x = means[np.repeat(np.arange(8), 100)] + rng.normal(size=(800, 5))
    for seed in range(5):
        seeds = kmeans_plus_plus(x.astype(np.float32), 8, seed=seed)
        assert sorted(brute_force(seeds, means).tolist()) == list(range(8))


def textbook_greedy_kmeans_plus_plus(points: np.ndarray, k: int, seed: int) -> np.ndarray:
    """The same draws as `kmeans_plus_plus`, visiting every point at every step."""
    rng = np.random.default_rng(seed)
    trials = 2 + int(np.log(k))
    dist = lambda rows: ((points[:, None, :] - points[rows][None]) ** 2).sum(-1)  # noqa: E731
    first = int(rng.integers(len(points)))
    chosen, closest = [first], dist([first])[:, 0]
    for _ in range(1, k):
        draws = rng.random(trials) * closest.sum()
        candidates = np.minimum(np.searchsorted(np.cumsum(closest), draws), len(points) - 1)
        trial = np.minimum(closest[:, None], dist(candidates))
        best = int(np.argmin(trial.sum(0)))
        chosen.append(int(candidates[best]))
        closest = trial[:, best]
    return points[chosen]


@pytest.mark.parametrize(("modes", "k"), [(5, 20), (40, 20)])
def test_pruned_kmeans_plus_plus_equals_the_textbook_algorithm(modes, k):
    x = mixture(1500, 6, modes, seed=12, spread=8.0).astype(np.float64)
    expected = textbook_greedy_kmeans_plus_plus(x, k, seed=5)
    np.testing.assert_array_equal(kmeans_plus_plus(x.astype(np.float32), k, seed=5), expected)


def test_kmeans_plus_plus_beats_random_init_on_a_mixture():
    x = mixture(6000, 8, 30, seed=11, spread=6.0)
    plus = KMeansQuantizer.fit(x, 30, niter=1, seed=0, init="kmeans++")
    rand = KMeansQuantizer.fit(x, 30, niter=1, seed=0, init="random")
    assert plus.inertia(x) < rand.inertia(x)


@pytest.mark.parametrize(
    ("features", "k", "kwargs", "message"),
    [
        (np.zeros((5, 2)), 6, {}, "at least k points"),
        (np.zeros(5), 2, {}, "2-D array"),
        (np.full((5, 2), np.nan), 2, {}, "finite"),
        (np.zeros((5, 2)), 0, {}, "positive integer"),
        (np.zeros((5, 2)), 2, {"init": "spread"}, "init must be one of"),
        (np.zeros((5, 2)), 2, {"niter": 0}, "niter must be >= 1"),
        (np.zeros((5, 2)), 2, {"gpu": True}, "get_num_gpus"),
    ],
)
def test_fit_refuses_bad_input(features, k, kwargs, message):
    import faiss

    if kwargs.get("gpu") and faiss.get_num_gpus() > 0:
        pytest.skip("this machine's faiss sees a GPU")
    with pytest.raises(KMeansFitError, match=message):
        KMeansQuantizer.fit(features, k, **kwargs)


def test_cluster_usage():
    assert cluster_usage([0, 1, 2, 3], 8) == (4, pytest.approx(4.0))
    used, perplexity = cluster_usage([0, 0, 0, 1], 4)
    assert used == 2 and perplexity == pytest.approx(
        np.exp(-(0.75 * np.log(0.75) + 0.25 * np.log(0.25))), rel=1e-5
    )
    assert cluster_usage([], 4) == (0, 0.0)
    with pytest.raises(UnitsError, match=r"in \[0, 4\)"):
        cluster_usage([4], 4)


@pytest.mark.gpu
def test_assign_on_cuda_equals_numpy_even_with_tf32_enabled(quantizer):
    x = mixture(20000, 16, 6, seed=14)
    previous = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("high")  # TF32, as training scripts often set
        on_gpu = quantizer.assign(torch.from_numpy(x).cuda())
    finally:
        torch.set_float32_matmul_precision(previous)
    np.testing.assert_array_equal(on_gpu, quantizer.assign(x))


def test_save_writes_whole_files_with_the_umask(quantizer, tmp_path):
    import os

    old = os.umask(0o022)
    try:
        quantizer.save_pretrained(tmp_path / "q")
    finally:
        os.umask(old)
    names = sorted(p.name for p in (tmp_path / "q").iterdir())
    assert names == ["centroids.safetensors", "kmeans.json"]  # no temporaries left
    assert all((tmp_path / "q" / n).stat().st_mode & 0o777 == 0o644 for n in names)
    again = KMeansQuantizer.from_pretrained(tmp_path / "q")  # checksum verified on load
    np.testing.assert_array_equal(again.centroids, quantizer.centroids)


def test_untrusted_pickle_error_names_the_parameter_not_a_flag(tmp_path):
    path = tmp_path / "k.joblib"
    path.write_bytes(b"not opened")
    with pytest.raises(UntrustedFileError, match="trust=True") as error:
        KMeansQuantizer.from_sklearn(path)
    assert "--" not in str(error.value)
