"""Better row estimates for the data browser's full-text searches on PostgreSQL.

With the default statistics target, ANALYZE keeps only the most common lexemes of the search
vectors (a hundred or so), and PostgreSQL estimates any other word, rare or absent, to match
0.5% of the rows: on 1,000,000 seeds it then expects 5,000 matches and walks the table in id
order computing each row's vector instead of asking the GIN index (seconds instead of
milliseconds, measured by bench/browser.py). A target of 1,000 keeps ten times more lexemes and
a much lower frequency floor, so rare words are estimated as rare and read through the index.
ANALYZE samples more rows for these two expressions only.
"""

from django.db import migrations

INDEXES = ("seed_search_gin", "rewrite_search_gin")
TARGET = 1000


def raise_target(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'ALTER INDEX "{name}" ALTER COLUMN 1 SET STATISTICS {TARGET}')


def reset_target(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'ALTER INDEX "{name}" ALTER COLUMN 1 SET STATISTICS -1')


class Migration(migrations.Migration):
    dependencies = [("annotation", "0008_full_text_search_indexes")]

    operations = [migrations.RunPython(raise_target, reset_target)]
