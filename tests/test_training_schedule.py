"""Steadier training: the learning-rate schedule, the tail average of the weights, a fixed
number of epochs instead of early stopping."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from test_model_fixtures import synthetic_catalogue, synthetic_plays, tiny_config

from training.loop import TailAverage, lr_factor, tail_start, train


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_the_schedule_falls_from_the_full_rate_to_zero(schedule) -> None:
    steps = 37
    factors = [lr_factor(schedule, step, steps) for step in range(steps + 1)]
    assert factors[0] == 1.0 and factors[-1] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in itertools.pairwise(factors))
    assert lr_factor(schedule, steps + 5, steps) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor("constant", steps, steps) == 1.0
    assert lr_factor("flat", steps, steps) == 1.0


def test_an_unknown_schedule_is_refused_before_any_work() -> None:
    with pytest.raises(ValueError, match="schedule"):
        train([], synthetic_catalogue(), tiny_config(schedule="sometimes"))


def test_tail_average_is_the_mean_of_the_last_checkpoints() -> None:
    model = torch.nn.Linear(3, 2)
    steps = 10
    first = tail_start(steps, 0.3)
    assert first == 8  # the last 3 of 10 steps
    avg = TailAverage(model, first_step=first)
    seen = []
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn(p.shape, generator=gen))
        seen.append([p.detach().clone() for p in model.parameters()])
        avg.step(model)
    avg.load_into(model)
    for index, p in enumerate(model.parameters()):
        expected = torch.stack([w[index] for w in seen[first - 1 :]]).mean(dim=0)
        torch.testing.assert_close(p.detach(), expected)
    assert tail_start(steps, 0.0) == steps + 1  # no averaging
    assert tail_start(steps, 1.0) == 1 and tail_start(steps, 0.01) == steps


@pytest.mark.parametrize("schedule", ["cosine", "flat"])
def test_a_fixed_schedule_runs_every_epoch_and_keeps_the_last_weights(schedule) -> None:
    """No early stopping with a schedule: the run has its full length (even when the
    validation loss rises, as it does at a learning rate this high) and the metrics are
    the last epoch's; patience-based stopping ends it early."""
    cat, plays = synthetic_catalogue(), synthetic_plays(250)
    events: list[dict] = []
    fixed = train(
        plays,
        cat,
        tiny_config(schedule=schedule, epochs=6, patience=1, lr=0.05),
        progress=events.append,
    )
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3, 4, 5, 6]
    assert fixed.metrics["epoch"] == 6
    assert fixed.metrics["val_loss"] == pytest.approx(epochs[-1]["val_loss"], abs=1e-4)
    assert epochs[-1]["eta_s"] == 0
    events.clear()
    stopped = train(
        plays,
        cat,
        tiny_config(schedule="constant", epochs=6, patience=1, lr=0.05),
        progress=events.append,
    )
    assert len([e for e in events if e["event"] == "epoch"]) < 6
    assert stopped.metrics["epoch"] < 6


def test_averaged_training_is_deterministic_and_differs_from_the_last_weights() -> None:
    cat, plays = synthetic_catalogue(), synthetic_plays(250)

    def weights(**cfg) -> dict[str, np.ndarray]:
        trained = train(plays, cat, tiny_config(schedule="linear", **cfg))
        return {k: v.detach().numpy().copy() for k, v in trained.model.state_dict().items()}

    a, b = weights(average=0.5), weights(average=0.5)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    last = weights(average=0.0)
    assert any(not np.array_equal(a[k], last[k]) for k in a)


def test_a_long_first_epoch_is_kept_as_early_stopping_would_keep_it() -> None:
    """Early stopping that keeps epoch 1 trains two more epochs only to throw them away:
    one flat epoch returns the very same weights and metrics, and with early stopping a
    first epoch of at least ``long_epoch`` steps is run so (early stopping kept epoch 1
    almost every time on the real histories); shorter epochs are still confirmed."""
    cat, plays = synthetic_catalogue(), synthetic_plays(250)

    def weights(trained) -> list[np.ndarray]:
        return [v.detach().numpy().copy() for v in trained.model.state_dict().values()]

    base = {"epochs": 6, "patience": 2, "lr": 0.2, "long_epoch": 0}
    events: list[dict] = []
    stopped = train(plays, cat, tiny_config(schedule="constant", **base), progress=events.append)
    assert stopped.metrics["epoch"] == 1
    assert len([e for e in events if e["event"] == "epoch"]) == 3  # two to confirm it
    flat = train(plays, cat, tiny_config(schedule="flat", **(base | {"epochs": 1})))
    events.clear()
    long = train(
        plays, cat, tiny_config(schedule="constant", **(base | {"long_epoch": 3})),
        progress=events.append,
    )  # fmt: skip
    assert len([e for e in events if e["event"] == "epoch"]) == 1
    for run in (flat, long):
        assert run.metrics == stopped.metrics
        for a, b in zip(weights(run), weights(stopped), strict=True):
            np.testing.assert_array_equal(a, b)
    events.clear()
    short = train(
        plays, cat, tiny_config(schedule="constant", **(base | {"long_epoch": 10_000})),
        progress=events.append,
    )  # fmt: skip
    assert len([e for e in events if e["event"] == "epoch"]) == 3
    assert short.metrics == stopped.metrics
