"""Exact planning with OR-Tools CP-SAT: the smallest arena for these lifetimes.

Offsets are variables in units of the alignment (smaller domains, same
optimum since every offset must be aligned).  Buffers that live at the same
time must not share addresses: the conflict graph of intervals is chordal, so
its maximal cliques are the live sets at start steps, and one NoOverlap per
clique states every disjointness with strong propagation.  A pair with an
allowed overlap is left out of the cliques and gets its own disjunction: one
above the other, or the output starting at or below the input and reaching
at most k bytes into it.  The best greedy plan is the hint and the upper
bound, the lower bound bounds the objective from below, so the answer is never
worse than the greedy and `optimal` means CP-SAT proved it.
"""

from __future__ import annotations

from .context import Context, context
from .place import arena, peak
from .problem import Problem
from .registry import Placed, PlanOptions, register
from .search import best_greedy


def cliques(ctx: Context, members: list[int]) -> list[list[int]]:
    """Maximal sets of `members` live at one step (interval graph cliques)."""
    starts = sorted({ctx.first[i] for i in members})
    by_first = sorted(members, key=lambda i: ctx.first[i])
    out, live, k = [], [], 0
    for n, t in enumerate(starts):
        live = [i for i in live if ctx.last[i] >= t]
        while k < len(by_first) and ctx.first[by_first[k]] == t:
            live.append(by_first[k])
            k += 1
        nxt = starts[n + 1] if n + 1 < len(starts) else None
        if nxt is None or min(ctx.last[i] for i in live) < nxt:
            out.append(list(live))
    return out


def _pair_options(m, x, ctx: Context, i: int, j: int, al: int) -> list:
    """Linear constraints, one of which must hold for conflicting i, j."""
    u = [ctx.size[i] // al, ctx.size[j] // al]
    opts = [x[j] + u[1] <= x[i], x[i] + u[0] <= x[j]]
    k_out, k_in = ctx.allow[i].get(j, (None, None))
    bufs = ctx.problem.buffers
    if k_out is not None:  # i is j's output
        opts.append(x[i] - x[j] <= min(0, (k_out - bufs[i].size) // al))
    if k_in is not None:  # j is i's output
        opts.append(x[j] - x[i] <= min(0, (k_in - bufs[j].size) // al))
    return opts


def build(ctx: Context, hint: list[int], lb_units: int):
    """The CP-SAT model, its offset variables and its objective variable."""
    from ortools.sat.python import cp_model  # imported here: it costs a second at start-up

    al = ctx.alignment
    ub = peak(ctx, hint) // al
    m = cp_model.CpModel()
    x = []
    for i in range(ctx.n):
        if ctx.fixed[i] is not None:
            x.append(m.NewConstant(ctx.fixed[i] // al))
        elif ctx.size[i] == 0:
            x.append(m.NewConstant(0))
        else:
            x.append(m.NewIntVar(0, ub - ctx.size[i] // al, f"x{i}"))
    top = m.NewIntVar(max(lb_units, 0), ub, "arena")
    for i in range(ctx.n):
        m.Add(top >= x[i] + ctx.size[i] // al)
        if ctx.fixed[i] is None and ctx.size[i]:  # constants are shared: no hints
            m.AddHint(x[i], hint[i] // al)
    m.AddHint(top, ub)
    sized = [i for i in range(ctx.n) if ctx.size[i] > 0]
    done: set[tuple[int, int]] = set()
    for clique in cliques(ctx, sized):
        free: list[int] = []
        for i in sorted(clique, key=lambda i: -ctx.size[i]):
            if not any(j in ctx.allow[i] for j in free):
                free.append(i)
        if len(free) > 1:
            m.AddNoOverlap(
                [m.NewFixedSizeIntervalVar(x[i], ctx.size[i] // al, f"iv{i}") for i in free]
            )
        inside = set(free)
        for a in clique:
            for b in clique:
                if a < b and not (a in inside and b in inside) and (a, b) not in done:
                    done.add((a, b))
                    opts = _pair_options(m, x, ctx, a, b, al)
                    lits = [m.NewBoolVar("") for _ in opts]
                    for lit, c in zip(lits, opts, strict=True):
                        m.Add(c).OnlyEnforceIf(lit)
                    m.AddBoolOr(lits)
    m.Minimize(top)
    return m, x, top


DET_PER_SECOND = 0.05  # CP-SAT deterministic-time units per second of --time-limit
WALL_SAFETY = 20.0  # wall-clock cap, in multiples of the time limit, against a hang only


def deterministic(params, seconds: float, seed: int) -> None:
    """CP-SAT stopped by work done, never by the clock, so the same model gives
    the same plan on any machine under any load: one worker (a parallel
    portfolio races threads), a fixed seed, and `seconds` of the time limit
    turned into DET_PER_SECOND units of CP-SAT's deterministic time each
    (on the 1,000-buffer problems measured, about what an idle core searches
    in that many seconds: CP-SAT's units leave presolve out and count its
    propagation lightly).  The wall-clock cap is only a safety net, set
    WALL_SAFETY times above."""
    seconds = max(0.05, seconds)
    params.max_deterministic_time = seconds * DET_PER_SECOND
    params.max_time_in_seconds = WALL_SAFETY * seconds + 30.0
    params.num_workers = 1
    params.random_seed = seed


def solve(
    ctx: Context, hint: list[int], time_limit: float, seed: int = 0
) -> tuple[list[int], bool, dict[str, object]]:
    """(offsets, proven optimal?, notes): CP-SAT warm-started from `hint`
    (offsets by index), never returning anything worse than it."""
    al, lb = ctx.alignment, ctx.lower_bound
    if arena(ctx, hint) <= lb:
        return hint, True, {"status": "hint meets the bound"}
    from ortools.sat.python import cp_model

    m, x, _ = build(ctx, hint, -(-lb // al))
    solver = cp_model.CpSolver()
    deterministic(solver.parameters, time_limit, seed)
    status = solver.Solve(m)
    notes: dict[str, object] = {
        "status": solver.StatusName(status),
        "bound_bytes": int(solver.BestObjectiveBound()) * al,
    }
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return hint, False, notes
    off = [int(solver.Value(v)) * al for v in x]
    if arena(ctx, off) > arena(ctx, hint):
        off = hint
    return off, status == cp_model.OPTIMAL, notes


@register("exact")
def exact(problem: Problem, opts: PlanOptions) -> Placed:
    """CP-SAT optimum within opts.time_limit of deterministic work, warm-started."""
    ctx = context(problem)
    if not opts.use_overlaps:
        ctx = ctx.without_overlaps()
    name, hint = best_greedy(ctx, opts.use_overlaps, ctx.lower_bound)
    off, optimal, notes = solve(ctx, hint, opts.time_limit, opts.seed)
    notes = {"hint": name, "hint_bytes": arena(ctx, hint), **notes}
    return Placed(ctx.names_to(off), optimal, notes)
