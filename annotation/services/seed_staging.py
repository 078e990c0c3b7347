"""Seed imports on PostgreSQL as set-based SQL (issue 18): the parsed seeds are streamed with
COPY into a temporary staging table, sorted there by one statement into what the import does
with each (``Outcome``), and the new ones written to the seed table by one ``INSERT ...
SELECT``; the report's counts and capped lists are read back with a few small queries. Nothing
per seed stays in Python, so memory is flat in the size of the file, and the number of queries
is constant in it.

The sort follows the rules of ``seeds_import`` exactly: a well-formed seed whose id an earlier
well-formed seed of the file has is a repeat (a bad line "duplicate id", or a repeated task for
a preset that expects those); else a seed whose id is in the campaign is already present; else
a seed whose content an existing seed of the campaign, or an earlier new seed of the file, has
is duplicate content (``same_as`` names that seed); else it is new. The tables are created
``ON COMMIT DROP`` inside the caller's transaction (so they work behind pgbouncer in
transaction mode, and nothing of them outlives it). SQLite keeps the importers' row-by-row
path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from ..models import Seed, SeedImport

STAGE = "seed_import_stage"
OUTCOME = "seed_import_outcome"


class Outcome:
    REPEATED_ID = "i"  # a duplicate id (bad line) or a repeated task (JSON-MIN)
    PRESENT = "p"
    DUPLICATE = "c"
    NEW = "n"


def available() -> bool:
    return connection.vendor == "postgresql"


@dataclass
class StagedRow:
    line: int
    external_id: str
    kind: str
    ref_line: int | None  # REPEATED_ID: the first line of the id
    same_as: str | None  # DUPLICATE: the seed whose content it repeats


class Stage:
    """The staging tables of one import, in the caller's transaction. ``full``: every column
    of a seed (to write them); otherwise only the line, id and content hash (a check, a dry
    run)."""

    def __init__(self, *, full: bool) -> None:
        self.full = full
        self.rows = 0

    def create(self) -> None:
        columns = "line integer NOT NULL, external_id text NOT NULL, content_hash text NOT NULL"
        if self.full:
            columns += (
                ", title text, body text, answer text, source_url text, cluster text, "
                "subcategory_id bigint, language_hint text, metadata jsonb"
            )
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {STAGE}, {OUTCOME}")
            cursor.execute(f"CREATE TEMP TABLE {STAGE} ({columns}) ON COMMIT DROP")

    @contextmanager
    def copying(self) -> Iterator[Any]:
        """A COPY into the staging table: ``write(line, seed)`` for each parsed seed (an
        unsaved ``Seed``). No other query may run on this connection until it is closed."""
        names = "line, external_id, content_hash"
        if self.full:
            names += (
                ", title, body, answer, source_url, cluster, subcategory_id, language_hint, "
                "metadata"
            )
        connection.ensure_connection()
        raw = connection.connection
        assert raw is not None
        with raw.cursor() as cursor, cursor.copy(f"COPY {STAGE} ({names}) FROM STDIN") as copy:
            write_row = copy.write_row
            full = self.full

            def write(line: int, seed: Seed) -> None:
                self.rows += 1
                if full:
                    write_row(
                        (
                            line,
                            seed.external_id,
                            seed.content_hash,
                            seed.title,
                            seed.body,
                            seed.answer,
                            seed.source_url,
                            seed.cluster,
                            seed.subcategory_id,
                            seed.language_hint,
                            json.dumps(seed.metadata, ensure_ascii=False),
                        )
                    )
                else:
                    write_row((line, seed.external_id, seed.content_hash))

            yield write

    def classify(self, campaign_id: int) -> None:
        """Sort every staged seed into an ``Outcome`` (see the module's docstring)."""
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '64MB'")
            cursor.execute(f"ANALYZE {STAGE}")
            cursor.execute(
                f"CREATE TEMP TABLE {OUTCOME} ON COMMIT DROP AS {classify_sql()}",
                {"c": campaign_id},
            )
            cursor.execute(f"CREATE INDEX ON {OUTCOME} (kind, line)")
            cursor.execute(f"ANALYZE {OUTCOME}")

    def counts(self) -> dict[str, int]:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT kind, count(*) FROM {OUTCOME} GROUP BY kind")
            found = dict(cursor.fetchall())
        return {
            k: int(found.get(k, 0))
            for k in (Outcome.REPEATED_ID, Outcome.PRESENT, Outcome.DUPLICATE, Outcome.NEW)
        }

    def first(self, kind: str, limit: int, *, before: int | None = None) -> list[StagedRow]:
        """The first ``limit`` staged seeds of ``kind``, in file order (before line
        ``before``)."""
        if limit <= 0:
            return []
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT line, external_id, kind, ref_line, same_as FROM {OUTCOME} "
                "WHERE kind = %s AND line < %s ORDER BY line LIMIT %s",
                [kind, before if before is not None else 2**31 - 1, limit],
            )
            return [StagedRow(*row) for row in cursor.fetchall()]

    def of_lines(self, lines: list[int]) -> dict[int, StagedRow]:
        if not lines:
            return {}
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT line, external_id, kind, ref_line, same_as FROM {OUTCOME} "
                "WHERE line = ANY(%s)",
                [lines],
            )
            return {row[0]: StagedRow(*row) for row in cursor.fetchall()}

    def insert_new(self, campaign_id: int) -> int:
        """Write the new seeds (file order, as ``bulk_create`` did) with one INSERT ...
        SELECT; the number written."""
        assert self.full
        seed = Seed._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE INDEX ON {STAGE} (line)")
            cursor.execute(f"ANALYZE {STAGE}")
            cursor.execute(
                f"""
                INSERT INTO {seed} (campaign_id, external_id, title, body, answer, source_url,
                    cluster, subcategory_id, language_hint, metadata, content_hash, status,
                    sample_rank, created_at)
                SELECT %(c)s, s.external_id, s.title, s.body, s.answer, s.source_url,
                    s.cluster, s.subcategory_id, s.language_hint, s.metadata, s.content_hash,
                    %(status)s, NULL, %(now)s
                FROM {STAGE} s
                WHERE s.line IN (SELECT o.line FROM {OUTCOME} o WHERE o.kind = %(new)s)
                ORDER BY s.line
                """,
                {
                    "c": campaign_id,
                    "status": Seed.Status.POOLED,
                    "now": timezone.now(),
                    "new": Outcome.NEW,
                },
            )
            return int(cursor.rowcount)


