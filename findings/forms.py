"""The findings pages' forms: the list's filters and triage (one finding or a selection)."""

from __future__ import annotations

from uuid import UUID

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator

from findings.models import FindingStatus, Severity, SourceCategory
from findings.selectors import (
    DEFAULT_SORT,
    FILTER_EARLIEST,
    FILTER_LATEST,
    SORTS,
    BadCursor,
    FindingFilters,
    decode_cursor,
)
from findings.services import TRIAGE_BULK_MAX, TRIAGE_NOTE_MAX


class UUIDListField(forms.Field):
    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[UUID]:
        try:
            return [UUID(str(v)) for v in value or []]
        except ValueError as exc:
            raise ValidationError("Not a finding id.", code="invalid") from exc


def _date_filter() -> forms.DateField:
    return forms.DateField(
        required=False,
        widget=forms.DateInput(
            {"type": "date", "min": FILTER_EARLIEST.isoformat(), "max": FILTER_LATEST.isoformat()}
        ),
        validators=[MinValueValidator(FILTER_EARLIEST), MaxValueValidator(FILTER_LATEST)],
    )


class FindingFilterForm(forms.Form):
    severity = forms.MultipleChoiceField(
        choices=Severity.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    status = forms.MultipleChoiceField(
        choices=FindingStatus.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    tool = forms.CharField(required=False, max_length=100)
    category = forms.ChoiceField(
        choices=[("", "Any category"), *SourceCategory.choices], required=False
    )
    asset = forms.UUIDField(required=False)  # the <select> is drawn by the template
    session = forms.UUIDField(required=False, widget=forms.HiddenInput)
    first_seen_from = _date_filter()
    first_seen_to = _date_filter()
    last_seen_from = _date_filter()
    last_seen_to = _date_filter()
    q = forms.CharField(required=False, max_length=200, strip=True)
    sort = forms.ChoiceField(
        choices=[(k, s.label) for k, s in SORTS.items()], required=False, initial=DEFAULT_SORT
    )
    after = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        sort = data.get("sort") or DEFAULT_SORT
        data["sort"] = sort
        if data.get("after"):
            try:
                decode_cursor(data["after"], sort)
            except BadCursor:
                self.add_error("after", "That page link has expired; showing the first page.")
                data["after"] = ""
        return data

    def filters(self) -> FindingFilters:
        """The valid part of the query: a bad field is reported and ignored, not fatal."""
        data = self.cleaned_data
        return FindingFilters(
            severities=tuple(data.get("severity") or ()),
            statuses=tuple(data.get("status") or ()),
            tool=data.get("tool") or "",
            source_category=data.get("category") or "",
            asset_id=data.get("asset"),
            session_id=data.get("session"),
            first_seen_from=data.get("first_seen_from"),
            first_seen_to=data.get("first_seen_to"),
            last_seen_from=data.get("last_seen_from"),
            last_seen_to=data.get("last_seen_to"),
            text=data.get("q") or "",
        )


class TriageForm(forms.Form):
    status = forms.ChoiceField(choices=FindingStatus.choices)
    note = forms.CharField(
        required=False, max_length=TRIAGE_NOTE_MAX, widget=forms.Textarea({"rows": 3})
    )


class BulkTriageForm(TriageForm):
    ids = UUIDListField(error_messages={"required": "Select at least one finding."})
    next = forms.CharField(required=False, max_length=2000)

    def clean_ids(self) -> list[UUID]:
        ids = self.cleaned_data["ids"]
        if len(ids) > TRIAGE_BULK_MAX:
            raise ValidationError(f"Select at most {TRIAGE_BULK_MAX} findings at a time.")
        return ids
