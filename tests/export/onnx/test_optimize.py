import pytest
import torch

from export.layers.envelope import DisentangledConv
from export.nets import create
from export.onnx.optimize import mean_psnr, shrink_envelopes, shrink_if_harmless


def test_shrinking_narrow_envelopes_keeps_the_output_and_cuts_the_receptive_field():
    torch.manual_seed(0)
    net = create("demosaic/pafu-net-tiny", radius=3, init_sigma=0.4).eval()
    small, report = shrink_envelopes(net, radius=1)
    assert small.receptive_field < net.receptive_field
    assert [r["layer"] for r in report] == [n for n, m in net.named_modules() if isinstance(m, DisentangledConv)]
    assert all(r["mass_kept_min"] > 0.99 and r["taps"] == "7 -> 3" for r in report)
    assert all(m.radius == 3 for m in net.modules() if isinstance(m, DisentangledConv))  # the original is untouched
    x = torch.rand(2, 1, 24, 24)
    with torch.no_grad():
        assert (small(x) - net(x)).abs().max() < 0.02


@pytest.mark.parametrize("sigma,applied", [(0.4, True), (3.0, False)])
def test_shrinking_is_applied_only_within_the_tolerance(sigma, applied):
    torch.manual_seed(0)
    net = create("demosaic/pafu-net-plain", features=4, blocks=1).eval()  # no envelopes: nothing to do
    assert shrink_if_harmless(net, torch.rand(2, 1, 16, 16), torch.rand(2, 3, 16, 16), 0) == (net, None)
    net = create("demosaic/pafu-net-tiny", radius=3, init_sigma=sigma)
    torch.nn.init.normal_(net.head.weight, std=0.3)  # make the body matter
    x, y = torch.rand(4, 1, 20, 20), torch.rand(4, 3, 16, 16)
    with torch.no_grad():
        y = net.eval()(x)[..., 2:18, 2:18].clamp(0, 1)
    chosen, report = shrink_if_harmless(net, x, y, 2, tolerance_db=0.05)
    assert report["applied"] is applied and (chosen is not net) is applied
    assert report["calibration_psnr_db"]["before"] == pytest.approx(mean_psnr(net, x, y, 2))
