"""Shapes of the evals API: targets, plans, versioned cases, runs and their results.

These check types and shapes; `evals.services` checks the rules. Target secrets are
write-only: an answer says whether they are set, never what they are.

Each resource's request shapes carry the component name of its answer (`Target`,
`EvalPlan`, `EvalCase`), so the schema shows one family per resource and each choice
set (target kind, run status…) is named once.
"""

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from evals.case_io import FORMATS
from evals.models import (
    Cadence,
    EvalCase,
    EvalPlan,
    EvalResult,
    EvalRun,
    HttpMethod,
    ResultStatus,
    RunStatus,
    Target,
    TargetKind,
    TriageCategory,
)
from genai_po.api.fields import id_field, number_field
from usecases.api.serializers import OrgPrimaryKeyRelatedField, StrictInputSerializer
from usecases.models import UseCase

_READ_ONLY_HINT = "Read-only."


def _text(max_length=None, **kwargs):
    return serializers.CharField(required=False, allow_blank=True, max_length=max_length, **kwargs)


def _json_list():
    return serializers.ListField(child=serializers.DictField(), required=False)


# --- Targets


class TargetSerializer(serializers.ModelSerializer):
    """An AI system under test, or a judge. Its API key and header values are never shown."""

    api_key_set = serializers.SerializerMethodField(help_text="Whether an API key is stored.")
    header_names = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Names of the extra headers."
    )
    archived = serializers.SerializerMethodField()

    class Meta:
        model = Target
        fields = [
            "id", "name", "kind", "url", "model", "api_key_set", "header_names",
            "system_prompt", "temperature", "max_tokens", "method", "body_template",
            "response_path", "timeout_s", "concurrency", "rate_limit_per_s", "max_attempts",
            "cost_per_1k_input", "cost_per_1k_output", "last_checked_at", "last_check_ok",
            "last_check_message", "archived", "archived_at", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_api_key_set(self, target) -> bool:
        return bool(target.api_key)  # whether a token is stored; nothing is decrypted

    def get_archived(self, target) -> bool:
        return target.archived_at is not None


_TARGET_HINTS = {
    "api_key_set": 'Set the key with "api_key" ("" removes it).',
    "header_names": 'Set headers with "headers", a JSON object ({} removes them).',
    **dict.fromkeys(
        ["id", "last_checked_at", "last_check_ok", "last_check_message", "archived_at",
         "created_at", "updated_at"],
        _READ_ONLY_HINT,
    ),
}  # fmt: skip


class _TargetInputSerializer(StrictInputSerializer):
    hints = _TARGET_HINTS

    name = serializers.CharField(required=False, max_length=120)
    kind = serializers.ChoiceField(choices=TargetKind.choices, required=False)
    url = serializers.CharField(
        required=False,
        max_length=500,
        help_text="Base URL of chat completions (…/v1), or the full URL of a JSON endpoint.",
    )
    model = _text(200)
    api_key = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        max_length=4000,
        help_text='Write-only, stored encrypted; "" removes it, leaving it out keeps it.',
    )
    system_prompt = _text()
    temperature = serializers.FloatField(required=False, allow_null=True)
    max_tokens = serializers.IntegerField(required=False, allow_null=True)
    method = serializers.ChoiceField(choices=HttpMethod.choices, required=False)
    body_template = _text(help_text='JSON with {{variable}} placeholders, e.g. {"q": "{{input}}"}.')
    response_path = _text(200, help_text="Where the answer is, e.g. data.answer")
    headers = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        required=False,
        write_only=True,
        help_text="Write-only, stored encrypted: extra headers by name. {} removes them, "
        "leaving it out keeps them.",
    )
    timeout_s = serializers.FloatField(required=False)
    concurrency = serializers.IntegerField(required=False)
    rate_limit_per_s = serializers.FloatField(
        required=False, allow_null=True, help_text="Requests per second"
    )
    max_attempts = serializers.IntegerField(required=False)
    cost_per_1k_input = serializers.DecimalField(
        max_digits=10, decimal_places=6, required=False, allow_null=True
    )
    cost_per_1k_output = serializers.DecimalField(
        max_digits=10, decimal_places=6, required=False, allow_null=True
    )


