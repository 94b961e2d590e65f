"""Gradient training of non-linear networks, with checkpoints to resume from."""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .data import add_raw_noise, mosaic_rggb, quantize, random_crops, sample_noise_levels
from ..layers.pafu import PAFU

log = logging.getLogger("imgadapt.train")


def make_batch(images, batch: int, patch: int, rng: np.random.Generator, noise: bool, pad: int = 0,
               jitter: float = 0.05, exposure=(1.0, 1.0), scales=(1.0, 0.7, 0.5, 0.35, 0.25)):
    """Clean RGB targets and their (optionally noisy) 8-bit RGGB mosaics.

    The mosaics are mirrored outwards by ``pad`` pixels (even, so the Bayer phase holds) as the
    runtime extends images before inference; the loss is then taken on the unpadded region.
    """
    rgb = quantize(random_crops(images, batch, patch, rng, scales=scales, jitter=jitter, exposure=exposure))
    mos = mosaic_rggb(rgb)
    if noise:
        a, b = sample_noise_levels(batch, rng)
        gen = torch.Generator().manual_seed(int(rng.integers(2 ** 31)))
        mos = quantize(add_raw_noise(mos, a, b, generator=gen).clamp(0, 1))
    if pad:
        mos = reflect_pad(mos, pad)
    return mos, rgb


def reflect_pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Mirror without repeating the edge (OpenCV's BORDER_REFLECT_101), as the runtime does."""
    return F.pad(x, (pad, pad, pad, pad), mode="reflect")


# Steps after a (re)start between which the rate is measured for fit_steps: late enough that
# start-up (data caches, CUDA autotuning, other runs still loading) is over.
FIT_PROBE = (200, 700)


class TimeBudgetReached(Exception):
    """Training stopped at its time budget; the checkpoint holds ``step`` steps and a rerun resumes."""

    def __init__(self, step: int, steps: int, checkpoint):
        super().__init__(f"time budget reached at step {step} of {steps}; checkpoint {checkpoint} "
                         "holds the run: rerun the same command to continue")
        self.step, self.steps, self.checkpoint = step, steps, checkpoint


def l1_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (output - target).abs().mean()


def _set_layout(model: torch.nn.Module, layout: torch.memory_format) -> None:
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.to(memory_format=layout)


def _save(checkpoint, model, opt, sched, step: int, history: list, steps: int) -> None:
    """Write the run atomically: a run killed while saving keeps its previous checkpoint."""
    path = Path(checkpoint)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                "step": step, "history": history, "steps": steps}, partial)
    partial.replace(path)


