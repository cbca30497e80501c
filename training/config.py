"""The trainer's settings (no torch here: the examples are built before torch is loaded)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Config:
    dim: int = 32  # item / query vector size
    hidden: int = 64  # GRU state
    # history-feature MLP width: 64 on the validation split (five seeds; 16 before): Last.fm
    # all plays 0.1174 -> 0.1303 NDCG@10 with a spread of 0.0008 (0.0107 over ten seeds at
    # 16), Spotify first plays 0.036 -> 0.054 (benchmarks/results/seed_spread.json)
    feat_hidden: int = 64
    dropout: float = 0.1
    id_dropout: float = 0.2  # share of candidate IDs hidden in training (items seen after
    # the cutoff are unknown at serving time; their content must carry them)
    negatives: int = 64  # sampled negatives per target (hard + random)
    hard_share: float = 0.5  # share of negatives drawn from the hard pools
    other_weight: float = 1.0  # loss weight of skipped/stopped plays as targets (aware)
    new_weight: float = 4.0  # loss weight multiplier of first plays as targets
    two_tower: int = 1  # 0: history features only (ablation)
    batch: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-6
    epochs: int = 12  # passes over the training examples (at most, with early stopping)
    # "cosine" / "linear": the learning rate falls from lr to 0 over exactly `epochs`, the
    # last weights are kept; "constant": early stopping on the validation loss (patience).
    # Five seeds on the validation split: cosine over 1 or 2 epochs spread as much and
    # scored lower than constant + early stopping (Spotify first plays 0.025 vs 0.043)
    schedule: str = "constant"
    patience: int = 2  # (schedule "constant" only)
    # (schedule "constant" only) a first epoch of at least this many optimiser steps is
    # the model, as one "flat" epoch: on both real histories (70-170 steps an epoch) early
    # stopping kept epoch 1 almost every time, the two epochs after it (a third of a run)
    # only confirmed it; shorter epochs (small histories) keep early stopping. 0: never
    long_epoch: int = 50
    average: float = 0.0  # > 0: the weights returned are the mean of those after each of
    # the last `average` share of optimiser steps (tail averaging; 0 = the last weights)
    members: int = 1  # > 1: that many models trained on the same examples from seeds of
    # their own, served as one (their item vectors and queries concatenated, their scores
    # averaged: still one dot product over the catalogue, `members` times as wide)
    # the newest this many plays are the targets (0: all); the plays before them only
    # build the history the first target starts from. Memory and time grow with the
    # targets: 200,000 plays (100,000 tracks) trained in 104 s at a 3.3 GB peak with all
    # of them, 31 s and 0.9 GB with this many; both real histories have fewer (42.7k,
    # 31.8k plays), so their models are as before. Half of a real history's plays scored
    # 3-5% lower on its validation split (docs/MEASUREMENTS.md): not free above the cap
    max_targets: int = 50_000
    val_share: float = 0.1  # newest share of the training window kept for validation
    seed: int = 42
    # torch's threads, at most the CPUs: a second one takes 14% off the epoch on an idle
    # core, the same bits (tests/test_training.py); only where they wait passively (see
    # training/__init__), else one: spinning ones made a busy 2-core machine 13x slower
    threads: int = 2

    def to_json(self) -> dict:
        return asdict(self)
