"""Curator workspace pages, campaign part: a new campaign, its settings (with model assistance:
endpoint, prompts, usage), its guidelines (an editor with live preview, the version history
with diffs) and one guidelines version. Forms
are plain POST + CSRF + redirect; they work without JavaScript (the preview is an extra).
Non-members get 404 and members without the role 403 (``core.http.DomainErrorMiddleware``);
bad input re-renders the form with what was typed and the status the API would give."""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse

from core.access import roles
from core.errors import DomainError, NotAllowed
from core.http import error_message, error_problems, status_for
from core.labels import label

from . import prompts, selectors_assist
from . import selectors_campaigns as campaigns
from .models import AssistPurpose, Role
from .rendering import render_markdown
from .selectors import campaign_for_member
from .serializers_campaigns import (
    TAXONOMY_CHOICES,
    AssistSettingsIn,
    CampaignCreateIn,
    CampaignSettingsIn,
    GuidelinesIn,
    campaign_create_arguments,
)
from .services.assist_settings import (
    ASSIST_FIELDS,
    ASSIST_FLAG_FIELDS,
    PROMPT_MAX_CHARS,
    api_key_is_set,
    assist_connection_test,
    assist_prompt_save,
    assist_settings_update,
)
from .services.campaigns import (
    CREATE_PERMISSION,
    EDITABLE_SETTINGS,
    campaign_create,
    campaign_settings_update,
)
from .services.guidelines import guidelines_mark_read, guidelines_save

Errors = dict[str, list[str]]


def _form_data(
    post: QueryDict, fields: tuple[str, ...], checkboxes: tuple[str, ...]
) -> dict[str, Any]:
    """The posted form as serializer input: a checkbox is true when sent, false when not; an
    empty optional number means "none"."""
    data: dict[str, Any] = {key: post[key] for key in fields if key in post}
    for key in checkboxes:
        data[key] = key in post
    if data.get("max_active_assignments") == "":
        data["max_active_assignments"] = None
    return data


def _errors_of(exc: DomainError) -> Errors:
    errors = exc.details.get("errors")
    if isinstance(errors, dict):
        return {str(k): [str(m) for m in v] for k, v in errors.items()}
    return {}


def _serializer_errors(errors: Any) -> Errors:
    return {str(k): [str(m) for m in v] for k, v in errors.items()}


CREATE_FIELDS = (
    "slug",
    "name",
    "taxonomy",
    "panel_size",
    "accept_threshold",
    "target_release_size",
    "lease_minutes",
    "max_active_assignments",
    "tokenizer",
)


@login_required
def campaign_new_page(request: HttpRequest) -> HttpResponse:
    """GET: the new-campaign form. POST: create the campaign (the creator becomes its curator)
    and go to its settings. Needs the create_campaign permission (403 otherwise)."""
    if not request.user.has_perm(CREATE_PERMISSION):
        raise NotAllowed(
            "Creating a campaign needs the 'create campaign' permission; ask an operator."
        )
    errors: Errors = {}
    message = ""
    status = 200
    form: dict[str, Any] = {}
    if request.method == "POST":
        form = _form_data(request.POST, CREATE_FIELDS, ("early_decision",))
        if "taxonomy_file" in request.FILES:
            form["taxonomy_file"] = request.FILES["taxonomy_file"]
        serializer = CampaignCreateIn(data=form)
        if serializer.is_valid():
            try:
                campaign = campaign_create(
                    actor=request.user,
                    **campaign_create_arguments(dict(serializer.validated_data)),
                )
            except DomainError as exc:
                message, errors, status = exc.message, _errors_of(exc), status_for(exc)
            else:
                messages.success(
                    request,
                    f"Campaign {campaign.name!r} created; you are its curator. Next: write "
                    "its guidelines and add people.",
                )
                return redirect("campaign-settings-page", slug=campaign.slug)
        else:
            message = "The campaign could not be created; see each field."
            errors, status = _serializer_errors(serializer.errors), 400
        form.pop("taxonomy_file", None)  # a file input cannot be refilled
    return render(
        request,
        "annotation/campaign_new.html",
        {
            "form": form,
            "errors": errors,
            "message": message,
            "taxonomy_choices": TAXONOMY_CHOICES,
            "tokenizers": campaigns.tokenizer_names(),
        },
        status=status,
    )


