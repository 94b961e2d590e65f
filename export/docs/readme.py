"""Regenerate the README's benchmark tables, charts and gallery from ``imgadapt bench``.

    python -m export.bench_readme --val DIR/val [--scenes SCENES] [--out export/readme] [--readme README.md]
    python -m export.bench_readme --tables-only [--out export/readme]      # re-render from the JSON

1. runs ``imgadapt bench`` (the command users run) for demosaicking, for super-resolution at every
   scale an installed model offers, for boundary detection on ``SCENES/images`` + ``SCENES/gt`` (a
   folder written by ``python -m export.boundary_scenes``), and ``--scaling`` for demosaicking,
   writing ``OUT/NAME.json`` and ``OUT/NAME.png``;
2. writes gallery strips ``OUT/gallery_NAME.png`` of the methods of each run (:mod:`export.docs.gallery`);
3. renders Markdown tables from the JSON and replaces each README section between
   ``<!-- bench:KEY -->`` and ``<!-- /bench:KEY -->`` (KEY: ``models``, ``demosaic``, ``sr``, ``edges``,
   ``scaling``, ``gallery``); a section without markers is printed instead, to be placed by hand.

Runtime only (no torch); run it on a quiet machine, the speeds are measured.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from imgadapt.bench.table import Column, markdown

ROOT = Path(__file__).resolve().parents[2]
COMMAND = "python -m export.bench_readme --val DIR/val --scenes SCENES"


def _mp(v) -> str:
    return "-" if v is None else f"{v:.3g}" if v < 100 else f"{v:.0f}"


MP_S = Column("MP/s", lambda r: _mp(r["mp_s"]), ">s")


def quality_table(rows: list[dict]) -> str:
    """One task's bench rows as Markdown: quality, MP/s, speed against the slowest, peak memory."""
    slowest = min(r["mp_s"] for r in rows)
    quality = ([Column("ODS", "ods", ".3f"), Column("OIS", "ois", ".3f"), Column("AP", "ap", ".3f")]
               if "ods" in rows[0] else [Column("PSNR (dB)", "psnr_db", ".2f")])
    return "\n".join(markdown(rows, [
        Column("method", lambda r: f"**{r['method']}**" if r["source"] == "imgadapt" else r["method"], "s"),
        Column("source", "source", "s"), *quality, MP_S, Column("speed ×", lambda r: r["mp_s"] / slowest, ".1f"),
        Column("peak MB", "peak_mb", ".0f")]))


def scaling_table(rows: list[dict]) -> str:
    return "\n".join(markdown(rows, [
        Column("method", "method", "s"), Column("tiles", lambda r: r["tile"] or "-", "s"),
        Column("frame MP", "megapixels", ".1f"), MP_S, Column("peak MB", "peak_mb", ".0f"),
        Column("MB per MP", "mb_per_mp", ".0f")]))


def models_table(results: dict[str, list[dict]]) -> str:
    """Task, kind, layers, parameters (model cards) and the bench's quality and speed per model."""
    rows = [_model_row(r) for rows in results.values() for r in rows if r["source"] == "imgadapt" and "tile" not in r]
    return "\n".join(markdown(rows, [Column(title, title, "s") for title in ("model", "task", "kind", "layers")] + [
        Column("parameters", "parameters", ">s"), Column("quality", "quality", "s"), MP_S]))


def _model_row(row: dict) -> dict:
    import imgadapt

    card = imgadapt.model_info(row["method"])
    return {"model": f"`{row['method']}`", "task": card["task"] + (f" ×{card['scale']}" if "scale" in card else ""),
            "kind": card.get("kind", ""), "layers": ", ".join(card.get("layers", [])),
            "parameters": f"{card['params']:,}" if isinstance(card.get("params"), int) else "-",
            "quality": f"ODS {row['ods']:.3f}" if "ods" in row else f"{row['psnr_db']:.2f} dB", "mp_s": row["mp_s"]}


