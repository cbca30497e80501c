"""The trainer: deterministic, reports progress as JSON lines, cancels cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from test_model_fixtures import fill_store, synthetic_catalogue, synthetic_plays, tiny_config

from player_plugin.app.retrain import TrainingError, run_trainer, trainer_command
from player_plugin.domain import training_events as ev
from player_plugin.recommend import features as F
from training import loop
from training.adam import Adam
from training.data import build_examples
from training.loop import train

ROOT = Path(__file__).resolve().parents[1]


def _weights(trained) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in trained.model.state_dict().items()}


def test_same_data_and_seed_give_the_same_model() -> None:
    cat, plays = synthetic_catalogue(), synthetic_plays(250)
    a = _weights(train(plays, cat, tiny_config(seed=5)))
    b = _weights(train(plays, cat, tiny_config(seed=5)))
    c = _weights(train(plays, cat, tiny_config(seed=6)))
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert any(not np.array_equal(a[k], c[k]) for k in a)


NO_COMPILER_PROBE = """
import json, sys, torch
from test_model_fixtures import synthetic_catalogue, synthetic_plays, tiny_config
from training import loop
loaded = set(sys.modules)
loop.train(synthetic_plays(120), synthetic_catalogue(), tiny_config(epochs=2))
heavy = ("torch._dynamo", "torch._inductor", "torch.fx", "sympy")
print(json.dumps([[m for m in set(sys.modules) - loaded if m.startswith(heavy)],
                  "torch._dynamo" in loaded, torch.are_deterministic_algorithms_enabled()]))
