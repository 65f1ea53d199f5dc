"""REST API of the unified backlog: `backlog/` (the live list every area feeds, read only)
and `backlog-items/` (the feature items, BL-n, by number).

Thin, like the pages: parse with a strict serializer, read through `usecases.backlog`,
write through `usecases.backlog_services` (validation and audit live there).
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from genai_po.api.base import OrgScopedViewSet
from genai_po.api.errors import drf_validation_error as _invalid
from genai_po.api.fields import MAX_NUMBER, id_field
from genai_po.inputs import MAX_INT
from usecases import backlog, backlog_services
from usecases.api.serializers import ErrorSerializer, StrictInputSerializer
from usecases.models import BacklogItem, BacklogItemStatus, UseCase

_INVALID = OpenApiResponse(ErrorSerializer, description="Invalid input; `errors` by field.")
_NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such object in this organization.")
_NO_SUCH_USE_CASE = "No such use case here."
_USE_CASE_KEY = re.compile(r"UC-(\d{1,10})", re.IGNORECASE)


def _use_case_of(organization, ref) -> UseCase | None:
    """The organization's use case named by its id or key (UC-3), or a 400 naming the field:
    another organization's is as unknown as one that does not exist."""
    if ref in (None, ""):
        return None
    rows = UseCase.objects.for_org(organization)
    text = str(ref).strip()
    if match := _USE_CASE_KEY.fullmatch(text):
        number = int(match.group(1))
        found = rows.filter(number=number).first() if number <= MAX_NUMBER else None
    elif text.isascii() and text.isdigit() and len(text) < 20 and 0 < int(text) <= MAX_INT:
        found = rows.filter(pk=int(text)).first()
    else:
        raise ValidationError({"use_case": ["Give the use case's id or key (UC-3)."]})
    if found is None:
        raise ValidationError({"use_case": [_NO_SUCH_USE_CASE]})
    return found


# --- The backlog


class _KindsField(serializers.ListField):
    """The kinds asked for; each unknown one is refused in one flat message."""

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail = exc.detail.values() if isinstance(exc.detail, dict) else [exc.detail]
            raise serializers.ValidationError([m for messages in detail for m in messages]) from exc


class BacklogFilterSerializer(StrictInputSerializer):
    """Query parameters of the backlog."""

    kind = _KindsField(
        child=serializers.ChoiceField(choices=[]),
        required=False,
        help_text="Only these kinds: repeat the parameter or separate kinds with commas.",
    )
    owner = serializers.CharField(
        required=False,
        max_length=20,
        help_text="A user id: only that member's entries; `none`: the entries nobody owns.",
    )
    use_case = serializers.CharField(
        required=False, max_length=30, help_text="The use case's id or key (UC-3)."
    )
    page = serializers.IntegerField(required=False, min_value=1, max_value=MAX_NUMBER)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_NUMBER)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The kinds are the sources the apps registered when they were ready.
        kinds = [kind for kind, _ in backlog.kind_choices()]
        child = self.fields["kind"].child
        child.choices = kinds
        child.error_messages["invalid_choice"] = (
            f"Unknown kind “{{input}}”. Known kinds: {', '.join(kinds)}."
        )

    def validate_owner(self, value: str) -> int | None | str:
        text = value.strip()
        if text.lower() == "none":
            return None
        if text.isascii() and text.isdigit() and 0 < int(text) <= MAX_INT:
            return int(text)
        raise serializers.ValidationError("Give a user id, or `none` for the entries nobody owns.")


def _backlog_params(request) -> dict:
    """The query string as the filter serializer reads it: `kind` repeatable and
    comma-separated; every other parameter a single value (the last one wins)."""
    params: dict = {k: request.query_params.get(k) for k in request.query_params if k != "kind"}
    if "kind" in request.query_params:
        params["kind"] = [
            part.strip()
            for value in request.query_params.getlist("kind")
            for part in value.split(",")
            if part.strip()
        ]
    return params