@extend_schema_serializer(component_name="Target")
class TargetCreateSerializer(_TargetInputSerializer):
    """A new target: a name, a kind and a URL, and whatever else the kind needs."""

    hints = {**_TARGET_HINTS, "archived": "Create the target, then archive it with PATCH."}

    name = serializers.CharField(max_length=120)
    kind = serializers.ChoiceField(choices=TargetKind.choices)
    url = serializers.CharField(max_length=500)


@extend_schema_serializer(component_name="Target")
class TargetUpdateSerializer(_TargetInputSerializer):
    """Changes to a target; `archived` archives or restores it (there is no DELETE)."""

    archived = serializers.BooleanField(required=False)


class TargetListFilterSerializer(serializers.Serializer):
    archived = serializers.BooleanField(
        required=False, default=False, help_text="true: only archived targets"
    )


class ConnectionCheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()


# --- Plans


class LastRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    status = serializers.CharField(help_text="queued, running, completed, failed or cancelled")
    pass_rate = serializers.FloatField(allow_null=True, help_text="0-1; null until finished")


class EvalPlanSerializer(serializers.ModelSerializer):
    """How a use case is evaluated: target, scorers, thresholds, cadence, the case set."""

    use_case = serializers.PrimaryKeyRelatedField(read_only=True)
    use_case_key = serializers.CharField(source="use_case.key", read_only=True)
    target = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    judge_target = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    scorers = serializers.ListField(child=serializers.DictField(), read_only=True)
    forbidden_phrases = serializers.ListField(child=serializers.CharField(), read_only=True)
    approved_sources = serializers.ListField(child=serializers.CharField(), read_only=True)
    pass_threshold = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        coerce_to_string=False,
        read_only=True,
        help_text="Overall pass rate (%) a run needs, 0-100.",
    )
    requirement_thresholds = serializers.DictField(
        child=serializers.FloatField(), read_only=True, help_text='Percent by key, {"REQ-3": 100}'
    )
    tag_thresholds = serializers.DictField(
        child=serializers.FloatField(), read_only=True, help_text='Percent by tag, {"refunds": 95}'
    )
    case_version = serializers.IntegerField(read_only=True, help_text="Current case-set version")
    case_count = serializers.IntegerField(read_only=True, help_text="Cases in the current version")
    last_run = serializers.SerializerMethodField()
    archived = serializers.SerializerMethodField()

    class Meta:
        model = EvalPlan
        fields = [
            "id", "use_case", "use_case_key", "name", "description", "target", "judge_target",
            "scorers", "forbidden_phrases", "approved_sources", "pass_threshold",
            "requirement_thresholds", "tag_thresholds", "repetitions", "cadence", "next_run_at",
            "case_version", "case_count", "last_run", "archived", "archived_at", "created_at",
            "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(LastRunSerializer(allow_null=True))
    def get_last_run(self, plan) -> dict | None:
        run = getattr(plan, "last_run", None)  # attached by the view, one query per page
        if run is None:
            return None
        return {"id": run.pk, "number": run.number, "status": run.status,
                "pass_rate": run.pass_rate}  # fmt: skip

    def get_archived(self, plan) -> bool:
        return plan.archived_at is not None


_PLAN_HINTS = {
    "use_case": "A plan stays with its use case: create a new plan there instead.",
    "case_version": "Cases change through /api/v1/eval-plans/{id}/cases/.",
    "case_count": "Cases change through /api/v1/eval-plans/{id}/cases/.",
    "last_run": "Start a run with POST /api/v1/eval-plans/{id}/runs/.",
    **dict.fromkeys(
        ["id", "use_case_key", "next_run_at", "archived_at", "created_at", "updated_at"],
        _READ_ONLY_HINT,
    ),
}


def _percent_map(example: str):
    return serializers.DictField(
        child=serializers.FloatField(),
        required=False,
        help_text=f'Pass rate (%, 0-100) needed by key, e.g. {{"{example}": 95}}.',
    )


class _PlanInputSerializer(StrictInputSerializer):
    hints = _PLAN_HINTS

    name = serializers.CharField(required=False, max_length=200)
    description = _text()
    target = OrgPrimaryKeyRelatedField(
        Target, "target", required=False, allow_null=True, help_text="Id of the target."
    )
    judge_target = OrgPrimaryKeyRelatedField(
        Target,
        "target",
        required=False,
        allow_null=True,
        help_text="Id of an OpenAI-compatible target used by LLM-as-judge scorers.",
    )
    scorers = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text='Scorers applied to every case, e.g. [{"type": "escalation"}].',
    )
    forbidden_phrases = serializers.ListField(
        child=serializers.CharField(allow_blank=True), required=False
    )
    approved_sources = serializers.ListField(
        child=serializers.CharField(allow_blank=True), required=False
    )
    pass_threshold = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        required=False,
        help_text="Overall pass rate (%) a run needs, 0-100.",
    )
    requirement_thresholds = _percent_map("REQ-3")
    tag_thresholds = _percent_map("refunds")
    repetitions = serializers.IntegerField(required=False, help_text="1-20")
    cadence = serializers.ChoiceField(choices=Cadence.choices, required=False)


