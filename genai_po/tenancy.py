"""The org-scoped base model and its manager, which fail closed.

Every model holding tenant data inherits `OrgScopedModel`. Its default manager
refuses to run a query that is not constrained to one organization: a query
must filter on `organization` (for example with `.for_org(org)`), come from a
related manager of an object that is itself scoped, or say out loud that it
crosses organizations with `.across_orgs()`.
"""

from django.db import models
from django.db.models.expressions import Col
from django.db.models.lookups import Exact, Lookup
from django.db.models.sql.query import Query
from django.db.models.sql.where import AND, WhereNode

from genai_po.inputs import digits_only


class UnscopedQueryError(RuntimeError):
    """A query on tenant data had no organization in scope."""


class CrossOrganizationError(ValueError):
    """A row would point at a parent row of another organization."""


_OUTER = object()  # "pinned to the organization of the outer query's row"


def _is_org_column(expression, alias: str) -> bool:
    return (
        isinstance(expression, Col)
        and expression.alias == alias
        and expression.target.name == "organization"
    )


def _pinned_organization(query: Query, outer: Query | None = None):
    """The organization id the query's WHERE clause pins its base table to, `_OUTER` when it
    is correlated to the outer query's organization, or None.

    Only a plain value counts: `organization=F(...)`, `organization=Subquery(...)` or a
    column of another table pin nothing.
    """
    if query.combinator:
        pins = {_pinned_organization(part, outer) for part in query.combined_queries}
        return pins.pop() if len(pins) == 1 else None
    where = query.where
    if where.negated or where.connector != AND:
        return None
    for child in where.children:
        if not (isinstance(child, Exact) and _is_org_column(child.lhs, query.base_table)):
            continue
        rhs = child.rhs
        if isinstance(rhs, bool) or rhs is None:
            continue
        if isinstance(rhs, int):
            return rhs
        if isinstance(rhs, str) and digits_only(rhs):
            return int(rhs)
        if outer is not None and _is_org_column(rhs, outer.base_table):
            return _OUTER
    return None


def _nested_queries(node):
    """Every query nested in an expression tree (subqueries, EXISTS, `__in=queryset`)."""
    if isinstance(node, Query):
        yield node
        return
    if isinstance(node, WhereNode):
        for child in node.children:
            yield from _nested_queries(child)
        return
    query = getattr(node, "query", None)  # Subquery, Exists
    if isinstance(query, Query):
        yield query
        return
    if isinstance(node, list | tuple | set | frozenset):  # `__in` values, expressions or not
        for item in node:
            if hasattr(item, "resolve_expression") or isinstance(item, Query):
                yield from _nested_queries(item)
        return
    if isinstance(node, Lookup):
        yield from _nested_queries(node.lhs)
        yield from _nested_queries(node.rhs)
        return
    get_sources = getattr(node, "get_source_expressions", None)
    if callable(get_sources):
        for source in get_sources():
            if source is not None:
                yield from _nested_queries(source)


def _parts_of(query: Query) -> list:
    parts = [query.where, *query.annotations.values()]
    parts += [o for o in (query.order_by or ()) if not isinstance(o, str)]
    for combined in query.combined_queries:
        parts.append(combined)
    return parts


