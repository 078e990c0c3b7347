from typing import Any

from annotation.management.base import CampaignCommand
from annotation.services import seeds_assign


class Command(CampaignCommand):
    help = (
        "Deal all sampled, unassigned seeds to the campaign's annotators, each getting the same "
        "subcategory mix."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("slug")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--lease-hours",
            type=float,
            default=None,
            help="Give dealt assignments a lease (default: held until done).",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        report = seeds_assign(
            campaign=self.campaign(opts["slug"]), seed=opts["seed"], lease_hours=opts["lease_hours"]
        )
        for name, count in report.per_annotator.items():
            self.stdout.write(f"  {name}: {count}")
        self.stdout.write(self.style.SUCCESS(f"Assigned {report.assigned} seeds."))