@extend_schema_serializer(component_name="EvalPlan")
class EvalPlanCreateSerializer(_PlanInputSerializer):
    """A new eval plan of a use case."""

    hints = {
        **{k: v for k, v in _PLAN_HINTS.items() if k != "use_case"},
        "archived": "Create the plan, then archive it with PATCH.",
    }

    use_case = OrgPrimaryKeyRelatedField(UseCase, "use case", help_text="Id of the use case.")
    name = serializers.CharField(max_length=200)


@extend_schema_serializer(component_name="EvalPlan")
class EvalPlanUpdateSerializer(_PlanInputSerializer):
    """Changes to a plan; `archived` archives or restores it (there is no DELETE)."""

    archived = serializers.BooleanField(required=False)


class EvalPlanListFilterSerializer(serializers.Serializer):
    use_case = id_field(required=False, help_text="Id of the use case.")
    archived = serializers.BooleanField(
        required=False, default=False, help_text="true: only archived plans"
    )


# --- Cases


class EvalCaseSerializer(serializers.ModelSerializer):
    """One case (CASE-<number>) as it is in the case-set version asked for."""

    key = serializers.CharField(read_only=True, help_text="CASE-<number>; never changes.")
    messages = serializers.ListField(child=serializers.DictField(), read_only=True)
    variables = serializers.DictField(read_only=True)
    tags = serializers.ListField(child=serializers.CharField(), read_only=True)
    scorers = serializers.ListField(child=serializers.DictField(), read_only=True)
    requirement_keys = serializers.SerializerMethodField()

    class Meta:
        model = EvalCase
        fields = [
            "key", "number", "name", "prompt", "messages", "variables", "expected",
            "expected_behavior", "context", "tags", "requirement_keys", "must_escalate",
            "scorers", "pass_threshold", "origin", "version_added",
        ]  # fmt: skip
        read_only_fields = fields

    def get_requirement_keys(self, case) -> list[str]:
        # Prefetched by the views: no query per case.
        return [f"REQ-{r.number}" for r in sorted(case.requirements.all(), key=lambda r: r.number)]


