"""Forget source tuples: a frame as if they had never existed, without re-running its plan.

For positive relational algebra (filter, project, select, rename, explode, inner join,
union, distinct) deleting tuples is the semiring homomorphism that sets their variables to
zero: a row vanishes when every monomial of its polynomial does, and no value changes. That
is the fast path, computed from the provenance alone.

Group-by and left joins are not positive: a group's aggregates change when members go, and
a left row whose only partner goes reappears unmatched. Below such nodes we propagate a
:class:`Delta` (rows kept unchanged, provenance of the kept rows, rows inserted) bottom-up
through the plan. Kept rows are never recomputed; only inserted rows (recomputed groups,
reappearing left rows) run through the operators above them: delta execution.

Examples
--------
>>> import lester as lt, pandas as pd
>>> mails = lt.from_pandas(pd.DataFrame({"id": [1, 2, 3], "n": [1, 1, 2]}), "mails", "id")
>>> counts = mails.groupby(["n"]).agg(c=("id", "count"))
>>> counts.forget({"mails": [1]}).to_pandas().sort_values("n")["c"].tolist()
[1, 1]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lester.engine import pandas_engine
from lester.engine.relation import Relation, concat_relations, rows_where
from lester.frame.plan import (
    Distinct,
    Explode,
    Filter,
    GroupBy,
    Join,
    Project,
    Rename,
    Select,
    Split,
    Union,
)
from lester.provenance import Provenance

if TYPE_CHECKING:
    from lester.frame.frame import TrackedFrame

TupleIds = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Delta:
    """How a node's rows change when tuples are forgotten.

    ``keep[i]``: old row ``i`` stays with unchanged values; ``kept_provenance`` is the
    provenance of the kept rows, in order; ``inserted`` holds new rows (or ``None``).
    """

    keep: np.ndarray
    kept_provenance: Provenance
    inserted: Relation | None = None

    def apply(self, old: Relation) -> Relation:
        """The new relation: kept rows first, then the inserted ones."""
        kept = Relation(rows_where(old.data, self.keep), self.kept_provenance, old.sources)
        if self.inserted is None or self.inserted.n_rows == 0:
            return kept
        return concat_relations([kept, self.inserted], list(old.data.columns))


def merge_ids(first: TupleIds, second: TupleIds) -> dict[str, np.ndarray]:
    """Union of two forget sets, per source.

    Examples
    --------
    >>> merge_ids({"a": np.array([1])}, {"a": np.array([2]), "b": np.array([0])})["a"]
    array([1, 2])
    """
    merged = {name: np.asarray(ids, dtype=np.int64) for name, ids in first.items()}
    for name, ids in second.items():
        merged[name] = np.union1d(merged.get(name, np.empty(0, np.int64)), ids)
    return merged


def forget_relation(frame: TrackedFrame, ids: TupleIds) -> Relation:
    """The frame's relation with the given tuple ids forgotten."""
    return delta_of(frame, ids, {}).apply(frame._relation)


def delta_of(frame: TrackedFrame, ids: TupleIds, memo: dict[int, Delta]) -> Delta:
    """The delta of ``frame``'s rows when the tuples ``ids`` are forgotten (memoised, so a
    frame used twice in a plan, as in a self-join, is handled once)."""
    key = id(frame)
    if key not in memo:
        memo[key] = _compute_delta(frame, ids, memo)
    return memo[key]


def _compute_delta(frame: TrackedFrame, ids: TupleIds, memo: dict[int, Delta]) -> Delta:
    relation, node = frame._relation, frame._node
    if node.is_monotone:
        kept, alive = relation.provenance.without(ids)
        return Delta(alive, kept)
    if frame._forgotten is not None:
        return _delta_of_forgotten(frame, ids)
    children = [delta_of(child, ids, memo) for child in frame._inputs]
    inputs = [child._relation for child in frame._inputs]
    if isinstance(node, Distinct) and node.keep is not None:
        if _has_rows(children[0].inserted):
            # Inserted rows sit at the end of a delta, not where re-execution puts them, and
            # which duplicate is first or last depends on that order: recompute this subtree.
            fresh = reexecute_without(frame, ids, {})
            return Delta(
                np.zeros(relation.n_rows, dtype=bool),
                Provenance.empty_like(relation.provenance),
                fresh,
            )
        return _distinct_keep(node, relation, inputs, children)
    rule = _RULES[type(node)]
    return rule(node, relation, inputs, children)


def reexecute_without(frame: TrackedFrame, ids: TupleIds, memo: dict[int, Relation]) -> Relation:
    """``frame``'s relation recomputed from its sources' surviving tuples (the tuple ids and
    thus the polynomials stay those of the original sources)."""
    key = id(frame)
    if key in memo:
        return memo[key]
    relation = frame._relation
    if frame._forgotten is not None:
        base, first_ids, _ = frame._forgotten
        result = reexecute_without(base, merge_ids(first_ids, ids), {})
    elif not frame._inputs:
        kept, alive = relation.provenance.without(ids)
        result = Relation(rows_where(relation.data, alive), kept, relation.sources)
    else:
        inputs = [reexecute_without(child, ids, memo) for child in frame._inputs]
        result = pandas_engine.execute(frame._node, inputs)
    memo[key] = result
    return result


