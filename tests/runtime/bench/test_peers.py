import io
import sys

import numpy as np
import pytest

from imgadapt import bayer
from imgadapt.bench import metrics, peers
from imgadapt.errors import InputDtypeError, InputShapeError, UnknownNameError

AVAILABLE = peers.available_demosaic_peers()


def smooth_bgr(h=48, w=64, dtype=np.uint8):
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([0.5 + 0.4 * np.sin(3 * x), 0.5 + 0.4 * np.cos(2 * y), 0.3 + 0.5 * x * y], axis=2)
    full = np.iinfo(dtype).max
    return (img * full).round().astype(dtype)


def square_bgr(h=40, w=48):
    img = np.full((h, w, 3), 30, np.uint8)
    img[12:28, 10:34] = (200, 120, 60)
    return img


def test_registry_lists_the_peers_with_their_packages():
    for name in ("opencv-bilinear", "opencv-vng", "opencv-ea", "malvar2004", "menon2007", "libraw-ahd"):
        assert name in peers.DEMOSAIC_PEERS
    sources = {n: p.source for n, p in peers.DEMOSAIC_PEERS.items()}
    assert sources["opencv-vng"] == "opencv-python"
    assert sources["menon2007"] == "colour-demosaicing"
    assert sources["libraw-ahd"] == "rawpy"
    assert sources["demosaicnet"] == "demosaicnet"
    for name, peer in peers.DEMOSAIC_PEERS.items():
        assert peer.name == name and set(peer.dtypes) <= {"uint8", "uint16"}
    assert {"opencv-bilinear", "opencv-vng", "opencv-ea"} <= set(AVAILABLE)
    assert "opencv-vng" not in peers.available_demosaic_peers(np.uint16)
    assert "opencv-bilinear" in peers.available_demosaic_peers("uint16")


def test_missing_package_is_skipped_and_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "rawpy", None)  # makes "import rawpy" fail
    assert not peers.DEMOSAIC_PEERS["libraw-ahd"].available()
    assert "libraw-ahd" not in peers.available_demosaic_peers()
    with pytest.raises(ImportError, match=r"imgadapt\[peers\]"):
        peers.libraw(np.zeros((8, 8), np.uint8))
    monkeypatch.setitem(sys.modules, "colour_demosaicing", None)
    with pytest.raises(ImportError, match=r"imgadapt\[peers\]"):
        peers.malvar2004(np.zeros((8, 8), np.uint8))
    monkeypatch.setitem(sys.modules, "demosaicnet", None)
    monkeypatch.setitem(sys.modules, "demosaicnet.modules", None)
    monkeypatch.setattr("imgadapt.bench.peer_demosaicnet._NETWORK", [])
    assert not peers.DEMOSAIC_PEERS["demosaicnet"].available()
    with pytest.raises(ImportError, match=r"imgadapt\[peers\]"):
        peers.DEMOSAIC_PEERS["demosaicnet"](np.zeros((8, 8), np.uint8))


@pytest.mark.parametrize("pattern", bayer.PATTERNS)
@pytest.mark.parametrize("name", sorted(AVAILABLE))
def test_peer_demosaics_smooth_image(name, pattern):
    peer = AVAILABLE[name]
    for dtype in peer.dtypes:
        img = smooth_bgr(dtype=np.dtype(dtype).type)
        out = peer(bayer.mosaic(img, pattern), pattern)
        assert out.dtype == img.dtype and out.shape == img.shape
        assert metrics.rgb_psnr(out, img, crop=4) > 30, (name, pattern, dtype)


@pytest.mark.parametrize("name", sorted(AVAILABLE))
def test_peer_output_is_aligned_with_input(name):
    img = square_bgr()
    for pattern in bayer.PATTERNS:
        out = AVAILABLE[name](bayer.mosaic(img, pattern), pattern)
        scores = {(dy, dx): metrics.psnr(np.roll(out, (dy, dx), axis=(0, 1)), img, crop=4)
                  for dy in (-1, 0, 1) for dx in (-1, 0, 1)}
        assert max(scores, key=scores.get) == (0, 0), (name, pattern)


@pytest.mark.parametrize("name", sorted(AVAILABLE))
def test_peer_accepts_strided_and_hxwx1_input(name):
    mos = bayer.mosaic(smooth_bgr(), "RGGB")
    wide = np.zeros((mos.shape[0], 2 * mos.shape[1]), np.uint8)
    wide[:, ::2] = mos
    peer = AVAILABLE[name]
    expected = peer(mos, "RGGB")
    np.testing.assert_array_equal(peer(wide[:, ::2], "rggb"), expected)
    np.testing.assert_array_equal(peer(mos[:, :, None], "RGGB"), expected)