@extend_schema_serializer(component_name="EvalCase")
class EvalCaseInputSerializer(StrictInputSerializer):
    """A case's fields. A change makes a new case-set version; runs keep the version they ran."""

    hints = {
        "key": "Keys are given once and never change.",
        "number": "Keys are given once and never change.",
        "origin": _READ_ONLY_HINT,
        "version_added": _READ_ONLY_HINT,
    }

    name = _text(200)
    prompt = _text(help_text="The user's message; or give messages.")
    messages = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text='Chat messages: [{"role": "user", "content": "…"}]; or give prompt.',
    )
    variables = serializers.DictField(required=False, help_text="Names with text or numbers.")
    expected = _text(help_text="Expected output, for equality or similarity scorers.")
    expected_behavior = _text()
    context = _text()
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    requirement_keys = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text='Requirements of the plan\'s use case this case verifies, e.g. ["REQ-3"].',
    )
    must_escalate = serializers.BooleanField(required=False)
    scorers = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="Scorers of this case only."
    )
    pass_threshold = serializers.FloatField(
        required=False,
        allow_null=True,
        help_text="Weighted score needed, 0-1; null means every scorer must pass.",
    )


class CaseListFilterSerializer(serializers.Serializer):
    version = number_field(
        required=False, help_text="A case-set version of the plan (default: the current one)."
    )


class CaseImportParamsSerializer(serializers.Serializer):
    format = serializers.ChoiceField(
        choices=list(FORMATS),
        required=False,
        help_text="The file's format; when left out, it is told from the Content-Type, "
        "the file name and the first line.",
    )
    filename = serializers.CharField(
        required=False, max_length=200, help_text="The file's name, kept as the cases' source."
    )


class CaseImportResultSerializer(serializers.Serializer):
    imported = serializers.IntegerField(help_text="Cases added")
    case_version = serializers.IntegerField(help_text="The new case-set version")


# --- Runs


class RunStartSerializer(StrictInputSerializer):
    """Start a run of the plan's current case set."""

    label = _text(200, help_text="e.g. a commit or a branch")
    ci_metadata = serializers.DictField(
        required=False,
        help_text="What CI knows (commit, branch, link to the job); given: the run's trigger "
        "is ci, else api.",
    )

    def validate_ci_metadata(self, value):
        if len(value) > 50:
            raise serializers.ValidationError("At most 50 keys.")
        return value


class ExternalRunParamsSerializer(serializers.Serializer):
    label = _text(200, help_text="e.g. a commit or a branch")


class ThresholdCheckSerializer(serializers.Serializer):
    scope = serializers.CharField(help_text="overall, requirement or tag")
    key = serializers.CharField(help_text='REQ-<n> or a tag; "" for overall')
    required = serializers.FloatField(help_text="0-1")
    actual = serializers.FloatField(allow_null=True, help_text="0-1")
    met = serializers.BooleanField()


class RunRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()


class ComparisonSerializer(serializers.Serializer):
    baseline = RunRefSerializer()
    counts = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Cases by group: newly_failing, fixed, still_failing, still_passing, added, "
        "removed.",
    )
    cases = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Case keys by group (at most 200 each).",
    )


