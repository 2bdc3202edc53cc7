"""The read side: every query of the read models, behind one gateway.

- ``whistle.read.scope``: the one ``Scope`` and ``CaseFilters``, the one rule that says which
  case a scope holds, and the one renderer of that rule (and of the filters) into SQL.
- ``whistle.read.gateway``: ``ReadModel`` (the protocol the API reads through) and ``PgRead``
  (it, over the projection tables): cases, timelines, boards, time travel, lag.
- ``whistle.read.resolution_metrics``: the 三率 and rankings SQL (``PgRead.metrics`` and
``rankings``).
"""
