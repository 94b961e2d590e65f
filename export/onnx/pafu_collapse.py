"""Single-kernel PAFU collapse and pruning of never-picked kernels, from selections on calibration data.

A PAFU whose selector picks one kernel for at least ``share`` (99.9 %) of the calibration pixels
becomes that kernel as one plain convolution (:class:`CollapsedPAFU`); the selector, and whatever
computed its guide, then leaves the exported graph. In a PAFU that keeps its selector, kernels the
selector never picked are pruned from the group (:meth:`~export.layers.pafu.PAFU.prune`), which
leaves the output unchanged wherever a kept kernel is picked.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from ..layers.pafu import PAFU

COLLAPSE_SHARE = 0.999


class CollapsedPAFU(nn.Module):
    """The plain convolution a PAFU reduces to when its selector always picks one kernel.

    Called like the PAFU it replaces, ``(x, guide=None)``; the guide is ignored. It keeps the
    replaced unit's ``selector_depth`` so that a network's ``receptive_field`` stays a safe bound.

    Args:
        unit: the PAFU.
        index: the kernel to keep.

    Shape:
        ``(B, in, H, W) -> (B, out, H, W)``

    Example:
        >>> m = CollapsedPAFU(PAFU(2, 3, (3, 5)), 1)
        >>> m(torch.randn(1, 2, 8, 8)).shape, m.kernel_sizes
        (torch.Size([1, 3, 8, 8]), (5,))
    """

    def __init__(self, unit: PAFU, index: int):
        super().__init__()
        self.conv = unit.collapse(index)
        self.index = int(index)
        self.kernel_sizes = (unit.kernel_sizes[self.index],)
        self.max_kernel_size = self.kernel_sizes[0]
        self.selector_depth = unit.selector_depth

    def forward(self, x: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        return self.conv(x)


@torch.no_grad()
def count_selections(model: nn.Module, inputs: torch.Tensor, batch: int = 8) -> dict[str, torch.Tensor]:
    """How many pixels each kernel of every PAFU of ``model`` is picked for on ``inputs`` (eval mode).

    Returns:
        ``{module name: (n,) int64 counts}`` in module order.
    """
    counts: dict[str, torch.Tensor] = {}
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, PAFU):
            counts[name] = torch.zeros(module.num_kernels, dtype=torch.long)

            def tally(_module, _args, logits, name=name):
                counts[name] += torch.bincount(logits.argmax(1).flatten(), minlength=len(counts[name]))
            hooks.append(module.selector.register_forward_hook(tally))
    was_training = model.training
    model.eval()
    try:
        for i in range(0, len(inputs), batch):
            model(inputs[i:i + batch])
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return counts


def _replace(model: nn.Module, name: str, new: nn.Module) -> nn.Module:
    if not name:
        return new
    parent_name, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent_name), attr, new)
    return model


def collapse_pafus(model: nn.Module, inputs: torch.Tensor, share: float = COLLAPSE_SHARE) -> tuple[nn.Module, dict]:
    """Collapse single-selection PAFUs and prune never-picked kernels, judged on ``inputs``.

    Args:
        model: a network holding PAFU modules (or a PAFU itself); left unchanged.
        inputs: calibration inputs of ``model``, ``(N, C, H, W)``.
        share: least share of pixels for which one kernel must be picked to collapse the unit.

    Returns:
        The optimised copy (in eval mode) and a report: per unit the share of pixels per kernel,
        and what was done (``collapsed`` to one kernel, ``pruned`` to the picked ones, or ``kept``).
    """
    counts = count_selections(model, inputs)
    result = copy.deepcopy(model).eval()
    units = []
    for name, count in counts.items():
        unit = result.get_submodule(name)
        total = int(count.sum())
        shares = count.double() / max(total, 1)
        top = int(shares.argmax())
        entry = {"layer": name or "(model)", "kernels": unit.num_kernels, "pixels": total,
                 "share_per_kernel": [round(float(s), 5) for s in shares]}
        if total and float(shares[top]) >= share:
            result = _replace(result, name, CollapsedPAFU(unit, top))
            entry.update(action="collapsed", kernel=top, kernel_size=unit.kernel_sizes[top])
        elif total and bool((count == 0).any()):
            keep = [int(i) for i in torch.nonzero(count).flatten()]
            result = _replace(result, name, unit.prune(keep).eval())
            entry.update(action="pruned", kept=keep)
        else:
            entry.update(action="kept")
        units.append(entry)
    report = {"optimization": "pafu collapse", "applied": any(u["action"] != "kept" for u in units),
              "share_threshold": share, "units": units}
    return result.eval(), report
