from typing import Any

from annotation.management.base import CampaignCommand
from annotation.services import seeds_sample


class Command(CampaignCommand):
    help = "Sample seeds uniformly across subcategories (deterministic for a given --seed)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("slug")
        parser.add_argument("--size", type=int, required=True)
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, *args: Any, **opts: Any) -> None:
        report = seeds_sample(
            campaign=self.campaign(opts["slug"]), size=opts["size"], seed=opts["seed"]
        )
        width = max((len(n) for n in report.quotas), default=10)
        for name in sorted(report.quotas):
            self.stdout.write(
                f"  {name:<{width}}  {report.quotas[name]:>5} of {report.available[name]:>6}"
            )
        if report.unclassified:
            self.stdout.write(
                self.style.WARNING(f"{report.unclassified} seeds have no subcategory; not sampled.")
            )
        short = report.size - report.sampled_total
        msg = (
            f"Sampled {report.sampled_now} seeds now, {report.sampled_total} in all over "
            f"{sum(1 for q in report.quotas.values() if q)} subcategories."
        )
        if short > 0:
            msg += f" The pool is {short} short of --size {report.size}."
        self.stdout.write(self.style.SUCCESS(msg))
