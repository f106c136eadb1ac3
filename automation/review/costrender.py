"""How cost estimates read: the ``cost`` command's table, and the PR comment / job summary / terminal section of
a preview or up (before → after, the delta, a collapsed per-resource table). Pure functions over
:mod:`automation.review.cost`'s results."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

from automation.review.cost_model import CostChange, Estimate, Line, LineDelta, money, money_range, signed_range

#: per-resource rows of the comment's collapsed table; the rest are counted
COMMENT_ROWS = 60


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def _line_cost(line: Line | None) -> str:
    if line is None:
        return "—"
    if line.kind == "unpriced":
        return "not priced"
    if line.kind == "usage" and not line.quantity and line.price is not None:
        return f"depends on usage: ${line.price.usd:g} per {line.price.unit}"
    return money_range(line.low, line.high)


def _source(line: Line) -> str:
    if line.price is None:
        return "-"
    return f"{line.price.key}: {line.price.source} ({line.price.as_of})"


def _caveats(est: Estimate) -> list[str]:
    out = []
    if est.usage_open:
        kinds = sorted({f"{x.billed} (depends on usage: ${x.price.usd:g} per {x.price.unit})"
                        for x in est.usage_open if x.price is not None})
        out.append(f"plus usage-based charges not assumed ({len(est.usage_open)}): {'; '.join(kinds)}")
    if est.unpriced:
        out.append(f"plus {len(est.unpriced)} charge(s) not priced: "
                   + ", ".join(f"{x.name} ({x.type}: {x.note})" for x in est.unpriced[:5])
                   + (f" and {len(est.unpriced) - 5} more" if len(est.unpriced) > 5 else ""))
    return out


def total_text(est: Estimate) -> str:
    return money_range(est.low, est.high) + " per month"


#: the ``cost`` table's columns: (header, width); with two spaces between them the table is at most 120 wide
TABLE_COLUMNS = (("resource", 32), ("billed", 30), ("quantity", 28), ("monthly", 22))
TABLE_WIDTH = sum(w for _, w in TABLE_COLUMNS) + 2 * (len(TABLE_COLUMNS) - 1)


def _fit(text: str, width: int) -> str:
    """``text`` in ``width`` characters: cut with an ellipsis, never silently."""
    return text if len(text) <= width else text[: width - 1] + "…"


def _wrap(prefix: str, text: str) -> list[str]:
    """A note on lines of at most TABLE_WIDTH characters (continuations indented under the text)."""
    return textwrap.wrap(text, TABLE_WIDTH, initial_indent=prefix, subsequent_indent=" " * (len(prefix) + 2),
                         break_on_hyphens=False) or [prefix]


def estimate_table(est: Estimate, budget: float | None = None) -> str:
    """The ``cost`` command's text, at most 120 columns: the total, one row per billed line, the total again, what
    is not in it, version support dates, notes and the prices' sources."""
    total = f"total for {est.stack} ({est.region or 'no region'}): {total_text(est)}"
    lines = [total + (f" (priced from {est.priced_from}, 730 h)" if est.priced_from else "")]
    lines += [x for n in est.notes for x in _wrap("  warning: ", n)]
    lines.append("")
    widths = [w for _, w in TABLE_COLUMNS]
    rows = [tuple(h for h, _ in TABLE_COLUMNS)]
    for line in sorted((x for x in est.lines if x.kind != "free"), key=lambda x: (x.type, x.name, x.billed)):
        rows.append((f"{line.name} ({line.type.rsplit(':', 1)[-1]})", line.billed, line.quantity or "-",
                     _line_cost(line)))
    for row in rows:
        cells = [_fit(cell, w) for cell, w in zip(row, widths, strict=True)]
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    lines.append("")
    lines.append(total)
    lines += [x for c in _caveats(est) for x in _wrap("  ", c)]
    if budget is not None:
        state = "OVER" if est.high > budget + 0.005 else "within"
        lines.append(f"budget: {money(budget)} per month ({state}; budget_monthly_usd in environments.yaml)")
    if est.versions:
        lines.append("version support (automation/prices/lifecycle.yaml):")
        lines += [x for v in est.versions for x in _wrap("  ", v)]
    free = sorted({x.type for x in est.lines if x.kind == "free"})
    lines.append(f"bill nothing themselves: {len([x for x in est.lines if x.kind == 'free'])} resources of {len(free)} types")
    notes = [(x.name, x.billed, x.note) for x in est.lines if x.kind in ("fixed", "usage") and x.note]
    if notes:
        lines.append("assumptions and notes:")
        lines += [x for name, billed, note in notes for x in _wrap("  ", f"{name} / {billed}: {note}")]
    sources = sorted({(x.price.key, x.price.usd, x.price.unit, x.price.source, x.price.as_of)
                      for x in est.lines if x.price is not None})
    lines.append(f"prices (automation/prices/aws.yaml, as of {est.table_as_of or '-'}, and costs.yaml):")
    lines += [x for key, usd, unit, source, as_of in sources
              for x in _wrap("  ", f"{key}: ${usd:g} per {unit} ({source}, {as_of})")]
    return "\n".join(lines)