def train_network(model: torch.nn.Module, images, *, steps: int, batch: int = 16, patch: int = 96,
                  lr: float = 1e-3, seed: int = 0, noise: bool = False, decorrelation: float = 1e-4,
                  kernel_lr_scale: float = 0.0, weight_decay: float = 1e-4, pad: int | None = None,
                  jitter: float = 0.05, exposure=(1.0, 1.0), scales=(1.0, 0.7, 0.5, 0.35, 0.25),
                  balance: float | None = 5e-6, checkpoint: Path | None = None, log_every: int = 50,
                  fixed_pafu: bool = True, batch_fn=None, loss_fn=None, deadline: float | None = None,
                  device: str | torch.device = "cpu", usage_balance: float = 0.0, fit_steps: bool = False,
                  selection_information: float = 0.0) -> dict:
    """AdamW with a one-cycle schedule on the error of the output.

    Batches are demosaicking crops (:func:`make_batch`) unless ``batch_fn(rng)`` gives
    ``(input, target, margin)``: the output is compared with the target ``margin`` pixels in from
    its border.

    With ``balance`` (an MSE floor) the loss is the mean over crops of ``10 log10(mse + balance)``,
    the mean PSNR the model is judged by, so easy crops count as much as the hardest, most aliased
    ones; ``None`` takes the plain MSE over the batch. ``loss_fn(output, target)`` replaces both
    with its own scalar objective (logged as ``loss``).

    With ``fixed_pafu`` (``True`` for all PAFUs, or a list of them), PAFU selectors are kept as
    initialised (hard argmax, frozen); their kernels (or a plain input convolution in their place) learn at ``kernel_lr_scale`` times the rate of the rest of the
    network, so kernels that start from a least-squares solution are refined rather than
    overwritten; at the default 0 the input layer stays frozen and costs no backward pass. The
    network trains in channels-last layout (twice as fast for the envelopes' depthwise
    convolutions on a CPU). Without ``fixed_pafu``, PAFUs train whole: straight-through
    Gumbel-softmax selection and the decorrelation penalty, plus ``usage_balance`` times their
    load-balance loss (:meth:`~export.layers.pafu.PAFU.usage_balance_loss`) and ``selection_information``
    times their selection-information loss (:meth:`~export.layers.pafu.PAFU.selection_information_loss`).
    A checkpoint is written every
    ``log_every`` steps and training resumes from it. Batches are made on the CPU and trained on
    ``device``. Past ``deadline`` (a ``time.monotonic()`` value) the checkpoint is written and
    :class:`TimeBudgetReached` raised: the same call resumes where it stopped. With ``fit_steps``
    and a ``deadline``, the rate of the first steps decides how many of ``steps`` fit before the
    deadline, and the schedule is shortened to end then (the checkpoint keeps the new length).
    """
    if pad is None:  # mirror as far as the network reaches, as the runtime does
        pad = -(-(model.receptive_field // 2 + 1) // 2) * 2
    if pad % 2:
        raise ValueError(f"pad must be even to keep the Bayer phase, got {pad}")
    model.to(device)
    if torch.device(device).type == "cuda":
        torch.backends.cudnn.benchmark = True
    _set_layout(model, torch.channels_last)
    pafus = [m for m in model.modules() if isinstance(m, PAFU)]
    fixed = pafus if fixed_pafu is True else list(fixed_pafu or [])
    trained = [p for p in pafus if all(p is not f for f in fixed)]
    for p in fixed:
        p.selector.requires_grad_(False)
    kernel_ids = {id(p.weight) for p in fixed}
    if isinstance(getattr(model, "input", None), torch.nn.Conv2d):  # the plain ablation's linear input
        kernel_ids.add(id(model.input.weight))
    kernels = [p for p in model.parameters() if id(p) in kernel_ids]
    if kernel_lr_scale == 0:
        for p in kernels:
            p.requires_grad_(False)
        kernels = []
    others = [p for p in model.parameters() if p.requires_grad and id(p) not in kernel_ids]
    groups = [{"params": others, "lr": lr}] + ([{"params": kernels, "lr": lr * kernel_lr_scale}] if kernels else [])
    opt = torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    def one_cycle(total: int):
        # a warm-up of at least one whole step: torch divides by its length (zero at exactly 20 steps)
        warmup = max(0.05, 2.0 / total) if total > 4 else 0.05
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in groups], total_steps=total,
                                                   pct_start=warmup)

    sched = one_cycle(steps)
    start_step, history = 0, []
    if checkpoint is not None and Path(checkpoint).is_file():
        state = torch.load(checkpoint, weights_only=False, map_location=device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        if state.get("steps", steps) != steps:  # a schedule shortened to fit a time budget
            steps = state["steps"]
            sched = one_cycle(steps)
        sched.load_state_dict(state["sched"])
        start_step, history = state["step"], state["history"]
        log.info("resumed from %s at step %d", checkpoint, start_step)
    rng = np.random.default_rng([seed, start_step])
    t0, running = time.perf_counter(), 0.0
    probe = tuple(start_step + n for n in FIT_PROBE) if fit_steps and deadline is not None else None
    step = start_step
    while step < steps:
        model.train()
        for p in fixed:
            p.eval()
        if batch_fn is None:
            mos, rgb = make_batch(images, batch, patch, rng, noise, pad, jitter, exposure, scales)
            margin = pad
        else:
            mos, rgb, margin = batch_fn(rng)
        mos, rgb = mos.to(device), rgb.to(device)
        out = model(mos.contiguous(memory_format=torch.channels_last))
        h, w = rgb.shape[-2:]
        if loss_fn is None:
            err = (out[..., margin:margin + h, margin:margin + w] - rgb).pow(2).mean((1, 2, 3))
            loss = err.mean()
            objective = loss if balance is None else 10 * torch.log10(err + balance).mean()
        else:
            loss = objective = loss_fn(out[..., margin:margin + h, margin:margin + w], rgb)
        total = objective
        if trained:
            total = total + decorrelation * sum(p.decorrelation_loss() for p in trained)
            if usage_balance:
                total = total + usage_balance * sum(p.usage_balance_loss() for p in trained)
            if selection_information:
                total = total + selection_information * sum(p.selection_information_loss() for p in trained)
        opt.zero_grad()
        total.backward()
        opt.step()
        sched.step()
        for p in trained:
            p.release_selection()
        running += loss.item()
        if (step + 1) % log_every == 0 or step + 1 == steps:
            done = step + 1 - start_step
            rate = done / (time.perf_counter() - t0)
            mean = running / min(log_every, done)
            if loss_fn is None:
                entry = {"step": step + 1, "mse": mean, "psnr_train": float(10 * np.log10(1 / max(mean, 1e-12)))}
                log.info("step %d/%d  mse %.3g (%.2f dB)  %.2f steps/s  eta %.0f s", step + 1, steps, entry["mse"],
                         entry["psnr_train"], rate, (steps - step - 1) / rate)
            else:
                entry = {"step": step + 1, "loss": mean}
                log.info("step %d/%d  loss %.4g  %.2f steps/s  eta %.0f s", step + 1, steps, mean, rate,
                         (steps - step - 1) / rate)
            history.append(entry)
            running = 0.0
            if checkpoint is not None:
                _save(checkpoint, model, opt, sched, step + 1, history, steps)
        if deadline is not None and time.monotonic() > deadline and step + 1 < steps:
            if checkpoint is None:
                raise ValueError("a time budget needs a checkpoint to resume from")
            _save(checkpoint, model, opt, sched, step + 1, history, steps)
            raise TimeBudgetReached(step + 1, steps, checkpoint)
        if probe is not None and step + 1 == probe[0]:
            probe_start = time.monotonic()
        elif probe is not None and step + 1 == probe[1]:
            rate = (probe[1] - probe[0]) / (time.monotonic() - probe_start)
            fitted = min(steps, step + 1 + int(0.9 * rate * (deadline - time.monotonic())))
            if fitted < steps:
                log.info("%.1f steps/s: the schedule is shortened from %d to %d steps to end in time",
                         rate, steps, fitted)
                steps = fitted
                sched = one_cycle(steps)
                sched.last_epoch = step + 1
        step += 1
    model.to("cpu")
    _set_layout(model, torch.contiguous_format)
    return {"steps": steps, "batch": batch, "patch": patch, "pad": pad, "lr": lr, "balance": balance,
            "kernel_lr_scale": kernel_lr_scale,
            "scales": list(scales), "jitter": jitter, "exposure": list(exposure), "history": history[-5:]}


def training_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError("--device cuda: torch sees no CUDA device")
    return name


def run_options(args) -> dict:
    """How a network trains, beyond what it learns: device, time budget and loss."""
    deadline = time.monotonic() + 60 * args.minutes if args.minutes else None
    options = {"device": training_device(args.device), "deadline": deadline, "fit_steps": args.fit_steps,
               "usage_balance": args.usage_balance, "selection_information": args.selection_information}
    if args.loss == "l1":
        options["loss_fn"] = l1_loss
    elif args.loss == "mse":
        options["balance"] = None
    return options
