"""The onnxruntime engine: the only module that imports onnxruntime.

:class:`Engine` loads one model folder (manifest + two ONNX graphs + vocabularies), checks
the manifest against this code's feature schema and the files against their checksums,
computes item vectors with the item tower (cached per track, so tracks added by a scan get
vectors without retraining) and scores candidates with the session scorer. Execution
providers come from settings; a requested one that is missing or fails to start falls back
to the CPU with one log line, and :attr:`Engine.provider` says which one serves.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from player_plugin import __version__
from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.errors import SegueError
from player_plugin.recommend import features as F

log = logging.getLogger(__name__)

MODEL_FORMAT = "segue-model/1"
ITEM_INPUTS = ("item_id", "artist", "album", "genre", "year", "duration", "audio", "audio_mask")
SCORER_INPUTS = ("hist_vec", "hist_outcome", "hist_gap", "context", "cand_vec", "cand_feat")
CPU = "CPUExecutionProvider"
PROVIDER_NAMES = {
    "cuda": "CUDAExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "directml": "DmlExecutionProvider",
    "dml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "cpu": CPU,
}


class ModelError(SegueError):
    """A model folder that cannot serve: missing, corrupt, or made for other code."""


def available_providers() -> list[str]:
    """Execution providers this onnxruntime build offers (CPU always among them)."""
    return list(ort.get_available_providers())


def runtime_version() -> str:
    return ort.__version__


def provider_name(name: str) -> str:
    """``"CUDA"`` / ``"cuda"`` / ``"CUDAExecutionProvider"`` → onnxruntime's name."""
    key = name.strip().lower().removesuffix("executionprovider")
    return PROVIDER_NAMES.get(key, name)


def choose_provider(requested: str | None) -> str:
    """The provider to try: the requested one when this build has it, else the CPU (with
    one log line saying so)."""
    if not requested:
        return CPU
    wanted = provider_name(requested)
    if wanted in available_providers():
        return wanted
    log.warning(
        "execution provider %s is not available here (have: %s); using the CPU",
        requested,
        ", ".join(available_providers()),
    )
    return CPU


def _session(path: Path, provider: str, threads: int) -> tuple[ort.InferenceSession, str]:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    providers = [provider] if provider == CPU else [provider, CPU]
    try:
        sess = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
    except Exception as exc:
        if provider == CPU:
            raise ModelError(f"{path.name}: cannot be loaded ({exc})") from exc
        log.warning("execution provider %s failed to start (%s); using the CPU", provider, exc)
        return _session(path, CPU, threads)
    serving = sess.get_providers()[0]
    if serving != provider:
        log.warning("execution provider %s did not start; using %s", provider, serving)
    return sess, serving


def read_manifest(folder: Path) -> dict:
    """The manifest of *folder*, checked against this code; raises :class:`ModelError`."""
    path = folder / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ModelError(f"{folder}: no manifest.json") from exc
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable manifest ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != MODEL_FORMAT:
        raise ModelError(f"{path}: not a Segue model manifest")
    if manifest.get("feature_schema_version") != F.FEATURE_SCHEMA_VERSION:
        raise ModelError(
            f"{folder.name}: made for feature schema {manifest.get('feature_schema_version')}, "
            f"this Segue encodes schema {F.FEATURE_SCHEMA_VERSION}; retrain it"
        )
    for key, names in (
        ("item_features", F.ITEM_FEATURES),
        ("context_features", F.CONTEXT_FEATURES),
        ("history_codes", F.HISTORY_CODE_NAMES),
    ):
        if key == "history_codes" and key not in manifest:
            continue  # exported before the codes were recorded: schema 2 fixes them
        difference = name_difference(manifest.get(key), names)
        if difference:
            raise ModelError(
                f"{folder.name}: its {key.replace('_', ' ')} differ from this Segue's "
                f"({difference}); retrain it"
            )
    if manifest.get("seq_len") != F.SEQ_LEN or manifest.get("audio_dim") != F.AUDIO_DIM:
        raise ModelError(f"{folder.name}: sequence or audio layout differs from this code")
    return manifest