def classify_sql() -> str:
    """The statement that sorts the staged seeds (parameter ``c``: the campaign): a row per
    staged seed with its ``Outcome``, the first line of a repeated id and the seed whose
    content a duplicate repeats. The seed table is read through its unique indexes."""
    seed = Seed._meta.db_table
    return f"""
                WITH firsts AS (
                    SELECT s.line, s.external_id, s.content_hash,
                           min(s.line) OVER (PARTITION BY s.external_id) AS id_first
                    FROM {STAGE} s
                ), sorted AS (
                    SELECT f.line, f.external_id, f.content_hash, f.id_first,
                           p.id IS NOT NULL AS present,
                           f.line = f.id_first AND p.id IS NULL AS candidate
                    FROM firsts f
                    LEFT JOIN {seed} p
                      ON p.campaign_id = %(c)s AND p.external_id = f.external_id
                ), ranked AS (
                    SELECT r.*,
                           first_value(r.line) OVER w AS hash_first,
                           first_value(r.external_id) OVER w AS hash_first_id
                    FROM sorted r
                    WINDOW w AS (PARTITION BY r.candidate, r.content_hash ORDER BY r.line)
                )
                SELECT r.line, r.external_id,
                       CASE WHEN r.line <> r.id_first THEN '{Outcome.REPEATED_ID}'
                            WHEN r.present THEN '{Outcome.PRESENT}'
                            WHEN e.external_id IS NOT NULL OR r.hash_first <> r.line
                                THEN '{Outcome.DUPLICATE}'
                            ELSE '{Outcome.NEW}' END AS kind,
                       CASE WHEN r.line <> r.id_first THEN r.id_first END AS ref_line,
                       CASE WHEN r.candidate THEN coalesce(e.external_id, r.hash_first_id) END
                           AS same_as
                FROM ranked r
                LEFT JOIN {seed} e
                  ON r.candidate AND e.campaign_id = %(c)s AND e.content_hash = r.content_hash
    """


class ProgressAside:
    """Progress written on a connection of its own (autocommit), so that it shows while the
    import's transaction runs, and never waits: a row another transaction has locked is left
    as it is (``SKIP LOCKED``). Best effort: without a second connection, no progress."""

    def __init__(self) -> None:
        self.conn: Any = None

    def open(self) -> None:
        import psycopg

        try:
            params = connection.get_connection_params()
            self.conn = psycopg.connect(**params, autocommit=True)
        except Exception:  # noqa: BLE001 - progress is not worth failing an import
            self.conn = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def write(self, import_id: int, *, status: str, claimed: Any, values: dict[str, Any]) -> int:
        if self.conn is None:
            return 0
        table = SeedImport._meta.db_table
        sets, params = [], []
        for key, value in values.items():
            column = SeedImport._meta.get_field(key).column  # type: ignore[union-attr]
            sets.append(f"{column} = %s")
            params.append(json.dumps(value) if key in ("report", "check_report") else value)
        try:
            cursor = self.conn.execute(
                f"UPDATE {table} SET {', '.join(sets)} WHERE id = (SELECT id FROM {table} "
                "WHERE id = %s AND status = %s AND started_at = %s "
                "FOR NO KEY UPDATE SKIP LOCKED)",
                [*params, import_id, status, claimed],
            )
            return int(cursor.rowcount)
        except Exception:  # noqa: BLE001 - best effort
            return 0
