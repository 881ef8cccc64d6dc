"""Command line of the workbook: ``python -m clientstrategy.cli run|validate|params``.

The Makefile calls it (``make run DATA=... MAPPING=... AS_OF=... OUT=... HOLDOUT_WEEKS=...``).
Exit codes: 0 done, 1 a notebook failed, 2 bad input or parameters, 3 another run holds the lock,
130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["main", "parse_param"]


def parse_param(text: str):
    """``name=value`` -> ``(name, value)``; the value is JSON, or a plain word taken as a string.

    Raises
    ------
    ValueError
        If ``text`` has no ``=``, or the value is neither JSON nor a plain word.
    """
    if "=" not in text:
        raise ValueError(f"parameter {text!r} is not of the form name=value")
    name, raw = text.split("=", 1)
    name = name.strip()
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        import re

        if not re.fullmatch(r"[A-Za-z0-9_.:/ +-]*", raw):
            raise ValueError(f"parameter {name!r}: value {raw!r} is neither JSON nor a plain word") from None
        value = raw
    return name, value


def _run(args) -> int:
    from . import paths
    from .runner import RunConfig, RunError, run
    from .validate import DataValidationError

    try:
        params = dict(parse_param(p) for p in (args.param or []))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cfg = RunConfig(data=args.data or "", mapping=args.mapping or "", as_of=args.as_of or "",
                    out=Path(args.out) if args.out else paths.REPORTS,
                    holdout_weeks=int(args.holdout_weeks) if str(args.holdout_weeks or "").strip() else None,
                    params=params, notebooks=args.only.split(",") if args.only else None,
                    cell_timeout=args.timeout, progress=not args.quiet, lock_wait=args.wait,
                    pseudonymise=str(args.pseudonymise).strip().lower() in ("1", "true", "yes"))
    try:
        published = run(cfg)
    except DataValidationError as exc:
        print(f"The input did not pass validation; nothing was written.\n{exc}", file=sys.stderr)
        return 2
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted; nothing was published", file=sys.stderr)
        return 130
    print(f"Published {published}\n  open {published / 'index.html'}")
    return 0


def _validate(args) -> int:
    from . import validate

    try:
        loaded, report = validate.load_checked(args.data, mapping=args.mapping or None)
    except validate.DataValidationError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as exc:  # no such source, unreachable database, bad mapping
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("The input passed validation: " + ", ".join(f"{k} ({len(v):,} rows)" for k, v in loaded.items()))
    lines = validate.exclusion_sentences(report)
    if lines:
        print("Rows the mapping excluded on purpose (each rule counts rows no earlier rule removed):")
        print("\n".join(f"  {line}" for line in lines))
    return 0


def _params(args) -> int:
    from . import paths
    from .runner import declared_parameters, notebook_list

    for nb in notebook_list(paths.NOTEBOOKS):
        print(nb.stem)
        for name, default in declared_parameters(nb).items():
            print(f"  {name} = {default}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="clientstrategy", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="validate the input and run every notebook")
    r.add_argument("--data", default="", help="folder of tables, DuckDB file or SQLAlchemy URL ('' = sample)")
    r.add_argument("--mapping", default="", help="mapping YAML for data in another layout")
    r.add_argument("--as-of", default="", help="YYYY-MM-DD; default: end of the latest complete quarter")
    r.add_argument("--out", default="", help="output root (default reports/)")
    r.add_argument("--holdout-weeks", default="", help="back-test holdout in weeks (0 = off)")
    r.add_argument("--param", action="append", help="name=value for a notebook parameter (JSON value)")
    r.add_argument("--only", default="", help="comma-separated notebook numbers, e.g. 00,01")
    r.add_argument("--timeout", type=int, default=1800, help="per-cell timeout in seconds")
    r.add_argument("--wait", action="store_true", help="wait for a concurrent run instead of refusing")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--pseudonymise", default="", help="1: replace client and person names by stable codes")
    r.set_defaults(func=_run)
    v = sub.add_parser("validate", help="load and validate an input only")
    v.add_argument("--data", required=True)
    v.add_argument("--mapping", default="")
    v.set_defaults(func=_validate)
    p = sub.add_parser("params", help="list every notebook's parameters")
    p.set_defaults(func=_params)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