def run_benches(val: Path, out: Path, scenes: Path | None) -> None:
    """``imgadapt bench`` for every task, JSON and chart per run, and the gallery strips."""
    import imgadapt
    from imgadapt import cli

    from . import gallery as bench_gallery

    out.mkdir(parents=True, exist_ok=True)
    jobs = [("demosaic", ["demosaic", "--images", str(val)], {})]
    scales = sorted({int(imgadapt.model_info(n)["scale"]) for n in imgadapt.list_models("sr")})
    jobs += [(f"sr_x{s}", ["sr", "--images", str(val), "--scale", str(s)], {"scale": s}) for s in scales]
    if scenes is not None:
        jobs.append(("edges", ["edges", "--images", str(scenes / "images"), "--gt", str(scenes / "gt")],
                     {"gt": scenes / "gt"}))
    for name, args, kwargs in jobs:
        if cli.main(["bench", *args, "--json", str(out / f"{name}.json"), "--plot", str(out / f"{name}.png")]):
            raise RuntimeError(f"imgadapt bench {' '.join(args)} failed")
        task = args[0]
        images = scenes / "images" if task == "edges" else val
        rows = json.loads((out / f"{name}.json").read_text())
        bench_gallery.write(task, images, rows, out / f"gallery_{name}.png", **kwargs)
    if cli.main(["bench", "demosaic", "--scaling", "--json", str(out / "scaling_demosaic.json"),
                 "--plot", str(out / "scaling_demosaic.png")]):
        raise RuntimeError("imgadapt bench demosaic --scaling failed")


def sections(out: Path, readme: Path) -> dict[str, str]:
    """The Markdown of each README section, from the JSON (and PNG) files in ``out``."""
    try:
        rel = out.resolve().relative_to(readme.resolve().parent).as_posix()
    except ValueError:
        rel = out.resolve().as_posix()
    results = {p.stem: json.loads(p.read_text()) for p in sorted(out.glob("*.json"))}
    note = (f"\n\nMeasured by `imgadapt bench` (regenerate: `{COMMAND}`); speeds in megapixels per second "
            "on a 2-core CPU, ratios within one run are the figure.")
    found = {}
    if "demosaic" in results:
        found["demosaic"] = quality_table(results["demosaic"]) + f"\n\n![quality against speed]({rel}/demosaic.png)" + note
    sr = [k for k in results if k.startswith("sr_x")]
    if sr:
        found["sr"] = "\n\n".join(f"×{k[4:]}\n\n" + quality_table(results[k]) for k in sr) + note
    if "edges" in results:
        found["edges"] = quality_table(results["edges"]) + f"\n\n![quality against speed]({rel}/edges.png)" + note
    if "scaling_demosaic" in results:
        found["scaling"] = scaling_table(results["scaling_demosaic"]) + f"\n\n![scaling]({rel}/scaling_demosaic.png)"
    found["models"] = models_table({k: v for k, v in results.items() if not k.startswith("scaling")})
    gallery = sorted(out.glob("gallery_*.png"))
    if gallery:
        found["gallery"] = "\n\n".join(f"![{p.stem[8:]}]({rel}/{p.name})" for p in gallery)
    return found


def update(readme: Path, found: dict[str, str]) -> list[str]:
    """Replace the marked sections of ``readme``; return the keys that have no markers."""
    text = readme.read_text()
    missing = []
    for key, body in found.items():
        pattern = re.compile(rf"(<!-- bench:{key} -->\n).*?(<!-- /bench:{key} -->)", re.S)  # may be empty
        if pattern.search(text):
            text = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
        else:
            missing.append(key)
    readme.write_text(text)
    return missing


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.bench_readme", description=__doc__.split("\n")[0])
    p.add_argument("--val", type=Path, help="folder of clean validation images (demosaic, sr)")
    p.add_argument("--scenes", type=Path, default=None, help="boundary scenes: SCENES/images and SCENES/gt")
    p.add_argument("--out", type=Path, default=ROOT / "export" / "readme", help="JSON, charts and gallery")
    p.add_argument("--readme", type=Path, default=ROOT / "README.md")
    p.add_argument("--tables-only", action="store_true", help="re-render the README from the JSON in --out")
    args = p.parse_args(argv)
    if not args.tables_only:
        if args.val is None:
            p.error("--val is needed unless --tables-only")
        try:
            run_benches(args.val, args.out, args.scenes)
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            return 1
    found = sections(args.out, args.readme)
    for key in update(args.readme, found):
        print(f"<!-- bench:{key} -->\n{found[key]}\n<!-- /bench:{key} -->\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