def _delta_of_forgotten(frame: TrackedFrame, ids: TupleIds) -> Delta:
    """A forgotten frame F1 = base - D1. Forgetting D2 from it: compute base - (D1 + D2) as a
    delta of the base, and translate it into a delta of F1's rows."""
    base, first_ids, first = frame._forgotten
    both = delta_of(base, merge_ids(first_ids, ids), {})
    old_kept = np.flatnonzero(first.keep)
    n_inserted_before = frame._relation.n_rows - len(old_kept)
    keep = np.concatenate([both.keep[old_kept], np.zeros(n_inserted_before, dtype=bool)])
    both_position = np.cumsum(both.keep) - 1
    kept_provenance = both.kept_provenance.take(both_position[old_kept[both.keep[old_kept]]])
    inserted = [both.inserted] if both.inserted is not None else []
    revived = both.keep & ~first.keep
    if revived.any():
        provenance = both.kept_provenance.take(both_position[revived])
        data = base._relation.data[revived].reset_index(drop=True)
        inserted.append(Relation(data, provenance, base._relation.sources))
    columns = list(frame._relation.data.columns)
    return Delta(keep, kept_provenance, concat_relations(inserted, columns) if inserted else None)


# ---------------------------------------------------------------------------- rules
def _has_rows(relation: Relation | None) -> bool:
    return relation is not None and relation.n_rows > 0


def _new_positions(keep: np.ndarray) -> np.ndarray:
    """Old position -> position among the kept rows."""
    return np.cumsum(keep) - 1


def _row_wise(node, relation: Relation, inputs, children) -> Delta:
    (child,) = children
    parent = relation.lineage.parent
    if parent is None:
        keep, kept_provenance = child.keep.copy(), child.kept_provenance
    else:
        keep = child.keep[parent]
        kept_provenance = child.kept_provenance.take(_new_positions(child.keep)[parent[keep]])
    inserted = None
    if _has_rows(child.inserted):
        inserted = pandas_engine.execute(node, [child.inserted])
    return Delta(keep, kept_provenance, inserted)


def _kept(old: Relation, delta: Delta) -> Relation:
    return Relation(rows_where(old.data, delta.keep), delta.kept_provenance, old.sources)


def _join(node: Join, relation: Relation, inputs, children) -> Delta:
    (left, right), (old_left, old_right) = children, inputs
    left_rows, right_rows = relation.lineage.left_rows, relation.lineage.right_rows
    matched = right_rows >= 0
    keep = left.keep[left_rows]
    keep[matched] &= right.keep[right_rows[matched]]
    parts: list[Relation] = []
    left_kept = _kept(old_left, left)
    if _has_rows(right.inserted):
        gained_left, gained_right = pandas_engine.join_pairs(
            _inner(node), left_kept.data, right.inserted.data
        )
        parts.append(
            pandas_engine.assemble_join(node, left_kept, right.inserted, gained_left, gained_right)
        )
        gained = np.zeros(left_kept.n_rows, dtype=bool)
        gained[gained_left] = True
        old_gained = np.zeros(len(left.keep), dtype=bool)
        old_gained[np.flatnonzero(left.keep)[gained]] = True
        keep &= ~(~matched & old_gained[left_rows])  # an unmatched row found a partner
    else:
        old_gained = np.zeros(len(left.keep), dtype=bool)
    left_new, right_new = _new_positions(left.keep), _new_positions(right.keep)
    kept_right = np.full(int(keep.sum()), -1, dtype=np.int64)
    kept_matched = matched[keep]
    kept_right[kept_matched] = right_new[right_rows[keep][kept_matched]]
    kept_provenance = Provenance.product(
        left.kept_provenance, left_new[left_rows[keep]], right.kept_provenance, kept_right
    )
    if _has_rows(left.inserted):
        right_all = right.apply(old_right)
        pairs = pandas_engine.join_pairs(node, left.inserted.data, right_all.data)
        parts.append(pandas_engine.assemble_join(node, left.inserted, right_all, *pairs))
    if node.how == "left":
        orphans = _orphaned_left_rows(left.keep, left_rows, matched, keep, old_gained)
        if len(orphans):
            no_partner = np.full(len(orphans), -1, dtype=np.int64)
            parts.append(
                pandas_engine.assemble_join(
                    node, left_kept, old_right, left_new[orphans], no_partner
                )
            )
    inserted = concat_relations(parts, list(node.columns)) if parts else None
    return Delta(keep, kept_provenance, inserted)


def _inner(node: Join) -> Join:
    if node.how == "inner":
        return node
    return Join(
        node.children[0], node.children[1], node.left_on, node.right_on, "inner", node.suffixes
    )


def _orphaned_left_rows(left_keep, left_rows, matched, keep, gained) -> np.ndarray:
    """Kept left rows that had partners, lost them all and found no new one."""
    had_partner = np.zeros(len(left_keep), dtype=bool)
    had_partner[left_rows[matched]] = True
    still_partnered = np.zeros(len(left_keep), dtype=bool)
    still_partnered[left_rows[matched & keep]] = True
    return np.flatnonzero(left_keep & had_partner & ~still_partnered & ~gained)


