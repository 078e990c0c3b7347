"""Full-text search over seed and rewrite text for the data browser: GIN indexes on PostgreSQL
(other databases search with a simpler fallback and get no index).

The indexed expressions are exactly what ``SearchVector("title", "body", config="simple")`` and
``SearchVector("text", config="simple")`` compile to, so PostgreSQL uses the indexes for them.
"""

from django.db import migrations

INDEXES = {
    "seed_search_gin": (
        "annotation_seed",
        "to_tsvector('simple'::regconfig, COALESCE(\"title\", '') || ' ' || COALESCE(\"body\", ''))",
    ),
    "rewrite_search_gin": (
        "annotation_rewrite",
        "to_tsvector('simple'::regconfig, COALESCE(\"text\", ''))",
    ),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, (table, expression) in INDEXES.items():
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" USING gin (({expression}))')


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("annotation", "0007_curator_decisions_skips_browser_indexes")]

    operations = [migrations.RunPython(create, drop)]