def test_bad_input_raises_typed_errors():
    mos = np.zeros((8, 8), np.uint8)
    with pytest.raises(InputDtypeError, match="uint16"):
        peers.opencv_vng(mos.astype(np.uint16), "RGGB")
    with pytest.raises(InputDtypeError):
        peers.opencv_bilinear(mos.astype(np.float32), "RGGB")
    with pytest.raises(InputShapeError):
        peers.opencv_ea(np.zeros((8, 8, 3), np.uint8), "RGGB")
    with pytest.raises(UnknownNameError):
        peers.opencv_bilinear(mos, "RGBG")
    with pytest.raises(UnknownNameError):
        peers.libraw(mos, "RGGB", algorithm="AMAZE")


@pytest.mark.parametrize("pattern", bayer.PATTERNS)
def test_dng_holds_mosaic_and_cfa_tags(pattern):
    tifffile = pytest.importorskip("tifffile")
    mos = (np.arange(10 * 12) % 251).astype(np.uint8).reshape(10, 12)
    with tifffile.TiffFile(io.BytesIO(peers.mosaic_to_dng(mos, pattern))) as tif:
        page = tif.pages[0]
        np.testing.assert_array_equal(page.asarray(), mos)
        tags = {t.code: t.value for t in page.tags.values()}
    assert tags[262] == 32803
    assert tuple(tags[33421]) == (2, 2)
    assert bytes(tags[33422]) == bytes("RGB".index(c) for c in pattern)
    assert tags[50714] == 0 and tags[50717] == 255


@pytest.mark.parametrize("algorithm", ["AHD", "DCB", "DHT", "AAHD", "PPG"])
@pytest.mark.parametrize("pattern", bayer.PATTERNS)
def test_libraw_flat_round_trip_keeps_level(pattern, algorithm):
    pytest.importorskip("rawpy")
    pytest.importorskip("tifffile")
    for dtype, level, tolerance in ((np.uint8, 117, 0), (np.uint16, 30001, 1)):
        out = peers.libraw(np.full((36, 40), level, dtype), pattern, algorithm=algorithm)
        assert out.dtype == dtype and out.shape == (36, 40, 3)
        # LibRaw's AAHD leaves the corner pixels off; DHT works in float and may lose 1 of
        # 65535; everything else comes back at the input level.
        inner = out[1:-1, 1:-1].astype(int)
        assert np.abs(inner - level).max() <= tolerance, (dtype, np.unique(inner))


def test_libraw_small_mosaic_and_full_scale():
    pytest.importorskip("rawpy")
    pytest.importorskip("tifffile")
    out = peers.libraw(np.full((6, 10), 255, np.uint8), "GRBG")
    assert out.shape == (6, 10, 3)
    np.testing.assert_array_equal(out, 255)
    out = peers.libraw(np.full((4, 4), 65535, np.uint16), "BGGR", algorithm="ppg")
    np.testing.assert_array_equal(out, 65535)


def test_noisy_runs_measure_demosaicnet_followed_by_non_local_means(monkeypatch):
    import cv2

    from imgadapt.bench import demosaic_eval, peers

    def network(mosaic, pattern="RGGB"):
        return cv2.cvtColor(mosaic, cv2.COLOR_BayerRG2BGR)
    network.source = "demosaicnet"
    monkeypatch.setattr(peers, "available_demosaic_peers", lambda dtype=None: {"demosaicnet": network})
    methods = demosaic_eval.demosaic_methods([], peers=False, denoise_peers=True)
    names = [n for n in methods if n.startswith("demosaicnet+nlm")]
    assert names == [f"demosaicnet+nlm(h={h})" for h in demosaic_eval.NETWORK_NLM_STRENGTHS]
    mosaic = np.random.default_rng(0).integers(0, 256, (32, 48)).astype(np.uint8)
    method = methods["demosaicnet+nlm(h=5)"]
    fn, source = method.run, method.source
    np.testing.assert_array_equal(fn(mosaic, "RGGB"), peers.nlm(network(mosaic), 5))
    assert source == "demosaicnet"
    monkeypatch.setattr(peers, "available_demosaic_peers", lambda dtype=None: {})
    assert not any(n.startswith("demosaicnet") for n in demosaic_eval.demosaic_methods([], peers=False, denoise_peers=True))
