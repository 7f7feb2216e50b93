"""The small rule engine: a rule is data (key patterns, shape constraints, an answer, a confidence);
this module only knows how to test one against a set of tensor names and shapes.

Why an engine rather than code per family: ComfyUI's ``detect_unet_config`` and InvokeAI's config
probes are long if-chains where adding a family means reading all of them. Here a family is a few
table rows in ``identify/rules/``; the order of the rows (after sorting by model type, see
``rules/__init__.py``) decides which wins, and every match says which keys and shapes decided it.

A *view* is what rules look at: ``{name: shape}``. The tensor view is the header's tensors; the
LoRA view (``identify/lora.py``) maps each adapted module to its ``(out, in)`` dimensions, so one
rule covers kohya, PEFT and LyCORIS files alike.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import cache, cached_property
from itertools import groupby
from typing import Literal

Shape = tuple[int, ...]  # the LoRA view writes -1 for a size the file does not say
MatchKind = Literal["exact", "prefix", "regex"]
ViewName = Literal["tensors", "lora"]


@dataclass(frozen=True)
class Key:
    """A condition on one key: its name (exact, prefix or full regex) and optionally its shape.

    ``dims`` maps an axis (negative counts from the end) to the allowed sizes; ``ndim`` fixes the
    rank. The condition holds when *some* key of the view fits both the name and the shape.
    """

    pattern: str
    kind: MatchKind = "exact"
    dims: tuple[tuple[int, frozenset[int]], ...] = ()
    ndim: int | None = None
    absolute: bool = False  # ignore the rule's prefix (a checkpoint's VAE / text-encoder keys)

    def shape_ok(self, shape: Shape) -> bool:
        if not self.dims and self.ndim is None:
            return True
        if self.ndim is not None and len(shape) != self.ndim:
            return False
        for axis, allowed in self.dims:
            if not -len(shape) <= axis < len(shape) or shape[axis] not in allowed:
                return False
        return True

    def describe(self, prefix: str) -> str:
        return self.pattern if self.absolute else prefix + self.pattern


Dims = Mapping[int, int | Iterable[int]] | None


def _key(pattern: str, kind: MatchKind, dims: Dims, ndim: int | None,
         absolute: bool = False) -> Key:
    norm = tuple(
        (axis, frozenset([v]) if isinstance(v, int) else frozenset(v))
        for axis, v in (dims or {}).items()
    )
    return Key(pattern, kind, norm, ndim, absolute)


def K(pattern: str, dims: Dims = None, ndim: int | None = None) -> Key:
    """An exact key name."""
    return _key(pattern, "exact", dims, ndim)


def P(pattern: str, dims: Dims = None, ndim: int | None = None) -> Key:
    """A key-name prefix."""
    return _key(pattern, "prefix", dims, ndim)


def R(pattern: str, dims: Dims = None, ndim: int | None = None) -> Key:
    """A regular expression the whole key name must match."""
    return _key(pattern, "regex", dims, ndim)


def A(pattern: str) -> Key:
    """A key-name prefix that ignores the rule's prefix (absolute)."""
    return _key(pattern, "prefix", None, None, absolute=True)


