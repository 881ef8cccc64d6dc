"""The plan for owners who live in Excel: ``artifacts/plan.xlsx`` with the budget and next best actions.

Written with openpyxl through pandas: bold frozen headers, filters, widths fitted to the content,
money and share formats. Text cells that a spreadsheet would read as a formula (``=``, ``+``, ``-``,
``@`` at the start) are prefixed with an apostrophe so that a client name cannot inject one.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["safe_text", "write_plan_workbook"]

_MONEY = "#,##0"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value):
    """A text value that a spreadsheet will not evaluate as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _sheet(writer, df: pd.DataFrame, name: str, money: tuple = (), share: tuple = ()) -> None:
    from openpyxl.styles import Font, PatternFill

    df = df.copy()
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
            df[col] = df[col].map(safe_text)
    df.to_excel(writer, sheet_name=name, index=False)
    ws = writer.sheets[name]
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    for cell in ws[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="1D4E89")
    for i, col in enumerate(df.columns, start=1):
        letter = ws.cell(row=1, column=i).column_letter
        width = max([len(str(col))] + [len(str(v)) for v in df[col].head(200)]) + 2
        ws.column_dimensions[letter].width = min(max(width, 8), 60)
        fmt = _MONEY if col in money else "0%" if col in share else None
        if fmt:
            for row in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                for cell in row:
                    cell.number_format = fmt


def write_plan_workbook(artifacts: Path) -> Path | None:
    """Write ``plan.xlsx`` beside ``budget.csv`` and ``next_best_actions.csv``; None if neither exists."""
    artifacts = Path(artifacts)
    budget, nba = artifacts / "budget.csv", artifacts / "next_best_actions.csv"
    if not budget.exists() and not nba.exists():
        return None
    out = artifacts / "plan.xlsx"
    with pd.ExcelWriter(out, engine="openpyxl") as writer:
        if budget.exists():
            b = pd.read_csv(budget, dtype={"key": str})
            money = tuple(c for c in b.columns if c.startswith(("revenue", "plan", "target", "gap")))
            _sheet(writer, b, "Budget", money=money)
        if nba.exists():
            n = pd.read_csv(nba, dtype={"client_id": str, "person_id": str})
            if "control" in n.columns:
                n = n[~n["control"].astype(bool)]  # owners see only the actions to take
            _sheet(writer, n, "Next best actions", money=("expected_value",))
    return out
