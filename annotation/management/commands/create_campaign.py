from typing import Any

from annotation.services import campaign_create
from annotation.vocabulary import BUILTIN_TAXONOMIES
from core.management import CurationCommand


class Command(CurationCommand):
    help = "Create a campaign, with the CodeArena taxonomy and language list by default."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--taxonomy",
            default="codearena",
            choices=[*BUILTIN_TAXONOMIES, "none"],
            help="Built-in taxonomy to start from ('none' for an empty one).",
        )
        parser.add_argument("--panel-size", type=int, default=4)
        parser.add_argument("--threshold", type=int, default=3)
        parser.add_argument("--target-size", type=int, default=397)
        parser.add_argument("--tokenizer", default=None, help="tiktoken encoding or model name")
        parser.add_argument("--lease-minutes", type=int, default=24 * 60)
        parser.add_argument("--guidelines-file", default=None, help="Markdown guidelines file")
        parser.add_argument("--early-decision", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        guidelines = ""
        if opts["guidelines_file"]:
            with open(opts["guidelines_file"], encoding="utf-8") as fh:
                guidelines = fh.read()
        campaign = campaign_create(
            slug=opts["slug"],
            name=opts["name"],
            taxonomy=None if opts["taxonomy"] == "none" else opts["taxonomy"],
            panel_size=opts["panel_size"],
            accept_threshold=opts["threshold"],
            tokenizer=opts["tokenizer"],
            guidelines=guidelines,
            target_release_size=opts["target_size"],
            lease_minutes=opts["lease_minutes"],
            early_decision=opts["early_decision"],
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Created campaign {campaign.slug!r}: {campaign.categories.count()} categories, "
                f"{campaign.subcategories.count()} subcategories, "
                f"{campaign.programming_languages.count()} programming languages; panel "
                f"{campaign.panel_size}, accept at {campaign.accept_threshold}."
            )
        )
