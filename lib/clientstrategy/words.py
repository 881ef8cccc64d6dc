"""Numbers in words for leadership: shares that never round to all or none, counts with their plural.

A bottom-layer helper, so that every module that builds a sentence (the analyses as well as the
notebook helpers in :mod:`clientstrategy.nb`) words figures the same way:

* :func:`pct` -- a share as a percentage that prints 100% only for all and 0% only for none
  (0.9996 is "99.96%", not "100%"; 0.004 is "0.4%", not "0%");
* :func:`plural` -- "1 client", "2 clients", "3,611 clients";
* :func:`number_word` -- "ten" for 10 (months, years), digits past twelve;
* :func:`a_an` -- a phrase with its indefinite article ("a call", "an email", "an other (won)").
"""
from __future__ import annotations

import math

__all__ = ["a_an", "is_whole", "number_word", "pct", "plural"]

_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
          "twelve")
#: Most extra decimals :func:`pct` adds before it falls back to "under"/"over" (0.0004 -> "under
#: 0.1%", 0.99999 -> "over 99.9%": more decimals than that read as noise, not as a share).
_EXTRA_DIGITS = 1


def _finite(x) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def pct(x, digits: int = 0, sign: bool = False) -> str:
    """A share as a percentage that says 100% only for all and 0% only for none.

    A share strictly between none and all (in size: ``0 < |x| < 1``) that would round to 0% or
    100% at ``digits`` decimals gets one more decimal; if it still would, it reads "under 0.1%" /
    "over 99.9%" (at ``digits=0``). Shares of 0 and 1 exactly, and figures beyond 100% (growth of
    +313%), print as they are.

    Parameters
    ----------
    x : float
        The share (0.714 = 71%). None, NaN or infinity give ``"n/a"``.
    digits : int, default 0
        Decimals wanted.
    sign : bool, default False
        Show a "+" before positive values (changes).

    Returns
    -------
    str

    Examples
    --------
    >>> pct(0.714), pct(1.0), pct(0.996), pct(0.004), pct(0.0), pct(3.13)
    ('71%', '100%', '99.6%', '0.4%', '0%', '313%')
    >>> pct(0.99999), pct(0.00001), pct(0.99999, 1), pct(0.25, sign=True), pct(float("nan"))
    ('over 99.9%', 'under 0.1%', 'over 99.99%', '+25%', 'n/a')
    """
    v = _finite(x)
    if v is None:
        return "n/a"
    plus = "+" if sign and v > 0 else ""
    exact_edge = v == 0 or math.isclose(abs(v), 1.0, rel_tol=0, abs_tol=1e-12)
    for d in range(int(digits), int(digits) + _EXTRA_DIGITS + 1):
        text = f"{100 * v:.{d}f}"
        shown = abs(float(text))
        if exact_edge or abs(v) > 1 or 0 < shown < 100:
            return f"{plus}{text}%"
    places = int(digits) + _EXTRA_DIGITS
    bound = 10.0 ** -places
    minus = "minus " if v < 0 else ""
    if abs(v) < 0.5:
        return f"{minus}under {bound:.{places}f}%"
    return f"{minus}over {100 - bound:.{places}f}%"


def is_whole(x) -> bool:
    """Whether ``x`` is a finite whole number (``3.0`` is, ``3.5`` and NaN are not).

    Examples
    --------
    >>> is_whole(3.0), is_whole(3.5), is_whole(float("nan"))
    (True, False, False)
    """
    v = _finite(x)
    return v is not None and float(v).is_integer()


def plural(n, word: str, many: str | None = None, digits: int = 0) -> str:
    """``n`` and ``word`` in the right number: "1 client", "2 clients", "1,234 clients".

    Parameters
    ----------
    n : int or float
        The count (thousands separated; a whole float prints without decimals).
    word : str
        The singular.
    many : str, optional
        The plural when it is not ``word + "s"`` ("categories", "people").
    digits : int, default 0
        Decimals for a count that is not whole (an average: "1.5 products").

    Returns
    -------
    str

    Examples
    --------
    >>> plural(1, "client"), plural(0, "client"), plural(3611, "client"), plural(1, "category", "categories")
    ('1 client', '0 clients', '3,611 clients', '1 category')
    >>> plural(2.0, "column"), plural(1.5, "product", digits=1)
    ('2 columns', '1.5 products')
    """
    v = _finite(n)
    if v is None:
        return f"an unknown number of {many or word + 's'}"
    text = f"{v:,.0f}" if float(v).is_integer() else f"{v:,.{max(int(digits), 1)}f}"
    return f"{text} {word if v == 1 else (many or word + 's')}"


def number_word(n: int) -> str:
    """A small whole number as a word ("ten"), larger ones as digits ("13").

    Examples
    --------
    >>> number_word(10), number_word(12), number_word(18)
    ('ten', 'twelve', '18')
    """
    n = int(n)
    return _WORDS[n] if 0 <= n < len(_WORDS) else f"{n:,}"


def a_an(phrase: str, capital: bool = False) -> str:
    """``phrase`` after its indefinite article: "a call (answered)", "an email (opened)".

    By the first letter (a vowel takes "an"), which is right for the kinds of touch and the
    product names the pages use; a word whose sound differs from its spelling ("an hour", "a
    user") is rare there.

    Parameters
    ----------
    phrase : str
        What follows the article.
    capital : bool, default False
        "A"/"An", to start a sentence.

    Returns
    -------
    str

    Examples
    --------
    >>> a_an("other (won)"), a_an("call (answered)", capital=True), a_an("Email")
    ('an other (won)', 'A call (answered)', 'an Email')
    """
    text = str(phrase)
    art = "an" if text[:1].lower() in "aeiou" and text[:1] else "a"
    return f"{art.capitalize() if capital else art} {text}"
