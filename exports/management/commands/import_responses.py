from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from annotation.management.base import CampaignCommand
from exports.services import ResponseImportError, responses_import


class Command(CampaignCommand):
    help = (
        "Import a model's baseline responses (JSON lines keyed by seed_id, or by id/uid: a "
        "release sample id or a seed id; arena-hard-auto model-answer files work as they are). "
        "They are exported as <model>_response. Bad lines are named; nothing is imported."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("slug")
        parser.add_argument("file", type=Path)
        parser.add_argument("--model", required=True, help="Model name, e.g. gpt-4o-2024-08-06")
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        campaign = self.campaign(opts["slug"])
        path: Path = opts["file"]
        try:
            with self.lines_with_progress(
                path, desc=opts["model"], disable=opts["no_progress"]
            ) as (lines, progress):
                report = responses_import(
                    campaign=campaign,
                    lines=lines,
                    model=opts["model"],
                    dry_run=opts["dry_run"],
                    progress=progress,
                )
        except ResponseImportError as exc:
            for error in exc.report.errors:
                self.stderr.write(f"{path}: {error}")
            raise CommandError(
                f"{max(exc.report.bad_lines, len(exc.report.errors))} bad line(s) in {path}; "
                "nothing was imported."
            ) from exc
        verb = "would import" if report.dry_run else "imported"
        self.stdout.write(
            self.style.SUCCESS(
                f"{path.name}: {verb} {report.imported} responses of {opts['model']} "
                f"({report.replaced} replaced)."
            )
        )