class EvalRunSerializer(serializers.ModelSerializer):
    """A run of a plan: its state, counts (live while it runs), thresholds and summary.

    Counts of an active run are read from its results as they arrive; the `summary`,
    `threshold_report` and `pass_rate` are written when it finishes.
    """

    plan = serializers.PrimaryKeyRelatedField(read_only=True)
    status = serializers.ChoiceField(choices=RunStatus.choices, read_only=True)
    done_items = serializers.SerializerMethodField()
    passed = serializers.SerializerMethodField()
    failed = serializers.SerializerMethodField()
    errored = serializers.SerializerMethodField(help_text="Errors and dead items.")
    pass_rate = serializers.FloatField(
        read_only=True, allow_null=True, help_text="0-1; null until the run finishes."
    )
    pass_threshold = serializers.SerializerMethodField()
    thresholds_met = serializers.BooleanField(read_only=True, allow_null=True)
    threshold_report = serializers.SerializerMethodField()
    eta_seconds = serializers.SerializerMethodField()
    ci_metadata = serializers.DictField(child=serializers.CharField(), read_only=True)
    summary = serializers.DictField(
        read_only=True,
        help_text="Counts, pass rates by requirement and tag, latency percentiles, usage, "
        "flaky cases; {} until the run finishes.",
    )
    comparison = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField(help_text="The run's page in the browser.")

    class Meta:
        model = EvalRun
        fields = [
            "id", "number", "plan", "status", "trigger", "label", "ci_metadata", "case_version",
            "target_label", "repetitions", "total_items", "done_items", "passed", "failed",
            "errored", "pass_rate", "pass_threshold", "thresholds_met", "threshold_report",
            "eta_seconds", "is_baseline", "error", "summary", "comparison", "created_at",
            "started_at", "finished_at", "url",
        ]  # fmt: skip
        read_only_fields = fields

    def _live(self, run) -> dict | None:
        """Counts of an active run, given by the view (`progress`: run id -> counts)."""
        if not run.is_active:
            return None
        return self.context.get("progress", {}).get(run.pk)

    def get_done_items(self, run) -> int:
        live = self._live(run)
        if live is not None:
            return live["done"]
        return (
            (run.summary or {}).get("counts", {}).get("done", run.passed + run.failed + run.errored)
        )

    def get_passed(self, run) -> int:
        live = self._live(run)
        return live["passed"] if live is not None else run.passed

    def get_failed(self, run) -> int:
        live = self._live(run)
        return live["failed"] if live is not None else run.failed

    def get_errored(self, run) -> int:
        live = self._live(run)
        return live["errored"] + live["dead"] if live is not None else run.errored

    def get_pass_threshold(self, run) -> float | None:
        """The overall pass rate the run needs, 0-1, as frozen when it was queued."""
        return (run.config or {}).get("pass_threshold")

    @extend_schema_field(ThresholdCheckSerializer(many=True))
    def get_threshold_report(self, run) -> list:
        return (run.summary or {}).get("threshold_report", [])

    def get_eta_seconds(self, run) -> float | None:
        """Seconds left at the pace so far, while the run is running (not given in lists)."""
        live = self._live(run)
        return live.get("eta_seconds") if live is not None else None

    @extend_schema_field(ComparisonSerializer(allow_null=True))
    def get_comparison(self, run) -> dict | None:
        """Against the baseline (or the previous completed run): given for one completed
        run, null in lists."""
        return self.context.get("comparison", {}).get(run.pk)

    def get_url(self, run) -> str:
        return self.context["run_url"](run)


class RunListFilterSerializer(serializers.Serializer):
    plan = id_field(required=False, help_text="Id of the plan.")
    status = serializers.ChoiceField(choices=RunStatus.choices, required=False, allow_blank=True)


# --- Results and triage


class TriageSerializer(StrictInputSerializer):
    """Why a case failed in a run, as a person (or a token) judged it."""

    hints = {"author": _READ_ONLY_HINT, "updated_at": _READ_ONLY_HINT}

    category = serializers.ChoiceField(choices=TriageCategory.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    author = serializers.CharField(source="author_label", read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class EvalResultSerializer(serializers.ModelSerializer):
    """The outcome of one (case, repetition) of a run."""

    case = serializers.SerializerMethodField(help_text="CASE-<number>")
    status = serializers.ChoiceField(choices=ResultStatus.choices, read_only=True)
    assertions = serializers.ListField(
        child=serializers.DictField(),
        read_only=True,
        help_text="Each scorer's verdict: {type, label, passed, score, reason, weight}.",
    )
    triage = serializers.SerializerMethodField()

    class Meta:
        model = EvalResult
        fields = [
            "case", "case_number", "repetition", "status", "score", "output", "handoff",
            "assertions", "error", "latency_ms", "tokens_in", "tokens_out", "cost", "attempts",
            "triage",
        ]  # fmt: skip
        read_only_fields = fields

    def get_case(self, result) -> str:
        return f"CASE-{result.case_number}"

    @extend_schema_field(TriageSerializer(allow_null=True))
    def get_triage(self, result) -> dict | None:
        triage = self.context.get("triages", {}).get(result.case_id)
        return TriageSerializer(triage).data if triage is not None else None


class ResultFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ResultStatus.choices, required=False, allow_blank=True)
    case = number_field(required=False, help_text="A case number.")
