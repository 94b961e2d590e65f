"""Single-kernel PAFU collapse and pruning of never-picked kernels (export.onnx.pafu_collapse)."""
import torch

from export.onnx.graph import graph_stats, simplify
from export.layers.pafu import PAFU
from export.nets import create
from export.onnx.convert import run_onnx, to_onnx_bytes
from export.onnx.pafu_collapse import CollapsedPAFU, collapse_pafus, count_selections


def _force(unit: PAFU, kernel: int) -> None:
    """Make the selector pick ``kernel`` at every pixel (zero weights, one large bias)."""
    last = unit.selector[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
        last.bias[kernel] = 5.0


def test_a_forced_single_kernel_pafu_becomes_one_conv_with_the_same_output():
    unit = PAFU(2, 3, (3, 5, 3), selector_channels=4, selector_depth=1).eval()
    _force(unit, 1)
    x = torch.rand(2, 2, 20, 20)
    collapsed, report = collapse_pafus(unit, x)
    assert isinstance(collapsed, CollapsedPAFU) and collapsed.kernel_sizes == (5,)
    assert report["units"][0]["action"] == "collapsed" and report["units"][0]["share_per_kernel"][1] == 1.0
    onnx_bytes = simplify(to_onnx_bytes(collapsed, x[:1]))
    assert graph_stats(onnx_bytes, 2)["ops"] == {"Conv": 1}
    check = torch.rand(1, 2, 17, 23)
    with torch.no_grad():
        assert (torch.from_numpy(run_onnx(onnx_bytes, check.numpy())) - unit(check)).abs().max() < 1e-5


def test_collapse_in_a_network_removes_the_selector_and_its_guide():
    net = create("sr/pafu-linear-tiny-x2").eval()
    _force(net.pafu, 2)
    x = torch.rand(3, 1, 24, 24)
    collapsed, _ = collapse_pafus(net, x)
    assert isinstance(collapsed.pafu, CollapsedPAFU) and isinstance(net.pafu, PAFU)  # the original is untouched
    ops = graph_stats(simplify(to_onnx_bytes(collapsed, x[:1])), 1)["ops"]
    assert "ArgMax" not in ops and ops["Conv"] == 1
    with torch.no_grad():
        assert (collapsed(x) - net(x)).abs().max() < 1e-5
    assert collapsed.receptive_field == net.receptive_field  # a safe bound is kept


def test_never_picked_kernels_are_pruned_and_the_picks_kept():
    unit = PAFU(1, 2, (3, 3, 3, 3), selector_channels=4, selector_depth=1).eval()
    with torch.no_grad():  # the selector only ever scores kernels 0 and 2 highest
        unit.selector[-1].bias.copy_(torch.tensor([0.0, -50.0, 0.0, -50.0]))
    x = torch.rand(2, 1, 16, 16)
    counts = count_selections(unit, x)[""]
    assert counts[1] == counts[3] == 0 and counts.sum() == 2 * 16 * 16
    pruned, report = collapse_pafus(unit, x)
    assert report["units"][0]["action"] == "pruned" and report["units"][0]["kept"] == [0, 2]
    assert pruned.num_kernels == 2
    with torch.no_grad():
        assert torch.equal(pruned(x), unit(x))
