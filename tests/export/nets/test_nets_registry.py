import importlib
import json
from pathlib import Path

import pytest

pytest.importorskip("torch")

from export import nets  # noqa: E402
from imgadapt.errors import UnknownNameError  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
TRAINED = ["demosaic/pafu-linear", "demosaic/pafu-net", "demosaic/pafu-net-denoise", "demosaic/pafu-net-plain",
           "demosaic/pafu-net-plain-denoise", "edges/gd-col", "edges/gd-col-lite", "edges/gd-col-lite-plain",
           "edges/gd-col-plain", "edges/gd-dyn", "edges/gd-dyn-static", "edges/gd-pafu", "edges/gd-pafu-plain",
           *[f"sr/pafu-espcn{v}-x{s}" for s in (2, 3, 4) for v in ("", "-plain")],
           *[f"sr/pafu-linear-x{s}" for s in (2, 3, 4)]]


def test_the_train_command_takes_the_registered_trainable_names():
    assert nets.trainable() == sorted(TRAINED)


@pytest.mark.parametrize("name", TRAINED)
def test_every_trainable_entry_names_a_trainer_that_exists(name):
    module, _, function = nets.get(name).trainer.partition(":")
    assert callable(getattr(importlib.import_module(module), function))


def test_a_denoise_variant_builds_its_base_architecture_with_a_denoising_head():
    entry = nets.get("demosaic/pafu-net-plain-denoise")
    assert entry.arch == "demosaic/pafu-net-plain" and dict(entry.config) == {"denoise": True}
    assert entry.card() == {"name": "demosaic/pafu-net-plain-denoise", "arch": "demosaic/pafu-net-plain",
                            "task": "demosaic", "kind": "nonlinear", "default_rank": 0}
    assert "demosaic/pafu-net-plain-denoise" not in nets.list_architectures()
    assert nets.get("demosaic/pafu-net-tiny").create(denoise=True).denoise


def test_test_size_variants_have_no_trainer():
    assert nets.get("demosaic/pafu-net-tiny").trainer is None
    with pytest.raises(UnknownNameError, match="test-size"):
        nets.get("demosaic/pafu-net-tiny").train(None, [])


def test_an_unknown_name_suggests_close_ones():
    with pytest.raises(UnknownNameError, match="did you mean demosaic/pafu-net"):
        nets.create("demosaic/pafu-nett")


@pytest.mark.parametrize("name", [n for n in TRAINED if n.startswith("edges/")])
def test_every_trainable_edge_architecture_describes_itself_in_its_entry(name):
    # the edge trainer writes the entry's description into the card; it composes none of its own
    description = nets.get(name).description
    assert description.endswith(".") and len(description) > 40
    if name.endswith("-plain"):
        assert description.startswith(f"Plain-convolution ablation of {name[:-len('-plain')]} ")


def test_a_variant_does_not_inherit_its_base_description(monkeypatch):
    from export.nets import registry

    monkeypatch.setattr(registry, "_ENTRIES", dict(registry._ENTRIES))
    registry.register_variant("edges/gd-col-test-variant", "edges/gd-col", features=4)
    assert nets.get("edges/gd-col").description and nets.get("edges/gd-col-test-variant").description == ""


@pytest.mark.parametrize("card", sorted((REPO / "models").glob("*/*.json")), ids=lambda p: p.stem)
def test_shipped_cards_rank_as_their_registry_entry(card):
    # retraining writes the entry's rank, so the default a user gets survives a retrained model
    data = json.loads(card.read_text())
    assert data["default_rank"] == nets.get(data["name"]).default_rank


def test_a_card_built_from_a_network_lists_its_layer_families():
    entry = nets.get("sr/pafu-linear-x2")
    assert entry.card(entry.create())["layers"] == ["pafu"] and "layers" not in entry.card()