def name_difference(found: object, expected: Sequence[str]) -> str | None:
    """Where a manifest's column names differ from this code's, in a few words (None
    when they are the same)."""
    if not isinstance(found, list):
        return "none recorded"
    for column, (have, want) in enumerate(zip(found, expected, strict=False)):
        if have != want:
            return f"column {column} is {have!r}, expected {want!r}"
    if len(found) != len(expected):
        return f"{len(found)} columns, expected {len(expected)}"
    return None


def _plain_name(name: object) -> bool:
    """A file name inside the model's own folder: no separator, no ``..``, not absolute."""
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and not any(c in name for c in "/\\\x00")
        and Path(name).name == name
    )


def _check_files(folder: Path, manifest: dict) -> None:
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise ModelError(f"{folder.name}: the manifest lists no files")
    for key, name in files.items():
        if not _plain_name(name):
            raise ModelError(f"{folder.name}: file {str(name)[:60]!r} is not in the model folder")
        path = folder / name
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            raise ModelError(f"{folder.name}: {name} is missing or unreadable") from exc
        if digest != manifest.get("sha256", {}).get(key):
            raise ModelError(f"{folder.name}: {name} is corrupt (checksum mismatch)")


class Engine:
    """One loaded model: item vectors (cached) and per-request scores."""

    def __init__(
        self, folder: str | Path, *, provider: str | None = None, threads: int = 1
    ) -> None:
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        _check_files(self.folder, self.manifest)
        files = self.manifest["files"]
        try:
            vocab = json.loads((self.folder / files["vocab"]).read_text())
            self.vocab = F.Vocab.from_json(vocab, self.manifest.get("vocab_keys"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{self.folder.name}: bad vocabulary ({exc})") from exc
        chosen = choose_provider(provider)
        self._items, self.provider = _session(self.folder / files["item_tower"], chosen, threads)
        self._scorer, _ = _session(self.folder / files["scorer"], self.provider, threads)
        self._check_io()
        self.dim = int(self.manifest["dim"])
        self.blind = bool(self.manifest.get("blind", False))
        # (track ids ascending, their inputs' digests, their vectors)
        self._cache: tuple[np.ndarray, np.ndarray, np.ndarray] = (
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.uint64),
            np.zeros((0, self.dim), dtype=np.float32),
        )
        self.computed = 0  # vectors the item tower computed (tests, benchmarks)

    @property
    def model_id(self) -> str:
        return str(self.manifest.get("model_id", self.folder.name))

    def _check_io(self) -> None:
        expected = {
            "item_tower": (ITEM_INPUTS, ["item_vec"]),
            "scorer": (SCORER_INPUTS, ["scores", "query"]),
        }
        for sess, key in ((self._items, "item_tower"), (self._scorer, "scorer")):
            names = [i.name for i in sess.get_inputs()]
            outputs = [o.name for o in sess.get_outputs()]
            if (names, outputs) != (list(expected[key][0]), expected[key][1]) or (
                names != self.manifest["inputs"][key]
            ):
                raise ModelError(f"{self.folder.name}: {key} inputs/outputs do not match")

    @property
    def warm_key(self) -> str:
        """What a saved vector depends on besides its track's inputs: this model (id and
        item tower checksum), the feature schema and this Segue's version."""
        tower = self.manifest.get("sha256", {}).get("item_tower", "")
        return "\x1f".join((self.model_id, str(tower), str(F.FEATURE_SCHEMA_VERSION), __version__))

    def item_vectors(self, catalogue: Catalogue) -> np.ndarray:
        """float32[len(catalogue), dim]; computed by the item tower for tracks not cached.
        The cache is keyed by track id and a digest of that track's encoded inputs, so a
        re-tagged or newly analysed track gets a fresh vector from an engine reused across
        calls (or seeded from a saved file, :meth:`adopt`). It holds the vectors of the
        last catalogue asked for (plus adopted ones) as three arrays sorted by track id,
        not one Python object per track (~25 MB less at 100,000 tracks)."""
        ids = np.asarray(catalogue.track_ids, dtype=np.int64)
        if not ids.size:
            return np.zeros((0, self.dim), dtype=np.float32)
        inputs = F.encode_items(catalogue, self.vocab)
        keys = row_keys(inputs, len(ids))
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        found = self._lookup(ids, keys, out)
        missing = np.flatnonzero(~found)
        for start in range(0, missing.size, 8192):
            part = missing[start : start + 8192]
            out[part] = self._items.run(None, {k: v[part] for k, v in inputs.items()})[0]
        self.computed += int(missing.size)
        self._store(ids, keys, out)
        return out

    def _lookup(self, ids: np.ndarray, keys: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Copy the cached vectors of *ids* whose key matches into *out*; which did."""
        c_ids, c_keys, c_vecs = self._cache
        if not c_ids.size:
            return np.zeros(len(ids), dtype=bool)
        at = np.minimum(np.searchsorted(c_ids, ids), c_ids.size - 1)
        found = (c_ids[at] == ids) & (c_keys[at] == keys)
        out[found] = c_vecs[at[found]]
        return found

    def _store(self, ids: np.ndarray, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Keep these as the cache (not copied when already in id order, as a catalogue
        is: the recommender's vectors and the cache are then one array)."""
        if ids.size > 1 and not bool((np.diff(ids) > 0).all()):
            order = np.argsort(ids, kind="stable")
            ids, keys, vectors = ids[order], keys[order], vectors[order]
        self._cache = (ids, keys, vectors)

    def adopt(self, track_ids: np.ndarray, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Take saved vectors into the cache (each valid while its track's inputs still
        digest to its key); tracks already cached keep theirs."""
        if vectors.ndim != 2 or vectors.shape[1] != self.dim or len(track_ids) != len(keys):
            return
        ids = np.asarray(track_ids, dtype=np.int64)
        c_ids, c_keys, c_vecs = self._cache
        if not c_ids.size:
            self._store(ids, np.asarray(keys, np.uint64), np.asarray(vectors, np.float32))
            return
        new = ~np.isin(ids, c_ids)
        self._store(
            np.concatenate([c_ids, ids[new]]),
            np.concatenate([c_keys, np.asarray(keys, dtype=np.uint64)[new]]),
            np.concatenate([c_vecs, np.asarray(vectors, dtype=np.float32)[new]]),
        )

    def cached(self, track_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(keys uint64[n], vectors float32[n, dim]) of *track_ids*, all cached."""
        ids = np.asarray(track_ids, dtype=np.int64)
        c_ids, c_keys, c_vecs = self._cache
        at = np.searchsorted(c_ids, ids)
        if ids.size and (at.max() >= c_ids.size or not np.array_equal(c_ids[at], ids)):
            raise KeyError("not every track's vector is cached")
        return c_keys[at], c_vecs[at]

    def score(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Run the scorer; *inputs* as named in the manifest. Returns float32[batch, n]."""
        return self._scorer.run(None, inputs)[0]

    def score_parts(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(scores float32[batch, n], query float32[batch, dim])."""
        scores, query = self._scorer.run(None, inputs)
        return scores, query

    def item_tower(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self._items.run(None, inputs)[0]


_MIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def row_keys(inputs: dict[str, np.ndarray], n: int) -> np.ndarray:
    """uint64[n]: one digest per item of its encoded item-tower inputs (the cache's
    validity key), the same in every process (a saved vector is checked with it):
    each row's bytes as 64-bit words, folded with splitmix64's mixer."""
    parts = [np.ascontiguousarray(v).reshape(n, -1).view(np.uint8) for v in inputs.values()]
    rows = np.concatenate(parts, axis=1)
    pad = (-rows.shape[1]) % 8
    if pad:
        rows = np.concatenate([rows, np.zeros((n, pad), dtype=np.uint8)], axis=1)
    words = np.ascontiguousarray(rows).view(np.uint64)
    h = np.full(n, 0x9E3779B97F4A7C15, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in words.T:
            h = (h ^ column) * _MIX[0]
            h = (h ^ (h >> np.uint64(29))) * _MIX[1]
            h ^= h >> np.uint64(32)
    return h


def load_first(
    folders: Sequence[str | Path], *, provider: str | None = None, threads: int = 1
) -> Engine | None:
    """The first folder that loads, saying (one log line each) why any before it did not."""
    for folder in folders:
        try:
            return Engine(folder, provider=provider, threads=threads)
        except ModelError as exc:
            log.warning("model not used: %s", exc)
    return None