@dataclass(frozen=True)
class Rule:
    """One row of a rule table.

    Matches when, for one of ``prefixes`` (the same prefix for every condition, so a checkpoint's
    ``model.diffusion_model.`` keys are not mixed with a bare model's), every ``all_of`` key holds,
    at least one key of each ``any_of`` group holds, and no ``none_of`` key does.
    """

    name: str
    architecture: str
    model_type: str
    confidence: float
    all_of: tuple[Key, ...] = ()
    any_of: tuple[tuple[Key, ...], ...] = ()  # groups: each needs at least one hit
    none_of: tuple[Key, ...] = ()
    prefixes: tuple[str, ...] = ("",)
    view: ViewName = "tensors"
    note: str = ""  # what the answer means, added to the evidence (e.g. why "unknown")
    # Derived (see ``_gates``): cheap necessary conditions, tested before the keys are walked.
    gates: tuple[frozenset[str], ...] = field(init=False, repr=False, compare=False)
    head_gates: tuple[frozenset[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        gates, head_gates = _gates(self)
        object.__setattr__(self, "gates", gates)
        object.__setattr__(self, "head_gates", head_gates)


def _literals(key: Key, prefixes: Sequence[str]) -> list[str]:
    """The text every name satisfying ``key`` starts with, under each prefix it may take."""
    literal = literal_prefix(key.pattern) if key.kind == "regex" else key.pattern
    return [literal] if key.absolute else [p + literal for p in prefixes]


def _head(literal: str, key: Key) -> str | None:
    """The first dotted component of every name starting with ``literal``, if that is fixed."""
    if key.kind == "exact" or "." in literal:
        return literal.partition(".")[0]
    return None


def _gates(rule: Rule) -> tuple[tuple[frozenset[str], ...], tuple[frozenset[str], ...]]:
    """(exact gates, head gates): sets of which the view's names (or their first dotted
    components) must hold at least one element, else ``rule`` cannot match.

    A rule is tried against every file, and nearly every rule fails, for want of one
    distinctive key (``img_in.weight``, ``input_blocks.0.0.weight``, ``image_proj.*``). Each
    ``all_of`` key and each ``any_of`` group is a condition some name must meet; when all its
    keys are exact, the names it accepts (under every prefix) are a set, and "none of them is
    in the view" is one C-level ``isdisjoint``, where ``match`` walks prefixes and keys in
    Python. Otherwise, when every key fixes the name's first component (``image_proj.`` ->
    ``image_proj``), those components are the gate. A gate can only rule a rule *out*;
    whatever passes goes through ``match`` as before, so answers cannot change.
    """
    gates: list[frozenset[str]] = []
    head_gates: list[frozenset[str]] = []
    for group in [(key,) for key in rule.all_of] + list(rule.any_of):
        if not group:
            continue
        pairs = [(lit, key) for key in group for lit in _literals(key, rule.prefixes)]
        if all(key.kind == "exact" for key in group):
            gates.append(frozenset(lit for lit, _ in pairs))
            continue
        heads = [_head(lit, key) for lit, key in pairs]
        known = [head for head in heads if head is not None]
        if len(known) == len(heads):
            head_gates.append(frozenset(known))
    return tuple(gates), tuple(head_gates)


def rule(
    name: str, architecture: str, model_type: str, confidence: float, *,
    all_of: Sequence[Key] = (), any_of: Sequence[Key] | Sequence[Sequence[Key]] = (),
    none_of: Sequence[Key] = (), prefixes: Sequence[str] = ("",), view: ViewName = "tensors",
    note: str = "",
) -> Rule:
    """Build a Rule from plain lists; ``any_of`` is one group of keys or a list of groups."""
    return Rule(name, architecture, model_type, confidence, tuple(all_of), _any_of_groups(any_of),
                tuple(none_of), tuple(prefixes), view, note)


def _any_of_groups(any_of: Sequence[Key] | Sequence[Sequence[Key]]) -> tuple[tuple[Key, ...], ...]:
    """``any_of`` as groups: a flat list of keys is one group, a list of lists is many."""
    keys = tuple(item for item in any_of if isinstance(item, Key))
    groups = tuple(tuple(item) for item in any_of if not isinstance(item, Key))
    if keys and groups:
        raise TypeError(f"any_of mixes keys and groups of keys: {any_of!r}")
    return (keys,) if keys else groups


def literal_prefix(pattern: str) -> str:
    """The fixed text a regex must start with (``blk\\.\\d+`` -> ``blk.``), to narrow a search."""
    if _has_top_level_alternation(pattern):
        return ""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern) and not pattern[i + 1].isalnum():
            out.append(pattern[i + 1])
            i += 2
            continue
        if c in ".^$*+?{}[]|()\\":
            # a quantifier applies to the previous character: it is not fixed either
            if c in "*?{" and out:
                out.pop()
            break
        out.append(c)
        i += 1
    return "".join(out)


def _has_top_level_alternation(pattern: str) -> bool:
    depth, i, in_class = 0, 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            return True
        i += 1
    return False


class View:
    """Names and shapes to test rules against.

    Names are kept sorted, so a prefix condition is a bisection and a regex is only tried on
    the names sharing its literal start (``input_blocks\\.\\d+...`` only on ``input_blocks.*``);
    answers are memoised because many rules ask the same question.
    """

    def __init__(self, shapes: Mapping[str, Shape]) -> None:
        self.shapes = shapes
        self.names = shapes.keys()  # set-like: rule gates test it with one ``isdisjoint``
        self._scans: dict[tuple[str, str, str], list[str]] = {}

    @cached_property
    def heads(self) -> AbstractSet[str]:
        """Every name's first dotted component (``model.layers.0.w`` -> ``model``): what
        rules' head gates are tested against, computed only if a rule gets that far."""
        heads: set[str] = set()
        names, i = self._sorted, 0
        while i < len(names):  # one step per head: the names under ``head.`` are one run
            head, dot, _ = names[i].partition(".")
            heads.add(head)
            i = bisect.bisect_left(names, head + "/", i) if dot else i + 1  # "/" follows "."
        return heads

    @cached_property
    def _sorted(self) -> list[str]:
        """The names in order, sorted on the first prefix/regex question."""
        return sorted(self.shapes)

    def _starting_with(self, start: str) -> list[str]:
        names = self._sorted
        lo = bisect.bisect_left(names, start)
        hi = bisect.bisect_left(names, start + "\U0010ffff", lo)
        return names[lo:hi]

    def candidates(self, key: Key, prefix: str) -> Iterable[str]:
        if key.absolute:
            prefix = ""
        if key.kind == "exact":
            name = prefix + key.pattern
            return (name,) if name in self.shapes else ()
        memo = (key.kind, prefix, key.pattern)
        found = self._scans.get(memo)
        if found is None:
            if key.kind == "prefix":
                found = self._starting_with(prefix + key.pattern)
            else:
                fullmatch, start = _regex(prefix, key.pattern)
                found = [n for n in self._starting_with(start) if fullmatch(n)]
            self._scans[memo] = found
        return found

    def find(self, key: Key, prefix: str) -> str | None:
        """The first key name satisfying ``key`` under ``prefix``, or None."""
        for name in self.candidates(key, prefix):
            if key.shape_ok(self.shapes[name]):
                return name
        return None


@cache
def _regex(prefix: str, pattern: str) -> tuple[Callable[[str], re.Match[str] | None], str]:
    """(fullmatch, literal start) of a regex key under a prefix, worked out once per process:
    the rule tables are fixed, so there are only a few hundred of these."""
    rx = re.compile(re.escape(prefix) + "(?:" + pattern + ")")
    return rx.fullmatch, prefix + literal_prefix(pattern)


def _evidence(view: View, name: str, key: Key) -> str:
    if not key.dims and key.ndim is None:
        return name
    return f"{name} {list(view.shapes[name])}"


def match(rule: Rule, view: View) -> tuple[str, ...] | None:
    """The evidence for ``rule`` if it matches ``view``, else None."""
    names = view.names
    for gate in rule.gates:
        if names.isdisjoint(gate):
            return None
    if rule.head_gates:
        heads = view.heads
        for gate in rule.head_gates:
            if heads.isdisjoint(gate):
                return None
    for prefix in rule.prefixes:
        evidence: list[str] = []
        ok = True
        for key in rule.all_of:
            name = view.find(key, prefix)
            if name is None:
                ok = False
                break
            evidence.append(_evidence(view, name, key))
        if not ok:
            continue
        for group in rule.any_of:
            hit = next(((k, n) for k in group if (n := view.find(k, prefix)) is not None), None)
            if hit is None:
                ok = False
                break
            evidence.append(_evidence(view, hit[1], hit[0]))
        if not ok or any(view.find(k, prefix) is not None for k in rule.none_of):
            continue
        # absences are evidence too ("no guidance_in" is what makes schnell); regexes read badly
        evidence.extend(f"no {k.describe(prefix)}" for k in rule.none_of if k.kind != "regex")
        if rule.note:
            evidence.append(rule.note)
        return tuple(evidence)
    return None


class RuleTable:
    """Rules in the order they are tried, with an index that rules most of them out at C speed.

    ``match`` already rejects a rule whose exact gate the view's names miss, but each call costs
    a fraction of a microsecond of Python and every file meets every rule: for a small file that
    was most of identifying it. Here each rule with an exact gate is filed under the names of its
    smallest gate, so one set intersection of the view's names with all filed names (in C,
    iterating the smaller side) says which of those rules can still match, and only they and
    the ungated rules reach ``match``. Answers cannot change: a rule skipped is one whose gate
    ``match`` would have found disjoint, and the rest are tried in table order.

    Rules come in runs that look at the same view; a view is built when its run is reached, so
    a file matched early never pays for a view only later rules need.
    """

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = tuple(rules)
        self._runs: list[tuple[ViewName, frozenset[int], dict[str, frozenset[int]]]] = []
        for view, group in groupby(enumerate(self.rules), key=lambda pair: pair[1].view):
            members = list(group)
            filed: dict[str, set[int]] = {}
            for i, rule in members:
                for name in min(rule.gates, key=len) if rule.gates else ():
                    filed.setdefault(name, set()).add(i)
            ungated = frozenset(i for i, rule in members if not rule.gates)
            self._runs.append((view, ungated, {n: frozenset(ids) for n, ids in filed.items()}))

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def first_match(
        self, view_of: Callable[[ViewName], View | None]
    ) -> tuple[Rule, tuple[str, ...]] | None:
        """The first rule matching its view, with the evidence; ``view_of`` builds a view on
        demand (None when the file has no such view, e.g. it is not LoRA-like)."""
        for view_name, ungated, filed in self._runs:
            view = view_of(view_name)
            if view is None:
                continue
            candidates = set(ungated)
            for name in view.names & filed.keys():
                candidates |= filed[name]
            for i in sorted(candidates):
                evidence = match(self.rules[i], view)
                if evidence is not None:
                    return self.rules[i], evidence
        return None
