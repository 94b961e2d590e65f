"""Every tensor a network computes with lives on the network's device, so ``model.to("cuda")`` trains.

Checked on the ``meta`` device (no GPU needed): a dispatch spy records the device of every tensor
argument of every computing operation (copies between devices are what a fix looks like, so they
are not counted); a constant used where it was made shows up as ``cpu``.
"""
import pytest
import torch
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

from export import nets


class _DeviceSpy(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.devices = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in (torch.ops.aten._to_copy.default, torch.ops.aten.copy_.default):
            return func(*args, **(kwargs or {}))
        for t in pytree.tree_leaves((args, kwargs or {})):
            if isinstance(t, torch.Tensor) and t.dim() > 0:
                self.devices.add(t.device.type)
        return func(*args, **(kwargs or {}))


def _tiny(name: str) -> bool:
    return "tiny" in name


@pytest.mark.parametrize("name", [n for n in nets.list_architectures() if _tiny(n)])
def test_forward_and_backward_stay_on_the_module_device(name):
    model = nets.create(name).to("meta").train()
    with _DeviceSpy() as spy:
        try:
            y = model(torch.empty(2, 1, 32, 32, device="meta", requires_grad=True))
        except (RuntimeError, ValueError):  # a three-channel network
            y = model(torch.empty(2, 3, 32, 32, device="meta", requires_grad=True))
        y.sum().backward()
    assert spy.devices == {"meta"}, f"{name}: tensors on {sorted(spy.devices)}"
