"""The manifest's feature names and vocabulary keys, against real exported models.

Serving refuses a model whose column names differ from this code's (one line, then the
fallback: the previous model, else the baselines). Vocabulary keys are the catalogue's
artist normalisation, so an artist respelled after training keeps its vector; a model
exported before (casefolded display names, no ``vocab_keys``) is re-keyed and serves the
same vectors.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_model_fixtures import N_ARTISTS, PER_ALBUM, synthetic_plays, tiny_config

from player_plugin.recommend import features as F
from player_plugin.recommend.engine import Engine, ModelError
from player_plugin.recommend.model import load_active
from player_plugin.store import models as reg
from player_plugin.store.catalogue import HistoryTrack, insert_history_tracks, load_catalogue
from player_plugin.store.db import open_db
from training.export import export_model
from training.loop import train

# artists whose display names the old keys (casefold) and the catalogue's keys
# (clean_artist) treat differently, on artists the synthetic listener plays
NAMES = [f"Artist {a}" for a in range(1, N_ARTISTS + 1)]
for _artist, _name in ((1, "The Beatles"), (3, "Beyoncé"), (4, "AC/DC"), (5, "Sigur Rós")):
    NAMES[_artist - 1] = _name
NAMES[7], NAMES[9] = "Guns N' Roses", "The The"


def _legacy_key(text: str) -> str:
    """How vocabulary keys were made before (recommend/features.py at 8833624)."""
    return " ".join(text.casefold().split())


def _fill(db) -> None:
    insert_history_tracks(
        db,
        [
            HistoryTrack(
                path=f"/music/{i:03d}.flac".encode(),
                match_key=f"{NAMES[i // PER_ALBUM]}\x1ftrack {i}",
                artist=NAMES[i // PER_ALBUM],
                title=f"Track {i}",
                album=f"Album {i // PER_ALBUM + 1}",
                duration_ms=200_000,
            )
            for i in range(N_ARTISTS * PER_ALBUM)
        ],
    )


@pytest.fixture(scope="module")
def named(tmp_path_factory) -> tuple[Path, Path]:
    """(store path, model folder): a tiny model trained on a real store's catalogue."""
    root = tmp_path_factory.mktemp("named")
    db = open_db(root / "segue.db")
    _fill(db)
    catalogue = load_catalogue(db)
    assert catalogue.artist_names[1:] == NAMES
    cfg = tiny_config()
    trained = train(synthetic_plays(300), catalogue, cfg)
    folder = root / "model"
    export_model(trained.model, cfg, trained.vocab, folder, {"model_id": "named"})
    db.close()
    return root / "segue.db", folder


def _edit_manifest(folder: Path, change) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def test_the_manifest_records_the_names(named) -> None:
    manifest = json.loads((named[1] / "manifest.json").read_text())
    assert manifest["item_features"] == list(F.ITEM_FEATURES)
    assert manifest["context_features"] == list(F.CONTEXT_FEATURES)
    assert manifest["history_codes"] == ["padding", "listened", "skipped", "browsing", "ended"]
    assert manifest["vocab_keys"] == F.VOCAB_KEYS


@pytest.mark.parametrize(
    ("key", "change", "says"),
    [
        ("item_features", lambda n: n.__setitem__(17, "same_album_first"), "column 17"),
        ("item_features", lambda n: n.insert(5, "rec_7d"), "column 5"),
        ("item_features", lambda n: n.append("extra"), "39 columns, expected 38"),
        ("context_features", lambda n: n.reverse(), "column 0"),
        ("history_codes", lambda n: n.__setitem__(2, "listened"), "column 2"),
    ],
)
def test_a_model_with_other_column_names_is_refused(named, tmp_path, key, change, says) -> None:
    folder = shutil.copytree(named[1], tmp_path / "m")
    _edit_manifest(folder, lambda m: change(m[key]))
    with pytest.raises(ModelError) as caught:
        Engine(folder)
    message = str(caught.value)
    assert "\n" not in message and says in message and "retrain" in message
    assert key.replace("_", " ") in message


def test_serving_falls_back_when_the_names_differ(named, caplog) -> None:
    db_path, model = named
    db = open_db(db_path)
    root = reg.models_root(db)
    root.mkdir(exist_ok=True)
    for model_id, state, created in (("old", "retired", 1), ("new", "active", 2)):
        shutil.copytree(model, root / model_id, dirs_exist_ok=True)
        reg.add_model(
            db, model_id, folder=model_id, cutoff=1, data_size=10, metrics={}, state=state,
            created_at=created,
        )  # fmt: skip
    _edit_manifest(root / "new", lambda m: m["item_features"].__setitem__(3, "recency"))
    with caplog.at_level(logging.WARNING):
        rec = load_active(db, fit=False)
    assert rec is not None and rec.model_id == "named" and rec.engine.folder.name == "old"
    lines = [r.getMessage() for r in caplog.records if "new" in r.getMessage()]
    assert len(lines) == 1 and "item features differ" in lines[0] and "column 3" in lines[0]
    _edit_manifest(root / "old", lambda m: m.__setitem__("context_features", []))
    assert load_active(db, fit=False) is None  # the baselines serve
    db.close()


