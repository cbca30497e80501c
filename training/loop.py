"""The training loop: chronological validation split, a learning-rate schedule (or early
stopping), fixed seeds.

Same plays + same config (seed included) → the same weights: every random draw comes from
generators seeded by the config, torch runs deterministic kernels — whose results were the
same bits on one thread or two here (tests/test_training.py checks it on every run).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as TF

import training
from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.play import Play
from player_plugin.recommend import features as F
from training.adam import Adam, deterministic
from training.chunks import first_target, training_examples
from training.data import Cancelled, Examples
from training.model import Config, SegueEnsemble, SegueModel

log = logging.getLogger(__name__)

CONTENT_INPUTS = ("artist", "album", "genre", "year", "duration", "audio", "audio_mask")


@dataclass
class Trained:
    model: SegueModel | SegueEnsemble
    vocab: F.Vocab
    metrics: dict
    train_plays: int
    targets: int


MEMBER_SEED_STRIDE = 7919  # member k > 0 of an ensemble starts from seed + k * this


def seed_everything(cfg: Config, member: int = 0) -> np.random.Generator:
    seed = cfg.seed + member * MEMBER_SEED_STRIDE
    torch.manual_seed(seed)
    torch.set_num_threads(threads(cfg))
    deterministic()
    return np.random.default_rng(seed)


def threads(cfg: Config) -> int:
    """torch's thread count for *cfg*: its ``threads``, at most the CPUs, and one where
    torch's threads would spin while they wait (:data:`training.PASSIVE`)."""
    if not training.PASSIVE:
        return 1
    return max(1, min(cfg.threads, os.cpu_count() or 1))


def lr_factor(schedule: str, step: int, steps: int) -> float:
    """The learning rate's share of ``lr`` after *step* of *steps* optimiser steps."""
    done = min(step / max(steps, 1), 1.0)
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * done))
    if schedule == "linear":
        return 1.0 - done
    if schedule in ("constant", "flat"):
        return 1.0
    raise ValueError(f"unknown learning-rate schedule {schedule!r}")


def tail_start(steps: int, share: float) -> int:
    """The first optimiser step (1-based) whose weights the tail average takes."""
    if share <= 0:
        return steps + 1
    return max(1, steps - max(1, round(steps * min(share, 1.0))) + 1)


class TailAverage:
    """The running mean of the weights after each optimiser step from *first_step* on
    (averaging the end of a run smooths the noise of its last steps: two seeds land
    closer together)."""

    def __init__(self, model: torch.nn.Module, first_step: int) -> None:
        self.first_step = first_step
        self.step_no = 0
        self.count = 0
        self.mean = [torch.zeros_like(p) for p in model.parameters()]

    def step(self, model: torch.nn.Module) -> None:
        self.step_no += 1
        if self.step_no < self.first_step:
            return
        self.count += 1
        with torch.no_grad():
            for mean, p in zip(self.mean, model.parameters(), strict=True):
                mean.add_(p.detach() - mean, alpha=1.0 / self.count)

    def load_into(self, model: torch.nn.Module) -> None:
        """Replace the model's weights by the mean (nothing to do when none was taken)."""
        if not self.count:
            return
        with torch.no_grad():
            for mean, p in zip(self.mean, model.parameters(), strict=True):
                p.copy_(mean)


def _scores(
    model: SegueModel,
    items: dict[str, torch.Tensor],
    ex: Examples,
    drop: np.ndarray | None,
    hist_drop: np.ndarray | None,
) -> torch.Tensor:
    cand_np = ex.cand_items
    hist_np = np.maximum(ex.hist_items, 0)
    used, inverse = np.unique(
        np.concatenate([cand_np.ravel(), hist_np.ravel()]), return_inverse=True
    )
    u = torch.from_numpy(used)
    content = model.items.content(*(items[k][u] for k in CONTENT_INPUTS))
    ids = items["item_id"][u]
    cand = torch.from_numpy(inverse[: cand_np.size].reshape(cand_np.shape))
    keep = torch.from_numpy(ex.cand_seen if drop is None else ex.cand_seen & ~drop)
    cand_vec = content[cand] + model.items.item(ids[cand]) * keep.unsqueeze(-1)
    hist = torch.from_numpy(inverse[cand_np.size :].reshape(hist_np.shape))
    hmask = torch.from_numpy(ex.hist_items >= 0).unsqueeze(-1).float()
    hkeep = (
        torch.ones_like(hmask)
        if hist_drop is None
        else torch.from_numpy(~hist_drop).unsqueeze(-1).float()
    )
    hist_vec = (content[hist] + model.items.item(ids[hist]) * hkeep) * hmask
    return model.scorer(
        hist_vec,
        torch.from_numpy(ex.hist_outcome),
        torch.from_numpy(ex.hist_gap),
        torch.from_numpy(ex.context),
        cand_vec,
        torch.from_numpy(ex.cand_feat.astype(np.float32)),
    )


