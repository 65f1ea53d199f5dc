"""Serializer fields every API shares: ids and numbers that always fit their column."""

from rest_framework import serializers

from genai_po.inputs import MAX_INT

MAX_NUMBER = 2_147_483_647  # CASE-n, REQ-n, version numbers: the database's integer


def id_field(**kwargs) -> serializers.IntegerField:
    """The id of a row (a 64-bit column): 1 to 2**63 - 1."""
    return serializers.IntegerField(min_value=1, max_value=MAX_INT, **kwargs)


def number_field(**kwargs) -> serializers.IntegerField:
    """A per-parent number (CASE-n, REQ-n, a version): 1 to 2**31 - 1."""
    kwargs.setdefault("min_value", 1)
    return serializers.IntegerField(max_value=MAX_NUMBER, **kwargs)