@login_required
def campaign_settings_page(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the settings form (locked settings disabled, with the reason) and the model
    assistance section (its settings, prompts and usage). POST (curators), told apart by the
    ``form`` field: ``campaign`` (the default) changes what differs; ``assist`` the model
    settings; ``prompt`` saves a prompt version (``action=reset``: the built-in text);
    ``assist-test`` tries the endpoint. Then back here."""
    campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
    errors: Errors = {}
    message = ""
    status = 200
    form: dict[str, Any] = {}
    assist = _AssistForms()
    if request.method == "POST":
        which = request.POST.get("form", "campaign")
        if which == "assist":
            done = _assist_settings_post(request, campaign, assist)
        elif which == "prompt":
            done = _assist_prompt_post(request, campaign, assist)
        elif which == "assist-test":
            done = _assist_test_post(request, campaign)
        else:
            form = _form_data(
                request.POST, EDITABLE_SETTINGS, ("early_decision", "curator_may_accept")
            )
            serializer = CampaignSettingsIn(data=form)
            done = None
            if serializer.is_valid():
                try:
                    campaign_settings_update(
                        campaign=campaign, actor=request.user, **serializer.validated_data
                    )
                except DomainError as exc:
                    message, errors, status = exc.message, _errors_of(exc), status_for(exc)
                else:
                    messages.success(request, "Settings saved.")
                    done = ""
            else:
                message = "The settings were not saved; see each field."
                errors, status = _serializer_errors(serializer.errors), 400
        if done is not None:
            url = reverse("campaign-settings-page", kwargs={"slug": campaign.slug})
            return redirect(url + done)
        status = assist.status or status
    current = campaigns.campaign_settings(campaign)
    config = selectors_assist.assist_settings_current(campaign)
    prompt_items = selectors_assist.assist_prompts(campaign)
    page_messages, here = _messages_by_section(
        request,
        {SECTION_ASSIST, SECTION_ASSIST_TEST}
        | {_prompt_section(item["purpose"]) for item in prompt_items},
    )
    return render(
        request,
        "annotation/campaign_settings.html",
        {
            "campaign": campaign,
            # The messages of the model assistance forms are shown in their sections (below);
            # this list (the top of the page) has the others.
            "messages": page_messages,
            "assist_messages": here.get(SECTION_ASSIST, []),
            "assist_test_messages": here.get(SECTION_ASSIST_TEST, []),
            "settings": current,
            "form": {**current, **form},
            "locked": {lock["field"]: lock["reason"] for lock in current["locked"]},
            "errors": errors,
            "message": message,
            "tokenizers": campaigns.tokenizer_names(),
            "assist": config,
            "assist_form": {
                **{key: getattr(config, key) for key in ASSIST_FIELDS},
                **assist.form,
            },
            "assist_errors": assist.errors,
            "assist_message": assist.message,
            "api_key_set": api_key_is_set(config.api_key_env),
            "api_key_prefix": settings.CURATION_MODEL_KEY_PREFIX,
            "allowed_hosts": settings.CURATION_MODEL_ALLOWED_HOSTS,
            "prompts": [
                {
                    **item,
                    "draft": assist.prompt_text.get(item["purpose"]),
                    "errors": assist.prompt_errors.get(item["purpose"], []),
                    "messages": here.get(_prompt_section(item["purpose"]), []),
                }
                for item in prompt_items
            ],
            "prompt_max_chars": PROMPT_MAX_CHARS,
            "usage": selectors_assist.assist_usage(campaign),
        },
        status=status,
    )


# Where a model assistance form's outcome is shown: the message is tagged with its section's id
# and the redirect goes to that section, so the curator reads it where they are, not at the
# top of a long page.
SECTION_ASSIST = "assist"
SECTION_ASSIST_TEST = "assist-test-form"


def _prompt_section(purpose: str) -> str:
    return f"prompt-{purpose}"


def _messages_by_section(
    request: HttpRequest, sections: set[str]
) -> tuple[list[Any], dict[str, list[Any]]]:
    """The pending messages (reading them uses them up): those tagged with one of these
    sections' ids, by section, and the others, for the top of the page."""
    top: list[Any] = []
    here: dict[str, list[Any]] = {}
    for message in messages.get_messages(request):
        if message.extra_tags in sections:
            here.setdefault(message.extra_tags, []).append(message)
        else:
            top.append(message)
    return top, here


class _AssistForms:
    """What the model assistance forms give back to the page when a POST fails."""

    def __init__(self) -> None:
        self.form: dict[str, Any] = {}
        self.errors: Errors = {}
        self.message = ""
        self.prompt_text: dict[str, str] = {}
        self.prompt_errors: dict[str, list[str]] = {}
        self.status = 0


ASSIST_TEXT_FIELDS = (
    "base_url",
    "model",
    "api_key_env",
    "timeout_seconds",
    "concurrency",
    "rate_limit_per_minute",
    "max_output_tokens",
)


def _assist_settings_post(request: HttpRequest, campaign: Any, out: _AssistForms) -> str | None:
    """Save the model settings form; the URL fragment to go back to, or None (``out`` holds
    the errors and what was typed)."""
    out.form = _form_data(request.POST, ASSIST_TEXT_FIELDS, ASSIST_FLAG_FIELDS)
    serializer = AssistSettingsIn(data=out.form)
    if not serializer.is_valid():
        out.message = "The model assistance settings were not saved; see each field."
        out.errors, out.status = _serializer_errors(serializer.errors), 400
        return None
    try:
        assist_settings_update(
            campaign=campaign, actor=request.user, changes=dict(serializer.validated_data)
        )
    except DomainError as exc:
        out.message, out.errors, out.status = exc.message, _errors_of(exc), status_for(exc)
        return None
    messages.success(request, "Model assistance settings saved.", extra_tags=SECTION_ASSIST)
    return "#" + SECTION_ASSIST


def _assist_prompt_post(request: HttpRequest, campaign: Any, out: _AssistForms) -> str | None:
    purpose = request.POST.get("purpose", "")
    text = request.POST.get("text", "")
    if request.POST.get("action") == "reset" and purpose in prompts.INSTRUCTIONS:
        text = prompts.INSTRUCTIONS[purpose]
    try:
        saved = assist_prompt_save(
            campaign=campaign, actor=request.user, purpose=purpose, text=text
        )
    except DomainError as exc:
        out.prompt_text[purpose] = text
        out.prompt_errors[purpose] = [exc.message, *error_problems(exc)]
        out.status = status_for(exc)
        return None
    section = _prompt_section(purpose)
    if saved is None:
        messages.info(
            request,
            "The built-in prompt is in use already; nothing was saved.",
            extra_tags=section,
        )
    else:
        messages.success(
            request,
            f"The {label(purpose, AssistPurpose).lower()} prompt in use is now "
            f"{prompts.campaign_version(saved.number)}.",
            extra_tags=section,
        )
    return "#" + section


def _assist_test_post(request: HttpRequest, campaign: Any) -> str:
    try:
        result = assist_connection_test(campaign=campaign, actor=request.user)
    except DomainError as exc:
        messages.error(request, error_message(exc), extra_tags=SECTION_ASSIST_TEST)
    else:
        if result.ok and not result.follows_instructions:
            messages.warning(
                request,
                f"Connection test: {result.model}: {result.message}",
                extra_tags=SECTION_ASSIST_TEST,
            )
        elif result.ok:
            messages.success(
                request,
                f"Connection test: {result.model} answered in {result.latency_ms} ms.",
                extra_tags=SECTION_ASSIST_TEST,
            )
        else:
            messages.error(
                request,
                f"Connection test failed ({result.reason}): {result.message}",
                extra_tags=SECTION_ASSIST_TEST,
            )
    return "#" + SECTION_ASSIST_TEST


@login_required
def guidelines_page(request: HttpRequest, slug: str) -> HttpResponse:
    """Members: the rendered guidelines (opening them marks them read). Curators also get the
    editor with live preview (POST saves a new version) and the version history."""
    campaign = campaign_for_member(user=request.user, slug=slug)
    is_curator = Role.CURATOR in roles(request.user, campaign)
    errors: Errors = {}
    message = ""
    status = 200
    text = campaign.guidelines
    was_unread = False
    if request.method == "POST":
        if not is_curator:
            raise NotAllowed(f"This needs the curator role in campaign {campaign.slug!r}.")
        serializer = GuidelinesIn(data={"text": request.POST.get("text", "")})
        text = request.POST.get("text", "")
        if serializer.is_valid():
            try:
                version = guidelines_save(
                    campaign=campaign, actor=request.user, text=serializer.validated_data["text"]
                )
            except DomainError as exc:
                message, errors, status = exc.message, _errors_of(exc), status_for(exc)
            else:
                messages.success(
                    request,
                    f"Saved as version {version.number}."
                    if version
                    else "Nothing changed; no new version.",
                )
                return redirect("guidelines-page", slug=campaign.slug)
        else:
            message = "The guidelines were not saved."
            errors, status = _serializer_errors(serializer.errors), 400
    else:
        # Read before marking: the page says once that they changed, then they are read.
        was_unread = campaigns.guidelines_unread(campaign=campaign, user=request.user)
        guidelines_mark_read(campaign=campaign, actor=request.user)
    versions = list(campaigns.guidelines_versions(campaign)[:100]) if is_curator else []
    return render(
        request,
        "annotation/guidelines.html",
        {
            "campaign": campaign,
            "is_curator": is_curator,
            "html": render_markdown(campaign.guidelines),
            "newest": versions[0] if versions else None,
            "versions": versions,
            "text": text,
            "preview_html": render_markdown(text),
            "was_unread": was_unread,
            "errors": errors,
            "message": message,
            "preview_url": f"/api/v1/campaigns/{campaign.slug}/preview/",
        },
        status=status,
    )


@login_required
def guidelines_version_page(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    """One guidelines version (curators): rendered, with its diff to the version before."""
    campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
    item = campaigns.guidelines_version(campaign=campaign, number=number)
    return render(
        request,
        "annotation/guidelines_version.html",
        {"campaign": campaign, "item": item, "html": render_markdown(item.version.text)},
    )
