import numpy as np

from export.docs import gallery as bench_gallery, readme as bench_readme

ROWS = [{"method": "demosaic/conv", "source": "imgadapt", "psnr_db": 40.1, "mp_s": 2.0, "peak_mb": 300.0},
        {"method": "opencv-bilinear", "source": "opencv-python", "psnr_db": 35.9, "mp_s": 1400.0, "peak_mb": 2.6}]


def test_quality_table_has_a_row_per_method_and_speed_ratios():
    lines = bench_readme.quality_table(ROWS).splitlines()
    assert lines[0].startswith("| method | source | PSNR (dB) |") and len(lines) == 4
    assert lines[2] == "| **demosaic/conv** | imgadapt | 40.10 | 2 | 1.0 | 300 |"
    assert lines[3] == "| opencv-bilinear | opencv-python | 35.90 | 1400 | 700.0 | 3 |"
    edges = [{**r, "ods": 0.5, "ois": 0.6, "ap": 0.4} for r in ROWS]
    assert "| 0.500 | 0.600 | 0.400 |" in bench_readme.quality_table(edges)


def test_update_replaces_marked_sections_only(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench:demosaic -->\nold\n<!-- /bench:demosaic -->\nend\n")
    missing = bench_readme.update(readme, {"demosaic": "new table", "sr": "sr table"})
    assert missing == ["sr"]
    assert readme.read_text() == "intro\n<!-- bench:demosaic -->\nnew table\n<!-- /bench:demosaic -->\nend\n"
    readme.write_text("<!-- bench:sr -->\n<!-- /bench:sr -->\n")  # an empty section is filled too
    assert bench_readme.update(readme, {"sr": "rows"}) == []
    assert readme.read_text() == "<!-- bench:sr -->\nrows\n<!-- /bench:sr -->\n"


def test_gallery_window_is_where_the_model_gains_most():
    truth = np.zeros((120, 120), np.uint8)
    model, peer = truth.copy(), truth.copy()
    peer[70:90, 30:50] = 200  # the peer is wrong here only
    gain, (y, x) = bench_gallery.best_window(model, peer, truth)
    assert gain > 0 and y <= 70 and y + bench_gallery.WINDOW >= 90 and x <= 30 and x + bench_gallery.WINDOW >= 50
