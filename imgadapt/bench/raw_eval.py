"""Camera RAW conversion quality and speed: synthetic DNG files, imgadapt next to LibRaw AHD."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from .. import bayer
from .._io import read_array
from .method import Method
from .metrics import mean_psnr, rgb_psnr
from .evaluate import rate, throughput

log = logging.getLogger("imgadapt")


def _libraw_linear16(path: str) -> np.ndarray:
    """LibRaw AHD, linear 16-bit camera RGB, no white balance, no auto-brightness (BGR)."""
    import rawpy

    with rawpy.imread(path) as r:
        rgb = r.postprocess(demosaic_algorithm=rawpy.DemosaicAlgorithm.AHD, output_bps=16, gamma=(1, 1),
                            no_auto_bright=True, use_camera_wb=False, user_wb=[1.0, 1.0, 1.0, 1.0],
                            output_color=rawpy.ColorSpace.raw, adjust_maximum_thr=0.0)
    return rgb[..., ::-1]


def evaluate_raw(images: list[tuple[str, np.ndarray]], workdir: str | Path, model: str | None = None,
                 linearize: bool = False, black: int = 512, white: int = 16383, repeats: int = 3,
                 workers: int | None = None) -> list[dict]:
    """Linear 16-bit development of DNG files made from clean 8-bit images: ground-truth PSNR and
    speed of imgadapt and of LibRaw's AHD on the same files, in one run.

    Each image (its 8-bit values taken as linear light, or decoded from sRGB with ``linearize``)
    is mosaicked RGGB, scaled to ``black..white`` (14 bits by default) and written as a DNG in
    ``workdir``. Rows:

    - ``imgadapt convert``: the batch command (``--wb none --colorspace raw --gamma linear
      --exposure 0 --bits 16``, ``workers`` processes, one thread each), files in and 16-bit PNG files out;
      PSNR of the written files; speed of the whole batch, worker start-up included, one run;
    - ``imgadapt raw.read+develop``: the same pipeline in this process, file to array;
    - ``libraw-ahd``: ``rawpy.imread`` + ``postprocess`` (AHD, gamma 1, no auto-brightness,
      white balance 1, raw colour, ``adjust_maximum_thr=0``), file to array.

    PSNR is RGB PSNR against ``image * 65535`` (peak 65535, 8-px border crop), mean over images;
    speed is input megapixels per second (in-process rows: one warm-up, median of ``repeats``).
    """
    from ..raw import convert
    from .. import raw
    from .._model import load
    from .peers import mosaic_to_dng

    workdir = Path(workdir)
    src, out = workdir / "dng", workdir / "out"
    src.mkdir(parents=True, exist_ok=True)
    truths = {}
    for name, image in images:
        x = image.astype(np.float64) / 255.0
        if linearize:
            x = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
        mosaic = np.rint(black + bayer.mosaic(x, "RGGB") * (white - black)).astype(np.uint16)
        path = src / (Path(name).stem + ".dng")
        path.write_bytes(mosaic_to_dng(mosaic, "RGGB", white_level=white, black_level=black))
        truths[str(path)] = x * 65535.0
    paths = list(truths)
    megapixels = sum(t.shape[0] * t.shape[1] for t in truths.values()) / 1e6
    m = load(model, task="demosaic")
    linear = {"wb": "none", "colorspace": "raw", "gamma": "linear", "exposure": 0, "dtype": "uint16"}

    def score(outputs: dict) -> tuple[float, dict]:
        per_image = {Path(p).stem: round(rgb_psnr(outputs[p], truths[p], crop=8, peak=65535), 3) for p in paths}
        return round(mean_psnr(per_image.values()), 3), per_image

    rows = []
    settings = convert.Settings(model=m.name, wb="none", colorspace="raw", gamma="linear", exposure=0, bits=16)
    jobs, _ = convert.plan([Path(p) for p in paths], out, settings.suffix, overwrite=True)
    results: list = []
    n_workers = min(len(jobs), workers or convert.default_workers())
    start = time.perf_counter()
    convert.run_local(jobs, settings, n_workers, results.append)
    batch_seconds = time.perf_counter() - start
    failed = [r for r in results if r.status != "converted"]
    if failed:
        raise RuntimeError(f"imgadapt convert failed on {failed[0].src}: {failed[0].message}")
    psnr_db, per_image = score({p: read_array(out / (Path(p).stem + ".png")) for p in paths})
    rows.append({"method": f"imgadapt convert ({n_workers} workers x 1 thread, PNG written)",
                 "source": m.name, "psnr_db": psnr_db,
                 "per_image": per_image, "mp_s": rate(megapixels / batch_seconds)})
    methods = {
        "imgadapt raw.read+develop": Method(lambda p: raw.develop(raw.read(p), m, **linear), m.name),
        "libraw-ahd imread+postprocess": Method(_libraw_linear16, "rawpy (LibRaw AHD)"),
    }
    for method, entry in methods.items():
        fn, source = entry.run, entry.source
        psnr_db, per_image = score({p: fn(p) for p in paths})
        speed = throughput(lambda fn=fn: [fn(p) for p in paths], megapixels, repeats)
        rows.append({"method": method, "source": source, "psnr_db": psnr_db, "per_image": per_image,
                     "mp_s": rate(speed)})
    for row in rows:
        log.info("%-48s %-22s %7.3f dB %7.2f MP/s", row["method"], row["source"], row["psnr_db"], row["mp_s"])
    return rows