def _union(node: Union, relation: Relation, inputs, children) -> Delta:
    keep = np.concatenate([child.keep for child in children])
    kept_provenance = Provenance.concat([child.kept_provenance for child in children])
    inserted = [child.inserted for child in children if _has_rows(child.inserted)]
    columns = list(node.columns)
    return Delta(keep, kept_provenance, concat_relations(inserted, columns) if inserted else None)


def _match_groups(old: pd.DataFrame, new: pd.DataFrame, columns) -> np.ndarray:
    """Group of each ``new`` row among the distinct ``old`` rows (``>= len(old)``: new group)."""
    combined = pd.concat([old[list(columns)], new[list(columns)]], ignore_index=True)
    ids, _ = pandas_engine.group_ids(combined, columns)
    return ids[len(old) :]


def _membership(relation: Relation, child: Delta, node) -> tuple[np.ndarray, np.ndarray]:
    """Group of each kept child row and of each inserted child row (see _match_groups)."""
    group_of_row = relation.lineage.group_of_row
    kept_groups = group_of_row[child.keep]
    if not _has_rows(child.inserted):
        return kept_groups, np.empty(0, dtype=np.int64)
    columns = node.columns if isinstance(node, Distinct) else node.keys
    return kept_groups, _match_groups(relation.data, child.inserted.data, columns)


def _distinct(node: Distinct, relation: Relation, inputs, children) -> Delta:
    (child,) = children
    n_old = relation.n_rows
    kept_groups, inserted_groups = _membership(relation, child, node)
    joins_old = inserted_groups < n_old
    keep = np.zeros(n_old, dtype=bool)
    keep[kept_groups] = True
    keep[inserted_groups[joins_old]] = True
    member_provenance = child.kept_provenance
    member_groups = kept_groups
    if _has_rows(child.inserted):
        member_provenance = Provenance.concat([member_provenance, child.inserted.provenance])
        member_groups = np.concatenate([kept_groups, inserted_groups])
    in_old = member_groups < n_old
    target = np.full(len(member_groups), -1, dtype=np.int64)
    target[in_old] = _new_positions(keep)[member_groups[in_old]]
    kept_provenance = member_provenance.group(target, int(keep.sum()))
    inserted = None
    fresh = ~joins_old
    if fresh.any():
        inserted = pandas_engine.execute(node, [child.inserted.take_mask(fresh)])
    return Delta(keep, kept_provenance, inserted)


def _distinct_keep(node: Distinct, relation: Relation, inputs, children) -> Delta:
    """Keep-first/last distinct when the child only loses rows: a group whose kept row
    survives keeps it; a group that lost it now keeps its next surviving member."""
    (child,), (old_child,) = children, inputs
    survivors = np.flatnonzero(child.keep)
    remaining = rows_where(old_child.data, child.keep)
    now_kept = pandas_engine.kept_positions(node, remaining)  # positions among survivors
    was_kept = relation.lineage.parent  # old child positions of the old output rows
    still = np.isin(was_kept, survivors[now_kept])
    new_position = _new_positions(child.keep)
    kept_provenance = child.kept_provenance.take(new_position[was_kept[still]])
    newcomers = now_kept[~np.isin(survivors[now_kept], was_kept)]
    inserted = None
    if len(newcomers):
        inserted = Relation(
            remaining.take(newcomers).reset_index(drop=True),
            child.kept_provenance.take(newcomers),
            old_child.sources,
        )
    return Delta(still, kept_provenance, inserted)


def _groupby(node: GroupBy, relation: Relation, inputs, children) -> Delta:
    (child,), (old_child,) = children, inputs
    n_old = relation.n_rows
    group_of_row = relation.lineage.group_of_row
    kept_groups, inserted_groups = _membership(relation, child, node)
    lost = np.bincount(group_of_row[~child.keep], minlength=n_old) > 0
    gained = np.bincount(inserted_groups[inserted_groups < n_old], minlength=n_old) > 0
    keep = ~lost & ~gained
    new_position = _new_positions(keep)
    member_keep = keep[kept_groups]
    kept_provenance = child.kept_provenance.group(
        np.where(member_keep, new_position[kept_groups], -1), int(keep.sum())
    )
    # Changed groups are recomputed from their remaining members (old values of kept rows
    # plus inserted rows); groups first seen among inserted rows are new.
    members = [_kept(old_child, child).take_mask(~member_keep)]
    if _has_rows(child.inserted):
        members.append(child.inserted)
    members = [part for part in members if part.n_rows]
    inserted = None
    if members:
        affected = concat_relations(members, list(old_child.data.columns))
        inserted = pandas_engine.execute(node, [affected])
    return Delta(keep, kept_provenance, inserted)


_RULES = {
    Filter: _row_wise,
    Project: _row_wise,
    Select: _row_wise,
    Rename: _row_wise,
    Explode: _row_wise,
    Split: _row_wise,
    Join: _join,
    Union: _union,
    Distinct: _distinct,
    GroupBy: _groupby,
}
