"""``imgadapt convert --engine ray``: the same files as the local engine, on a local Ray instance."""
import sys

import pytest

from imgadapt import cli


def test_ray_engine_writes_the_same_bytes_as_the_local_engine(installed, tmp_path, dng, monkeypatch):
    ray = pytest.importorskip("ray", reason="the Ray engine needs ray (dev or ray extra)")
    pytest.importorskip("rawpy", reason="camera RAW files are read with rawpy (raw extra)")
    src = tmp_path / "in"
    src.mkdir()
    for k, pattern in enumerate(("RGGB", "GBRG", "BGGR")):
        dng.write(src / f"f{k}.dng", dng.scene(40, 60, seed=k), pattern, black=512, white=16383,
                  neutral=(0.5, 1.0, 0.7), orientation=(1, 6, 3)[k])
    data = (src / "f0.dng").read_bytes()
    (src / "corrupt.dng").write_bytes(data[: len(data) // 3])
    args = ["convert", str(src), "--model", "demosaic/conv", "--threads", "1"]
    assert cli.main([*args, "-o", str(tmp_path / "local"), "--workers", "0"]) == 1

    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"IMGADAPT_MODEL_PATH": str(installed), "RAY_USAGE_STATS_ENABLED": "0"}})
    try:
        assert cli.main([*args, "-o", str(tmp_path / "ray"), "--engine", "ray", "--workers", "1"]) == 1
    finally:
        ray.shutdown()
    local = {p.name: p.read_bytes() for p in (tmp_path / "local").iterdir()}
    on_ray = {p.name: p.read_bytes() for p in (tmp_path / "ray").iterdir()}
    assert sorted(local) == ["f0.png", "f1.png", "f2.png"]
    assert on_ray == local


def test_missing_ray_names_the_extra(installed, tmp_path, dng, monkeypatch, caplog):
    pytest.importorskip("rawpy", reason="camera RAW files are read with rawpy (raw extra)")
    dng.write(tmp_path / "a.dng", dng.scene(40, 60))
    monkeypatch.setitem(sys.modules, "ray", None)
    assert cli.main(["convert", str(tmp_path / "a.dng"), "-o", str(tmp_path / "out"), "--engine", "ray"]) == 2
    assert 'pip install "imgadapt[ray]"' in caplog.text
