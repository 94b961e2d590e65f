import numpy as np
import pytest
import torch

from export.layers.col import CoL
from export.layers.gaussian_derivative import GaussianDerivativeConv
from export.layers.pafu import PAFU
from export.nets import create
from export.onnx.convert import onnx_max_abs_diff, to_onnx_bytes
from export.train.edges import IGNORED, balanced_bce, edge_batches, edge_targets, source_tiles
from export.train.network import train_network

NAMES = ["edges/gd-col", "edges/gd-col-plain", "edges/gd-pafu", "edges/gd-pafu-plain", "edges/gd-dyn",
         "edges/gd-dyn-static"]


def sources(n=3, size=80, seed=0):
    """BGR uint8 fills: smooth random patterns with some texture."""
    import cv2

    rng = np.random.default_rng(seed)
    return [np.clip(cv2.GaussianBlur(rng.uniform(0, 255, (size, size + 8, 3)).astype(np.float32), (0, 0), 2.0)
                    * 2 - 128, 0, 255).astype(np.uint8) for _ in range(n)]


@pytest.mark.parametrize("name", NAMES)
def test_shapes_layers_and_outputs(name):
    model = create(name)
    x = torch.rand(2, 1, 37, 22)
    logits = model.train()(x)
    prob = model.eval()(x)
    assert logits.shape == prob.shape == (2, 1, 37, 22)
    torch.testing.assert_close(prob, torch.sigmoid(model.logits(x)))
    kinds = {type(m) for m in model.modules()}
    adaptive = bool(kinds & {CoL, PAFU}) or any(issubclass(k, GaussianDerivativeConv) for k in kinds)
    assert adaptive == (not model.plain)
    assert sum(p.numel() for p in model.parameters()) < 50_000
    with pytest.raises(ValueError, match=r"expected shape \(N, 1, H, W\)"):
        model(torch.rand(1, 3, 8, 8))


def randomised(model):
    """The model with its zero-initialised weights (residual branches) drawn at random, so every path counts."""
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 4 and not p.any():
                p.normal_(std=0.1)
    return model


@pytest.mark.parametrize("name", NAMES)
def test_receptive_field_bounds_the_dependence(name):
    model = randomised(create(name)).eval()
    r = model.receptive_field // 2
    m = model.multiple
    size = 2 * r + 2 * m + 5
    c = size // 2
    x = torch.rand(1, 1, size, size)
    for rows, cols in ((slice(None, c - r), slice(None)), (slice(c + m + r, None), slice(None)),
                       (slice(None), slice(None, c - r)), (slice(None), slice(c + m + r, None))):
        y = x.clone()
        y[..., rows, cols] = torch.rand_like(y[..., rows, cols])  # only what lies beyond the radius
        with torch.no_grad():  # pixels c..c+multiple-1 cover every phase of a strided network
            torch.testing.assert_close(model(x)[..., c:c + model.multiple, c:c + model.multiple],
                                       model(y)[..., c:c + model.multiple, c:c + model.multiple])


@pytest.mark.parametrize("name", NAMES)
def test_receptive_field_is_tight(name):
    model = randomised(create(name)).eval()
    r = model.receptive_field // 2
    size = 2 * r + 13
    c = size // 2
    reach = 0
    for phase in range(model.multiple):
        x = torch.rand(1, 1, size, size, requires_grad=True)
        model(x)[0, 0, c + phase, c + phase].backward()
        used = (x.grad[0, 0] != 0).nonzero() - torch.tensor([c + phase, c + phase])
        reach = max(reach, int(used.abs().max()))
    assert reach == r


@pytest.mark.parametrize("name", NAMES)
def test_onnx_matches_torch_and_folds_the_gaussian_derivatives(name):
    onnx = pytest.importorskip("onnx")
    model = create(name).eval()
    assert onnx_max_abs_diff(model, torch.rand(1, 1, 32, 32), torch.rand(1, 1, 41, 27)) < 1e-5
    ops = {n.op_type for n in onnx.load_from_string(to_onnx_bytes(model, torch.rand(1, 1, 32, 32))).graph.node}
    steered = getattr(model, "dynamic", False)  # the steering functions of a pose are computed per pixel
    assert not ops & ({"Exp", "Einsum"} if steered else {"Exp", "Cos", "Sin", "Einsum"})


