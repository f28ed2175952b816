"""Docker cannot build on CI machines: parse the Dockerfile and check what it promises."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _instructions() -> list[tuple[str, str]]:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    out = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest))
    return out


def test_base_image_is_cuda_pytorch():
    froms = [rest for keyword, rest in _instructions() if keyword == "FROM"]
    assert len(froms) == 1
    assert froms[0].startswith("pytorch/pytorch:") and "cuda" in froms[0]


def test_installs_the_toolkit_with_gpu_extra():
    runs = " ".join(rest for keyword, rest in _instructions() if keyword == "RUN")
    assert 'pip install ".[gpu' in runs
    copied = {rest.split()[0] for keyword, rest in _instructions() if keyword == "COPY"}
    assert {"units", "spire", "configs"} <= copied


def test_entry_point_is_spire():
    entry = [rest for keyword, rest in _instructions() if keyword == "ENTRYPOINT"]
    assert entry == ['["spire"]']