def _evaluate(models: Sequence[SegueModel], items: dict[str, torch.Tensor], ex: Examples) -> dict:
    """Validation loss and estimated NDCG@10 of *models* scoring together (the mean of
    their scores, as :class:`~training.model.SegueEnsemble` serves them)."""
    for model in models:
        model.eval()
    losses, ndcg = [], []
    with torch.no_grad():
        for start in range(0, len(ex), 1024):
            part = ex.take(np.arange(start, min(start + 1024, len(ex))))
            s = torch.stack([_scores(m, items, part, None, None) for m in models]).mean(dim=0)
            logw = torch.from_numpy(part.cand_logw)
            losses.append(
                TF.cross_entropy(
                    s + logw, torch.zeros(len(part), dtype=torch.long), reduction="sum"
                ).item()
            )
            # each uniformly drawn negative stands for exp(logw) catalogue items: an
            # unbiased estimate of the target's rank in the whole catalogue
            weight = torch.exp(logw[:, 1:])
            rank = 1 + ((s[:, 1:] >= s[:, :1]).float() * weight).sum(dim=1).numpy()
            ndcg.append(np.where(rank <= 10, 1.0 / np.log2(rank + 1.0), 0.0))
    n = max(len(ex), 1)
    return {
        "val_loss": sum(losses) / n,
        "val_ndcg10": float(np.concatenate(ndcg).mean()) if ndcg else 0.0,
    }


def _fit(
    model: SegueModel,
    cfg: Config,
    items: dict[str, torch.Tensor],
    train_ex: Examples,
    val_ex: Examples,
    rng: np.random.Generator,
    emit: Callable[[dict], None],
    cancel: threading.Event | None,
    done_epochs: int = 0,
) -> dict:
    """Train *model* (early stopping or a fixed schedule); leaves the chosen weights in it
    and returns their validation metrics. *done_epochs*: epochs of earlier ensemble
    members, for the progress events."""
    total_epochs = cfg.epochs * max(1, cfg.members)
    opt = Adam(model.parameters(), weight_decay=cfg.weight_decay)
    steps = cfg.epochs * math.ceil(len(train_ex) / cfg.batch)
    step_no = 0
    averager = TailAverage(model, first_step=tail_start(steps, cfg.average))
    fixed = cfg.schedule != "constant"  # "flat": the full rate for exactly `epochs`
    best: dict | None = None
    best_metrics: dict = {}
    bad = 0
    epoch_times: list[float] = []
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.monotonic()
        model.train()
        order = rng.permutation(len(train_ex))
        total, count = 0.0, 0
        for start in range(0, len(order), cfg.batch):
            if cancel is not None and cancel.is_set():
                raise Cancelled
            part = train_ex.take(order[start : start + cfg.batch])
            drop = rng.random(part.cand_items.shape) < cfg.id_dropout
            hist_drop = rng.random(part.hist_items.shape) < cfg.id_dropout
            s = _scores(model, items, part, drop, hist_drop) + torch.from_numpy(part.cand_logw)
            w = torch.from_numpy(part.weight)
            loss = (
                TF.cross_entropy(s, torch.zeros(len(part), dtype=torch.long), reduction="none") * w
            ).sum() / w.sum()
            opt.zero_grad()
            loss.backward()
            opt.step(cfg.lr * lr_factor(cfg.schedule, step_no, steps))
            step_no += 1
            averager.step(model)
            total += loss.item() * len(part)
            count += len(part)
        last = epoch == cfg.epochs
        if last:
            averager.load_into(model)  # the weights returned are the ones validated
        metrics = _evaluate([model], items, val_ex)
        epoch_times.append(time.monotonic() - t0)
        if fixed:  # a fixed length: the weights at the end are the model
            improved = last
        else:
            # the loss (a proper scoring rule) chooses: on validation histories it picked
            # better epochs than the noisier estimated NDCG did
            improved = best is None or metrics["val_loss"] < best_metrics["val_loss"] - 1e-4
        if improved:
            best = copy.deepcopy(model.state_dict())
            best_metrics = {**metrics, "epoch": epoch}
            bad = 0
        else:
            bad += 1
        stop = last or (not fixed and bad >= cfg.patience)
        left = (total_epochs - done_epochs - (epoch if not stop else cfg.epochs)) * float(
            np.mean(epoch_times)
        )
        emit(
            {
                "event": "epoch",
                "epoch": done_epochs + epoch,
                "epochs": total_epochs,
                "loss": round(total / max(count, 1), 5),
                "val_loss": round(metrics["val_loss"], 5),
                "val_ndcg10": round(metrics["val_ndcg10"], 5),
                "eta_s": round(left, 1),
            }
        )
        if stop:
            break
    assert best is not None
    model.load_state_dict(best)
    model.eval()
    return best_metrics