def headline(change: CostChange) -> str:
    """``$512.40 → $548.20 per month (+$35.80)``, or the after total alone for a new stack."""
    after = money_range(change.after.low, change.after.high)
    if change.before is None:
        return f"{after} per month (new stack)"
    before = money_range(change.before.low, change.before.high)
    if before == after:
        return f"{after} per month (unchanged)"
    return f"{before} → {after} per month ({signed_range(change.delta_low, change.delta_high)})"


def budget_warning(change: CostChange) -> str | None:
    if not change.over_budget or change.budget is None:
        return None
    return (f"**Over budget:** the estimate for `{change.after.stack}` is up to {money(change.after.high)} per month, "
            f"above its budget of {money(change.budget)} (`budget_monthly_usd` in environments.yaml)."
            + (" An `up` of this change is refused unless overridden with `--accept-over-budget REASON`."
               if change.crosses_budget else " This change does not raise it."))


def _row(r: LineDelta) -> str:
    delta = signed_range(r.delta_low, r.delta_high) if (r.before or r.after) and (
        (r.before is None or r.before.kind != "unpriced") and (r.after is None or r.after.kind != "unpriced")) else "?"
    return (f"| `{_cell(r.name)}` | {_cell(r.billed)} | {_cell(_pair(r, lambda x: x.quantity or '-'))} | "
            f"{_cell(_pair(r, _line_cost))} | {delta} |")


def _pair(r: LineDelta, show: Callable[[Line], str]) -> str:
    """``before → after`` of one column; once if unchanged; ``—`` for a side that does not exist."""
    before = show(r.before) if r.before is not None else "—"
    after = show(r.after) if r.after is not None else "—"
    return after if before == after else f"{before} → {after}"


def cost_markdown(change: CostChange, rows: int = COMMENT_ROWS) -> str:
    """The comment's section: total before → after and delta, caveats, then the collapsed per-resource table."""
    parts = [f"#### 💰 Monthly cost estimate\n\n**{headline(change)}**"]
    caveats = _caveats(change.after)
    if caveats:
        parts.append("\n".join(f"- {_cell(c)}" for c in caveats))
    if change.budget is not None:
        parts.append(f"Budget: {money(change.budget)} per month"
                     + (" — **over**" if change.over_budget else " — within"))
    table = change.rows()
    changed = [r for r in table if abs(r.delta_low) >= 0.005 or abs(r.delta_high) >= 0.005]
    lines = ["| Resource | Billed | Quantity | Monthly (before → after) | Delta |", "|---|---|---|---|---|"]
    lines += [_row(r) for r in table[:rows]]
    if len(table) > rows:
        lines.append(f"| … | {len(table) - rows} more lines (`cost --stack {change.after.stack}` lists them all) | | | |")
    notes = sorted({f"{x.name}: {x.note}" for x in change.after.lines if x.kind in ("fixed", "usage") and x.note
                    and x.note.startswith(("Auto Mode", "runs on a shared"))})
    assumption = ("\n\n" + "\n".join(f"Assumed: {_cell(n)}" for n in notes)) if notes else ""
    parts.append(f"<details><summary>{len(changed)} of {len(table)} billed lines change · prices as of "
                 f"{change.after.table_as_of or '-'} (automation/prices/aws.yaml, costs.yaml)</summary>\n\n"
                 + "\n".join(lines) + assumption + "\n\n</details>")
    return "\n\n".join(parts)


def cost_text(change: CostChange) -> list[str]:
    """The terminal's lines: the headline and each line whose cost changes."""
    out = [f"cost: {headline(change)}"]
    out += [f"  {c}" for c in _caveats(change.after)]
    for r in change.rows():
        if abs(r.delta_low) >= 0.005 or abs(r.delta_high) >= 0.005:
            out.append(f"  {r.name} / {r.billed}: {_pair(r, _line_cost)} ({signed_range(r.delta_low, r.delta_high)})")
    if change.over_budget and change.budget is not None:
        out.append(f"  over budget: up to {money(change.after.high)} > {money(change.budget)} per month")
    return out
