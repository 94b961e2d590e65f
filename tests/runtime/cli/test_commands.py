"""The command table, the exit-status policy and the results table renderer."""
import logging

import pytest

from imgadapt import cli
from imgadapt.bench.table import Column, render
from imgadapt.cli import status
from imgadapt.errors import UnknownNameError


def test_every_command_comes_from_the_command_table():
    sub = next(a for a in cli.build_parser()._actions if a.dest == "command")
    assert list(sub.choices) == ["models", "info", "demosaic", "upscale", "edges", "convert", "eval", "bench",
                                 "train", "export"]


def test_models_task_choices_are_the_registrys_tasks():
    from imgadapt._registry import TASKS

    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["models", "--task", "nope"])
    assert cli.build_parser().parse_args(["models", "--task", TASKS[0]]).task == TASKS[0]


def test_the_status_policy(caplog):
    def usage(args):
        raise status.CommandError("error: bad option")

    def unknown(args):
        raise UnknownNameError("unknown model 'x'")

    with caplog.at_level(logging.ERROR, logger="imgadapt"):
        assert status.run(lambda args: status.OK, None) == 0
        assert status.run(usage, None) == status.USAGE == 2
        assert status.run(unknown, None) == 2
        assert status.run(lambda a: (_ for _ in ()).throw(status.CommandError("stop", status.INTERRUPTED)), None) == 130
    assert "error: bad option" in caplog.text and "error: unknown model 'x'" in caplog.text


def test_the_table_renderer_aligns_text_left_and_numbers_right():
    rows = [{"method": "a", "psnr_db": 40.123456, "scale": 2}, {"method": "bb", "psnr_db": None, "scale": 3}]
    lines = render(rows, [Column("method", "method", "6s"), Column("PSNR", "psnr_db", "8.3f"),
                          Column("x", lambda r: f"x{r['scale']}", ">3s")])
    assert lines == ["method     PSNR   x", "a        40.123  x2", "bb            -  x3"]


def test_the_same_columns_render_as_markdown():
    from imgadapt.bench.table import markdown

    rows = [{"method": "a", "psnr_db": 40.123, "peak_mb": None}]
    assert markdown(rows, [Column("method", "method", "s"), Column("PSNR", "psnr_db", ".2f"),
                           Column("peak MB", "peak_mb", ".0f")]) == [
        "| method | PSNR | peak MB |", "|---|---:|---:|", "| a | 40.12 | - |"]