"""


def test_a_training_loads_no_compiler_and_runs_deterministic_kernels() -> None:
    """torch's optimisers and ``use_deterministic_algorithms`` import its compiler front
    end (1.2 s); the trainer needs neither (in a fresh interpreter: other tests load it)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
    done = subprocess.run(
        [sys.executable, "-c", NO_COMPILER_PROBE],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    heavy, before, deterministic = json.loads(done.stdout.splitlines()[-1])
    assert heavy == [] and not before and deterministic is True


def _backward(model: torch.nn.ModuleDict, x: torch.Tensor, step: int) -> None:
    hidden = model["gru"](x)[0][:, -1]
    # every third step the output layer is left out: no gradient reaches it
    loss = hidden.square().mean() if step % 3 == 2 else model["out"](hidden).sum()
    loss.backward()


@pytest.mark.parametrize("weight_decay", [0.0, 1e-6, 0.1])
def test_adam_is_torch_adam_bit_for_bit(weight_decay) -> None:
    """The trainer's Adam against ``torch.optim.Adam`` with a learning-rate schedule
    (``LambdaLR``), as the loop used them: the same weights after every step, with a
    parameter that gets no gradient on some steps (it is skipped, its count kept)."""
    torch.manual_seed(3)
    ours, theirs = (
        torch.nn.ModuleDict(
            {"gru": torch.nn.GRU(6, 8, batch_first=True), "out": torch.nn.Linear(8, 3)}
        )
        for _ in range(2)
    )
    theirs.load_state_dict(ours.state_dict())
    steps = 40
    factor = lambda step: loop.lr_factor("cosine", step, steps)  # noqa: E731
    opt = Adam(ours.parameters(), weight_decay=weight_decay)
    ref = torch.optim.Adam(theirs.parameters(), lr=3e-3, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(ref, factor)
    for step in range(steps):
        x = torch.randn(5, 7, 6)
        opt.zero_grad()
        _backward(ours, x, step)
        opt.step(3e-3 * factor(step))
        ref.zero_grad()
        _backward(theirs, x, step)
        ref.step()
        sched.step()
        for (name, a), b in zip(ours.named_parameters(), theirs.parameters(), strict=True):
            assert torch.equal(a, b), f"{name} after step {step}"


def test_examples_use_the_serving_features() -> None:
    cat, plays = synthetic_catalogue(), synthetic_plays(120)
    ex = build_examples(plays, cat, blind=False, negatives=10, seed=1)
    targets = [i for i, p in enumerate(plays) if i >= 1 and p.listened]
    assert len(ex) == len(targets)
    assert (ex.cand_items[:, 0] == [plays[i].item for i in targets]).all()
    k = 7  # the state before target k, rebuilt by the serving code
    state = F.HistoryState(cat)
    state.extend(plays[: targets[k]])
    expected = state.item_features(ex.cand_items[k]).astype(np.float16)
    np.testing.assert_array_equal(ex.cand_feat[k], expected)
    duplicate = ex.cand_items[:, 1:] == ex.cand_items[:, :1]
    assert np.isneginf(ex.cand_logw[:, 1:][duplicate]).all()  # never its own negative
    assert (ex.cand_logw[:, 0] == 0).all()
    blind = build_examples(plays, cat, blind=True, negatives=10, seed=1)
    assert len(blind) == len(plays) - 1  # blind: every play is a target
    assert set(np.unique(blind.hist_outcome)) <= {0, F.PLAYED}


def _run(*args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "training", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        **kw,
    )


def test_python_m_training_writes_a_model(db, db_path, tmp_path) -> None:
    fill_store(db, 250)
    out = tmp_path / "model"
    events: list = []
    done = run_trainer(
        trainer_command(db_path, out, extra=["--epochs", "2", "--dim", "8", "--negatives", "16"]),
        on_event=events.append,
    )
    assert isinstance(done, ev.Done) and done.folder == str(out)
    epochs = [e for e in events if isinstance(e, ev.Epoch)]
    assert [e.epoch for e in epochs] == [1, 2] and all(e.loss > 0 for e in epochs)
    assert isinstance(events[0], ev.Start) and events[-1] == done
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["data_size"] == 250 and manifest["dim"] == 8
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    with pytest.raises(TrainingError, match="already exists"):
        run_trainer(trainer_command(db_path, out))


def _in_process(capsys, *args: str) -> tuple[int, list[dict]]:
    """`python -m training ARGS` run in this process (the subprocess path is tested above)."""
    from training.__main__ import main

    capsys.readouterr()
    status = main(list(args))
    return status, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one CPU: one thread")
def test_one_thread_or_two_train_the_same_model(db, db_path, tmp_path) -> None:
    """The trainer takes a second thread where there is a CPU for it (its threads wait
    passively): the model must not depend on it. Default sizes, so the large operations
    are split between the threads."""
    fill_store(db, 700)
    models = {}
    for n in (1, 2):
        out = tmp_path / f"threads-{n}"
        done = run_trainer(trainer_command(db_path, out, extra=["--threads", str(n)]))
        assert isinstance(done, ev.Done)
        assert json.loads((out / "manifest.json").read_text())["threads"] == n
        models[n] = [(out / name).read_bytes() for name in ("item_tower.onnx", "scorer.onnx")]
    assert models[1] == models[2]


def test_until_limits_the_training_window(db, db_path, tmp_path, capsys) -> None:
    _, plays = fill_store(db, 250)
    until = plays[150].started_at
    status, events = _in_process(
        capsys,
        "--db",
        str(db_path),
        "--out",
        str(tmp_path / "m"),
        "--until",
        str(until),
        "--epochs",
        "1",
        "--dim",
        "8",
        "--negatives",
        "8",
    )
    assert status == 0 and events[-1]["event"] == "done"
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["cutoff_ms"] == until
    assert manifest["data_size"] == 150
    vocab = json.loads((tmp_path / "m" / "vocab.json").read_text())
    later_only = {p.item + 1 for p in plays[150:]} - {p.item + 1 for p in plays[:150]}
    assert not later_only & set(vocab["items"])


def test_sigterm_cancels_cleanly(db, db_path, tmp_path) -> None:
    fill_store(db, 400)
    out = tmp_path / "model"
    proc = _run(
        "--db",
        str(db_path),
        "--out",
        str(out),
        "--epochs",
        "200",
        "--patience",
        "200",
        "--dim",
        "8",
        "--negatives",
        "8",
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        if json.loads(line)["event"] == "epoch" or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGTERM)
    rest = proc.stdout.read()
    assert proc.wait(timeout=30) == 130
    assert json.loads(rest.strip().splitlines()[-1]) == {"event": "cancelled"}
    assert not out.exists()
    assert not [p.name for p in tmp_path.iterdir() if not p.name.startswith("segue.db")]


def test_too_little_history_is_one_clear_error(db_path, tmp_path, capsys) -> None:
    status, events = _in_process(capsys, "--db", str(db_path), "--out", str(tmp_path / "m"))
    assert status == 2
    assert events[-1]["event"] == "error" and "too few plays" in events[-1]["message"]
    assert not (tmp_path / "m").exists()


def test_exploring_and_artist_skip_features() -> None:
    """A listener two tracks into a new album: its unplayed tracks carry the exploring
    features, played and other artists' tracks do not; artist skips are a ratio."""
    from test_model_fixtures import PER_ALBUM, T0

    from player_plugin.domain.play import Play

    cat = synthetic_catalogue()
    state = F.HistoryState(cat)
    state.observe(Play(PER_ALBUM, T0 - 10 * 60_000, 20_000, "skipped", 0))  # artist 2
    state.observe(Play(0, T0, 200_000, "listened", 0))  # artist 1, album 1
    state.observe(Play(1, T0 + 210_000, 200_000, "listened", 0))
    feats = state.item_features(np.array([0, 2, PER_ALBUM + 1, 3 * PER_ALBUM]))
    col = {name: F.ITEM_FEATURES.index(name) for name in F.ITEM_FEATURES}
    played, unplayed, other, cold = feats
    for name in ("new_same_album", "new_same_artist", "new_album_run", "new_artist_run"):
        assert unplayed[col[name]] > 0, name
        assert played[col[name]] == 0 and other[col[name]] == 0 and cold[col[name]] == 0
    assert unplayed[col["album_session"]] == pytest.approx(np.log1p(2))
    assert other[col["artist_skip_ratio"]] == 1.0 and played[col["artist_skip_ratio"]] == 0
    assert other[col["artist_session_skips"]] == pytest.approx(np.log1p(1))
    blind = F.HistoryState(cat, blind=True)
    blind.observe(Play(PER_ALBUM, T0, 20_000, "skipped", 0))  # seen as a listen
    assert blind.item_features(np.array([PER_ALBUM + 1]))[0, col["artist_skip_ratio"]] == 0


def test_hard_negatives_drawn_from_a_pool_stand_for_the_whole_pool() -> None:
    """Four of the last artist's 39 unplayed tracks are drawn: each stands for 39 / 4 of
    them in the softmax (else the model learns to over-score such tracks); tracks taken
    whole (the recently played one) count once."""
    from player_plugin.domain.catalogue import Catalogue
    from player_plugin.domain.play import Play
    from training.data import MostPlayedLately, SeenItems, Uniform, _negatives

    artist = np.array([1] * 40 + [2] * 5, dtype=np.int32)
    cat = Catalogue(
        track_ids=np.arange(1, 46, dtype=np.int64),
        titles=[f"T{i}" for i in range(45)],
        artist=artist,
        artist_names=["", "A", "B"],
        album=artist.copy(),
        album_names=["", "LA", "LB"],
    )
    state = F.HistoryState(cat)
    state.observe(Play(0, 1_700_000_000_000, 200_000, "listened", 0))
    by_artist = {1: np.arange(40), 2: np.arange(40, 45)}
    seen = SeenItems()
    seen.add(0)
    uniform = Uniform(np.random.default_rng(3))
    items, logw = _negatives(
        state, 42, 24, uniform, by_artist, False, 0.75, seen, MostPlayedLately()
    )
    assert items[0] == 0 and logw[0] == 0  # the recent track, taken whole
    drawn = items[1:5]
    assert all(1 <= i < 40 for i in drawn)  # the last artist's unplayed tracks
    np.testing.assert_allclose(logw[1:5], np.log(39 / 4), rtol=1e-6)


@pytest.mark.parametrize("outcome", ["skipped", "browsing", "stopped"])
def test_a_listen_reclassified_in_place_equals_observing_the_real_outcome(outcome) -> None:
    """Serving observes the play in progress as a listen; when it ends otherwise, the
    state is corrected in place and must equal one that saw the real outcome."""
    from dataclasses import replace

    cat, plays = synthetic_catalogue(), synthetic_plays(200)
    last = replace(plays[150], outcome="listened")
    ended = replace(last, outcome=outcome)
    patched, direct = F.HistoryState(cat), F.HistoryState(cat)
    patched.extend([*plays[:150], last])
    direct.extend([*plays[:150], ended])
    assert patched.reclassify_last(ended)
    np.testing.assert_array_equal(patched.item_features(), direct.item_features())
    np.testing.assert_array_equal(patched.context(), direct.context())
    for key, value in direct.session_inputs().items():
        np.testing.assert_array_equal(patched.session_inputs()[key], value)
    assert not patched.reclassify_last(replace(plays[3], outcome=outcome))  # not the last play