class BacklogEntrySerializer(serializers.Serializer):
    """One entry of the backlog: where the work is done, why it is urgent, and its score."""

    rank = serializers.SerializerMethodField(help_text="Its place in the suggested order, from 1.")
    kind = serializers.CharField(help_text="The source: feature, eval_failure, context_gap, …")
    kind_label = serializers.CharField()
    key = serializers.CharField(help_text="What people call it: BL-2, GAP-4, REL-1 · …")
    title = serializers.CharField()
    url = serializers.SerializerMethodField(help_text="Where the work is done (the browser page).")
    use_case = serializers.SerializerMethodField(help_text="The use case's id; null: all of them.")
    use_case_key = serializers.SerializerMethodField()
    impact = serializers.IntegerField(help_text="1 to 5")
    urgency = serializers.IntegerField(help_text="1 to 5; a passed deadline or SLA is 5")
    effort = serializers.IntegerField(help_text="1 to 5")
    score = serializers.FloatField(help_text="impact × urgency ÷ effort, 0.2 to 25")
    formula = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    age_days = serializers.SerializerMethodField()
    owner = serializers.SerializerMethodField(help_text="The owner's email; null: nobody yet.")
    owner_name = serializers.CharField()
    why = serializers.CharField(help_text="What makes it urgent, or what it waits for.")
    ref = serializers.CharField(help_text="Names the entry: <content type id>.<object id>.")

    def get_rank(self, entry) -> int:
        return self.context["ranks"][id(entry)]

    def get_url(self, entry) -> str:
        return self.context["request"].build_absolute_uri(entry.url)

    @extend_schema_field(OpenApiTypes.INT)
    def get_use_case(self, entry) -> int | None:
        return entry.use_case.pk if entry.use_case is not None else None

    @extend_schema_field(OpenApiTypes.STR)
    def get_use_case_key(self, entry) -> str | None:
        return entry.use_case.key if entry.use_case is not None else None

    def get_formula(self, entry) -> str:
        return backlog.SCORE_FORMULA

    def get_age_days(self, entry) -> int:
        return entry.age_days(self.context["now"])

    @extend_schema_field(OpenApiTypes.EMAIL)
    def get_owner(self, entry) -> str | None:
        return entry.owner.email if entry.owner is not None else None


class BacklogViewSet(OrgScopedViewSet):
    """`GET /api/v1/backlog/`: every piece of work on the organization's use cases, live from
    where it is done, highest suggested rank (impact × urgency ÷ effort) first. `read`."""

    model = BacklogItem  # the rows are the sources' entries; this only names the area

    @extend_schema(
        parameters=[BacklogFilterSerializer],
        responses={200: BacklogEntrySerializer(many=True), 400: _INVALID},
    )
    def list(self, request, *args, **kwargs):
        params = BacklogFilterSerializer(data=_backlog_params(request))
        params.is_valid(raise_exception=True)
        filters = params.validated_data
        organization = request.organization
        use_case = _use_case_of(organization, filters.get("use_case"))
        owner_id = filters.get("owner", "")  # None: nobody's; "": anyone's
        entries = backlog.backlog_of(
            organization, use_case=use_case, kinds=filters.get("kind", ()), owner_id=owner_id
        ).entries
        page = self.paginate_queryset(entries)
        ranks = {id(entry): position for position, entry in enumerate(entries, start=1)}
        context = {"request": request, "now": timezone.now(), "ranks": ranks}
        return self.get_paginated_response(
            BacklogEntrySerializer(page, many=True, context=context).data
        )


# --- Feature items


class BacklogItemSerializer(serializers.ModelSerializer):
    """A feature item of the backlog (BL-n), with its use case and owner."""

    key = serializers.CharField(read_only=True, help_text="BL-<number>; never reused.")
    use_case = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The use case's id; null: the organization's."
    )
    use_case_key = serializers.CharField(source="use_case.key", read_only=True, allow_null=True)
    owner = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="User id of the owner."
    )
    owner_email = serializers.EmailField(source="owner.email", read_only=True, allow_null=True)

    class Meta:
        model = BacklogItem
        fields = [
            "id", "key", "number", "title", "description", "use_case", "use_case_key",
            "value", "effort", "due_on", "owner", "owner_email", "status", "created_at",
            "updated_at", "closed_at",
        ]  # fmt: skip
        read_only_fields = fields


_READ_ONLY = "Read-only."


