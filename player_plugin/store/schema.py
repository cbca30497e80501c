"""The schema as named, forward-only migrations (sqlite-utils ``Migrations``).

Never edit a migration that has shipped: add a new one at the end. Times are integers:
milliseconds since the Unix epoch, UTC. Paths are BLOBs (see ``player_plugin.domain.paths``).
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("segue")


def _run(db: sqlite_utils.Database, script: str) -> None:
    """Run a script statement by statement: ``executescript`` would commit the migration's
    transaction half-way."""
    for statement in script.split(";\n"):
        if statement.strip():
            db.execute(statement)


@MIGRATIONS(name="0001_initial")
def _initial(db: sqlite_utils.Database) -> None:
    _run(
        db,
        """
        CREATE TABLE tracks (
            id INTEGER PRIMARY KEY,
            path BLOB NOT NULL UNIQUE,          -- identity: the file name's bytes
            path_text TEXT NOT NULL,            -- display text, never the key
            size INTEGER,
            mtime_ns INTEGER,
            format TEXT,                        -- mp3, flac, ogg, opus, m4a, wav, ...
            codec TEXT,
            title TEXT,
            artist TEXT,                        -- display artist
            artists TEXT,                       -- JSON list
            album TEXT,
            album_artist TEXT,
            genres TEXT,                        -- JSON list
            year INTEGER,
            date TEXT,
            track_no INTEGER,
            track_total INTEGER,
            disc_no INTEGER,
            disc_total INTEGER,
            composer TEXT,
            duration_ms INTEGER,
            bitrate INTEGER,
            sample_rate INTEGER,
            channels INTEGER,
            mb_recording_id TEXT,
            mb_artist_id TEXT,
            mb_release_id TEXT,
            isrc TEXT,
            bpm REAL,
            replaygain_track_gain REAL,
            replaygain_album_gain REAL,
            has_cover INTEGER NOT NULL DEFAULT 0,
            match_key TEXT,                     -- normalised artist + title
            signature TEXT,                     -- content signature, for moves
            missing INTEGER NOT NULL DEFAULT 0,
            first_seen INTEGER NOT NULL,
            last_scanned INTEGER NOT NULL
        );
        CREATE INDEX tracks_match_key ON tracks(match_key);
        CREATE INDEX tracks_signature ON tracks(signature);
        CREATE INDEX tracks_mb_recording ON tracks(mb_recording_id);
        CREATE INDEX tracks_artist ON tracks(artist);

        CREATE TABLE scan_errors (
            path BLOB PRIMARY KEY,
            path_text TEXT NOT NULL,
            reason TEXT NOT NULL,
            at INTEGER NOT NULL
        );

        CREATE TABLE imports (
            id INTEGER PRIMARY KEY,
            format TEXT NOT NULL,
            files TEXT NOT NULL,                -- JSON list of file names
            started_at INTEGER NOT NULL,
            read INTEGER NOT NULL DEFAULT 0,
            added INTEGER NOT NULL DEFAULT 0,
            duplicates INTEGER NOT NULL DEFAULT 0,
            matched INTEGER NOT NULL DEFAULT 0,
            unmatched INTEGER NOT NULL DEFAULT 0,
            malformed INTEGER NOT NULL DEFAULT 0,
            report TEXT                         -- JSON: how plays matched, malformed rows
        );

        -- Append-only play log. A row is written when a track starts and completed when
        -- it ends, so a crash keeps the play so far. Imported plays that match no local
        -- file keep their artist/title/album and track_id NULL until a scan matches them.
        CREATE TABLE plays (
            id INTEGER PRIMARY KEY,
            track_id INTEGER REFERENCES tracks(id) ON DELETE SET NULL,
            started_at INTEGER NOT NULL,        -- ms since epoch, UTC
            ended_at INTEGER,                   -- NULL while playing
            ms_played INTEGER NOT NULL DEFAULT 0,
            duration_ms INTEGER,
            reason TEXT CHECK (reason IN ('completed', 'skipped', 'stopped', 'error')),
            source TEXT NOT NULL DEFAULT 'user'
                CHECK (source IN ('user', 'queue', 'suggestion', 'autoplay', 'shuffle', 'import')),
            session INTEGER,                    -- a new session after a 30-minute gap
            shuffle INTEGER,
            artist TEXT,
            title TEXT,
            album TEXT,
            mbid TEXT,
            match_method TEXT,                  -- mbid / exact / fuzzy / NULL (unmatched)
            import_id INTEGER REFERENCES imports(id) ON DELETE CASCADE
        );
        CREATE INDEX plays_started ON plays(started_at);
        CREATE INDEX plays_track ON plays(track_id, started_at);
        CREATE INDEX plays_import ON plays(import_id);
        CREATE INDEX plays_unmatched ON plays(track_id) WHERE track_id IS NULL;

        CREATE TABLE features (
            track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
            extractor_version TEXT NOT NULL,
            file_mtime_ns INTEGER,
            file_size INTEGER,
            analysed_at INTEGER NOT NULL,
            error TEXT,                         -- why the file could not be analysed
            descriptors TEXT,                   -- JSON: named features
            vector BLOB                         -- float32 fixed-length vector
        );

        CREATE TABLE feedback (
            id INTEGER PRIMARY KEY,
            track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('love', 'not_now', 'never')),
            at INTEGER NOT NULL,
            until INTEGER                       -- not_now: hidden until then
        );
        CREATE INDEX feedback_track ON feedback(track_id);

        CREATE TABLE models (
            id TEXT PRIMARY KEY,                -- e.g. 20261129-024700
            folder TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            state TEXT NOT NULL CHECK (
                state IN ('candidate', 'active', 'retired', 'rejected', 'rolled_back')
            ),
            cutoff INTEGER,                     -- newest play it trained on (ms)
            data_size INTEGER,
            metrics TEXT,                       -- JSON
            reason TEXT
        );

        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL                 -- JSON
        );
        """,
    )


@MIGRATIONS(name="0002_history_play_keys")
def _history_play_keys(db: sqlite_utils.Database) -> None:
    # match_key: the normalised artist+title of every play (imported or logged), for the
    # ±60 s de-duplication of plays that match no track; listener: multi-listener datasets
    # (NULL = the user); skipped: the export's own skip flag (Spotify), kept as given.
    _run(
        db,
        """
        ALTER TABLE plays ADD COLUMN match_key TEXT;
        ALTER TABLE plays ADD COLUMN listener TEXT;
        ALTER TABLE plays ADD COLUMN skipped INTEGER;
        CREATE INDEX plays_key ON plays(match_key, started_at);
        CREATE INDEX plays_listener ON plays(listener, started_at);
        """,
    )


@MIGRATIONS(name="0003_serving_marks")
def _serving_marks(db: sqlite_utils.Database) -> None:
    # The serving cache asks "did a scan or the analysis write anything since?" on every
    # suggestion: the newest last_scanned per missing flag and the newest analysis, by index.
    _run(
        db,
        """
        CREATE INDEX tracks_missing_scanned ON tracks(missing, last_scanned);
        CREATE INDEX features_analysed ON features(analysed_at);
        """,
    )


@MIGRATIONS(name="0004_library_changes")
def _library_changes(db: sqlite_utils.Database) -> None:
    # The serving cache's change check counted the rows of tracks and features on every
    # suggestion (a walk of a whole index: 0.3-0.7 ms at 100,000 tracks). A row is added
    # or removed only through these triggers' tables, so one counter, bumped on every
    # insert and delete whatever the connection or process, tells the same in one read.
    # (Updates are seen as before: a scan sets last_scanned, the analysis analysed_at.)
    _run(
        db,
        """
        CREATE TABLE library_changes (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            n INTEGER NOT NULL
        );
        INSERT INTO library_changes (id, n) VALUES (1, 0);
        CREATE TRIGGER library_changes_tracks_insert AFTER INSERT ON tracks
        BEGIN UPDATE library_changes SET n = n + 1 WHERE id = 1; END;
        CREATE TRIGGER library_changes_tracks_delete AFTER DELETE ON tracks
        BEGIN UPDATE library_changes SET n = n + 1 WHERE id = 1; END;
        CREATE TRIGGER library_changes_features_insert AFTER INSERT ON features
        BEGIN UPDATE library_changes SET n = n + 1 WHERE id = 1; END;
        CREATE TRIGGER library_changes_features_delete AFTER DELETE ON features
        BEGIN UPDATE library_changes SET n = n + 1 WHERE id = 1; END
        """,
    )


@MIGRATIONS(name="0005_play_changes")
def _play_changes(db: sqlite_utils.Database) -> None:
    # The serving cache asks on every suggestion whether a play it observed was deleted or
    # rematched; it counted the plays (a walk of an index: 3.2 ms at 1,000,000 plays,
    # twice a suggestion). A counter bumped by these triggers, whoever writes, tells in
    # one read: a delete, a play's track changed, or a play written below the newest id
    # (an undo putting rows back; new plays take the next id and bump nothing).
    _run(
        db,
        """
        CREATE TABLE play_changes (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            n INTEGER NOT NULL
        );
        INSERT INTO play_changes (id, n) VALUES (1, 0);
        CREATE TRIGGER play_changes_delete AFTER DELETE ON plays
        BEGIN UPDATE play_changes SET n = n + 1 WHERE id = 1; END;
        CREATE TRIGGER play_changes_track AFTER UPDATE OF track_id ON plays
        WHEN OLD.track_id IS NOT NEW.track_id
        BEGIN UPDATE play_changes SET n = n + 1 WHERE id = 1; END;
        CREATE TRIGGER play_changes_insert_below AFTER INSERT ON plays
        WHEN NEW.id < (SELECT max(id) FROM plays)
        BEGIN UPDATE play_changes SET n = n + 1 WHERE id = 1; END
        """,
    )


@MIGRATIONS(name="0006_reread_shared_track_numbers")
def _reread_shared_track_numbers(db: sqlite_utils.Database) -> None:
    # A track number such as "1-03" (disc 1, track 3) was read as track 1: a whole disc
    # shared one number and its album could not be played in order. Tracks of an album
    # without a disc number that share a track number are read again by the next scan (a
    # stored mtime no file has); nothing else is touched.
    db.execute(
        """
        UPDATE tracks SET mtime_ns = -1
        WHERE disc_no IS NULL AND track_no IS NOT NULL AND album IS NOT NULL
          AND (album, track_no) IN (
            SELECT album, track_no FROM tracks
            WHERE disc_no IS NULL AND track_no IS NOT NULL AND album IS NOT NULL
            GROUP BY album, track_no HAVING count(*) > 1
          )
        """
    )


SCHEMA_VERSION = len(MIGRATIONS._migrations)
