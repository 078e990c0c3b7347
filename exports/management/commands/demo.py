"""``manage.py demo``: a campaign in the middle of its life, so every page has something on it.

Everything is made through the services, as people would make it: seeds imported and sampled,
rewrites claimed, drafted and submitted, panels voting, curators returning, closing and
releasing. Safe to rerun: people and seeds are ensured, the campaign's life is played once (when
it has no assignment yet) and the release is built once."""

import gzip
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from annotation.models import Assignment, Campaign, Rewrite, Role, Seed
from annotation.services import (
    DraftInput,
    assignment_claim_next,
    assignment_reject_seed,
    assignment_skip,
    campaign_create,
    draft_save,
    seeds_import,
    seeds_sample,
    user_ensure,
)
from core.management import CurationCommand
from exports.jobs import release_start
from exports.models import Release
from exports.services import ReleaseParameters
from quality.models import ReferenceSet
from quality.services import reference_set_load
from review.models import VoteReason
from review.services import (
    ballot_cast,
    membership_add,
    rewrite_close,
    rewrite_return,
    rewrite_submit,
)

DATA = Path(__file__).resolve().parents[3] / "annotation" / "data"
# Seeds the project's authors wrote for the demo: 48 by hand, 320 more from a topic per
# subcategory in a few phrasings (a pool of a few hundred, every subcategory present).
DEMO_SEEDS = [DATA / "demo_seeds.jsonl", DATA / "demo_seeds_more.jsonl"]
SAMPLE_SIZE = 160  # four seeds per subcategory
TARGET_RELEASE_SIZE = 80  # two per subcategory: coverage has a target everywhere
# The public benchmark one demo rewrite overlaps (read from settings.REFERENCES_DIR, never
# copied into the repository).
REFERENCE_SET = "humaneval"
REFERENCE_FILE = "humaneval/HumanEval.jsonl.gz"
RELEASE_NAME = "preview-1"
GUIDELINES = """\
# Rewriting guidelines

Turn each seed into a **new, self-contained** question a developer could ask a coding assistant.

1. Keep the intent of the seed, but write the question yourself; do not copy it.
2. Include every piece of code, data or error message the question needs. No "see above".
3. Tag the difficulty, the programming language(s) and the natural language.
4. Confirm the checklist: the question is **clear**, raises **no ethical issue**, and is
   **solvable** from what it contains.
5. If the seed cannot become such a question, reject it with the reason that fits.
"""
PEOPLE = [
    ("curator", Role.CURATOR),
    ("annotator1", Role.ANNOTATOR),
    ("annotator2", Role.ANNOTATOR),
    ("annotator3", Role.ANNOTATOR),
    ("annotator4", Role.ANNOTATOR),
    ("reviewer1", Role.REVIEWER),
    ("reviewer2", Role.REVIEWER),
    ("reviewer3", Role.REVIEWER),
    ("reviewer4", Role.REVIEWER),
]

V, X, P = "valid", "invalid", None  # a reviewer's vote; None: the ballot stays pending
Votes = tuple[str | None, str | None, str | None, str | None]  # reviewer1..4
ALL_VALID: Votes = (V, V, V, V)
ACCEPTED: list[Votes] = [ALL_VALID] * 20 + [
    (V, V, X, V),
    (X, V, V, V),
    (V, X, V, V),
    (V, V, V, X),
]
REJECTED: list[Votes] = [(X, X, X, X), (X, X, V, X), (X, X, X, V)]
SPLIT: Votes = (V, X, V, X)  # 2 of 4: no side reaches the threshold of 3
# Still voting, so that every reviewer has ballots waiting.
VOTING: list[Votes] = [
    (V, V, P, P),
    (P, P, X, V),
    (V, P, P, V),
    (P, X, V, P),
    (P, P, P, P),
    (P, P, P, P),
]
REASONS = [
    [VoteReason.NOT_SELF_CONTAINED],
    [VoteReason.UNCLEAR],
    [VoteReason.WRONG_TAGS, VoteReason.UNCLEAR],
    [VoteReason.UNSOLVABLE],
]
COMMENTS = [
    "",
    "Clear and complete.",
    "",
    "The question depends on a file we never see.",
    "",
    "Good, but say which version.",
]
DIFFICULTIES = ["easy", "medium", "medium", "hard"]


