from __future__ import annotations

from django import forms

from agents.api.serializers import LABEL_KEY, SLUG
from agents.models import AgentType


def _words(value: str, field: str) -> list[str]:
    words = sorted({w.strip() for w in value.split(",") if w.strip()})
    bad = [w for w in words if not SLUG.match(w)]
    if bad:
        raise forms.ValidationError(
            f"{', '.join(bad)}: use lower-case letters, digits, '.', '_', '+' or '-'."
        )
    return words


class AgentForm(forms.Form):
    name = forms.CharField(max_length=200)
    type = forms.ChoiceField(choices=AgentType.choices, initial=AgentType.WORKER)
    tools = forms.CharField(required=False, help_text="Comma-separated, e.g. bandit, semgrep")
    capabilities = forms.CharField(
        required=False,
        help_text="e.g. sast, secrets; left empty, those its tools give (bandit: sast)",
    )
    labels = forms.CharField(required=False, help_text="e.g. region=eu, pool=ci")
    max_concurrent_jobs = forms.IntegerField(min_value=1, max_value=1000, initial=2)

    def clean_tools(self) -> list[str]:
        return _words(self.cleaned_data["tools"], "tools")

    def clean_capabilities(self) -> list[str]:
        return _words(self.cleaned_data["capabilities"], "capabilities")

    def clean_labels(self) -> dict[str, str]:
        labels = {}
        for pair in filter(None, (p.strip() for p in self.cleaned_data["labels"].split(","))):
            key, _, value = pair.partition("=")
            if not LABEL_KEY.match(key.strip()):
                raise forms.ValidationError(f"{pair!r} is not key=value")
            labels[key.strip()] = value.strip()
        return labels
