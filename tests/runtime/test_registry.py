import json

import pytest

from imgadapt.errors import ModelIntegrityError, UnknownNameError
from imgadapt._registry import Registry


def test_lists_by_task(registry):
    assert registry.list() == ["demosaic/conv", "edges/conv", "sr/conv-x2"]
    assert registry.list("sr") == ["sr/conv-x2"]
    with pytest.raises(UnknownNameError, match="unknown task 'video'"):
        registry.list("video")


def test_resolves_full_and_bare_names(registry):
    assert registry.resolve("demosaic/conv")["task"] == "demosaic"
    assert registry.resolve("conv", task="edges")["name"] == "edges/conv"
    assert registry.resolve(None, task="demosaic")["name"] == "demosaic/conv"


def test_unknown_name_suggests_close_ones(registry):
    with pytest.raises(UnknownNameError, match=r"did you mean 'demosaic/conv'"):
        registry.resolve("demosaic/cnv")


def test_task_mismatch(registry):
    with pytest.raises(UnknownNameError, match="is a sr model, expected a demosaic model"):
        registry.resolve("sr/conv-x2", task="demosaic")


def test_no_default_for_empty_task(tmp_path):
    with pytest.raises(UnknownNameError, match="no sr model is installed"):
        Registry([tmp_path]).resolve(None, task="sr")


def test_checksum_verified(registry, model_dir):
    card = registry.resolve("demosaic/conv")
    assert registry.verified_bytes(card)
    onnx_file = model_dir / "demosaic" / "conv.onnx"
    onnx_file.write_bytes(onnx_file.read_bytes() + b"\0")
    with pytest.raises(ModelIntegrityError, match="corrupt or was replaced"):
        registry.verified_bytes(card)
    onnx_file.unlink()
    with pytest.raises(ModelIntegrityError, match="missing"):
        registry.verified_bytes(card)


def test_skips_non_card_json_with_a_warning(model_dir, caplog):
    (model_dir / "notes.json").write_text(json.dumps([1, 2]))
    with caplog.at_level("WARNING", logger="imgadapt"):
        assert "demosaic/conv" in Registry([model_dir]).list()
    assert "skipping model card" in caplog.text and "notes.json: expected a JSON object" in caplog.text


def test_skips_malformed_cards(model_dir, caplog):
    (model_dir / "broken.json").write_text("{not json")
    with caplog.at_level("WARNING", logger="imgadapt"):
        assert "demosaic/conv" in Registry([model_dir]).list()
    assert "skipping model card" in caplog.text and "broken.json: expected valid JSON" in caplog.text