@dataclass
class Story:
    """What the demo's life made, for the summary."""

    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n


class Command(CurationCommand):
    help = (
        "Create the demo campaign in the middle of its life (CodeArena taxonomy, one curator, "
        "four annotators, four reviewers; accepted, rejected, split, returned and contaminated "
        "rewrites, pending ballots, open drafts and a finished release) and print the demo "
        "logins. Safe to rerun."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--slug", default="demo")
        parser.add_argument(
            "--references",
            type=Path,
            default=Path(settings.REFERENCES_DIR) if settings.REFERENCES_DIR else None,
            help=f"Folder of public benchmarks holding {REFERENCE_FILE} (default: "
            "REFERENCES_DIR); without it the demo has no contaminated rewrite.",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        started = time.monotonic()
        slug = opts["slug"]
        # One transaction for the set-up and the life: a failure leaves nothing half made, and
        # the background jobs (token counts, quality checks) run once it commits.
        with transaction.atomic():
            campaign = Campaign.objects.filter(slug=slug).first()
            if campaign is None:
                campaign = campaign_create(
                    slug=slug,
                    name="CodeArena demo",
                    guidelines=GUIDELINES,
                    target_release_size=TARGET_RELEASE_SIZE,
                )
            people = {}
            for username, role in PEOPLE:
                user = user_ensure(
                    username=username,
                    email=f"{username}@demo.invalid",
                    password=_demo_password(username),
                )
                membership_add(campaign=campaign, user=user, role=role)
                people[username] = user
            self._seeds(campaign)
            if not Assignment.objects.filter(campaign=campaign).exists():
                reference = self._reference(campaign, people["curator"], opts["references"])
                story = _play(campaign, people, reference=reference)
                self.stdout.write(_summary(story))
            else:
                self.stdout.write("The demo campaign has been played already; left as it is.")
        self._release(campaign, people["curator"])
        self.stdout.write(self.style.SUCCESS(f"Demo campaign {slug!r} is ready. Demo logins:"))
        for username, role in PEOPLE:
            self.stdout.write(f"  {username:<11} {role:<10} password: {_demo_password(username)}")
        self.stdout.write(
            "These passwords are for the local demo only. A curator can 'view as' any member "
            "from the People page."
        )
        self.stdout.write(f"Done in {time.monotonic() - started:.1f} s.")

    def _seeds(self, campaign: Campaign) -> None:
        """Import the demo seeds (those already there are left alone) and top the sample up."""
        created = 0
        for path in DEMO_SEEDS:
            with path.open(encoding="utf-8") as fh:
                created += seeds_import(campaign=campaign, lines=fh).created
        sampled = Seed.objects.filter(campaign=campaign).exclude(status=Seed.Status.POOLED)
        if sampled.count() < SAMPLE_SIZE:
            seeds_sample(campaign=campaign, size=SAMPLE_SIZE, seed=42)
        if created:
            self.stdout.write(
                f"Imported {created} demo seeds; {sampled.count()} of them are sampled."
            )

    def _reference(self, campaign: Campaign, curator: Any, folder: Path | None) -> str:
        """The text of a public benchmark's first task, once its set is loaded; "" (with a
        note) when the folder or the file is missing."""
        path = folder / REFERENCE_FILE if folder else None
        if path is None or not path.is_file():
            self.stdout.write(
                f"No {REFERENCE_FILE} under {folder or 'REFERENCES_DIR (not set)'}: the demo "
                "skips its contaminated rewrite."
            )
            return ""
        if not ReferenceSet.objects.filter(name=REFERENCE_SET).exists():
            loaded = reference_set_load(
                name=REFERENCE_SET, paths=[path], actor=curator, campaign=campaign
            )
            self.stdout.write(
                f"Loaded reference set {REFERENCE_SET!r}: "
                f"{loaded.reference_set.documents_count} documents."
            )
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            return str(json.loads(fh.readline())["prompt"])

    def _release(self, campaign: Campaign, curator: Any) -> None:
        """Build the demo's release once (after the life committed, so its checks have run)."""
        if Release.objects.filter(campaign=campaign, name=RELEASE_NAME).exists():
            return
        if not Rewrite.objects.filter(campaign=campaign, status=Rewrite.Status.ACCEPTED).exists():
            return
        release = release_start(
            campaign=campaign,
            actor=curator,
            parameters=ReleaseParameters(
                name=RELEASE_NAME,
                license="other",
                license_name="codearena-demo-1.0",
                license_link="LICENSE",
            ),
        )
        release.refresh_from_db()
        self.stdout.write(f"Release {release.name!r}: {release.get_status_display().lower()}.")


def _play(campaign: Campaign, people: dict[str, Any], *, reference: str) -> Story:
    """The campaign's life so far, through the services."""
    story = Story()
    annotators = [people[f"annotator{i}"] for i in range(1, 5)]
    reviewers = [people[f"reviewer{i}"] for i in range(1, 5)]
    curator = people["curator"]
    turn = iter(range(10_000))

    def write(text: str | None = None) -> tuple[Assignment, Rewrite]:
        """The next annotator claims a seed and drafts its rewrite."""
        annotator = annotators[next(turn) % len(annotators)]
        assignment = assignment_claim_next(campaign=campaign, actor=annotator)
        assert assignment is not None, "the demo sample ran out of seeds"
        draft = draft_save(
            assignment_id=assignment.pk,
            actor=annotator,
            data=_draft(assignment.seed, text=text, n=assignment.pk),
            version=0,
        )
        return assignment, draft

    def submitted(text: str | None = None) -> Rewrite:
        assignment, _draft_made = write(text)
        return rewrite_submit(assignment_id=assignment.pk, actor=assignment.annotator)

    def vote(rewrite: Rewrite, decisions: Votes) -> None:
        ballots = {b.reviewer_id: b for b in rewrite.ballots.all()}
        for i, (reviewer, decision) in enumerate(zip(reviewers, decisions, strict=True)):
            ballot = ballots.get(reviewer.pk)
            if decision is None or ballot is None:
                continue
            ballot_cast(
                ballot_id=ballot.pk,
                actor=reviewer,
                decision=decision,
                reasons=[] if decision == V else list(REASONS[(rewrite.pk + i) % len(REASONS)]),
                comment=COMMENTS[(rewrite.pk + i) % len(COMMENTS)],
            )

    for decisions in ACCEPTED:
        vote(submitted(), decisions)
        story.add("accepted")
    if reference:
        text = (
            "My function below should say whether any two numbers of the list are closer to "
            "each other than the threshold, but it is slow on long lists. How can I make it "
            f"faster while keeping the same signature?\n\n```python\n{reference.strip()}\n"
            "    for i, a in enumerate(numbers):\n        for b in numbers[i + 1 :]:\n"
            "            if abs(a - b) < threshold:\n                return True\n"
            "    return False\n```"
        )
        vote(submitted(text), (V, V, V, V))
        story.add("accepted, overlapping a public benchmark (contaminated)")
    else:
        story.notes.append("no contaminated rewrite (no reference folder)")
    for decisions in REJECTED:
        vote(submitted(), decisions)
        story.add("rejected")
    closed = submitted()
    vote(closed, (X, X, X, X))
    rewrite_close(rewrite_id=closed.pk, actor=curator, note="The seed asks for an opinion.")
    story.add("rejected, then closed by the curator")
    split = submitted()
    vote(split, SPLIT)
    story.add("split (no consensus), for the curator to decide")
    # A split returned to its author, whose second revision is in progress.
    returned = submitted()
    vote(returned, SPLIT)
    second = rewrite_return(
        rewrite_id=returned.pk,
        actor=curator,
        note="Half the panel found it unclear: say which input sizes matter.",
    )
    draft_save(
        assignment_id=second.assignment_id,
        actor=second.author,
        data=_draft(
            second.seed, n=second.pk, revision=2, text=second.text + "\n\nInputs: up to 10^6 items."
        ),
        version=second.version,
    )
    story.add("split, returned for revision (revision 2 in progress)")
    # A rejected rewrite returned, revised and submitted again: its panel is voting.
    rejected = submitted()
    vote(rejected, (X, X, X, V))
    second = rewrite_return(
        rewrite_id=rejected.pk, actor=curator, note="Include the error message you get."
    )
    draft_save(
        assignment_id=second.assignment_id,
        actor=second.author,
        data=_draft(second.seed, n=second.pk, revision=2),
        version=second.version,
    )
    vote(rewrite_submit(assignment_id=second.assignment_id, actor=second.author), (V, P, V, P))
    story.add("rejected, returned for revision (revision 2 submitted, in review)")
    for decisions in VOTING:
        vote(submitted(), decisions)
        story.add("in review, ballots pending")
    # Seeds the annotators turned down or passed on.
    for reason in ("not_self_contained", "off_topic"):
        assignment, _ = write()
        assignment_reject_seed(
            assignment_id=assignment.pk,
            actor=assignment.annotator,
            reason=reason,
            note="Depends on a screenshot." if reason == "not_self_contained" else "",
        )
        story.add("seed rejected by an annotator")
    assignment, _ = write()
    assignment_skip(
        assignment_id=assignment.pk, actor=assignment.annotator, reason="outside my expertise"
    )
    story.add("seed skipped (back to the pool)")
    # Open work: every annotator has a draft in progress and one seed claimed, not started.
    for annotator in annotators:
        claimed = assignment_claim_next(campaign=campaign, actor=annotator)
        assert claimed is not None, "the demo sample ran out of seeds"
        draft_save(
            assignment_id=claimed.pk,
            actor=annotator,
            data=_draft(claimed.seed, n=claimed.pk, complete=False),
            version=0,
        )
        assignment_claim_next(campaign=campaign, actor=annotator)
        story.add("draft in progress", 1)
        story.add("seed claimed, not started", 1)
    return story


def _draft(
    seed: Seed, *, n: int, text: str | None = None, revision: int = 1, complete: bool = True
) -> DraftInput:
    """A plausible rewrite of ``seed``: its question restated with what it needs, tagged."""
    title = (seed.title or seed.body.split("\n")[0][:120]).strip().rstrip("?. ")
    language = seed.language_hint or "general"
    if text is None:
        ask = f"I need help with this: {title[:1].lower()}{title[1:]}."
        detail = f" I work in {language}" if language != "general" else " The language is up to you"
        text = (
            f"{ask}{detail}; show a complete, runnable example and explain when it would not work."
        )
        if revision > 1:
            text += " The error I get is `TypeError: 'NoneType' object is not iterable`."
    if not complete:
        return DraftInput(text=text[: len(text) // 2], subcategory=_subcategory(seed))
    return DraftInput(
        text=text,
        difficulty=DIFFICULTIES[n % len(DIFFICULTIES)],
        programming_languages=[language],
        natural_language="en",
        subcategory=_subcategory(seed),
        checklist={"clear": True, "ethical": True, "solvable": True},
    )


def _subcategory(seed: Seed) -> str:
    return seed.subcategory.name if seed.subcategory else ""


def _summary(story: Story) -> str:
    lines = ["The demo campaign's life so far:"]
    lines += [f"  {n:>3}  {what}" for what, n in story.counts.items()]
    lines += [f"  note: {note}" for note in story.notes]
    return "\n".join(lines)


def _demo_password(username: str) -> str:
    return f"demo-{username}"