def _unscoped_part(query: Query, organization) -> str | None:
    """What of `query`'s nested queries is not pinned to `organization` (or to its outer
    row's organization), or None when all are."""
    for part in _parts_of(query):
        for inner in _nested_queries(part):
            if inner is query:
                continue
            model = inner.model
            if model is not None and issubclass(model, OrgScopedModel):
                pin = _pinned_organization(inner, outer=query)
                if pin is None or (pin is not _OUTER and pin != organization):
                    return model.__name__
            problem = _unscoped_part(inner, organization)
            if problem:
                return problem
    return None


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
        if self._crosses_orgs or self.query.is_empty():
            return
        organization = _pinned_organization(self.query)
        if organization is None or organization is _OUTER:
            raise UnscopedQueryError(
                f"Query on {self.model.__name__} has no organization in scope: use "
                f".for_org(organization), or .across_orgs() if crossing organizations is "
                f"intended."
            )
        nested = _unscoped_part(self.query, organization)
        if nested:
            raise UnscopedQueryError(
                f"Query on {self.model.__name__} nests a query on {nested} that is not pinned "
                f"to the same organization: scope it with .for_org(...) or "
                f'organization=OuterRef("organization").'
            )

    def pinned_organization_id(self) -> int | None:
        """The organization id this queryset is pinned to, if it is."""
        pin = _pinned_organization(self.query)
        return None if pin is _OUTER else pin

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
        _check_update_parents(self, kwargs)
        return super().update(**kwargs)

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        check_parents(self.model, objs)
        return super().bulk_create(objs, *args, **kwargs)

    def raw(self, *args, **kwargs):
        raise UnscopedQueryError(
            f"raw() on {self.model.__name__} bypasses the tenancy guard: use the ORM."
        )

    def extra(self, select=None, where=None, params=None, tables=None, order_by=None,
              select_params=None):  # fmt: skip
        # Django's own many-to-many prefetch selects the join column this way, nothing else.
        internal = select and all(k.startswith("_prefetch_related_val_") for k in select)
        if internal and not (where or params or tables or order_by or select_params):
            return super().extra(select=select)  # noqa: S610 - Django's own SQL, no user text
        raise UnscopedQueryError(
            f"extra() on {self.model.__name__} bypasses the tenancy guard: use the ORM."
        )

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

    def save(self, *args, **kwargs):
        # Why here: a row pointing at another organization's parent would show that parent
        # through select_related and relations, whichever code path saved it.
        check_parents(type(self), [self])
        super().save(*args, **kwargs)


def _scoped_parents(model) -> list:
    """The foreign keys of a model that point at another organization-scoped model."""
    return [
        field
        for field in model._meta.concrete_fields
        if field.many_to_one
        and field.name != "organization"
        and issubclass(field.related_model, OrgScopedModel)
    ]


def check_parents(model, objs) -> None:
    """Raise CrossOrganizationError if a row points at a parent of another organization.

    A parent already loaded on the row is compared in memory; the others cost one query per
    foreign key for all the rows.
    """
    for field in _scoped_parents(model):
        wanted: dict[int, set[int]] = {}
        for obj in objs:
            parent_id = getattr(obj, field.attname)
            if parent_id is None:
                continue
            if field.is_cached(obj) and field.get_cached_value(obj) is not None:
                parent_org = field.get_cached_value(obj).organization_id
                if parent_org != obj.organization_id:
                    raise _crossing(model, field, parent_id)
                continue
            wanted.setdefault(parent_id, set()).add(obj.organization_id)
        if not wanted:
            continue
        orgs = dict(
            field.related_model._base_manager.filter(pk__in=list(wanted)).values_list(
                "pk", "organization_id"
            )
        )
        for parent_id, row_orgs in wanted.items():
            if parent_id in orgs and row_orgs != {orgs[parent_id]}:
                raise _crossing(model, field, parent_id)


def _check_update_parents(queryset, values: dict) -> None:
    fields = {f.name: f for f in _scoped_parents(queryset.model)}
    fields.update({f.attname: f for f in fields.values()})
    for name, value in values.items():
        field = fields.get(name)
        if field is None or value is None or hasattr(value, "resolve_expression"):
            continue
        parent_id = value.pk if isinstance(value, models.Model) else value
        parent_org = (
            field.related_model._base_manager.filter(pk=parent_id)
            .values_list("organization_id", flat=True)
            .first()
        )
        if parent_org is None:
            continue  # the database refuses a missing parent itself
        if queryset.exclude(organization_id=parent_org).exists():
            raise _crossing(queryset.model, field, parent_id)


def _crossing(model, field, parent_id) -> CrossOrganizationError:
    return CrossOrganizationError(
        f"{model.__name__}.{field.name} points at {field.related_model.__name__} #{parent_id} "
        "of another organization."
    )
