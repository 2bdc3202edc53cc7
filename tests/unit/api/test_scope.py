"""The one area rule: ``within`` is lineage, and what authz, the principal's scope and the
SQL renderer say follows from it (the SQL itself: tests/integration/api/test_read_contract.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from whistle.api.identity import Principal, sees
from whistle.domain.areas import lineage, within
from whistle.domain.authz import covers
from whistle.domain.base import Actor
from whistle.read.resolution_metrics import metrics_sql, rollup_sql
from whistle.read.scope import NOBODY, Params, Scope, cohort, scope_sql

codes = st.lists(st.sampled_from(["a", "b", "ab", "a_", "%"]), min_size=1, max_size=5).map(".".join)


@given(codes, codes)
def test_within_is_being_the_area_or_one_of_its_descendants(area: str, scope: str) -> None:
    assert within(area, scope) == (scope in lineage(area))


@given(codes, codes, st.sampled_from(["secretary", "supervisor"]))
def test_authz_and_the_read_scope_say_the_same_of_an_area(area: str, own: str, role: str) -> None:
    principal = Principal("u", role, area=own)  # type: ignore[arg-type]
    actor = Actor(user_id="u", role=role, area=own)  # type: ignore[arg-type]
    assert covers(actor, area) == Scope.of(principal).holds(area, []) == sees(principal, area, [])


def test_a_user_without_the_scope_its_role_needs_sees_nothing() -> None:
    assert Scope.of(Principal("s", "secretary")) == Scope(area=NOBODY)
    assert Scope.of(Principal("l", "liaison")) == Scope(department=NOBODY)
    assert Scope.of(Principal("a", "admin")) == Scope()
    assert not sees(Principal("l", "liaison"), "a.b.c", ["x"])


def test_a_value_bound_twice_keeps_its_number() -> None:
    params = Params(first=3)
    scope = Scope(area="a.b", department="d")
    first = scope_sql(scope, params, cohort("a"))
    second = scope_sql(scope, params, cohort("b", "lead_department"))
    assert first == "$3 IN (a.district, a.street, a.community) AND a.department = $4"
    assert second == "$3 IN (b.district, b.street, b.community) AND b.lead_department = $4"
    assert params.values == ["a.b", "d"]
    assert scope_sql(Scope(), Params()) == "true"


def test_the_metrics_statements_take_the_scope_once() -> None:
    scope = Scope(area="a.b", department="d")
    sql, args = metrics_sql("community", "week", scope)
    assert args == ["a.b", "d"] and "$5" not in sql and sql.count("$4") == 4
    sql, args = rollup_sql("community", None, scope, "department_community")
    assert args == ["department_community", "a.b", "d"] and "m.department = $5" in sql


def test_cohort_rows_refuse_an_area_below_a_community() -> None:
    with pytest.raises(ValueError, match="below a community"):
        scope_sql(Scope(area="a.b.c.d"), Params(), cohort("k"))
    assert "starts_with" in scope_sql(Scope(area="a.b.c.d"), Params())
