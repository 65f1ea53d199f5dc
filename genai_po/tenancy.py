"""The org-scoped base model and its manager, which fail closed.

Every model holding tenant data inherits `OrgScopedModel`. Its default manager
refuses to run a query that is not constrained to one organization: a query
must filter on `organization` (for example with `.for_org(org)`), come from a
related manager of an object that is itself scoped, or say out loud that it
crosses organizations with `.across_orgs()`.
"""

from django.db import models
from django.db.models.expressions import Col
from django.db.models.lookups import Exact
from django.db.models.sql.where import AND


class UnscopedQueryError(RuntimeError):
    """A query on tenant data had no organization in scope."""


def _filters_one_organization(query) -> bool:
    """True when the WHERE clause pins the base table's `organization` to one value."""
    where = query.where
    if where.negated or where.connector != AND:
        return False
    base_alias = query.base_table
    for child in where.children:
        if (
            isinstance(child, Exact)
            and isinstance(child.lhs, Col)
            and child.lhs.alias == base_alias
            and child.lhs.target.name == "organization"
            and child.rhs is not None
        ):
            return True
    return False


class OrgScopedQuerySet(models.QuerySet):
    """A queryset that raises UnscopedQueryError when evaluated without an organization."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._crosses_orgs = False

    def for_org(self, organization) -> "OrgScopedQuerySet":
        """Rows of one organization (an Organization or its id)."""
        return self.filter(organization=organization)

    def across_orgs(self) -> "OrgScopedQuerySet":
        """Explicitly query every organization: for admin, maintenance and token lookup only."""
        clone = self._chain()
        clone._crosses_orgs = True
        return clone

    def _clone(self):
        clone = super()._clone()
        clone._crosses_orgs = self._crosses_orgs
        return clone

    def _check_scope(self) -> None:
        if self._crosses_orgs or self.query.is_empty() or _filters_one_organization(self.query):
            return
        raise UnscopedQueryError(
            f"Query on {self.model.__name__} has no organization in scope: use "
            f".for_org(organization), or .across_orgs() if crossing organizations is intended."
        )

    # Every way a queryset reaches the database goes through one of these.
    def _fetch_all(self):
        if self._result_cache is None:
            self._check_scope()
        super()._fetch_all()

    def iterator(self, *args, **kwargs):
        self._check_scope()
        return super().iterator(*args, **kwargs)

    def count(self):
        if self._result_cache is None:
            self._check_scope()
        return super().count()

    def exists(self):
        if self._result_cache is None:
            self._check_scope()
        return super().exists()

    def aggregate(self, *args, **kwargs):
        self._check_scope()
        return super().aggregate(*args, **kwargs)

    def update(self, **kwargs):
        self._check_scope()
        return super().update(**kwargs)

    def _update(self, values):
        self._check_scope()
        return super()._update(values)

    def delete(self):
        self._check_scope()
        return super().delete()

    def explain(self, **kwargs):
        self._check_scope()
        return super().explain(**kwargs)


class OrgScopedManager(models.Manager.from_queryset(OrgScopedQuerySet)):
    """Default manager of tenant models.

    A related manager reached from a scoped object (`use_case.requirements`) is
    scoped to that object's organization automatically, so a row pointing across
    organizations by mistake is never returned.
    """

    def get_queryset(self):
        queryset = super().get_queryset()
        instance = getattr(self, "instance", None)  # set on related managers only
        if instance is not None:
            from genai_po.models import Organization

            if isinstance(instance, Organization):
                return queryset.filter(organization_id=instance.pk)
            if isinstance(instance, OrgScopedModel):
                return queryset.filter(organization_id=instance.organization_id)
        return queryset


class OrgScopedModel(models.Model):
    """Base of every model that holds one organization's data."""

    organization = models.ForeignKey(
        "genai_po.Organization", on_delete=models.CASCADE, related_name="+", db_index=True
    )

    objects = OrgScopedManager()

    # Django's internals (deletion, forward relations, refresh_from_db) use the
    # automatic base manager, which stays plain: they work from rows already in scope.

    class Meta:
        abstract = True
