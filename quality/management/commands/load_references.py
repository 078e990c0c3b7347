from pathlib import Path
from typing import Any

from core.management import CurationCommand
from quality.services import DEFAULT_FIELDS, reference_set_load


class Command(CurationCommand):
    help = (
        "Load a public benchmark (jsonl or jsonl.gz, one or more files) as reference set NAME "
        "for decontamination. Reloading a name replaces it in one transaction, and every "
        "submitted rewrite is re-checked against it. Bad lines are named; nothing is loaded."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name", help="Reference set name, e.g. humaneval")
        parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
        parser.add_argument(
            "--field",
            action="append",
            dest="fields",
            help="Record field to index (repeatable). Default: those of "
            f"{', '.join(DEFAULT_FIELDS)} a record has.",
        )
        parser.add_argument("--id-field", help="Record field holding the document id.")

    def handle(self, *args: Any, **opts: Any) -> None:
        result = reference_set_load(
            name=opts["name"],
            paths=opts["files"],
            fields=opts["fields"],
            id_field=opts["id_field"],
            progress=lambda msg: self.stderr.write(f"... {msg}"),
        )
        ref = result.reference_set
        replaced = f", replacing {result.replaced}" if result.replaced else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {ref.documents_count} documents into {ref.name!r}{replaced}; "
                f"re-checked {result.rechecked} rewrites, {result.contaminated} overlap it."
            )
        )
