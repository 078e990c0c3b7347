from pathlib import Path
from typing import Any

from django.core.management.base import CommandError
from tqdm import tqdm

from annotation.management.base import CurationCommand
from annotation.services import SeedImportError, seeds_import


class Command(CurationCommand):
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
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        with path.open("rb") as fh:
            total = sum(1 for _ in fh)
        bar = tqdm(
            total=total,
            unit="line",
            desc="seeds",
            disable=opts["no_progress"],
            file=self.stderr._out,
        )
        try:
            with path.open(encoding="utf-8", errors="strict") as fh:
                report = seeds_import(
                    campaign=campaign,
                    lines=fh,
                    dry_run=opts["dry_run"],
                    skip_bad_lines=opts["skip_bad_lines"],
                    progress=bar.update,
                )
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path} is not UTF-8 ({exc.reason} at byte {exc.start}).") from exc
        except SeedImportError as exc:
            bar.close()
            for error in exc.report.errors:
                self.stderr.write(f"{path}:{error.line}: {error.message}")
            raise CommandError(
                f"{len(exc.report.errors)} bad line(s) in {path}; nothing was imported. "
                "Fix them, or pass --skip-bad-lines to import the good ones."
            ) from exc
        finally:
            bar.close()
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