class BacklogItemUpdateSerializer(StrictInputSerializer):
    """Changes to a feature item; `status` done or dropped takes it off the backlog."""

    hints = {
        **dict.fromkeys(["key", "number"], "Numbers are given once and never change."),
        **dict.fromkeys(
            ["id", "use_case_key", "owner_email", "created_at", "updated_at", "closed_at"],
            _READ_ONLY,
        ),
    }

    title = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=20_000)
    use_case = id_field(
        required=False, allow_null=True, help_text="The use case's id; null: the organization's."
    )
    value = serializers.IntegerField(
        required=False, min_value=1, max_value=5, help_text="Impact: 1 nice to have, 5 essential."
    )
    effort = serializers.IntegerField(
        required=False, min_value=1, max_value=5, help_text="1 hours, 3 days, 5 weeks."
    )
    due_on = serializers.DateField(required=False, allow_null=True)
    owner = id_field(
        required=False, allow_null=True, help_text="User id of a member of the organization."
    )
    status = serializers.ChoiceField(choices=BacklogItemStatus.choices, required=False)


class BacklogItemCreateSerializer(BacklogItemUpdateSerializer):
    """A new feature item, open, numbered BL-<next>."""

    hints = {
        **BacklogItemUpdateSerializer.hints,
        "status": "A new item is open: PATCH its status to close it.",
    }

    title = serializers.CharField(max_length=200)
    status = None  # type: ignore[assignment]  # DRF: a field set to None is removed


class BacklogItemFilterSerializer(StrictInputSerializer):
    """Query parameters of the feature items."""

    status = serializers.ChoiceField(choices=BacklogItemStatus.choices, required=False)
    use_case = id_field(required=False, help_text="The use case's id.")
    owner = id_field(required=False, help_text="User id of the owner.")
    page = serializers.IntegerField(required=False, min_value=1, max_value=MAX_NUMBER)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_NUMBER)


class BacklogItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Feature items (BL-n) by number, every status. Reading needs `read`; writing `write`.

    There is no DELETE: PATCH `{"status": "dropped"}` takes an item off the backlog.
    """

    model = BacklogItem
    serializer_class = BacklogItemSerializer
    lookup_field = "number"
    lookup_value_regex = "[0-9]+"
    filters: dict = {}

    def scope_queryset(self, queryset):
        rows = queryset.select_related("use_case", "owner").order_by("number")
        if "status" in self.filters:
            rows = rows.filter(status=self.filters["status"])
        if "use_case" in self.filters:
            rows = rows.filter(use_case_id=self.filters["use_case"])
        if "owner" in self.filters:
            rows = rows.filter(owner_id=self.filters["owner"])
        return rows

    def _data(self, payload) -> dict:
        data = dict(payload.validated_data)
        if "use_case" in data:
            data["use_case"] = _use_case_of(self.request.organization, data["use_case"])
        return data

    def _shown(self, item: BacklogItem) -> dict:
        """The item as the API shows it, read again after a write."""
        return BacklogItemSerializer(self.get_queryset().get(pk=item.pk)).data

    @extend_schema(
        parameters=[BacklogItemFilterSerializer],
        responses={200: BacklogItemSerializer(many=True), 400: _INVALID},
    )
    def list(self, request, *args, **kwargs):
        filters = BacklogItemFilterSerializer(data=dict(request.query_params.items()))
        filters.is_valid(raise_exception=True)
        self.filters = dict(filters.validated_data)
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={200: BacklogItemSerializer, 404: _NOT_FOUND})
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        request=BacklogItemCreateSerializer,
        responses={201: BacklogItemSerializer, 400: _INVALID},
    )
    def create(self, request, *args, **kwargs):
        payload = BacklogItemCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = self._data(payload)
        try:
            item = backlog_services.backlog_item_create(actor=self.actor, data=data)
        except DjangoValidationError as exc:
            raise _invalid(exc) from exc
        return Response(self._shown(item), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=BacklogItemUpdateSerializer,
        responses={200: BacklogItemSerializer, 400: _INVALID, 404: _NOT_FOUND},
    )
    def partial_update(self, request, *args, **kwargs):
        item = self.get_object()
        payload = BacklogItemUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = self._data(payload)
        new_status = data.pop("status", None)
        try:
            with transaction.atomic():  # all of it or nothing
                if data:
                    item = backlog_services.backlog_item_update(
                        actor=self.actor, item=item, data=data
                    )
                if new_status is not None:
                    item = backlog_services.backlog_item_set_status(
                        actor=self.actor, item=item, status=new_status
                    )
        except DjangoValidationError as exc:
            raise _invalid(exc) from exc
        return Response(self._shown(item))
