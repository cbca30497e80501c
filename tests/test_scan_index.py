"""The rescan's index of stored tracks, now plain rows from SQLite, names the same values
the named tuples of before held, for every track (present, missing, without size, mtime or
signature); and a rescan plans moves, missing and restored tracks as before (test_scan)."""

from __future__ import annotations

from player_plugin.store import tracks as store
from player_plugin.store.tracks import IndexEntry, index_entry, load_index


def old_load_index(db) -> dict[bytes, IndexEntry]:
    """store.tracks.load_index before the change."""
    rows = db.execute("SELECT path, id, size, mtime_ns, missing, signature FROM tracks")
    return {
        bytes(path): IndexEntry(tid, size, mtime, bool(missing), sig)
        for path, tid, size, mtime, missing, sig in rows
    }


def test_the_index_names_what_it_named_before(db):
    rows = [
        {
            "path": f"/m/{i:03d} \N{EIGHTH NOTE}.mp3".encode() + (b"\xff" if i % 7 == 0 else b""),
            "path_text": f"/m/{i}",
            "size": None if i % 5 == 0 else i * 11,
            "mtime_ns": None if i % 6 == 0 else 10**18 + i,
            "missing": 1 if i % 4 == 0 else 0,
            "signature": None if i % 3 == 0 else f"sig{i % 10}",
            "first_seen": 0,
            "last_scanned": 0,
        }
        for i in range(200)
    ]
    db["tracks"].insert_all(rows)
    old = old_load_index(db)
    new = load_index(db)
    assert list(new) == list(old) and len(new) == 200
    assert {path: index_entry(row) for path, row in new.items()} == old
    for path, row in new.items():
        entry = old[path]
        assert (row[store.ID], row[store.SIZE], row[store.MTIME_NS]) == entry[:3]
        assert bool(row[store.MISSING]) is entry.missing and row[store.SIGNATURE] == entry[4]