def train(
    plays: Sequence[Play],
    catalogue: Catalogue,
    cfg: Config,
    *,
    blind: bool = False,
    progress: Callable[[dict], None] | None = None,
    cancel: threading.Event | None = None,
    while_waiting: Callable[[], None] | None = None,
    examples: Examples | None = None,
    built_s: float = 0.0,
) -> Trained:
    """Train on *plays* (oldest first); the newest ``val_share`` of targets validates.
    *while_waiting* runs while the examples' later chunks are still being built. The
    examples may come built (:func:`training.chunks.training_examples` with *cfg* and
    *blind*, in *built_s* seconds): ``python -m training`` builds them before it loads
    torch (and this module), and loads both while the later chunk is being built."""
    lr_factor(cfg.schedule, 0, 1)  # an unknown schedule fails before the data is built
    rng = seed_everything(cfg)
    emit = progress or (lambda _event: None)
    vocab = F.build_vocab(catalogue, plays)
    encoded = F.encode_items(catalogue, vocab)
    items = {k: torch.from_numpy(v) for k, v in encoded.items()}
    started = time.monotonic() - built_s
    if examples is None:
        examples = training_examples(
            plays, catalogue, cfg, blind=blind, cancel=cancel, while_waiting=while_waiting
        )
    n = len(examples)
    if n < 20:
        raise ValueError(f"too few plays to train on ({n} targets; need at least 20)")
    n_val = max(1, int(n * cfg.val_share))
    train_ex = examples.head(n - n_val)
    val_idx = np.arange(n - n_val, n)
    val_ex = examples.take(val_idx[examples.listened[val_idx]])
    first = first_target(len(plays), cfg.max_targets)  # the plays before it are history only
    emit(
        {
            "event": "data",
            "targets": n,
            "train": len(train_ex),
            "validation": n_val,
            "seconds": round(time.monotonic() - started, 2),
            "history": first if first > 1 else 0,
        }
    )
    if (
        cfg.schedule == "constant"
        and cfg.long_epoch > 0
        and math.ceil(len(train_ex) / cfg.batch) >= cfg.long_epoch
    ):  # one long epoch is the model: no epochs spent confirming it (see Config)
        cfg = dataclasses.replace(cfg, schedule="flat", epochs=1)
    members: list[SegueModel] = []
    best_metrics: dict = {}
    for k in range(max(1, cfg.members)):
        if k:  # member 0 draws from the generators seeded above, as a lone model does
            rng = seed_everything(cfg, member=k)
        member = SegueModel(vocab.sizes(), cfg)
        best_metrics = _fit(
            member, cfg, items, train_ex, val_ex, rng, emit, cancel, done_epochs=k * cfg.epochs
        )
        members.append(member)
    model: SegueModel | SegueEnsemble = members[0]
    if len(members) > 1:
        model = SegueEnsemble(members, cfg).eval()
        best_metrics = {**_evaluate(members, items, val_ex), "epoch": best_metrics["epoch"]}
    best_metrics = {
        k: (round(v, 6) if isinstance(v, float) and math.isfinite(v) else v)
        for k, v in best_metrics.items()
    }
    return Trained(model, vocab, best_metrics, train_plays=len(plays), targets=n)