def test_the_dynamic_edge_net_starts_as_its_static_ablation():
    torch.manual_seed(0)
    dynamic, static = create("edges/gd-dyn").eval(), create("edges/gd-dyn-static").eval()
    static.load_state_dict({k: v for k, v in dynamic.state_dict().items() if ".pose." not in k})
    x = torch.rand(1, 1, 40, 40)
    with torch.no_grad():
        torch.testing.assert_close(dynamic(x), static(x))  # the pose network starts at angle 0
    assert {type(b).__name__ for b in dynamic.body} == {"_SteerableResidual", "_Residual"}


def test_targets_and_balanced_loss():
    border = np.zeros((6, 6), bool)
    border[2, :] = True
    t = edge_targets(border)
    assert set(np.unique(t)) == {IGNORED, 0.0, 1.0}
    assert (t[2] == 1).all() and (t[1] == IGNORED).all() and (t[3] == IGNORED).all() and (t[5] == 0).all()
    target = torch.from_numpy(t)[None, None]
    zero = torch.zeros_like(target)
    # logits 0: every counted pixel costs log 2; positives (6) weighted by 18/24, negatives (18) by 6/24
    torch.testing.assert_close(balanced_bce(zero, target), torch.tensor(np.log(2) * (6 * 18 + 18 * 6) / 24 / 24,
                                                                         dtype=torch.float32))
    ignored_changed = zero.clone()
    ignored_changed[target == IGNORED] = 50.0
    torch.testing.assert_close(balanced_bce(ignored_changed, target), balanced_bce(zero, target))
    with pytest.raises(ValueError, match="differ"):
        balanced_bce(zero[..., :3], target)


def test_scene_batches_are_seeded_and_shaped():
    fn = edge_batches(sources(), 2, 24, 4)
    x1, t1, margin = fn(np.random.default_rng(3))
    x2, t2, _ = fn(np.random.default_rng(3))
    assert x1.shape == (2, 1, 32, 32) and t1.shape == (2, 1, 24, 24) and margin == 4
    assert torch.equal(x1, x2) and torch.equal(t1, t2)
    assert 0 <= float(x1.min()) and float(x1.max()) <= 1 and (t1 == 1).any()
    tiles = source_tiles(sources(1, size=200), 64)
    assert all(t.shape[:2] == (64, 64) for t in tiles) and len(tiles) == 6 * 6


@pytest.mark.parametrize("name", ["edges/gd-col", "edges/gd-pafu"])
def test_a_few_training_steps_with_the_balanced_loss(name):
    model = create(name)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    summary = train_network(model, None, steps=3, lr=1e-3, fixed_pafu=False, pad=4, log_every=1,
                            loss_fn=balanced_bce, batch_fn=edge_batches(sources(), 2, 24, 4))
    assert [h["step"] for h in summary["history"]] == [1, 2, 3]
    assert all(np.isfinite(h["loss"]) for h in summary["history"])
    after = model.state_dict()
    key = "frame.coeffs" if name == "edges/gd-col" else "out.selector.0.weight"
    assert not torch.equal(before[key], after[key])
    assert not torch.equal(before["frame.log_sigma_x"], after["frame.log_sigma_x"])  # the bases' scales learn


def test_runtime_tiles_equal_the_whole_image(tmp_path):
    pytest.importorskip("onnxruntime")
    import hashlib
    import json

    from imgadapt._model import load_from
    from imgadapt._registry import Registry

    model = randomised(create("edges/gd-col")).eval()
    data = to_onnx_bytes(model, torch.rand(1, 1, 32, 32))
    (tmp_path / "edges").mkdir()
    (tmp_path / "edges" / "gd-col.onnx").write_bytes(data)
    card = {"name": "edges/gd-col", "task": "edges", "onnx_sha256": hashlib.sha256(data).hexdigest(),
            "input": {"channels": 1, "multiple": model.multiple}, "receptive_field": model.receptive_field}
    (tmp_path / "edges" / "gd-col.json").write_text(json.dumps(card))
    registry = Registry([tmp_path])
    image = np.random.default_rng(0).integers(0, 256, (83, 101)).astype(np.uint8)  # tiles of 22 (even) px
    whole = load_from(registry, "edges/gd-col", tile=None, providers=["cpu"])(image)
    tiled = load_from(registry, "edges/gd-col", tile=21, providers=["cpu"])(image)
    assert whole.shape == image.shape and whole.dtype == np.float32
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
