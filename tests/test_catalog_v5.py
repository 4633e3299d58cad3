"""Schema v5 (the garment check's verdicts): an existing v4 catalog migrates and keeps all its data."""

from __future__ import annotations

import sqlite3

from inference.catalog import CATALOG_FILE, Catalog, GarmentCheckRecord
from inference.catalog.schema import SCHEMA_VERSION
from tests.trends_helpers import WorldBuilder

TABLES = ("creators", "videos", "frames", "garments", "ingest_events", "meta")


def _dump(path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as conn:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}


def test_a_v4_catalog_migrates_to_v5_and_keeps_all_its_data(data_dir):
    with Catalog(data_dir) as catalog:
        world = WorldBuilder(catalog)
        for i in range(3):
            world.post(f"c{i}", i, {"top": "a", "bottom": "b"})
        catalog.record_event("m.csv:2", "failed", "file not found", path="/videos/gone.mp4")
    path = data_dir / CATALOG_FILE
    with sqlite3.connect(path) as conn:  # what stylescope wrote before schema 5
        conn.execute("DROP TABLE garment_checks")
        conn.execute("DROP TABLE garment_near_styles")  # v6, after this one
        conn.execute("PRAGMA user_version = 4")
    before = _dump(path)
    assert sum(map(len, before.values())) > 20

    with Catalog(data_dir) as catalog:
        assert catalog.garment_checks() == [] and catalog.garment_check_counts()["garments_checked"] == 0
        assert catalog.unchecked_garment_ids("m") == sorted(world.ids)
        catalog.save_garment_checks([GarmentCheckRecord(world.ids[0], False, "no person", 0.2, 0.01, 0.01, 0.0,
                                                        50.0, False, False, False, "m", "j")])
        assert catalog.unchecked_garment_ids("m") == sorted(world.ids)[1:]
        assert catalog.unchecked_garment_ids("other classifier") == sorted(world.ids)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert _dump(path) == before
