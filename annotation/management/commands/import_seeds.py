import argparse
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO, cast

from django.core.management.base import CommandError, DjangoHelpFormatter
from tqdm import tqdm

from annotation.management.base import CampaignCommand
from annotation.services import SeedImportError, seeds_import
from annotation.services.seed_formats import (
    FORMATS,
    PRESETS,
    TARGETS,
    FieldMapping,
    Row,
    SeedFile,
    open_seed_file,
)

EPILOG = "\n".join(
    [
        "formats (told from the content):",
        "  JSON lines, a JSON array of objects, CSV or TSV with a header row, Parquet, and a",
        "  .gz of any of them; UTF-8 with or without a BOM. Zip, UTF-16/32 and other binary",
        "  files are refused, naming what they are.",
        "",
        "presets (the default field mapping):",
        *[
            textwrap.fill(f"{p.name}: {p.help}", 88, initial_indent="  ", subsequent_indent="    ")
            for p in PRESETS.values()
        ],
        "",
        "field mapping:",
        "  --field TARGET=SOURCE overrides the preset for one target. Targets:",
        textwrap.fill(", ".join(TARGETS) + ".", 88, initial_indent="  ", subsequent_indent="  "),
        "  SOURCE is a key or a dotted path (data.question, messages.0.content); an empty",
        "  SOURCE reads the target from nowhere (--field category=). Keys no target reads go",
        "  to the seed's metadata.",
        "",
        "A seed with a CodeArena task_type (a string, or a list: its first element) and no",
        "subcategory gets the subcategory CodeArena's task-type map gives it, if the campaign's",
        "taxonomy has it. Importing nothing (no seed created, none already present) fails.",
        "",
        "examples:",
        "  import_seeds SLUG question.jsonl --preset arena-hard-auto",
        "  import_seeds SLUG suite.csv --field id=filename --field text=content_prompt",
        "  import_seeds SLUG export.json --preset label-studio --field text=data.my_prompt",
    ]
)


class _HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's order of options, the epilog's lines as written."""


class Command(CampaignCommand):
    help = textwrap.fill(
        "Import seeds from a file (JSON lines, JSON array, CSV, TSV, Parquet, or .gz of one), "
        "with a preset or a field mapping for other tools' files. Bad lines are named with "
        "their line (or row) number and every reason, and nothing is imported unless "
        "--skip-bad-lines. Ids already present are skipped; seeds whose content duplicates "
        "another are reported and skipped.",
        88,
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> Any:
        parser = super().create_parser(prog_name, subcommand, epilog=EPILOG, **kwargs)
        parser.formatter_class = _HelpFormatter
        return parser

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("slug")
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--format",
            choices=["auto", *FORMATS],
            default="auto",
            help="The file's format (default: told from its content).",
        )
        parser.add_argument(
            "--preset",
            choices=list(PRESETS),
            default="seeds",
            help="The default field mapping (default: seeds, DESIGN.md's keys).",
        )
        parser.add_argument(
            "--field",
            action="append",
            default=[],
            metavar="TARGET=SOURCE",
            help="Read TARGET from SOURCE (repeatable), e.g. --field id=question_id.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Validate and report only.")
        parser.add_argument("--skip-bad-lines", action="store_true")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        campaign = self.campaign(opts["slug"])
        path: Path = opts["file"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        mapping = FieldMapping.build(preset=opts["preset"], fields=opts["field"])
        size = path.stat().st_size
        with (
            path.open("rb") as fh,
            open_seed_file(fh, path.name, size=size, forced=opts["format"]) as seed_file,
        ):
            unit = seed_file.detected.unit
            stream = cast(TextIO, self.stderr._out)
            bar = tqdm(
                total=size,
                unit="B",
                unit_scale=True,
                desc=f"seeds ({seed_file.detected.describe()})",
                disable=opts["no_progress"],
                file=stream,
            )
            try:
                report = seeds_import(
                    campaign=campaign,
                    rows=_with_progress(seed_file, bar),
                    mapping=mapping,
                    file_format=seed_file.detected.to_dict(),
                    dry_run=opts["dry_run"],
                    skip_bad_lines=opts["skip_bad_lines"],
                )
            except SeedImportError as exc:
                bar.close()
                for error in exc.report.errors:
                    self.stderr.write(f"{_where(path, unit, error.line)}: {error.message}")
                if exc.report.unlisted:
                    self.stderr.write(f"... and {exc.report.unlisted} more bad {unit}(s).")
                raise CommandError(
                    f"{exc.report.bad_lines} bad {unit}(s) of {exc.report.lines} in {path}; "
                    "nothing was imported. Fix them, or pass --skip-bad-lines to import the "
                    "good ones."
                ) from exc
            finally:
                bar.close()
        for error in report.errors:
            self.stderr.write(f"{_where(path, unit, error.line)}: skipped: {error.message}")
        if report.unlisted:
            self.stderr.write(f"... and {report.unlisted} more bad {unit}(s) skipped.")
        for lineno, other in report.duplicate_content:
            self.stderr.write(
                f"{_where(path, unit, lineno)}: skipped: same content as seed {other!r}"
            )
        unlisted = report.duplicate_content_total - len(report.duplicate_content)
        if unlisted:
            self.stderr.write(f"... and {unlisted} more with the same content as another seed.")
        for lineno, seed_id, first in report.repeated:
            self.stderr.write(
                f"{_where(path, unit, lineno)}: skipped: task {seed_id!r} again (kept {unit} "
                f"{first})"
            )
        unlisted = report.repeated_total - len(report.repeated)
        if unlisted:
            self.stderr.write(f"... and {unlisted} more repeated task(s).")
        notes = report.task_types.summary()
        if notes:
            self.stderr.write(f"{path.name}: {notes}.")
            for note in report.task_types.notes(cap=20):
                self.stderr.write(
                    f"  task type {note['task_type']!r} ({note['seeds']} seed(s)): "
                    + (
                        "not in CodeArena's map"
                        if note["reason"] == "unknown"
                        else f"leads to {' / '.join(note['pair'])}, not in this taxonomy"
                    )
                )
        why = report.nothing_imported_because()
        if why:
            raise CommandError(
                f"{path.name} ({seed_file.detected.describe()}): nothing "
                f"{'would be ' if report.dry_run else ''}imported: {why}."
            )
        verb = "would import" if report.dry_run else "imported"
        repeated = f", {report.repeated_total} repeated task(s)" if report.repeated_total else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"{path.name} ({seed_file.detected.describe()}): {report.lines} {unit}s, "
                f"{verb} {report.created} seeds, {report.already_present_total} already present, "
                f"{report.duplicate_content_total} duplicate content{repeated}, "
                f"{report.bad_lines} bad {unit}(s) skipped."
            )
        )


def _where(path: Path, unit: str, number: int) -> str:
    return f"{path}:{number}" if unit == "line" else f"{path}: {unit} {number}"


def _with_progress(seed_file: SeedFile, bar: Any) -> Iterator[Row]:
    done = 0
    for row in seed_file.rows():
        now = int(seed_file.fraction() * seed_file.size)
        if now > done:
            bar.update(now - done)
            done = now
        yield row
    bar.update(seed_file.size - done)
