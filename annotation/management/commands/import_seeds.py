from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from annotation.management.base import CampaignCommand
from annotation.services import SeedImportError, seeds_import


class Command(CampaignCommand):
    help = (
        "Import seeds from a JSON-lines file. Bad lines are named with their line number and "
        "nothing is imported unless --skip-bad-lines. Ids already present are skipped; seeds "
        "whose content duplicates another are reported and skipped."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("slug")
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="Validate and report only.")
        parser.add_argument("--skip-bad-lines", action="store_true")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        campaign = self.campaign(opts["slug"])
        path: Path = opts["file"]
        try:
            with self.lines_with_progress(path, desc="seeds", disable=opts["no_progress"]) as (
                lines,
                progress,
            ):
                report = seeds_import(
                    campaign=campaign,
                    lines=lines,
                    dry_run=opts["dry_run"],
                    skip_bad_lines=opts["skip_bad_lines"],
                    progress=progress,
                )
        except SeedImportError as exc:
            for error in exc.report.errors:
                self.stderr.write(f"{path}:{error.line}: {error.message}")
            raise CommandError(
                f"{len(exc.report.errors)} bad line(s) in {path}; nothing was imported. "
                "Fix them, or pass --skip-bad-lines to import the good ones."
            ) from exc
        for error in report.errors:
            self.stderr.write(f"{path}:{error.line}: skipped: {error.message}")
        for lineno, other in report.duplicate_content:
            self.stderr.write(f"{path}:{lineno}: skipped: same content as seed {other!r}")
        verb = "would import" if report.dry_run else "imported"
        self.stdout.write(
            self.style.SUCCESS(
                f"{path.name}: {report.lines} lines, {verb} {report.created} seeds, "
                f"{len(report.already_present)} already present, "
                f"{len(report.duplicate_content)} duplicate content, "
                f"{len(report.errors)} bad line(s) skipped."
            )
        )