RESPELLED = {  # each spelling missed its artist's embedding with the old keys
    "The Beatles": ["Beatles, The", "Beatles", "The Beatles feat. Billy Preston"],
    "Beyoncé": ["Beyonce", "BEYONCE"],
    "Sigur Rós": ["Sigur Ros", "SIGUR ROS"],
}


@pytest.mark.parametrize(
    ("name", "spelling"), [(n, s) for n, spellings in RESPELLED.items() for s in spellings]
)
def test_a_respelled_artist_keeps_its_vectors(named, tmp_path, name, spelling) -> None:
    """Trained on "The Beatles", served with the tags retagged "Beatles, The": the
    catalogue groups them as one artist, and the vocabulary finds its embedding."""
    db_path, model = named
    db = open_db(shutil.copy(db_path, tmp_path / "respelled.db"))
    engine = Engine(model)
    before = load_catalogue(db)
    vectors = engine.item_vectors(before)
    trained_as = np.flatnonzero(before.artist == before.artist_names.index(name))
    assert (F.encode_items(before, engine.vocab)["artist"][trained_as] > 0).all()
    db.execute("UPDATE tracks SET artist = ? WHERE artist = ?", [spelling, name])
    db.conn.commit()
    after = load_catalogue(db)
    code = after.artist_names.index(spelling)  # the catalogue now shows the new spelling
    rows = np.flatnonzero(after.artist == code)
    assert len(rows) == PER_ALBUM and list(after.track_ids) == list(before.track_ids)
    inputs = F.encode_items(after, engine.vocab)
    assert (inputs["artist"][rows] > 0).all() and (inputs["album"][rows] > 0).all()
    assert _legacy_key(spelling) != _legacy_key(name)  # where the old keys missed it
    np.testing.assert_array_equal(Engine(model).item_vectors(after), vectors)
    db.close()


def _as_exported_before(model: Path, folder: Path, catalogue) -> Path:
    """*model* as the code before wrote it: vocabulary keyed by the casefolded display
    names, no ``vocab_keys`` or ``history_codes`` in the manifest."""
    shutil.copytree(model, folder)
    vocab = json.loads((folder / "vocab.json").read_text())
    display = {F.artist_key(catalogue, i): i for i in range(len(catalogue))}

    def old_artist(key: str) -> str:
        return _legacy_key(catalogue.artist_names[catalogue.artist[display[key]]])

    vocab["artists"] = [old_artist(k) for k in vocab["artists"]]
    albums = []
    for key in vocab["albums"]:
        artist, _, album = key.partition("\x1f")
        albums.append(f"{old_artist(artist)}\x1f{_legacy_key(album)}")
    vocab["albums"] = albums
    assert vocab["artists"] != json.loads((model / "vocab.json").read_text())["artists"]
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))

    def downgrade(manifest: dict) -> None:
        del manifest["vocab_keys"], manifest["history_codes"]
        manifest["sha256"]["vocab"] = hashlib.sha256(
            (folder / "vocab.json").read_bytes()
        ).hexdigest()

    _edit_manifest(folder, downgrade)
    return folder


def test_a_model_exported_before_keeps_serving_the_same_vectors(named, tmp_path) -> None:
    db_path, model = named
    db = open_db(db_path)
    catalogue = load_catalogue(db)
    db.close()
    old = _as_exported_before(model, tmp_path / "old", catalogue)
    engine = Engine(old)
    assert engine.vocab.artists == Engine(model).vocab.artists  # re-keyed, same indices
    np.testing.assert_array_equal(
        engine.item_vectors(catalogue), Engine(model).item_vectors(catalogue)
    )
    # read as if its keys were the catalogue's, the respelled artists would lose theirs
    as_new = F.Vocab.from_json(json.loads((old / "vocab.json").read_text()))
    beatles = catalogue.artist == catalogue.artist_names.index("The Beatles")
    assert (F.encode_items(catalogue, as_new)["artist"][beatles] == 0).all()
    assert (F.encode_items(catalogue, engine.vocab)["artist"][beatles] > 0).all()


def test_unknown_vocabulary_keys_are_refused(named, tmp_path) -> None:
    folder = shutil.copytree(named[1], tmp_path / "m")
    _edit_manifest(folder, lambda m: m.__setitem__("vocab_keys", "catalogue/9"))
    with pytest.raises(ModelError, match=r"bad vocabulary.*catalogue/9"):
        Engine(folder)
