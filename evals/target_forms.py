"""Forms of targets and of the egress settings. They parse; services decide.

Secrets (the API key and the headers) are never rendered back into a page: their inputs
always start empty, and empty means "keep what is stored".
"""

from django import forms

from evals.models import HttpMethod, Target, TargetKind
from evals.services import TARGET_FIELDS
from genai_po.forms import TextLimitsMixin

KEEP_STORED_HELP = "Stored encrypted. Leave empty to keep the current {what}."


class SecretTextarea(forms.Textarea):
    """A textarea that never shows a value, not even the one just typed (like a password)."""

    def format_value(self, value):
        return None


class TargetForm(TextLimitsMixin, forms.Form):
    limits_model = Target

    """Both kinds of target in one form; the service checks what each kind needs."""

    # Grouped for the template: each group is a fieldset with its heading and help.
    GENERAL = ("name", "kind", "url")
    OPENAI = ("model", "system_prompt", "temperature", "max_tokens")
    HTTP_JSON = ("method", "body_template", "response_path")
    LIMITS = (
        "timeout_s", "concurrency", "rate_limit_per_s", "max_attempts",
        "cost_per_1k_input", "cost_per_1k_output",
    )  # fmt: skip

    name = forms.CharField(max_length=120, help_text="How plans and runs name this target.")
    kind = forms.ChoiceField(
        choices=TargetKind.choices, widget=forms.RadioSelect, initial=TargetKind.OPENAI_CHAT
    )
    url = forms.CharField(
        max_length=500,
        label="URL",
        help_text="OpenAI-compatible: the base URL ending in /v1 (…/chat/completions is added). "
        "HTTP JSON: the full URL of the endpoint.",
        widget=forms.TextInput(attrs={"inputmode": "url", "placeholder": "https://"}),
    )
    # Both kinds: secrets.
    api_key = forms.CharField(
        required=False,
        strip=True,
        label="API key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Sent as an Authorization: Bearer header. Stored encrypted.",
    )
    clear_api_key = forms.BooleanField(required=False, label="Remove the stored key")
    headers = forms.CharField(
        required=False,
        label="Extra headers",
        widget=SecretTextarea(attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false"}),
        help_text='A JSON object, e.g. {"X-Team": "support"}. Values may hold credentials: '
        "stored encrypted, never shown again.",
    )
    clear_headers = forms.BooleanField(required=False, label="Remove the stored headers")
    # OpenAI-compatible chat completions.
    model = forms.CharField(
        max_length=200, required=False, help_text="The model name the endpoint expects."
    )
    system_prompt = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Sent first in every conversation; {{input}} and case variables are filled in.",
    )
    temperature = forms.FloatField(required=False, help_text="0 to 2; empty uses the default.")
    max_tokens = forms.IntegerField(required=False, label="Max tokens")
    # HTTP JSON endpoint.
    method = forms.ChoiceField(choices=HttpMethod.choices, initial=HttpMethod.POST)
    body_template = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text='JSON with {{variable}} placeholders, e.g. {"question": "{{input}}"}. '
        "Available: input, prompt, context, messages and the case's variables.",
    )
    response_path = forms.CharField(
        max_length=200,
        required=False,
        help_text="Where the answer is in the JSON reply, e.g. answer or data.items.0.text.",
    )
    # Both kinds: limits and cost.
    timeout_s = forms.FloatField(initial=30, label="Timeout (seconds)")
    concurrency = forms.IntegerField(initial=8, help_text="Requests in flight at once (1-256).")
    rate_limit_per_s = forms.FloatField(
        required=False, label="Rate limit (requests/second)", help_text="Empty: no limit."
    )
    max_attempts = forms.IntegerField(
        initial=3, label="Attempts per case", help_text="Retries on timeouts, 429 and 5xx (1-10)."
    )
    cost_per_1k_input = forms.DecimalField(
        required=False, max_digits=10, decimal_places=6, label="Cost per 1,000 input tokens"
    )
    cost_per_1k_output = forms.DecimalField(
        required=False, max_digits=10, decimal_places=6, label="Cost per 1,000 output tokens"
    )

    def __init__(self, *args, target=None, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.target = target
        self.has_api_key = bool(target and target.api_key)
        self.header_names = list(target.header_names or []) if target else []
        if self.has_api_key:
            self.fields["api_key"].help_text = KEEP_STORED_HELP.format(what="key")
        else:
            del self.fields["clear_api_key"]
        if target and target.headers:
            self.fields["headers"].help_text = (
                KEEP_STORED_HELP.format(what="headers")
                + ' Typing a JSON object, e.g. {"X-Team": "support"}, replaces them all.'
            )
        else:
            del self.fields["clear_headers"]

    def clean(self):
        data = super().clean()
        for secret, clear in (("api_key", "clear_api_key"), ("headers", "clear_headers")):
            if data.get(clear) and (data.get(secret) or "").strip():
                self.add_error(clear, "Either type a new value or remove the stored one, not both.")
        return data

    def service_data(self) -> dict:
        """The service's `data`: None keeps a stored secret, "" clears it, text sets it."""
        data = {f: self.cleaned_data[f] for f in TARGET_FIELDS if f not in ("api_key", "headers")}
        for secret, clear in (("api_key", "clear_api_key"), ("headers", "clear_headers")):
            typed = (self.cleaned_data.get(secret) or "").strip()
            if typed:
                data[secret] = typed
            elif self.cleaned_data.get(clear):
                data[secret] = ""
            else:
                data[secret] = None
        return data

    @property
    def secrets_dropped(self) -> bool:
        """A secret was typed into a form that is shown again: it is not, so say so."""
        return self.is_bound and any(
            (self.data.get(self.add_prefix(f)) or "").strip() for f in ("api_key", "headers")
        )

    @staticmethod
    def initial_from(target) -> dict:
        return {f: getattr(target, f) for f in TARGET_FIELDS if f not in ("api_key", "headers")}

    def group(self, names):
        return [self[name] for name in names]

    @property
    def general_fields(self):
        return self.group(self.GENERAL)

    @property
    def openai_fields(self):
        return self.group(self.OPENAI)

    @property
    def http_json_fields(self):
        return self.group(self.HTTP_JSON)

    @property
    def limit_fields(self):
        return self.group(self.LIMITS)


class EgressForm(forms.Form):
    allow_loopback = forms.BooleanField(
        required=False,
        label="Allow loopback addresses (127.0.0.0/8, ::1)",
        help_text="Only for a target running on the same host as the workers, e.g. a local "
        "reference agent.",
    )
    allow_private = forms.BooleanField(
        required=False,
        label="Allow private networks (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7)",
        help_text="Lets targets reach anything on the internal network the workers sit in. "
        "Prefer listing the networks you need below.",
    )
    allowed_networks = forms.CharField(
        required=False,
        label="Extra networks",
        widget=forms.Textarea(
            attrs={"rows": 4, "spellcheck": "false", "placeholder": "10.20.0.0/16"}
        ),  # fmt: skip
        help_text="One CIDR network per line, e.g. 10.20.0.0/16 or fd12:3456::/48.",
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def service_data(self) -> dict:
        lines = self.cleaned_data["allowed_networks"].splitlines()
        return {
            "allow_loopback": self.cleaned_data["allow_loopback"],
            "allow_private": self.cleaned_data["allow_private"],
            "allowed_networks": [line.strip() for line in lines if line.strip()],
        }

    @staticmethod
    def initial_from(row) -> dict:
        return {
            "allow_loopback": row.allow_loopback,
            "allow_private": row.allow_private,
            "allowed_networks": "\n".join(row.allowed_networks or []),
        }
