"""The model: a config plus the item tower and the repeat-aware session scorer (PyTorch).

Item tower: track-ID embedding (training-window vocabulary; 0 = unknown) + artist, album,
genre, year and duration embeddings + an MLP over audio descriptors → a vector, so a track
never played still gets one from its content.

Scorer: a GRU over the last plays' item vectors, each with how it ended and the gap before
it, plus time-of-day/session context → a query ``q`` and a gate ``u``. Each candidate's
score is ``q · v_i`` (two-tower) ``+ (u + w) · h(f_i)`` where ``f_i`` are the cheap history
features the engine computes in numpy (counts, recency, skips, Markov...) and ``h`` a small
MLP whose units the session shifts too (item x session interactions, e.g. "unplayed and by
the last artist" x "exploring a new album"): the session decides how much repeating, recency
or exploring matters now (a soft repeat/explore mixture in the spirit of RepeatNet), trained
end to end.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from player_plugin.recommend import features as F
from training.config import Config  # the model's settings (also imported from here)

ITEM_INPUTS = ("item_id", "artist", "album", "genre", "year", "duration", "audio", "audio_mask")
SCORER_INPUTS = ("hist_vec", "hist_outcome", "hist_gap", "context", "cand_vec", "cand_feat")


class ItemTower(nn.Module):
    def __init__(self, sizes: dict[str, int], cfg: Config) -> None:
        super().__init__()
        d = cfg.dim
        self.item = nn.Embedding(sizes["items"], d, padding_idx=0)
        self.artist = nn.Embedding(sizes["artists"], d, padding_idx=0)
        self.album = nn.Embedding(sizes["albums"], d, padding_idx=0)
        self.genre = nn.Embedding(sizes["genres"], d, padding_idx=0)
        self.year = nn.Embedding(F.N_YEARS, d, padding_idx=0)
        self.duration = nn.Embedding(F.N_DURATIONS, d, padding_idx=0)
        self.audio = nn.Sequential(nn.Linear(F.AUDIO_DIM, 32), nn.ReLU(), nn.Linear(32, d))
        for emb in (self.item, self.artist, self.album, self.genre, self.year, self.duration):
            nn.init.normal_(emb.weight, std=0.05)
            with torch.no_grad():
                emb.weight[0].zero_()

    def content(self, artist, album, genre, year, duration, audio, audio_mask):
        return (
            self.artist(artist)
            + self.album(album)
            + self.genre(genre)
            + self.year(year)
            + self.duration(duration)
            + self._audio(audio, audio_mask)
        )

    def _audio(self, audio, audio_mask):
        if (
            not torch.jit.is_tracing()
            and not torch.onnx.is_in_onnx_export()
            and not bool(audio_mask.any())
        ):
            return 0.0
        return self.audio(audio) * audio_mask

    def forward(self, item_id, artist, album, genre, year, duration, audio, audio_mask):
        return self.item(item_id) + self.content(
            artist, album, genre, year, duration, audio, audio_mask
        )


class Scorer(nn.Module):
    def __init__(self, cfg: Config) -> None:
        super().__init__()
        d, h, fh = cfg.dim, cfg.hidden, cfg.feat_hidden
        self.outcome = nn.Embedding(F.N_OUTCOMES, d)
        self.gap = nn.Embedding(F.N_GAPS, d)
        self.gru = nn.GRU(d, h, batch_first=True)
        self.drop = nn.Dropout(cfg.dropout)
        self.q_head = nn.Linear(h + F.N_CONTEXT, d)
        self.u_head = nn.Linear(h + F.N_CONTEXT, fh)
        self.feat = nn.Sequential(nn.Linear(F.N_ITEM_FEATURES, fh), nn.Tanh())
        self.feat_out = nn.Linear(fh, 1)
        # the session shifts the history-feature units: item x session interactions
        self.feat_ctx = nn.Linear(h + F.N_CONTEXT, fh)
        nn.init.zeros_(self.feat_ctx.weight)
        nn.init.zeros_(self.feat_ctx.bias)
        self.tower_weight = float(cfg.two_tower)
        nn.init.zeros_(self.u_head.weight)
        nn.init.zeros_(self.u_head.bias)

    def forward(self, hist_vec, hist_outcome, hist_gap, context, cand_vec, cand_feat):
        return self.parts(hist_vec, hist_outcome, hist_gap, context, cand_vec, cand_feat)[0]

    def session(self, hist_vec, hist_outcome, hist_gap, context):
        """The session's state: the GRU's last state over the plays, and the context."""
        mask = (hist_outcome > 0).unsqueeze(-1).to(hist_vec.dtype)
        x = (hist_vec + self.outcome(hist_outcome) + self.gap(hist_gap)) * mask
        _, state = self.gru(x)
        return torch.cat([self.drop(state[-1]), context], dim=-1)

    def parts(self, hist_vec, hist_outcome, hist_gap, context, cand_vec, cand_feat):
        """(scores, query): the engine scores items without history as query · vector
        plus the history part of their shared feature row."""
        z = self.session(hist_vec, hist_outcome, hist_gap, context)
        q = self.q_head(z)
        u = self.u_head(z)
        hf = torch.tanh(self.feat[0](cand_feat) + self.feat_ctx(z).unsqueeze(1))
        two_tower = torch.einsum("bnd,bd->bn", cand_vec, q) * self.tower_weight
        history = torch.einsum("bnf,bf->bn", hf, u) + self.feat_out(hf).squeeze(-1)
        return two_tower + history, q * self.tower_weight

    def serving_parts(self, hist_vec, hist_outcome, hist_gap, context, cand_vec, cand_feat):
        """:meth:`parts` as exported for serving: the same sums, up to rounding, in fewer
        and larger operations on the candidates' rows, which are most of a request's cost.
        The feature layer's bias joins the session's shift of its units (one add over the
        candidates' units, not two), the output layer's weights join ``u`` (one product of
        those units, not two), and both products are matrix products (onnxruntime's
        Einsum is slower): 0.49 → 0.29 ms a request at 2,686 candidates."""
        z = self.session(hist_vec, hist_outcome, hist_gap, context)
        q = self.q_head(z) * self.tower_weight
        v = self.u_head(z) + self.feat_out.weight[0]
        layer = cast(nn.Linear, self.feat[0])
        shift = self.feat_ctx(z) + layer.bias
        hf = torch.tanh(torch.matmul(cand_feat, layer.weight.t()) + shift.unsqueeze(1))
        two_tower = torch.matmul(cand_vec, q.unsqueeze(-1)).squeeze(-1)
        history = torch.matmul(hf, v.unsqueeze(-1)).squeeze(-1)
        return two_tower + history + self.feat_out.bias, q


class SegueModel(nn.Module):
    """Both parts, for training; exported to ONNX as two graphs."""

    def __init__(self, sizes: dict[str, int], cfg: Config) -> None:
        super().__init__()
        self.items = ItemTower(sizes, cfg)
        self.scorer = Scorer(cfg)


class EnsembleItems(nn.Module):
    """The members' item towers side by side: one vector, each member's in its slice."""

    def __init__(self, towers: list[ItemTower]) -> None:
        super().__init__()
        self.towers = nn.ModuleList(towers)

    def forward(self, item_id, artist, album, genre, year, duration, audio, audio_mask):
        inputs = (item_id, artist, album, genre, year, duration, audio, audio_mask)
        return torch.cat([tower(*inputs) for tower in self.towers], dim=-1)


class EnsembleScorer(nn.Module):
    """The members' scorers on their slices of the vectors; the score is their mean, and
    the query the members' queries side by side over their number (so query · vector is
    the mean of their two-tower scores, as the engine computes it for cold items)."""

    def __init__(self, scorers: list[Scorer], dim: int) -> None:
        super().__init__()
        self.scorers = nn.ModuleList(scorers)
        self.dim = dim

    def forward(self, hist_vec, hist_outcome, hist_gap, context, cand_vec, cand_feat):
        return self.parts(hist_vec, hist_outcome, hist_gap, context, cand_vec, cand_feat)[0]

    def parts(self, hist_vec, hist_outcome, hist_gap, context, cand_vec, cand_feat):
        inputs = (hist_vec, hist_outcome, hist_gap, context, cand_vec, cand_feat)
        return self._members(Scorer.parts, *inputs)

    def serving_parts(self, hist_vec, hist_outcome, hist_gap, context, cand_vec, cand_feat):
        """:meth:`parts` with each member's :meth:`Scorer.serving_parts`."""
        inputs = (hist_vec, hist_outcome, hist_gap, context, cand_vec, cand_feat)
        return self._members(Scorer.serving_parts, *inputs)

    def _members(self, parts, hist_vec, hist_outcome, hist_gap, context, cand_vec, cand_feat):
        """Each member's *parts* on its slices; their mean score and scaled queries."""
        d, m = self.dim, len(self.scorers)
        scores, queries = [], []
        for k, scorer in enumerate(self.scorers):
            s, q = parts(
                cast(Scorer, scorer),
                hist_vec[..., k * d : (k + 1) * d],
                hist_outcome,
                hist_gap,
                context,
                cand_vec[..., k * d : (k + 1) * d],
                cand_feat,
            )
            scores.append(s)
            queries.append(q)
        return torch.stack(scores).mean(dim=0), torch.cat(queries, dim=-1) / m


class SegueEnsemble(nn.Module):
    """Members trained apart, exported as one model (the same two graphs, wider vectors)."""

    def __init__(self, members: list[SegueModel], cfg: Config) -> None:
        super().__init__()
        self.items = EnsembleItems([member.items for member in members])
        self.scorer = EnsembleScorer([member.scorer for member in members], cfg.dim)
