"""The bundled sample: a seeded generator of a fictional B2B financial-services firm.

"Northbridge Markets" is a broker and research house selling to institutional clients. The
generator writes the ten canonical tables of :mod:`clientstrategy.schema` and the planted truth
described in ``data/sample/README.md`` (twelve effects with known parameters). Nothing is real.

Design
------
* Everything that is one row per client, person, product or market event is drawn up front
  (cheap even for 100,000 clients). The heavy tables (revenue, activities, digital, surveys,
  invites, third_party) are drawn per block of clients, each block with its own random stream
  (``default_rng([random_state, stream, block])``), so the large size can stream block by block
  to Parquet with ``pyarrow.parquet.ParquetWriter``.
* Purchases are drawn on a daily grid per client: a weekday Bernoulli with probability
  ``1 - exp(-rate * multiplier)``, where ``rate`` is the client's Gamma-distributed weekly rate
  spread over five weekdays and ``multiplier = 1 + sum(beta)`` over touches in the previous 90
  days (built with difference arrays, no loop per transaction).
* The same seed gives the same tables on every machine; there is no clock anywhere.

Command line::

    python -m clientstrategy.sample --out data/sample --size default --seed 20261123 --format parquet
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from clientstrategy.schema import TABLES

__all__ = ["AS_OF", "BETAS", "FIT", "PERSONAS", "PERSONAS_2", "PRODUCTS", "REVERSE_KIND", "SIZES", "UPLIFT", "WAVES",
           "Sample", "generate", "generate_uplift_experiment", "main", "persona_sample", "plant_uplift", "write_sample"]

# --------------------------------------------------------------------------------------------
# Fixed parameters (the truth; data/sample/README.md states the same numbers)
# --------------------------------------------------------------------------------------------

#: size name -> (clients, people)
SIZES = {"small": (300, 8), "default": (2000, 40), "large": (100_000, 2000)}
#: size name -> (revenue lines, touches, digital sessions) per client, as multiples of the default.
#: ``large`` is the scale benchmark of issue 7: 100,000 clients with about 20 million revenue lines,
#: 50 million touches and 200 million digital events. Each touch then lifts revenue a ninth as much
#: (nine times as many touches, the same revenue) and each line is half as large.
VOLUME = {"large": (2, 9.0, 8.7)}

START = np.datetime64("2023-10-01", "D")          # first revenue day
AS_OF = pd.Timestamp("2026-09-30")                 # default AS_OF of the workbook
_END_DAY = int((np.datetime64("2026-09-30", "D") - START).astype(int))   # index of AS_OF
_LAST = np.datetime64("2026-10-31", "D")           # last generated day (a month after AS_OF)
N_DAYS = int((_LAST - START).astype(int)) + 1      # 1127 days
_BLOCK = 2500                                      # clients per block
_EFFECT_DAYS = 90                                  # a touch lifts the rate over the next 90 days
_NS_DAY = 86_400 * 10**9

CATEGORIES = ("Equities", "Fixed Income", "FX", "Data & Analytics")

#: product_id, product_name, category, margin_rate, complexity
PRODUCTS = (
    ("P01", "Cash Equities Execution", "Equities", 0.35, "low"),
    ("P02", "Equity Derivatives", "Equities", 0.45, "high"),
    ("P03", "Equity Research", "Equities", 0.60, "medium"),
    ("P04", "Fixed Income Execution", "Fixed Income", 0.30, "low"),
    ("P05", "Credit Trading", "Fixed Income", 0.38, "medium"),
    ("P06", "Rates Research", "Fixed Income", 0.55, "medium"),
    ("P07", "FX Spot and Forwards", "FX", 0.25, "low"),
    ("P08", "FX Options", "FX", 0.40, "high"),
    ("P09", "FX Hedging Advisory", "FX", 0.50, "high"),
    ("P10", "Market Data Feed", "Data & Analytics", 0.70, "low"),
    ("P11", "Analytics Platform", "Data & Analytics", 0.65, "medium"),
    ("P12", "Index and Benchmark Data", "Data & Analytics", 0.72, "low"),
)
_PROD_CAT = np.array([CATEGORIES.index(p[2]) for p in PRODUCTS])
_PROD_MARGIN = np.array([p[3] for p in PRODUCTS])

PERSONAS = ("Self-directed researcher", "Relationship-led", "Event-driven trader", "Passive consumer")
_PERSONA_SHARE = (0.30, 0.30, 0.15, 0.25)
SDR, REL, EDT, PAS = range(4)

#: the generator's own tiers: Platinum top 5% of latent size, Gold next 15%, Silver next 30%
_TIERS = ("Platinum", "Gold", "Silver", "Bronze")
_TIER_CUM = (0.05, 0.20, 0.50, 1.0)
_TIER_SAT = np.array([1.0, 0.5, 0.0, -0.5])
_TIER_RESPONSE = np.array([0.55, 0.40, 0.25, 0.12])

#: activity type -> (touches over three years for a client of size 1, {outcome: probability})
_ACTIVITY = {
    "email": (30.0, {"opened": 0.45, "unopened": 0.45, "replied": 0.10}),
    "call": (10.0, {"answered": 0.55, "unanswered": 0.30, "voicemail": 0.15}),
    "meeting": (4.0, {"attended": 0.85, "no_show": 0.15}),
    "event": (1.5, {"attended": 0.70, "no_show": 0.30}),
    "document": (6.0, {"opened": 0.50, "unopened": 0.50}),
    "other": (2.0, {"completed": 1.0}),
}
#: (activity_type, outcome) -> beta; every pair not listed has beta 0
BETAS = {("meeting", "attended"): 0.30, ("event", "attended"): 0.15, ("call", "answered"): 0.10}
#: (style, persona) -> multiplier of beta
FIT = {
    ("assertive", PERSONAS[SDR]): 0.0, ("assertive", PERSONAS[REL]): 1.5,
    ("assertive", PERSONAS[EDT]): 1.0, ("assertive", PERSONAS[PAS]): 0.0,
    ("consultative", PERSONAS[SDR]): 1.0, ("consultative", PERSONAS[REL]): 1.0,
    ("consultative", PERSONAS[EDT]): 1.0, ("consultative", PERSONAS[PAS]): 1.0,
}
_STYLES = ("assertive", "consultative")
#: reverse causality (effect 13): the touch kind that follows the client's buying by default. Each
#: purchase day brings Poisson(_REVERSE_RATE x its amount / the client's mean purchase-day amount)
#: extra touches of that kind, dated uniformly within _REVERSE_DAYS days before or after it (people
#: send documents to clients who are about to buy and to clients who just bought). The kind has no
#: effect on revenue (beta 0), so whatever effect a within-client design finds for it is reverse
#: causality.
REVERSE_KIND = "document"
_REVERSE_RATE = 0.10
_REVERSE_DAYS = 90

_CHURN_SHARE = 0.12
_SAT_MEAN = 7.8                    # base satisfaction (0-10 scale) before tier and owner shifts
_SAT_SD = 1.2
_CHURN_SAT_SLOPE = 0.40            # churn odds fall by exp(-0.40) per satisfaction point
_RESPONDER_SHARE = 0.12
_RESPONSE_PROB = 0.7
_RESPONSE_ORDER = 2.5              # extra purchase worth ~2.5x the client's usual order (1.7 lines)
_N_EVENTS = 40
_CREDIT_SHARE = 0.02
_MISSING_REGION = 0.03
_MISSING_OUTCOME = 0.05
_NEVER_BILLED = 0.0075             # ~15 of 2,000
_OWNER_BIAS = 1.5
_LINE_MEAN = 2500.0                # mean revenue line of a client of latent size 1
_LINES_P = (0.5, 0.3, 0.2)         # 1, 2 or 3 lines per purchase day
_EXPECTED_LINES = 1.7

WAVES = tuple(f"{y}Q{q}" for y, q in
              [(2023, 4)] + [(y, q) for y in (2024, 2025) for q in (1, 2, 3, 4)] + [(2026, 1), (2026, 2),
                                                                                    (2026, 3)])
_LOW_WAVE = "2025Q2"
_LOW_WAVE_FACTOR = 0.2          # ~5% response instead of ~23%
_INVITE_SHARE = 0.25
_COMMENT_SHARE = 0.60
_THIRD_PARTY_DATES = ("2024-06-30", "2025-06-30", "2026-06-30")
_THIRD_PARTY_SHARE = 0.85
_HIDDEN_GIANT_SHARE = 0.10

REGIONS = ("UK", "Europe", "North America", "Asia Pacific")

# --------------------------------------------------------------------------------------------
# Vocabulary: names, pages, questions, comment themes
# --------------------------------------------------------------------------------------------

_NAME_WORDS = (
    "Alder", "Kestrel", "Harbour", "Granite", "Meridian", "Larch", "Osprey", "Juniper", "Halcyon",
    "Beacon", "Cedar", "Falcon", "Heron", "Linden", "Marlow", "Northgate", "Oakmont", "Pembroke",
    "Quarry", "Redwood", "Saltire", "Thornbury", "Upland", "Vantage", "Willow", "Yarrow", "Ashby",
    "Bramble", "Caldera", "Dunmore", "Elmstead", "Fernhill", "Glenrock", "Hawthorn", "Ironbridge",
    "Kingsmere", "Lowther", "Millbrook", "Newhaven", "Orchard", "Pinecrest", "Riverside", "Stonegate",
    "Tamarind", "Whitcombe", "Ravenscar", "Sable", "Teal", "Wren", "Bittern", "Curlew", "Dunlin",
    "Egret", "Fulmar", "Gannet", "Harrier", "Merlin", "Plover", "Skylark", "Sparrowhawk", "Avocet",
    "Hazel", "Rowan", "Sorrel", "Bracken", "Heather", "Aspen", "Birch", "Cypress", "Holly", "Maple",
    "Poplar", "Spruce", "Sycamore", "Blackwater", "Clearwater", "Eastbrook", "Westmere", "Southdown",
    "Highcliff", "Lakeside", "Moorfield", "Seaview", "Summit", "Tideway", "Windrush", "Cairn",
    "Fell", "Tarn", "Beck", "Combe", "Holm", "Ness", "Strand", "Wold", "Carrick", "Ardent", "Keystone",
    "Lodestar", "Polaris",
)
_NAME_WORDS2 = (
    "", "Ridge", "Park", "Bay", "Point", "Hill", "Bridge", "Gate", "Field", "Crest", "Vale", "Lane",
    "Square", "Court", "Street", "Harbour", "Peak", "Cross", "Wharf", "Heath", "Mill", "Grove",
    "Brook", "Haven", "Moor", "Glen", "Shore", "Row", "Hall", "Green", "Stone", "Water", "Wood",
    "Cliff", "Down", "Marsh", "Holt", "Knoll", "Mead", "Reach", "Spur", "Tor", "Dale", "Croft",
    "Garth", "Hythe", "Quay", "Rise", "Fold", "Howe",
)
#: name suffix -> industry
_SUFFIXES = (
    ("Pension Fund", "Pension fund"), ("Pension Scheme", "Pension fund"),
    ("Retirement System", "Pension fund"), ("Asset Management", "Asset manager"),
    ("Investment Management", "Asset manager"), ("Investors", "Asset manager"),
    ("Capital Management", "Asset manager"), ("Capital", "Hedge fund"), ("Partners", "Hedge fund"),
    ("Fund Management", "Hedge fund"), ("Insurance", "Insurer"), ("Assurance", "Insurer"),
    ("Life", "Insurer"), ("Bank", "Bank"), ("Trust", "Bank"), ("Investment Authority", "Sovereign fund"),
    ("Family Office", "Family office"), ("Foundation", "Endowment"), ("Endowment", "Endowment"),
    ("Wealth Partners", "Wealth manager"),
)
_FIRST = (
    "Amelia", "Oliver", "Isla", "George", "Ava", "Noah", "Sofia", "Arthur", "Grace", "Leo", "Freya",
    "Oscar", "Ivy", "Henry", "Emily", "Theo", "Chloe", "Jack", "Ella", "Samuel", "Maya", "Daniel",
    "Priya", "Rohan", "Mei", "Kenji", "Lucia", "Mateo", "Anna", "Lukas", "Clara", "Jonas", "Elena",
    "Marco", "Sarah", "David", "Laura", "Thomas", "Hannah", "James", "Fatima", "Omar", "Aisha",
    "Yusuf", "Nadia", "Pierre", "Camille", "Sven", "Ingrid", "Niamh", "Ciaran", "Rachel", "Ethan",
    "Zoe", "Harriet", "Felix", "Rosa", "Tomas", "Vera", "Adam",
)
_LAST = (
    "Ashworth", "Bennett", "Chandler", "Davies", "Ellison", "Fairbairn", "Gallagher", "Hartley",
    "Iqbal", "Jensen", "Kaur", "Lindqvist", "Moreau", "Nakamura", "O'Connell", "Patel", "Quinlan",
    "Rossi", "Schneider", "Thornton", "Underwood", "Varga", "Whitaker", "Xu", "Young", "Zimmermann",
    "Abbott", "Brennan", "Castillo", "Dubois", "Eriksen", "Fischer", "Grant", "Hughes", "Ito",
    "Kowalski", "Lambert", "Mahmoud", "Novak", "Okafor", "Pereira", "Reid", "Sato", "Turner",
    "Vogel", "Walsh", "Yilmaz", "Zhang", "Blake", "Carver", "Drummond", "Ferreira", "Holloway",
    "Kerr", "Lowe", "Marsh", "Nolan", "Osei", "Price", "Shah",
)
_SENIORITY = ("Associate", "Vice President", "Director", "Managing Director")

#: page, base weight of a page view; the two planted pairs' second pages are rarely visited alone
_PAGES = (
    ("home", 8.0), ("news/market-wrap", 5.0), ("research/equity-strategy", 4.0),
    ("research/credit-outlook", 3.0), ("research/rates-weekly", 3.0), ("research/fx-weekly", 3.0),
    ("research/em-macro", 2.0), ("research/data-insights", 1.5), ("tools/portfolio-analytics", 2.0),
    ("tools/bond-screener", 1.5), ("tools/trade-cost-analysis", 1.0), ("tools/fx-hedging-calculator", 0.3),
    ("events/calendar", 1.0), ("account/settings", 0.8), ("contact", 0.5),
) + tuple(("products/" + p[1].lower().replace(" ", "-"), 0.3 if p[0] == "P04" else 0.6) for p in PRODUCTS)
_PAGE_NAMES = np.array([p for p, _ in _PAGES], dtype=object)
_PAGE_W = np.array([w for _, w in _PAGES])
_PAGE_PRODUCT = np.array([next((p[0] for p in PRODUCTS if "products/" + p[1].lower().replace(" ", "-") == pg),
                               None) for pg, _ in _PAGES], dtype=object)
#: planted co-viewed pairs: a view of the first is followed in the session by the second with p
PAGE_PAIRS = (("research/credit-outlook", "products/fixed-income-execution", 0.6),
              ("research/fx-weekly", "tools/fx-hedging-calculator", 0.6))
_DOWNLOADS = ("research/equity-strategy.pdf", "research/credit-outlook.pdf", "research/rates-weekly.pdf",
              "research/fx-weekly.pdf", "research/em-macro.pdf", "data/index-factsheet.xlsx",
              "data/daily-closing-prices.csv")

#: the planted questions, each with its variants (case, punctuation, plural, word order)
QUESTIONS = {
    "how to reset my password": ["how to reset my password", "How to reset my password?",
                                 "reset my password how", "how to reset password"],
    "fx hedging cost": ["fx hedging cost", "FX hedging costs", "cost of fx hedging", "fx hedging cost?"],
    "credit outlook 2026": ["credit outlook 2026", "Credit Outlook 2026", "2026 credit outlook",
                            "credit outlooks 2026"],
    "bond screener download": ["bond screener download", "download bond screener",
                               "Bond Screener downloads", "bond screener download!"],
    "equity strategy report": ["equity strategy report", "Equity Strategy Reports", "report equity strategy",
                               "equity strategy report."],
    "api access market data": ["api access market data", "market data api access", "API access: market data",
                               "api access market datas"],
    "trade cost analysis": ["trade cost analysis", "Trade Cost Analysis", "analysis trade cost",
                            "trade costs analysis"],
    "rates weekly": ["rates weekly", "Rates Weekly", "weekly rates", "rates weekly?"],
    "index methodology": ["index methodology", "Index Methodology", "methodology index", "index methodologies"],
    "contact my sales coverage": ["contact my sales coverage", "Contact my sales coverage",
                                  "my sales coverage contact", "contact my sales coverages"],
    "em macro outlook": ["em macro outlook", "EM Macro Outlook", "outlook em macro", "em macro outlooks"],
    "option pricing model": ["option pricing model", "Option pricing models", "pricing model option",
                             "option pricing model?"],
    "invoice copy": ["invoice copy", "Invoice copies", "copy invoice", "invoice copy."],
    "event calendar": ["event calendar", "Event Calendar", "calendar event", "events calendar"],
    "portfolio analytics login": ["portfolio analytics login", "Portfolio Analytics Login",
                                  "login portfolio analytics", "portfolio analytics logins"],
}
_VARIANTS = [(q, v) for q, vs in QUESTIONS.items() for v in vs]
_QUESTION_W = np.linspace(2.0, 0.5, len(QUESTIONS))      # some questions are asked more often

#: theme -> (side, key words, comment templates)
THEMES = {
    "slow response": ("detractor", "slow response reply days waiting",
                      ["Response times are too slow, we wait days for a reply.",
                       "Slow response from the desk when we need an answer.",
                       "We waited days for a reply to a simple question.",
                       "Too slow to respond; waiting on answers is costing us."]),
    "pricing": ("detractor", "pricing expensive fees price cost",
                ["Pricing is expensive compared with other brokers.",
                 "Fees are too high for the service we get.",
                 "The price of market data keeps going up, too expensive.",
                 "Costs and fees need a review; pricing is not competitive."]),
    "platform outages": ("detractor", "platform outage down outages crashed",
                         ["The platform was down twice this quarter.",
                          "Platform outages during market hours are unacceptable.",
                          "Another outage: the platform crashed while we were trading.",
                          "Too many outages, the platform keeps going down."]),
    "research quality": ("promoter", "research quality insightful analysts excellent",
                         ["Research quality is excellent and insightful.",
                          "Your analysts write the most insightful research we read.",
                          "Excellent research, high quality and timely.",
                          "The quality of the research is the reason we stay."]),
    "helpful coverage team": ("promoter", "coverage team helpful responsive knows",
                              ["Our coverage team is very helpful and knows our needs.",
                               "Helpful coverage team, always responsive.",
                               "The coverage team knows our portfolio and is really helpful.",
                               "Great coverage team, helpful and proactive."]),
    "fast execution": ("promoter", "fast execution quick fills trades",
                       ["Fast execution and reliable fills.",
                        "Execution is fast, trades are filled quickly.",
                        "Quick execution even in volatile markets.",
                        "Very fast execution on our block trades."]),
}
_OPENERS = ("", "", "Overall: ", "Honestly, ", "This quarter: ", "As before, ")

_EVENT_HEADLINES = {
    "Equities": ("Equity markets sell off on earnings downgrades", "Index rebalance announced",
                 "Volatility spikes as equities slide", "Record equity inflows reported"),
    "Fixed Income": ("Central bank surprises with a rate cut", "Credit spreads widen sharply",
                     "Sovereign downgrade hits bond markets", "Yield curve inverts further"),
    "FX": ("Currency intervention announced", "Dollar rallies on payrolls surprise",
           "Emerging-market currencies slump", "FX volatility at a two-year high"),
    "Data & Analytics": ("New disclosure rules require more data", "Benchmark methodology change announced",
                         "Exchange raises market data fees", "Regulator publishes new reporting standard"),
}


# --------------------------------------------------------------------------------------------
# Result type
# --------------------------------------------------------------------------------------------

@dataclass
class Sample:
    """A generated sample: the canonical tables and the planted truth.

    Parameters
    ----------
    tables : dict of str to DataFrame
        The ten canonical tables of :mod:`clientstrategy.schema`, typed as the schema says.
    truth : dict of str to DataFrame
        The planted truth (``clients``, ``effects``, ``fit``, ``survey_waves``, ``drivers``,
        ``themes``, ``owner_bias``, ``page_pairs``, ``questions``, ``market_events``).
    """

    tables: dict = field(default_factory=dict)
    truth: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------

def _rng(random_state: int, *keys: int) -> np.random.Generator:
    """An independent, reproducible stream for one part of the generator."""
    return np.random.default_rng([int(random_state), *keys])


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """``prefix`` + zero-padded numbers, as an object array of str."""
    return np.array([f"{prefix}{k:0{width}d}" for k in numbers], dtype=object)


def _str(values) -> pd.Series:
    """A pandas ``str`` Series (missing values stay missing)."""
    return pd.Series(values, dtype="str")


def _dates(days: np.ndarray) -> np.ndarray:
    """Day indices since START -> datetime64[ns]."""
    return (START + np.asarray(days, dtype="int64").astype("timedelta64[D]")).astype("datetime64[ns]")


def _stamps(ns: np.ndarray) -> np.ndarray:
    """Nanoseconds since START -> datetime64[ns]."""
    return START.astype("datetime64[ns]") + np.asarray(ns, dtype="int64").astype("timedelta64[ns]")


def _day_of(date: str) -> int:
    return int((np.datetime64(date, "D") - START).astype(int))


def _weekday(days: np.ndarray) -> np.ndarray:
    """Monday = 0 ... Sunday = 6 (START, 2023-10-01, is a Sunday)."""
    return (np.asarray(days) + 6) % 7


def _to_monday(days: np.ndarray) -> np.ndarray:
    """Move Saturday and Sunday to the following Monday."""
    wd = _weekday(days)
    return days + np.where(wd == 5, 2, np.where(wd == 6, 1, 0))


def _to_friday(days: np.ndarray) -> np.ndarray:
    """Move Saturday and Sunday to the previous Friday (kept on or after day 0 by the caller)."""
    wd = _weekday(days)
    return days - np.where(wd == 5, 1, np.where(wd == 6, 2, 0))


def _pick_rows(cum: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Draw one column per row from row-wise cumulative probabilities ``cum[rows]``."""
    return (cum[rows] < u[:, None]).sum(axis=1).clip(max=cum.shape[1] - 1)


def _scaled(size: str) -> tuple[int, int] | None:
    """``"x4"`` -> four times the default's clients and people (for benchmarks); None otherwise."""
    m = re.fullmatch(r"x(\d{1,3})", str(size))
    if not m or int(m.group(1)) < 1:
        return None
    k = int(m.group(1))
    return SIZES["default"][0] * k, SIZES["default"][1] * k


def _check_reverse(reverse_causality) -> None:
    if reverse_causality is not None and reverse_causality not in _ACTIVITY:
        raise ValueError(f"reverse_causality must be one of {sorted(_ACTIVITY)} or None, got {reverse_causality!r}")


def _check_args(size: str, random_state) -> tuple[int, int]:
    if size not in SIZES and _scaled(size) is None:
        raise ValueError(f"size must be one of {sorted(SIZES)} or x<k> (k times the default), got {size!r}")
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)) or random_state < 0:
        raise ValueError(f"random_state must be a non-negative int, got {random_state!r}")
    return SIZES[size] if size in SIZES else _scaled(size)


# --------------------------------------------------------------------------------------------
# Global part: people, products, clients (latent traits), market events
# --------------------------------------------------------------------------------------------

def _people(n_people: int, seed: int) -> pd.DataFrame:
    rng = _rng(seed, 1)
    width = max(2, len(str(n_people)))
    n_spec = max(1, round(0.15 * n_people))
    role = np.array(["Coverage"] * (n_people - n_spec) + ["Specialist"] * n_spec, dtype=object)
    rng.shuffle(role)
    # balanced styles among coverage people so both styles own clients even at 8 people
    styles = np.array([_STYLES[k % 2] for k in range(n_people)], dtype=object)
    styles = styles[rng.permutation(n_people)]
    name_idx = rng.choice(len(_FIRST) * len(_LAST), size=n_people, replace=False)
    names = [f"{_FIRST[k // len(_LAST)]} {_LAST[k % len(_LAST)]}" for k in name_idx]
    region = np.array(REGIONS, dtype=object)[np.arange(n_people) % len(REGIONS)][rng.permutation(n_people)]
    team = np.where(role == "Coverage", "Client Coverage",
                    np.array([f"{c} Specialists" for c in CATEGORIES], dtype=object)[rng.integers(0, 4, n_people)])
    seniority = np.array(_SENIORITY, dtype=object)[rng.choice(4, n_people, p=[0.3, 0.35, 0.25, 0.1])]
    return pd.DataFrame({
        "person_id": _str(_ids("E", np.arange(1, n_people + 1), width)),
        "person_name": _str(names), "role": _str(role), "seniority": _str(seniority),
        "region": _str(region), "team": _str(team), "style": _str(styles),
    })


def _products() -> pd.DataFrame:
    return pd.DataFrame({
        "product_id": _str([p[0] for p in PRODUCTS]), "product_name": _str([p[1] for p in PRODUCTS]),
        "category": _str([p[2] for p in PRODUCTS]), "margin_rate": np.array([p[3] for p in PRODUCTS], float),
        "complexity": _str([p[4] for p in PRODUCTS]),
    })


def _market_events(seed: int) -> pd.DataFrame:
    rng = _rng(seed, 2)
    days = np.sort(rng.choice(np.arange(5, N_DAYS - 5), size=_N_EVENTS, replace=False))
    days = _to_monday(days)
    cat = rng.integers(0, len(CATEGORIES), _N_EVENTS)
    topic = np.array(CATEGORIES, dtype=object)[cat]
    by_product = rng.random(_N_EVENTS) < 0.15      # a few events are about one product
    prod_in_cat = [[p[0] for p in PRODUCTS if p[2] == c] for c in CATEGORIES]
    for k in np.flatnonzero(by_product):
        topic[k] = prod_in_cat[cat[k]][rng.integers(0, 3)]
    headline = [_EVENT_HEADLINES[CATEGORIES[c]][rng.integers(0, 4)] for c in cat]
    return pd.DataFrame({
        "date": _dates(days), "topic": _str(topic),
        "event_id": _str(_ids("M", np.arange(1, _N_EVENTS + 1), 3)),
        "magnitude": np.round(rng.gamma(3.0, 1.0, _N_EVENTS), 2), "headline": _str(headline),
        "_category": cat, "_day": days,
    })


def _clients(n: int, people: pd.DataFrame, seed: int) -> dict:
    """Latent traits of every client (numpy arrays) and the public clients table."""
    rng = _rng(seed, 3)
    width = max(4, len(str(n)))
    ids = _ids("C", np.arange(1, n + 1), width)

    # size (median 1) and the generator's own tier, by rank of latent size
    size = np.exp(rng.normal(0.0, 1.0, n))
    rank = np.empty(n, int)
    rank[np.argsort(-size, kind="stable")] = np.arange(n)
    tier = np.searchsorted(np.array(_TIER_CUM) * n, rank, side="right")

    counts = np.floor(np.array(_PERSONA_SHARE) * n).astype(int)
    counts[0] += n - counts.sum()
    persona = rng.permutation(np.repeat(np.arange(4), counts))

    # weekly purchase rate ~ Gamma(shape 2, scale 0.2): mean 0.4 purchase days a week
    rate = rng.gamma(2.0, 0.2, n)
    order = _LINE_MEAN * size                       # mean line amount

    # owners: coverage people, with uneven books; region mostly the owner's
    cov = np.flatnonzero(people["role"].to_numpy() == "Coverage")
    book = rng.dirichlet(np.full(len(cov), 3.0))
    owner = cov[rng.choice(len(cov), n, p=book)]
    person_region = people["region"].to_numpy(dtype=object)
    region = np.where(rng.random(n) < 0.85, person_region[owner],
                      np.array(REGIONS, dtype=object)[rng.integers(0, 4, n)])
    style = people["style"].to_numpy(dtype=object)[owner]

    # onboarding: 80% before the data starts, 20% during it; a few onboarded but never billed
    before = rng.random(n) < 0.8
    onboard = np.where(before, -rng.integers(30, 365 * 12, n), rng.integers(0, _END_DAY - 120, n))
    never = np.zeros(n, bool)
    n_never = max(2, round(_NEVER_BILLED * n))
    never[rng.choice(n, n_never, replace=False)] = True
    onboard[never] = rng.integers(_day_of("2025-01-01"), _END_DAY - 10, n_never)

    # satisfaction: base + tier shift + owner bias (one coverage person with a mid-sized book)
    books = np.bincount(owner, minlength=len(people))
    cand = cov[np.argsort(books[cov], kind="stable")]
    biased = cand[len(cand) // 2]
    satisfaction = rng.normal(_SAT_MEAN, _SAT_SD, n) + _TIER_SAT[tier] + np.where(owner == biased, _OWNER_BIAS, 0.0)

    # churn: odds fall with satisfaction; dates mostly in the first 30 months
    w = np.exp(-_CHURN_SAT_SLOPE * (satisfaction - satisfaction.mean()))
    p_churn = np.clip(_CHURN_SHARE * w / w.mean(), 0, 0.9)
    churned = (rng.random(n) < p_churn) & ~never
    first = np.maximum(onboard, 0) + 60
    late = rng.random(n) < 0.15
    lo = np.where(late, np.maximum(first, _day_of("2026-04-01")), first)
    hi = np.where(late, _END_DAY, np.maximum(_day_of("2026-04-01"), first + 1))
    churned &= hi > lo
    churn_day = np.where(churned, lo + np.floor(rng.random(n) * np.maximum(hi - lo, 1)).astype(int), N_DAYS)

    # market responders: ~12%, half of them Event-driven traders
    n_resp = round(_RESPONDER_SHARE * n)
    edt = np.flatnonzero((persona == EDT) & ~never)
    other = np.flatnonzero((persona != EDT) & ~never)
    resp = np.concatenate([rng.choice(edt, n_resp // 2, replace=False),
                           rng.choice(other, n_resp - n_resp // 2, replace=False)])
    topic = np.full(n, -1)
    topic[resp] = rng.integers(0, len(CATEGORIES), len(resp))

    # holdings: a main category, 1-6 products, weights; responders hold their topic
    main_cat = np.where(topic >= 0, topic, rng.integers(0, 4, n))
    affinity = np.where(_PROD_CAT[None, :] == main_cat[:, None], 4.0, 1.0)
    score = rng.gamma(affinity, 1.0)
    # a responder holds at least one product of its topic: lift one of them to the top
    r_pick = rng.integers(0, 3, len(resp))
    r_prod = np.array([np.flatnonzero(_PROD_CAT == t)[k] for t, k in zip(topic[resp], r_pick)], dtype=int)
    score[resp, r_prod] = score[resp].max(axis=1) + 1.0
    k_held = 1 + rng.binomial(5, 0.4, n)
    thr = -np.sort(-score, axis=1)[np.arange(n), k_held - 1]
    held = score >= thr[:, None]
    weights = np.where(held, score, 0.0)
    weights /= weights.sum(axis=1, keepdims=True)

    # share of wallet: Beta(2, 3); 10% hidden giants ~0.05; third-party coverage 85%
    giant = rng.random(n) < _HIDDEN_GIANT_SHARE
    sow = np.where(giant, rng.beta(4.0, 76.0, n), rng.beta(2.0, 3.0, n))
    covered = rng.random(n) < _THIRD_PARTY_SHARE
    users = 1 + rng.poisson(0.8 * np.sqrt(size))

    # public clients table (3% missing region; size band is the latent size seen through noise)
    region_pub = region.copy()
    region_pub[rng.random(n) < _MISSING_REGION] = None
    name_idx = rng.choice(len(_NAME_WORDS) * len(_NAME_WORDS2) * len(_SUFFIXES), n, replace=False)
    w1, rest = np.divmod(name_idx, len(_NAME_WORDS2) * len(_SUFFIXES))
    w2, sfx = np.divmod(rest, len(_SUFFIXES))
    names = [" ".join(x for x in (_NAME_WORDS[a], _NAME_WORDS2[b], _SUFFIXES[c][0]) if x)
             for a, b, c in zip(w1, w2, sfx)]
    industry = np.array([s[1] for s in _SUFFIXES], dtype=object)[sfx]
    seen = np.log(size) + rng.normal(0, 0.4, n)
    band = np.array(["Small", "Medium", "Large", "Very large"], dtype=object)[
        np.searchsorted(np.quantile(seen, [0.5, 0.8, 0.95]), seen)]
    complexity = np.array(["low", "medium", "high"], dtype=object)[
        np.clip(k_held // 2 + rng.integers(-1, 2, n), 0, 2)]
    table = pd.DataFrame({
        "client_id": _str(ids), "client_name": _str(names), "region": _str(region_pub),
        "industry": _str(industry), "size_band": _str(band), "onboarded_on": _dates(onboard),
        "owner_id": _str(people["person_id"].to_numpy(dtype=object)[owner]),
        "tag_complexity": _str(complexity),
    })
    return {"n": n, "ids": ids, "size": size, "tier": tier, "persona": persona, "rate": rate, "order": order,
            "owner": owner, "style": style, "onboard": onboard, "never": never, "satisfaction": satisfaction,
            "churned": churned, "churn_day": churn_day, "topic": topic, "weights": weights, "sow": sow,
            "giant": giant, "covered": covered, "users": users, "biased": biased, "table": table}


# --------------------------------------------------------------------------------------------
# Per block: activities, revenue, digital, surveys, third party
# --------------------------------------------------------------------------------------------

def _activities(c: dict, lo: int, hi: int, people: pd.DataFrame, rng) -> tuple[pd.DataFrame, dict]:
    """Touches of clients ``lo:hi`` and their effective betas (per client, day)."""
    n_b = hi - lo
    first = np.maximum(c["onboard"][lo:hi], 0)
    end = np.minimum(c["churn_day"][lo:hi], N_DAYS)
    alive_years = np.maximum(end - first, 0) / 365.25
    after_years = np.maximum(N_DAYS - end, 0) / 365.25
    root = np.sqrt(c["size"][lo:hi])
    n_people = len(people)
    p_style = np.array([_STYLES.index(s) for s in people["style"].to_numpy(dtype=object)])
    cols = {k: [] for k in ("ci", "day", "type", "outcome", "person")}
    for t, (base, outcomes) in _ACTIVITY.items():
        # touches scale with size**0.5 and with the time the client is with us; rarely after churn
        lam = base / 3.0 * root * (alive_years + 0.1 * after_years) * c.get("volume", (1, 1.0, 1.0))[1]
        k = rng.poisson(lam)
        ci = np.repeat(np.arange(n_b), k)
        share_alive = alive_years[ci] / np.maximum(alive_years[ci] + 0.1 * after_years[ci], 1e-9)
        in_life = rng.random(len(ci)) < share_alive
        u = rng.random(len(ci))
        day = np.where(in_life, first[ci] + np.floor(u * (end[ci] - first[ci])),
                       end[ci] + np.floor(u * (N_DAYS - end[ci]))).astype(int)
        day = _to_friday(day)
        day = np.where(day < first[ci], _to_monday(first[ci]), day)
        day = np.minimum(day, N_DAYS - 1)
        names = list(outcomes)
        oc = rng.choice(len(names), len(ci), p=list(outcomes.values()))
        owner_share = 0.5 if t == "event" else 0.8
        person = np.where(rng.random(len(ci)) < owner_share, c["owner"][lo:hi][ci],
                          rng.integers(0, n_people, len(ci)))
        cols["ci"].append(ci)
        cols["day"].append(day)
        cols["type"].append(np.full(len(ci), t, dtype=object))
        cols["outcome"].append(np.array(names, dtype=object)[oc])
        cols["person"].append(person)
    ci, day, typ, outcome, person = (np.concatenate(cols[k]) for k in ("ci", "day", "type", "outcome",
                                                                          "person"))
    beta = np.array([BETAS.get((a, b), 0.0) for a, b in zip(typ, outcome)])
    persona = c["persona"][lo:hi][ci]
    fit = np.array([[FIT[(s, p)] for p in PERSONAS] for s in _STYLES])[p_style[person], persona]
    eff = beta * fit / c.get("volume", (1, 1.0, 1.0))[1]
    # timestamps in business hours; duration by type
    sec = rng.integers(8 * 3600, 18 * 3600, len(ci))
    ts = day.astype("int64") * _NS_DAY + sec.astype("int64") * 10**9
    dur = np.full(len(ci), np.nan)
    for t, (a, b) in {"call": (3, 30), "meeting": (30, 90), "event": (60, 240), "other": (10, 45)}.items():
        m = typ == t
        dur[m] = rng.integers(a, b + 1, m.sum())
    dur[np.isin(outcome, ["unanswered", "voicemail", "no_show"])] = np.nan
    dur[(typ == "call") & (outcome == "voicemail")] = 1.0
    prod = rng.integers(0, len(PRODUCTS), len(ci))
    has_prod = rng.random(len(ci)) < 0.4
    topic = np.array(CATEGORIES, dtype=object)[_PROD_CAT[prod]]
    out_pub = outcome.copy()
    out_pub[rng.random(len(ci)) < _MISSING_OUTCOME] = None
    order = np.lexsort((typ, ts, ci))
    pids = people["person_id"].to_numpy(dtype=object)
    df = pd.DataFrame({
        "timestamp": _stamps(ts[order]), "client_id": _str(c["ids"][lo:hi][ci[order]]),
        "activity_type": _str(typ[order]), "person_id": _str(pids[person[order]]),
        "outcome": _str(out_pub[order]), "duration_min": dur[order],
        "product_id": _str(np.where(has_prod, np.array([p[0] for p in PRODUCTS], dtype=object)[prod],
                                    None)[order]),
        "topic": _str(topic[order]),
    })
    df = df.sort_values(["timestamp", "client_id"], kind="stable").reset_index(drop=True)
    return df, {"ci": ci, "day": day, "eff": eff}


def _revenue(c: dict, lo: int, hi: int, touches: dict, events: pd.DataFrame, people: pd.DataFrame,
             rng) -> tuple[pd.DataFrame, np.ndarray]:
    """Revenue lines of clients ``lo:hi`` and the mean rate multiplier over each client's life."""
    n_b = hi - lo
    # rate multiplier: 1 + sum of effective betas of touches in the previous 90 days
    diff = np.zeros((n_b, N_DAYS + _EFFECT_DAYS + 2))
    np.add.at(diff, (touches["ci"], touches["day"] + 1), touches["eff"])
    np.add.at(diff, (touches["ci"], touches["day"] + 1 + _EFFECT_DAYS), -touches["eff"])
    mult = 1.0 + np.cumsum(diff, axis=1)[:, :N_DAYS]
    days = np.arange(N_DAYS)
    weekday = _weekday(days) < 5
    first = np.maximum(c["onboard"][lo:hi], 0)
    end = c["churn_day"][lo:hi]
    alive = (days[None, :] >= first[:, None]) & (days[None, :] < end[:, None]) & weekday[None, :]
    rate = np.where(c["never"][lo:hi], 0.0, c["rate"][lo:hi]) / 5.0     # per weekday
    lam = rate[:, None] * mult
    buy = alive & (rng.random((n_b, N_DAYS)) < -np.expm1(-lam))
    mean_mult = np.where(alive.any(axis=1), (mult * alive).sum(axis=1) / np.maximum(alive.sum(axis=1), 1), 1.0)
    ci, day = np.nonzero(buy)
    lines_mult = c.get("volume", (1, 1.0, 1.0))[0]
    n_lines = (rng.choice(3, len(ci), p=_LINES_P) + 1) * lines_mult
    li = np.repeat(ci, n_lines)
    ld = np.repeat(day, n_lines)
    cum = np.cumsum(c["weights"][lo:hi], axis=1)
    prod = _pick_rows(cum, li, rng.random(len(li)))
    # lognormal line amounts with mean = the client's mean line (sigma 0.7)
    amount = c["order"][lo:hi][li] / lines_mult * np.exp(rng.normal(-0.245, 0.7, len(li)))

    # market responders: within 1-21 days after an event on their topic, p = 0.7, an extra order
    topic = c["topic"][lo:hi]
    resp = np.flatnonzero(topic >= 0)
    ev_day = events["_day"].to_numpy()
    ev_cat = events["_category"].to_numpy()
    pairs_c, pairs_e = np.nonzero(topic[resp][:, None] == ev_cat[None, :])
    rc = resp[pairs_c]
    ed = ev_day[pairs_e] + rng.integers(1, 22, len(rc))
    ed = _to_monday(ed)
    keep = (rng.random(len(rc)) < _RESPONSE_PROB) & (ed >= first[rc]) & (ed < end[rc]) & (ed < N_DAYS)
    rc, ed = rc[keep], ed[keep]
    in_cat = np.where(_PROD_CAT[None, :] == topic[rc][:, None], c["weights"][lo:hi][rc], 0.0)
    in_cat /= in_cat.sum(axis=1, keepdims=True)
    xprod = _pick_rows(np.cumsum(in_cat, axis=1), np.arange(len(rc)), rng.random(len(rc)))
    xamount = (_RESPONSE_ORDER * _EXPECTED_LINES * c["order"][lo:hi][rc]
               * np.exp(rng.normal(-0.045, 0.3, len(rc))))

    cl = np.concatenate([li, rc])
    dd = np.concatenate([ld, ed])
    pp = np.concatenate([prod, xprod])
    am = np.concatenate([amount, xamount])
    credit = rng.random(len(cl)) < _CREDIT_SHARE
    am = np.where(credit, -am * rng.uniform(0.1, 1.0, len(cl)), am)
    am = np.round(am, 2)
    cost = np.round(am * (1.0 - _PROD_MARGIN[pp]), 2)
    n_people = len(people)
    person = np.where(rng.random(len(cl)) < 0.95, c["owner"][lo:hi][cl], rng.integers(0, n_people, len(cl)))
    order = np.lexsort((pp, cl, dd))
    pids = people["person_id"].to_numpy(dtype=object)
    df = pd.DataFrame({
        "date": _dates(dd[order]), "client_id": _str(c["ids"][lo:hi][cl[order]]), "amount": am[order],
        "product_id": _str(np.array([p[0] for p in PRODUCTS], dtype=object)[pp[order]]),
        "person_id": _str(pids[person[order]]), "cost": cost[order],
    })
    return df, mean_mult


def _reverse_touches(c: dict, lo: int, hi: int, rev: pd.DataFrame, people: pd.DataFrame, kind: str,
                     rng) -> pd.DataFrame:
    """Touches of ``kind`` that follow the buying of clients ``lo:hi`` (effect 13, reverse causality).

    Drawn after the revenue from its own random stream, so every other table is unchanged; the
    touches have no effect on revenue.
    """
    pos = rev.loc[rev["amount"] > 0]
    ci_all = pd.Index(c["ids"][lo:hi]).get_indexer(pos["client_id"].to_numpy(dtype=object))
    day_all = ((pos["date"].to_numpy() - START.astype("datetime64[ns]")) // np.timedelta64(1, "D")).astype("int64")
    # one row per client and purchase day: its amount and its largest line's product
    key = ci_all.astype("int64") * N_DAYS + day_all
    order = np.lexsort((-pos["amount"].to_numpy(), key))
    key_o = key[order]
    first_line = np.r_[True, key_o[1:] != key_o[:-1]]
    uniq = key_o[first_line]
    amount = np.bincount(np.searchsorted(uniq, key_o), weights=pos["amount"].to_numpy()[order])
    prod_of = pd.Index([p[0] for p in PRODUCTS]).get_indexer(pos["product_id"].to_numpy(dtype=object)[order][first_line])
    ci, day = uniq // N_DAYS, uniq % N_DAYS
    mean = np.bincount(ci, weights=amount, minlength=hi - lo) / np.maximum(np.bincount(ci, minlength=hi - lo), 1)
    k = rng.poisson(_REVERSE_RATE * c.get("volume", (1, 1.0, 1.0))[1] * amount / mean[ci])
    ci, day, prod = np.repeat(ci, k), np.repeat(day, k), np.repeat(prod_of, k)
    day = _to_friday(day + rng.integers(-_REVERSE_DAYS, _REVERSE_DAYS + 1, len(ci)))
    first = np.maximum(c["onboard"][lo:hi], 0)
    ok = (day >= first[ci]) & (day < N_DAYS)
    ci, day, prod = ci[ok], day[ok], prod[ok]
    outcomes = _ACTIVITY[kind][1]
    names = np.array(list(outcomes), dtype=object)
    oc = names[rng.choice(len(names), len(ci), p=list(outcomes.values()))]
    oc[rng.random(len(ci)) < _MISSING_OUTCOME] = None
    person = np.where(rng.random(len(ci)) < 0.8, c["owner"][lo:hi][ci], rng.integers(0, len(people), len(ci)))
    sec = rng.integers(8 * 3600, 18 * 3600, len(ci))
    ts = day.astype("int64") * _NS_DAY + sec.astype("int64") * 10**9
    pids = people["person_id"].to_numpy(dtype=object)
    return pd.DataFrame({
        "timestamp": _stamps(ts), "client_id": _str(c["ids"][lo:hi][ci]), "activity_type": _str(np.full(len(ci), kind)),
        "person_id": _str(pids[person]), "outcome": _str(oc), "duration_min": np.full(len(ci), np.nan),
        "product_id": _str(np.array([p[0] for p in PRODUCTS], dtype=object)[prod]),
        "topic": _str(np.array(CATEGORIES, dtype=object)[_PROD_CAT[prod]]),
    })


def _digital(c: dict, lo: int, hi: int, events: pd.DataFrame, rng) -> pd.DataFrame:
    """Logins, page views, searches and downloads of clients ``lo:hi`` (without session ids)."""
    persona = c["persona"][lo:hi]
    # sessions a week, page views / searches / downloads per session, page-view seconds
    sessions = np.array([0.6, 0.04, 0.15, 0.12])
    per = np.array([[4.0, 1.2, 0.8], [1.0, 0.1, 0.1], [2.0, 1.5, 0.3], [0.5, 0.1, 1.0]])
    dwell = np.array([150.0, 50.0, 70.0, 40.0])
    days = np.arange(N_DAYS)
    burst = np.zeros(N_DAYS, bool)
    for d in events["_day"].to_numpy():
        burst[d + 1:min(d + 15, N_DAYS)] = True
    first = np.maximum(c["onboard"][lo:hi], 0)
    end = c["churn_day"][lo:hi]
    alive = (days[None, :] >= first[:, None]) & (days[None, :] < end[:, None])
    daily = (sessions[persona][:, None] / 7.0 * np.where(_weekday(days) < 5, 1.2, 0.5)[None, :]
             * c.get("volume", (1, 1.0, 1.0))[2])
    daily = np.where((persona == EDT)[:, None] & burst[None, :], daily * 4.0, daily)
    k = rng.poisson(daily * alive)
    ci, day = np.nonzero(k)
    reps = k[ci, day]
    s_ci = np.repeat(ci, reps)
    s_day = np.repeat(day, reps)
    n_s = len(s_ci)
    s_user = np.floor(rng.random(n_s) * c["users"][lo:hi][s_ci]).astype(int) + 1
    s_start = s_day.astype("int64") * 86_400 + rng.integers(7 * 3600, 22 * 3600, n_s)
    counts = rng.poisson(per[persona[s_ci]])                # (n_s, 3)
    n_ev = 1 + counts.sum(axis=1)
    sess = np.repeat(np.arange(n_s), n_ev)
    pos = np.arange(len(sess)) - np.repeat(np.cumsum(n_ev) - n_ev, n_ev)
    etype = np.empty(len(sess), dtype=object)
    etype[pos == 0] = "login"
    # the non-login events of a session, by kind, then shuffled within the session
    kinds = np.repeat(np.tile(np.arange(3), n_s), counts.ravel())   # in session order
    order_key = rng.random(len(kinds))
    sess_nl = np.repeat(np.arange(n_s), counts.sum(axis=1))
    perm = np.lexsort((order_key, sess_nl))
    kinds = kinds[perm]
    etype[pos > 0] = np.array(["page_view", "search", "download"], dtype=object)[kinds]

    page = np.full(len(sess), None, dtype=object)
    pv = etype == "page_view"
    pw = _PAGE_W / _PAGE_W.sum()
    page_idx = rng.choice(len(_PAGES), pv.sum(), p=pw)
    page[pv] = _PAGE_NAMES[page_idx]
    page[etype == "login"] = "login"
    dl = etype == "download"
    page[dl] = np.array(_DOWNLOADS, dtype=object)[rng.integers(0, len(_DOWNLOADS), dl.sum())]
    sr = etype == "search"
    page[sr] = "search"
    query = np.full(len(sess), None, dtype=object)
    qw = np.repeat(_QUESTION_W, [len(v) for v in QUESTIONS.values()])
    query[sr] = np.array([v for _, v in _VARIANTS], dtype=object)[rng.choice(len(_VARIANTS), sr.sum(),
                                                                               p=qw / qw.sum())]
    # planted co-views: a view of the first page brings a view of the second in the same session
    add_sess, add_page = [], []
    for a, b, p in PAGE_PAIRS:
        hit = np.flatnonzero(page == a)
        hit = hit[rng.random(len(hit)) < p]
        add_sess.append(sess[hit])
        add_page.append(np.full(len(hit), b, dtype=object))
    add_sess = np.concatenate(add_sess)
    sess = np.concatenate([sess, add_sess])
    etype = np.concatenate([etype, np.full(len(add_sess), "page_view", dtype=object)])
    page = np.concatenate([page, np.concatenate(add_page)])
    query = np.concatenate([query, np.full(len(add_sess), None, dtype=object)])
    pos = np.concatenate([pos, np.full(len(add_sess), 10**6)])     # after the session's other events
    # seconds into the session: cumulative gaps in (re)sorted session order
    o = np.lexsort((rng.random(len(sess)), pos, sess))
    sess, etype, page, query, pos = sess[o], etype[o], page[o], query[o], pos[o]
    gap = np.where(pos == 0, 0, rng.exponential(dwell[persona[s_ci[sess]]] * 0.7) + 5).astype("int64")
    csum = np.cumsum(gap)
    starts = np.flatnonzero(np.r_[True, sess[1:] != sess[:-1]])
    offset = csum - np.repeat(csum[starts], np.diff(np.r_[starts, len(sess)]))
    ts = (s_start[sess] + offset) * 10**9
    duration = np.full(len(sess), np.nan)
    isv = etype == "page_view"
    duration[isv] = np.round(rng.lognormal(np.log(dwell[persona[s_ci[sess[isv]]]]), 0.8), 1)
    is_s = etype == "search"
    duration[is_s] = np.round(rng.uniform(2, 20, is_s.sum()), 1)
    page_product = np.full(len(sess), None, dtype=object)
    for j, pid in enumerate(_PAGE_PRODUCT):
        if pid is not None:
            page_product[page == _PAGE_NAMES[j]] = pid
    ids = c["ids"][lo:hi]
    user = np.array([f"{cid}-U{u}" for cid, u in zip(ids[s_ci], s_user)], dtype=object)
    df = pd.DataFrame({
        "timestamp": _stamps(ts), "client_id": _str(ids[s_ci[sess]]), "event_type": _str(etype),
        "user_id": _str(user[sess]), "_session": sess, "page": _str(page), "search_query": _str(query),
        "duration_s": duration, "product_id": _str(page_product),
    })
    return df.sort_values(["timestamp", "client_id", "_session"], kind="stable").reset_index(drop=True)


def _comments(score: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Comment text and its theme for each response (None for ~40%)."""
    names = list(THEMES)
    det = [k for k, t in enumerate(names) if THEMES[t][0] == "detractor"]
    pro = [k for k, t in enumerate(names) if THEMES[t][0] == "promoter"]
    n = len(score)
    side_pro = np.where(score >= 9, True, np.where(score <= 6, False, rng.random(n) < 0.5))
    theme = np.where(side_pro, np.array(pro)[rng.integers(0, 3, n)], np.array(det)[rng.integers(0, 3, n)])
    has = rng.random(n) < _COMMENT_SHARE
    tpl = rng.integers(0, 4, n)
    opener = rng.integers(0, len(_OPENERS), n)
    text = np.array([_OPENERS[o] + THEMES[names[t]][2][k] if h else None
                     for t, k, o, h in zip(theme, tpl, opener, has)], dtype=object)
    th = np.where(has, np.array(names, dtype=object)[theme], None)
    return text, th


def _surveys(c: dict, lo: int, hi: int, rng) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Invites and responses of clients ``lo:hi``; per wave counts for the truth."""
    n_b = hi - lo
    first = c["onboard"][lo:hi]
    end = c["churn_day"][lo:hi]
    tier = c["tier"][lo:hi]
    sat = c["satisfaction"][lo:hi]
    inv_rows, resp_rows = [], []
    stats = np.zeros((len(WAVES), 6))   # invited, responded, pop promoters, pop detractors, resp prom, det
    for w, wave in enumerate(WAVES):
        year, q = int(wave[:4]), int(wave[-1])
        inv_day = _to_monday(np.array([_day_of(f"{year}-{3 * q - 1:02d}-10")]))[0]
        active = (first <= inv_day) & (end > inv_day)
        invited = active & (rng.random(n_b) < _INVITE_SHARE)
        ci = np.flatnonzero(invited)
        p = _TIER_RESPONSE[tier[ci]] * (_LOW_WAVE_FACTOR if wave == _LOW_WAVE else 1.0)
        r_day = inv_day + rng.integers(0, 21, len(ci))
        responds = (rng.random(len(ci)) < p) & (r_day < end[ci])
        # would-be score of every invited client; ratings drive it with weights 0.6 / 0.25 / 0.15
        z = rng.normal(0.0, 1.3, (len(ci), 3))
        ratings = np.clip(np.round(sat[ci][:, None] + z), 0, 10)
        score = np.round(np.clip(sat[ci] + z @ np.array([0.6, 0.25, 0.15]) + rng.normal(0, 0.6, len(ci)),
                                 0, 10)).astype("int64")
        resp_id = rng.integers(1, 4, len(ci))
        stats[w] = [len(ci), responds.sum(), (score >= 9).sum(), (score <= 6).sum(),
                    (score[responds] >= 9).sum(), (score[responds] <= 6).sum()]
        inv_rows.append(pd.DataFrame({"_day": np.full(len(ci), inv_day), "_ci": ci, "wave": wave,
                                      "_resp": resp_id}))
        text, _ = _comments(score[responds], rng)
        resp_rows.append(pd.DataFrame({
            "_day": r_day[responds], "_ci": ci[responds], "nps": score[responds], "_resp": resp_id[responds],
            "wave": wave, "comment": text, "rating_service": ratings[responds, 0],
            "rating_research": ratings[responds, 1], "rating_platform": ratings[responds, 2]}))
    ids = c["ids"][lo:hi]
    inv = pd.concat(inv_rows, ignore_index=True)
    res = pd.concat(resp_rows, ignore_index=True)

    def resp_ids(frame):
        return [f"{cid.replace('C', 'R', 1)}-{k}" for cid, k in zip(ids[frame["_ci"]], frame["_resp"])]

    invites = pd.DataFrame({"date": _dates(inv["_day"]), "client_id": _str(ids[inv["_ci"]]),
                            "wave": _str(inv["wave"]), "respondent_id": _str(resp_ids(inv))})
    surveys = pd.DataFrame({
        "date": _dates(res["_day"]), "client_id": _str(ids[res["_ci"]]),
        "nps": res["nps"].to_numpy("int64"), "respondent_id": _str(resp_ids(res)), "wave": _str(res["wave"]),
        "comment": _str(res["comment"]), "rating_service": res["rating_service"].astype(float),
        "rating_research": res["rating_research"].astype(float),
        "rating_platform": res["rating_platform"].astype(float),
    })
    invites = invites.sort_values(["date", "client_id"], kind="stable").reset_index(drop=True)
    surveys = surveys.sort_values(["date", "client_id"], kind="stable").reset_index(drop=True)
    return invites, surveys, stats


def _third_party(c: dict, lo: int, hi: int, mean_mult: np.ndarray, events: pd.DataFrame, rng) -> tuple:
    """Yearly outside-in snapshots for covered clients; also the expected annual revenue."""
    n_b = hi - lo
    size = c["size"][lo:hi]
    # expected annual revenue while active: purchase days x lines x mean line (with the average
    # activity uplift the client actually received), plus the market responders' extra orders
    per_cat = np.bincount(events["_category"].to_numpy(), minlength=4) / (N_DAYS / 365.25)
    topic = c["topic"][lo:hi]
    extra = np.where(topic >= 0, per_cat[np.maximum(topic, 0)] * _RESPONSE_PROB * _RESPONSE_ORDER
                     * _EXPECTED_LINES * c["order"][lo:hi], 0.0)
    days_per_year = 52.0 * (1 - np.exp(-c["rate"][lo:hi] / 5.0 * mean_mult)) * 5.0
    expected = days_per_year * _EXPECTED_LINES * c["order"][lo:hi] + extra
    wallet0 = expected / c["sow"][lo:hi]
    rows = []
    src = np.where(rng.random(n_b) < 0.7, "Meridian Analytics", "Harbourview Data")
    employees = np.round(300 * size ** 0.8 * rng.lognormal(0, 0.5, n_b))
    own_rev = wallet0 * 60 * rng.lognormal(0, 0.4, n_b)
    grade = np.clip(np.round(3 - np.log(size) + rng.normal(0, 0.8, n_b)), 0, 5).astype(int)
    for y, date in enumerate(_THIRD_PARTY_DATES):
        d = _day_of(date)
        ci = np.flatnonzero(c["covered"][lo:hi] & (c["onboard"][lo:hi] <= d))
        g = 1.04 ** y * rng.lognormal(0, 0.08, len(ci))
        rows.append(pd.DataFrame({
            "client_id": _str(c["ids"][lo:hi][ci]), "as_of": _dates(np.full(len(ci), d)),
            "wallet": np.round(wallet0[ci] * g, -2), "employees": np.round(employees[ci] * g),
            "annual_revenue": np.round(own_rev[ci] * g, -3),
            "intent_score": np.round(np.clip(rng.normal(55, 18, len(ci)), 0, 100), 1),
            "external_rating": _str(np.array(["AAA", "AA", "A", "BBB", "BB", "B"], dtype=object)[
                np.clip(grade[ci] + rng.integers(-1, 2, len(ci)) * (rng.random(len(ci)) < 0.2), 0, 5)]),
            "source": _str(src[ci]),
        }))
    tp = pd.concat(rows, ignore_index=True).sort_values(["client_id", "as_of"], kind="stable")
    return tp.reset_index(drop=True), expected


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------

def _statics(size: str, random_state: int) -> dict:
    n, n_people = _check_args(size, random_state)
    people = _people(n_people, random_state)
    events = _market_events(random_state)
    c = _clients(n, people, random_state)
    c["volume"] = VOLUME.get(size, (1, 1.0, 1.0))
    return {"people": people, "products": _products(), "events": events, "c": c}


def _blocks(g: dict, random_state: int, reverse_causality: str | None = REVERSE_KIND):
    """Yield ``(tables, truth_rows, wave_stats)`` per block of clients, ids numbered globally."""
    c, people, events = g["c"], g["people"], g["events"]
    n_tx = 0
    n_sess = 0
    for b, lo in enumerate(range(0, c["n"], _BLOCK)):
        hi = min(lo + _BLOCK, c["n"])
        acts, touches = _activities(c, lo, hi, people, _rng(random_state, 10, b))
        rev, mean_mult = _revenue(c, lo, hi, touches, events, people, _rng(random_state, 11, b))
        if reverse_causality:
            extra = _reverse_touches(c, lo, hi, rev, people, reverse_causality, _rng(random_state, 15, b))
            acts = (pd.concat([acts, extra], ignore_index=True).sort_values(["timestamp", "client_id"], kind="stable")
                    .reset_index(drop=True))
        dig = _digital(c, lo, hi, events, _rng(random_state, 12, b))
        inv, srv, stats = _surveys(c, lo, hi, _rng(random_state, 13, b))
        tp, expected = _third_party(c, lo, hi, mean_mult, events, _rng(random_state, 14, b))
        rev.insert(0, "transaction_id", _str(_ids("T", np.arange(n_tx + 1, n_tx + len(rev) + 1),
                                                  max(6, len(str(200 * c["n"]))))))
        n_tx += len(rev)
        # session numbers in order of first appearance (the table is in timestamp order)
        codes, first_seen = pd.factorize(dig["_session"])
        snum = codes + n_sess + 1
        dig.insert(4, "session_id", _str(_ids("S", snum, 8)))
        dig = dig.drop(columns="_session")
        n_sess += len(first_seen)
        tables = {"revenue": rev[["date", "client_id", "amount", "product_id", "person_id", "cost",
                                  "transaction_id"]],
                  "activities": acts, "digital": dig, "surveys": srv, "survey_invites": inv, "third_party": tp}
        truth = pd.DataFrame({"client_id": _str(c["ids"][lo:hi]), "expected_annual_revenue": expected,
                              "mean_activity_multiplier": mean_mult})
        yield tables, truth, stats


def _truth(g: dict, per_client: pd.DataFrame, stats: np.ndarray, reverse_causality: str | None = REVERSE_KIND) -> dict:
    c, people, events = g["c"], g["people"], g["events"]
    churned = c["churned"]
    clients = pd.DataFrame({
        "client_id": _str(c["ids"]), "size": c["size"], "tier": _str(np.array(_TIERS, dtype=object)[c["tier"]]),
        "churned": churned,
        "churn_date": pd.Series(np.where(churned, _dates(np.minimum(c["churn_day"], N_DAYS - 1)),
                                         np.datetime64("NaT", "ns")), dtype="datetime64[ns]"),
        "persona": _str(np.array(PERSONAS, dtype=object)[c["persona"]]),
        "responsive_topic": _str(np.where(c["topic"] >= 0, np.array(CATEGORIES, dtype=object)[
            np.maximum(c["topic"], 0)], None)),
        "satisfaction": c["satisfaction"], "sow_true": c["sow"], "hidden_giant": c["giant"],
        "purchase_rate_weekly": np.where(c["never"], 0.0, c["rate"]), "mean_line_amount": c["order"],
        "owner_id": _str(people["person_id"].to_numpy(dtype=object)[c["owner"]]),
        "owner_style": _str(c["style"]), "never_billed": c["never"], "third_party_covered": c["covered"],
        "onboarded_on": _dates(c["onboard"]),
    })
    clients = clients.merge(per_client, on="client_id", how="left", validate="1:1")
    effects = pd.DataFrame([(t, o, BETAS.get((t, o), 0.0)) for t, (_, oc) in _ACTIVITY.items() for o in oc],
                           columns=["activity_type", "outcome", "beta"])
    fit = pd.DataFrame([(s, p, m) for (s, p), m in FIT.items()], columns=["style", "persona", "multiplier"])

    def nps(pro, det, tot):
        return np.where(tot > 0, 100.0 * (pro - det) / np.maximum(tot, 1), np.nan)

    waves = pd.DataFrame({
        "wave": _str(WAVES), "invited": stats[:, 0].astype("int64"), "responded": stats[:, 1].astype("int64"),
        "response_rate": stats[:, 1] / np.maximum(stats[:, 0], 1),
        "nps_population": nps(stats[:, 2], stats[:, 3], stats[:, 0]),
        "nps_raw": nps(stats[:, 4], stats[:, 5], stats[:, 1]),
    })
    drivers = pd.DataFrame({"rating": _str(["rating_service", "rating_research", "rating_platform"]),
                            "weight": [0.6, 0.25, 0.15]})
    themes = pd.DataFrame([(t, v[1], v[0]) for t, v in THEMES.items()], columns=["theme", "keywords", "side"])
    owner_bias = pd.DataFrame({"person_id": _str([people["person_id"].iloc[c["biased"]]]),
                               "nps_bias": [_OWNER_BIAS]})
    page_pairs = pd.DataFrame(list(PAGE_PAIRS), columns=["page_a", "page_b", "p_follow"])
    questions = pd.DataFrame(_VARIANTS, columns=["question", "variant"])
    market = events[["event_id", "date", "topic"]].copy()
    market["category"] = _str(np.array(CATEGORIES, dtype=object)[events["_category"].to_numpy()])
    reverse = pd.DataFrame({"activity_type": _str([reverse_causality] if reverse_causality else []),
                            "per_purchase_day": [_REVERSE_RATE] if reverse_causality else [],
                            "days": [_REVERSE_DAYS] if reverse_causality else []})
    return {"clients": clients, "effects": effects, "fit": fit, "survey_waves": waves, "drivers": drivers,
            "themes": themes, "owner_bias": owner_bias, "page_pairs": page_pairs, "questions": questions,
            "market_events": market, "reverse_causality": reverse}


def generate(size: str = "default", random_state: int = 20261123,
             reverse_causality: str | None = REVERSE_KIND) -> Sample:
    """Generate the Northbridge Markets sample in memory.

    Parameters
    ----------
    size : {"small", "default", "large"}
        ``small``: 300 clients and 8 people (a few seconds); ``default``: 2,000 clients and 40
        people; ``large``: 100,000 clients and 2,000 people with :data:`VOLUME` (about 20 million
        revenue lines, 50 million touches and 200 million digital events: use
        :func:`write_sample`, which streams it block by block).
    random_state : int
        Seed; the same seed gives equal tables.
    reverse_causality : str or None
        The touch kind that follows the clients' buying (effect 13 of ``data/sample/README.md``;
        default :data:`REVERSE_KIND`); ``None`` leaves it out (the activities table then holds only
        the touches drawn before the revenue, every other table being the same).

    Returns
    -------
    Sample
        ``tables``: the ten canonical tables typed as :mod:`clientstrategy.schema` says (ids
        ``str``, dates ``datetime64[ns]``, amounts ``float``, ``nps`` int64); ``truth``: the
        planted truth described in ``data/sample/README.md``.

    Examples
    --------
    >>> s = generate("small", random_state=1)
    >>> sorted(s.tables) == sorted(["clients", "people", "products", "revenue", "activities", "digital",
    ...                             "market_events", "surveys", "survey_invites", "third_party"])
    True
    >>> bool((s.truth["clients"]["churned"]).any())
    True
    """
    _check_reverse(reverse_causality)
    g = _statics(size, random_state)
    parts: dict[str, list] = {}
    per_client, stats = [], 0
    for tables, truth_rows, st in _blocks(g, random_state, reverse_causality):
        for k, v in tables.items():
            parts.setdefault(k, []).append(v)
        per_client.append(truth_rows)
        stats = stats + st
    tables = {
        "clients": g["c"]["table"], "people": g["people"], "products": g["products"],
        "market_events": g["events"][["date", "topic", "event_id", "magnitude", "headline"]].copy(),
    }
    for k, v in parts.items():
        tables[k] = v[0] if len(v) == 1 else pd.concat(v, ignore_index=True)
    order = list(TABLES)
    tables = {k: tables[k] for k in order}
    truth = _truth(g, pd.concat(per_client, ignore_index=True), stats, reverse_causality)
    return Sample(tables=tables, truth=truth)


def _arrow_schema(df: pd.DataFrame):
    import pyarrow as pa

    fields = []
    for col in df.columns:
        dt = df[col].dtype
        if pd.api.types.is_datetime64_any_dtype(dt):
            t = pa.timestamp("ns")
        elif pd.api.types.is_bool_dtype(dt):
            t = pa.bool_()
        elif pd.api.types.is_integer_dtype(dt):
            t = pa.int64()
        elif pd.api.types.is_float_dtype(dt):
            t = pa.float64()
        else:
            t = pa.string()
        fields.append(pa.field(col, t))
    return pa.schema(fields)


class _TableSink:
    """Appends blocks of one table to a Parquet file (ParquetWriter) or a CSV file."""

    def __init__(self, path: Path, fmt: str):
        self.path, self.fmt, self.writer, self.schema = path, fmt, None, None

    def write(self, df: pd.DataFrame) -> None:
        if self.fmt == "csv":
            df.to_csv(self.path, mode="a" if self.schema is not None else "w", header=self.schema is None,
                      index=False, date_format=None)
            self.schema = True
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.writer is None:
            self.schema = _arrow_schema(df)
            self.writer = pq.ParquetWriter(self.path, self.schema)
        self.writer.write_table(pa.Table.from_pandas(df, schema=self.schema, preserve_index=False))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def write_sample(out, size: str = "default", random_state: int = 20261123, fmt: str = "parquet",
                 reverse_causality: str | None = REVERSE_KIND) -> Path:
    """Generate the sample and write it, streaming block by block, atomically.

    Writes ``<out>/tables/<table>.parquet`` (or ``.csv``) and ``<out>/truth/<name>.csv``. Both
    folders are first written inside a temporary folder in ``out`` and renamed into place at
    the end, so a failed run leaves the previous sample intact; other files in ``out`` (such as
    its README) are left alone.

    Parameters
    ----------
    out : str or Path
        Folder to write into (created if missing).
    size : {"small", "default", "large"}
        See :func:`generate`. ``large`` never holds more than one block of clients' heavy
        tables in memory.
    random_state : int
        Seed.
    fmt : {"parquet", "csv"}
        Format of the tables (truth is always CSV).
    reverse_causality : str or None
        See :func:`generate`.

    Returns
    -------
    Path
        ``<out>/tables``.

    Examples
    --------
    >>> import tempfile
    >>> d = write_sample(tempfile.mkdtemp(), size="small", fmt="csv")
    >>> (d / "revenue.csv").exists() and (d.parent / "truth" / "clients.csv").exists()
    True
    """
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt must be 'parquet' or 'csv', got {fmt!r}")
    out = Path(out)
    _check_args(size, random_state)
    _check_reverse(reverse_causality)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".sample-tmp-", dir=out))
    try:
        (tmp / "tables").mkdir()
        (tmp / "truth").mkdir()
        g = _statics(size, random_state)
        sinks = {name: _TableSink(tmp / "tables" / f"{name}.{fmt}", fmt) for name in TABLES}
        sinks["clients"].write(g["c"]["table"])
        sinks["people"].write(g["people"])
        sinks["products"].write(g["products"])
        sinks["market_events"].write(g["events"][["date", "topic", "event_id", "magnitude", "headline"]])
        per_client, stats = [], 0
        for tables, truth_rows, st in _blocks(g, random_state, reverse_causality):
            for k, v in tables.items():
                sinks[k].write(v)
            per_client.append(truth_rows)
            stats = stats + st
        for s in sinks.values():
            s.close()
        for name, df in _truth(g, pd.concat(per_client, ignore_index=True), stats, reverse_causality).items():
            df.to_csv(tmp / "truth" / f"{name}.csv", index=False)
        for part in ("tables", "truth"):
            target = out / part
            old = tmp / f"old-{part}"
            if target.exists():
                target.rename(old)
            (tmp / part).rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out / "tables"


#: the second persona generator (:func:`persona_sample`): name, share of clients, pages / searches /
#: downloads per session (Poisson means), mean seconds per page, sessions in the 10 days after a
#: market event (x normal). Other types, footprints and proportions than the bundled sample's four.
PERSONAS_2 = (("Screen watcher", 0.55, (4.0, 0.3, 0.1), 40.0, 1.0),
              ("Report reader", 0.30, (2.0, 0.3, 1.0), 120.0, 1.0),
              ("News reactor", 0.15, (2.0, 1.5, 0.2), 60.0, 3.0))


def persona_sample(n_clients: int = 1200, random_state: int = 7, intensity_sd: float = 1.3,
                   sessions_per_week: float = 0.5, n_events: int = 12, days: int = 365) -> Sample:
    """A second, independent persona generator: three behaviour types, each with its own footprint.

    Built to test persona recovery on something else than the bundled sample it was tuned on.
    A client's type sets *what it does in a session* (:data:`PERSONAS_2`: pages, searches and
    downloads per session, time per page, and for news reactors three times the sessions in the
    10 days after a market event); *how much* it comes is a matter of size: sessions a week are
    lognormal (median ``sessions_per_week``, log standard deviation ``intensity_sd``) whatever
    the type, so counts a month say little about the type and many clients are seen in only a few
    sessions. Each session starts with a ``login``; page views carry a duration.

    Parameters
    ----------
    n_clients : int
        Clients (types in the shares of :data:`PERSONAS_2`, exactly).
    random_state : int
        Seed.
    intensity_sd, sessions_per_week : float
        Spread and median of the sessions a week.
    n_events : int
        Market events (topic ``FX``) in the window.
    days : int
        Length of the window, ending at :data:`AS_OF`.

    Returns
    -------
    Sample
        ``tables``: ``clients``, ``digital``, ``market_events``; ``truth``: ``clients``
        (``client_id``, ``persona``).

    Examples
    --------
    >>> s = persona_sample(90, random_state=1)
    >>> s.truth["clients"]["persona"].value_counts().to_dict()
    {'Screen watcher': 50, 'Report reader': 27, 'News reactor': 13}
    >>> sorted(s.tables["digital"]["event_type"].unique())
    ['download', 'login', 'page_view', 'search']
    """
    _check_args("default", random_state)
    if n_clients < 3:
        raise ValueError("n_clients must be at least 3")
    rng = np.random.default_rng([int(random_state), 99])
    shares = np.array([t[1] for t in PERSONAS_2])
    counts = np.floor(shares * n_clients).astype(int)
    counts[0] += n_clients - counts.sum()
    typ = rng.permutation(np.repeat(np.arange(len(PERSONAS_2)), counts))
    start = AS_OF - pd.Timedelta(days=days - 1)
    ev_days = np.sort(rng.choice(np.arange(10, days - 10), n_events, replace=False))
    burst = np.zeros(days, bool)
    for d in ev_days:
        burst[d + 1: d + 11] = True
    weekly = np.exp(rng.normal(np.log(sessions_per_week), intensity_sd, n_clients))
    factor = np.array([t[4] for t in PERSONAS_2])[typ]
    k = rng.poisson(weekly[:, None] / 7 * np.where(burst[None, :], factor[:, None], 1.0))
    ci, day = np.nonzero(k)
    reps = k[ci, day]
    ci, day = np.repeat(ci, reps), np.repeat(day, reps)
    n_ev = rng.poisson(np.array([t[2] for t in PERSONAS_2])[typ[ci]])  # (sessions, 3)
    dwell = np.array([t[3] for t in PERSONAS_2])[typ[ci]]
    sess = np.arange(len(ci))
    t0 = (start.value + day.astype("int64") * _NS_DAY
          + rng.integers(7 * 3600, 21 * 3600, len(ci)).astype("int64") * 10**9)
    parts = [pd.DataFrame({"s": sess, "ts": t0, "event_type": "login", "duration_s": np.nan})]
    for j, kind in enumerate(("page_view", "search", "download")):
        m = n_ev[:, j]
        s_of = np.repeat(sess, m)
        gaps = rng.exponential(np.repeat(dwell, m)) + 5.0
        # seconds into the session: the gaps summed within each session
        offset = np.cumsum(gaps) - np.repeat(np.concatenate([[0.0], np.cumsum(gaps)])[np.cumsum(m) - m], m)
        dur = (np.round(rng.lognormal(np.log(np.repeat(dwell, m)), 0.6), 1) if kind == "page_view"
               else np.full(len(s_of), 5.0))
        parts.append(pd.DataFrame({"s": s_of, "ts": np.repeat(t0, m) + (offset * 1e9).astype("int64") + 10**9 * (j + 1),
                                   "event_type": kind, "duration_s": dur}))
    d = pd.concat(parts, ignore_index=True).sort_values(["ts", "s"], kind="stable").reset_index(drop=True)
    ids = _ids("Q", np.arange(1, n_clients + 1), max(4, len(str(n_clients))))
    digital = pd.DataFrame({
        "timestamp": pd.to_datetime(d["ts"].to_numpy()).astype("datetime64[ns]"),
        "client_id": _str(ids[ci[d["s"].to_numpy()]]), "event_type": _str(d["event_type"].to_numpy()),
        "session_id": _str(_ids("S", d["s"].to_numpy() + 1, 8)), "duration_s": d["duration_s"].to_numpy(),
    })
    events = pd.DataFrame({"date": (start + pd.to_timedelta(ev_days, "D")).astype("datetime64[ns]"),
                           "topic": _str(np.full(n_events, "FX")),
                           "event_id": _str(_ids("M", np.arange(1, n_events + 1), 3))})
    clients = pd.DataFrame({"client_id": _str(ids)})
    truth = pd.DataFrame({"client_id": _str(ids),
                          "persona": _str(np.array([t[0] for t in PERSONAS_2], dtype=object)[typ])})
    return Sample(tables={"clients": clients, "digital": digital, "market_events": events},
                  truth={"clients": truth})


# --------------------------------------------------------------------------------------------
# A planted experiment: the next-best-action control group over two quarters
# --------------------------------------------------------------------------------------------

#: Planted uplift per action type (``signal``), for each *contacted* client of the list, in the
#: quarter after the list: ``orders`` extra purchase days expected (Poisson), each an order the
#: size of the client's usual one; ``adopt`` the chance of buying the recommended category (one
#: order in it); ``nps`` points added to its answers in the window (capped at 10). Headroom
#: calls have no effect: the type where none is planted.
UPLIFT = {
    "falling activity": {"orders": 1.5},
    "detractor": {"orders": 0.5, "nps": 2.5},
    "cross-sell": {"adopt": 0.4},
    "headroom": {},
}
_COMPLIANCE = 0.85          # share of treated clients contacted as recommended
_CONTAMINATION = 0.10       # share of held-back clients contacted anyway
_WHALE_SHARE = 0.01         # listed clients with one giant order in the window, whatever their arm
_WHALE_ORDER = 25.0         # a giant order: 25x the client's usual order
_FOLLOWUP_RESPONSE = 0.8    # detractor follow-up survey (both arms) answered with this probability
_EXPERIMENT_CONTROL = 0.3   # share of the planted list held back
_CHANNEL = {"falling activity": "meeting", "detractor": "call", "cross-sell": "call", "headroom": "meeting"}
_CONTACT_OUTCOME = {"call": "answered", "meeting": "attended", "email": "opened"}


def _usual_orders(revenue: pd.DataFrame, ids, start: pd.Timestamp) -> tuple[pd.Series, dict]:
    """Each client's usual order (positive revenue per purchase day, last year) and its products."""
    r = revenue.loc[(revenue["date"] > start - pd.Timedelta(days=365)) & (revenue["date"] <= start)]
    day = r.groupby(["client_id", "date"])["amount"].sum()
    order = day[day > 0].groupby(level=0).mean()
    fallback = float(order.median()) if len(order) else 1000.0
    order = order.reindex(pd.Index(ids, dtype="str")).fillna(fallback)
    held = {}
    if "product_id" in r.columns:
        pos = r.loc[r["amount"] > 0]
        held = {c: g.to_numpy(dtype=object) for c, g in pos.groupby("client_id")["product_id"]}
    return order, held


def _window_truth(rev: pd.DataFrame, ids, start, end, cat: dict, topics: pd.Series) -> pd.DataFrame:
    """The generator's own count of the outcomes in ``(start, end]`` (revenue, purchase days, buying
    at all, buying the topic), to state the planted truth independently of the workbook."""
    idx = pd.Index(list(ids), dtype="str")
    r = rev.loc[(rev["date"] > start) & (rev["date"] <= end) & rev["client_id"].isin(set(idx))]
    out = pd.DataFrame(index=idx)
    out["revenue"] = r.groupby("client_id")["amount"].sum().reindex(idx).fillna(0.0)
    day = r.groupby(["client_id", "date"])["amount"].sum()
    out["purchases"] = (day > 0).groupby(level=0).sum().reindex(idx).fillna(0).astype(float)
    out["retained"] = (out["purchases"] > 0).astype(float)
    item = r["product_id"].astype("str").map(cat)
    by = r.groupby([r["client_id"], item])["amount"].sum()
    bought = set(by[by > 0].index)
    out["adopted"] = [float((c, topics.get(c)) in bought) for c in idx]
    return out


def plant_uplift(
    tables: dict,
    actions: pd.DataFrame,
    start,
    end=AS_OF,
    *,
    uplift: dict | None = None,
    compliance: float = _COMPLIANCE,
    contamination: float = _CONTAMINATION,
    whale_share: float = _WHALE_SHARE,
    followup_response: float = _FOLLOWUP_RESPONSE,
    random_state: int = 20261123,
) -> tuple[dict, dict]:
    """Plant a known uplift of a next-best-action list in the quarter after it.

    For every client of ``actions`` (its leading action: the highest ``expected_value``) the
    generator draws what acting would add in ``(start, end]`` by its action type (:data:`UPLIFT`):
    extra orders at the client's usual order value (its mean positive revenue per purchase day in
    the year before ``start``, lognormal lines, so the uplift is as heavy-tailed as the clients),
    an order in the recommended category, points on its NPS answers. Then contact: a treated
    client is contacted with probability ``compliance``, a held-back one with probability
    ``contamination`` (contamination); contact is a touch of the recommended channel about the
    action's topic by the list's person on a weekday in the first 30 days, written to
    ``activities``, and only contacted clients get their draws. Independently of arm and contact,
    a ``whale_share`` of the listed clients place one giant order (25x their usual) in the window,
    and each client listed for a detractor follow-up is sent a follow-up survey 45 days in,
    answered with probability ``followup_response`` (``wave`` "<quarter> follow-up").

    Nothing before ``start`` changes, so a workbook run up to ``start`` gives the same list.

    Parameters
    ----------
    tables : dict of str to DataFrame
        Canonical tables (``revenue``; ``activities``, ``surveys``, ``survey_invites``,
        ``products`` when present).
    actions : DataFrame
        The list: ``client_id``, ``control``, ``signal``, ``expected_value``, optional
        ``person_id``, ``action``, ``topic``.
    start, end : date-like
        The list's as_of and the end of the measured quarter.
    uplift : dict, optional
        Per ``signal``: ``orders``, ``adopt``, ``nps`` (default :data:`UPLIFT`; a signal not
        listed has no effect).
    compliance, contamination, whale_share, followup_response : float
        See above.
    random_state : int
        Seed.

    Returns
    -------
    (dict, dict)
        The tables with the window's additions (other tables unchanged), and the truth:
        ``uplift`` (``signal`` with "all", ``outcome``, ``clients``, ``per_contact`` = mean effect
        of a contact over the type's listed clients, ``itt`` = ``(compliance - contamination) x
        per_contact``, what the list's treated-against-held-back comparison estimates,
        ``promised`` = the treated clients' mean twelve-month ``expected_value`` scaled to the
        window by ``days / 365.25``, ``realisation`` = itt / promised) and ``contacts``
        (``client_id``, ``control``, ``contacted``, ``whale``).

    Examples
    --------
    >>> s = generate("small", random_state=3)
    >>> acts = pd.DataFrame({"client_id": ["C0001", "C0002"], "control": [False, True], "signal": "falling activity",
    ...                      "expected_value": [1000.0, 1000.0]})
    >>> t, truth = plant_uplift(s.tables, acts, "2026-06-30", compliance=1.0, contamination=0.0)
    >>> len(t["revenue"]) >= len(s.tables["revenue"]), sorted(truth["uplift"]["signal"].unique())
    (True, ['all', 'falling activity'])
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if end <= start:
        raise ValueError("plant_uplift needs end after start")
    for name in ("client_id", "control", "signal", "expected_value"):
        if name not in actions.columns:
            raise ValueError(f"actions needs column {name!r}")
    uplift = UPLIFT if uplift is None else uplift
    rng = _rng(random_state, 40)
    a = actions.copy()
    a["client_id"] = a["client_id"].astype("str")
    a["control"] = a["control"].astype("str").str.lower().isin(["true", "1"]).to_numpy()
    a["expected_value"] = pd.to_numeric(a["expected_value"], errors="coerce").fillna(0.0)
    a = a.sort_values(["client_id", "expected_value"], ascending=[True, False], kind="stable")
    u = a.groupby("client_id", sort=True).first()
    u["promised_12m"] = a.groupby("client_id")["expected_value"].sum()
    ids = u.index.to_numpy(dtype=object)
    n = len(ids)
    sig = u["signal"].astype("str").to_numpy(dtype=object)
    topic = u["topic"].astype("str").to_numpy(dtype=object) if "topic" in u.columns else np.full(n, "", object)
    channel = (u["action"].astype("str").to_numpy(dtype=object) if "action" in u.columns
               else np.array([_CHANNEL.get(s, "call") for s in sig], dtype=object))
    person = u["person_id"].astype("str").to_numpy(dtype=object) if "person_id" in u.columns else np.full(n, None)
    control = u["control"].to_numpy(dtype=bool)
    rev = tables["revenue"]
    order, held = _usual_orders(rev, ids, start)
    order = order.to_numpy()
    prods = tables.get("products")
    cat = (dict(zip(prods["product_id"].astype("str"), prods["category"].astype("str")))
           if prods is not None and "category" in prods.columns else {})
    margin = (dict(zip(prods["product_id"].astype("str"), prods["margin_rate"].astype(float)))
              if prods is not None and "margin_rate" in prods.columns else {})
    by_cat: dict = {}
    for p, k in cat.items():
        by_cat.setdefault(k, []).append(p)
    all_products = sorted(cat) or sorted(rev["product_id"].dropna().astype("str").unique())
    days = int((end - start).days)
    d0 = int((start.normalize() - pd.Timestamp(START)).days)

    def weekday_after(lo, span):
        d = lo + 1 + np.floor(rng.random(len(lo)) * np.maximum(span, 1)).astype(int)
        return np.minimum(_to_friday(d), d0 + days)

    # contact: who, when (a hypothetical day for everyone: the draws below come after it)
    contacted = rng.random(n) < np.where(control, contamination, compliance)
    c_day = weekday_after(np.full(n, d0), np.full(n, 30))
    c_day = np.where(c_day <= d0, d0 + 1, c_day)

    # potential extras of every listed client (applied only to the contacted)
    lam = np.array([uplift.get(s, {}).get("orders", 0.0) for s in sig])
    p_adopt = np.array([uplift.get(s, {}).get("adopt", 0.0) for s in sig])
    d_nps = np.array([uplift.get(s, {}).get("nps", 0.0) for s in sig])
    k_orders = rng.poisson(lam)
    adopt = (rng.random(n) < p_adopt) & np.array([t in by_cat for t in topic])
    rows_c, rows_d, rows_p, rows_a = [], [], [], []
    ci = np.repeat(np.arange(n), k_orders)
    o_day = weekday_after(c_day[ci], d0 + days - c_day[ci])
    n_lines = rng.choice(3, len(ci), p=_LINES_P) + 1
    li = np.repeat(ci, n_lines)
    ld = np.repeat(o_day, n_lines)
    for i, d in zip(li, ld):
        own = held.get(ids[i])
        rows_p.append(str(own[rng.integers(0, len(own))]) if own is not None and len(own)
                      else all_products[rng.integers(0, len(all_products))])
        rows_c.append(i)
        rows_d.append(d)
    rows_a.extend(order[li] / _EXPECTED_LINES * np.exp(rng.normal(-0.245, 0.7, len(li))))
    ai = np.flatnonzero(adopt)
    a_day = weekday_after(c_day[ai], d0 + days - c_day[ai])
    for i, d in zip(ai, a_day):
        cands = by_cat[topic[i]]
        rows_p.append(cands[rng.integers(0, len(cands))])
        rows_c.append(i)
        rows_d.append(d)
    rows_a.extend(order[ai] * np.exp(rng.normal(-0.245, 0.7, len(ai))))
    extra = pd.DataFrame({"ci": np.array(rows_c, dtype=int), "day": np.array(rows_d, dtype=int),
                          "product_id": pd.Series(rows_p, dtype=object), "amount": np.round(rows_a, 2)})

    # giant orders, whatever the arm: noise the estimator must withstand
    whale = rng.random(n) < whale_share
    wi = np.flatnonzero(whale)
    w_day = weekday_after(np.full(len(wi), d0), np.full(len(wi), days))
    giants = pd.DataFrame({"ci": wi, "day": w_day, "product_id": pd.Series(
        [str(held[ids[i]][0]) if ids[i] in held else all_products[0] for i in wi], dtype=object),
        "amount": np.round(_WHALE_ORDER * order[wi] * np.exp(rng.normal(-0.045, 0.3, len(wi))), 2)})

    def lines(df):
        pid = df["product_id"].astype("str")
        return pd.DataFrame({
            "date": _dates(df["day"].to_numpy()), "client_id": _str(ids[df["ci"].to_numpy()]),
            "amount": df["amount"].to_numpy(dtype=float), "product_id": _str(pid),
            "person_id": _str(person[df["ci"].to_numpy()]),
            "cost": np.round(df["amount"].to_numpy() * (1 - pid.map(margin).fillna(0.5).to_numpy()), 2)})

    base = pd.concat([rev, lines(giants)], ignore_index=True)
    acting = lines(extra)
    cids = pd.Series(ids)
    truth_rows = []
    topics = pd.Series(topic, index=ids)
    y0 = _window_truth(base, ids, start, end, cat, topics)
    y1 = _window_truth(pd.concat([base, acting], ignore_index=True), ids, start, end, cat, topics)
    effect = y1 - y0

    # surveys: follow-ups for detractor clients (both arms), then points for the contacted
    sv, inv = tables.get("surveys"), tables.get("survey_invites")
    answers = None
    if sv is not None:
        det = np.flatnonzero(d_nps > 0) if d_nps.any() else np.flatnonzero(sig == "detractor")
        f_day = np.full(len(det), d0 + 45)
        f_day = _to_monday(f_day)
        answer = rng.random(len(det)) < followup_response
        r_day = f_day + rng.integers(0, 21, len(det))
        past = sv.loc[sv["date"] <= start].groupby("client_id")["nps"].mean()
        mean = past.reindex(ids[det]).fillna(float(sv["nps"].mean()) if len(sv) else 7.0).to_numpy()
        score = np.clip(np.round(mean + 1.0 + rng.normal(0, 1.5, len(det))), 0, 10).astype("int64")
        quarter = str(pd.Period(end, freq="Q"))
        new_sv = pd.DataFrame({"date": _dates(r_day[answer]), "client_id": _str(ids[det[answer]]),
                               "nps": score[answer], "wave": _str([f"{quarter} follow-up"] * int(answer.sum()))})
        sv = pd.concat([sv, new_sv], ignore_index=True)
        if inv is not None:
            inv = pd.concat([inv, pd.DataFrame({"date": _dates(f_day), "client_id": _str(ids[det]),
                                                "wave": _str([f"{quarter} follow-up"] * len(det))})],
                            ignore_index=True)
        in_win = (sv["date"] > start) & (sv["date"] <= end)
        pos = pd.Series(np.arange(n), index=ids)
        who = sv["client_id"].astype("str").map(pos)
        gain = in_win & who.notna()
        gi = who[gain].astype(int).to_numpy()
        first = sv.loc[gain].assign(_i=gi).sort_values("date", kind="stable").groupby("_i")["nps"].first()
        answers = pd.DataFrame({"i": first.index.to_numpy(), "y0": first.to_numpy(dtype=float)})
        answers["y1"] = np.minimum(answers["y0"] + d_nps[answers["i"]], 10.0)
        lift = gain.copy()
        lift.loc[gain] = contacted[gi]
        if lift.any():
            sv.loc[lift, "nps"] = np.minimum(sv.loc[lift, "nps"].to_numpy() + d_nps[who[lift].astype(int)],
                                             10).round().astype("int64")
        sv["nps"] = sv["nps"].astype("int64")
        sv = sv.sort_values(["date", "client_id"], kind="stable").reset_index(drop=True)

    # the tables: contacted clients' extras, giants, contact touches
    out = dict(tables)
    did = acting.loc[contacted[extra["ci"].to_numpy()]] if len(extra) else acting
    new_rev = pd.concat([base, did], ignore_index=True).sort_values(["date", "client_id"], kind="stable")
    if "transaction_id" in rev.columns:
        width = len(str(rev["transaction_id"].dropna().iloc[-1])) - 1 if rev["transaction_id"].notna().any() else 6
        missing = new_rev["transaction_id"].isna().to_numpy()
        new_rev.loc[missing, "transaction_id"] = _ids("TX", np.arange(1, missing.sum() + 1), max(width - 1, 6))
        new_rev["transaction_id"] = new_rev["transaction_id"].astype("str")
    out["revenue"] = new_rev[list(rev.columns)].reset_index(drop=True)
    acts = tables.get("activities")
    if acts is not None:
        k = np.flatnonzero(contacted)
        sec = rng.integers(9 * 3600, 17 * 3600, len(k)).astype("int64")
        touch = pd.DataFrame({
            "timestamp": _stamps(c_day[k].astype("int64") * _NS_DAY + sec * 10**9), "client_id": _str(ids[k]),
            "activity_type": _str(channel[k]), "person_id": _str(person[k]),
            "outcome": _str([_CONTACT_OUTCOME.get(c, "completed") for c in channel[k]]),
            "duration_min": np.where(channel[k] == "meeting", 45.0, np.where(channel[k] == "call", 15.0, np.nan)),
            "product_id": _str([None] * len(k)), "topic": _str(topic[k])})
        out["activities"] = (pd.concat([acts, touch[[c for c in acts.columns if c in touch.columns]]],
                                       ignore_index=True).sort_values(["timestamp", "client_id"], kind="stable")
                             .reset_index(drop=True))
    if sv is not None:
        out["surveys"] = sv[list(tables["surveys"].columns)]
    if inv is not None:
        out["survey_invites"] = inv[list(tables["survey_invites"].columns)].sort_values(
            ["date", "client_id"], kind="stable").reset_index(drop=True)

    # the truth: the contact's effect on each type's clients, and what the comparison estimates
    gap = compliance - contamination
    for s_ in ["all"] + sorted(set(sig)):
        m = np.ones(n, bool) if s_ == "all" else sig == s_
        treated = m & ~control
        promised = float(u["promised_12m"].to_numpy()[treated].mean()) * days / 365.25 if treated.any() else np.nan
        outs = ["revenue"] if s_ == "all" else ["revenue", "purchases", "retained", "adopted", "nps"]
        for o in outs:
            if o == "nps":
                if answers is None:
                    continue
                e = (answers["y1"] - answers["y0"]).to_numpy()[m[answers["i"].to_numpy()]]
            else:
                e = effect[o].to_numpy()[m]
            if not len(e):
                continue
            pc = float(np.mean(e))
            truth_rows.append({"signal": s_, "outcome": o, "clients": len(e), "per_contact": pc, "itt": gap * pc,
                               "promised": promised if o == "revenue" else np.nan,
                               "realisation": gap * pc / promised if o == "revenue" and promised > 0 else np.nan})
    truth = {"uplift": pd.DataFrame(truth_rows),
             "contacts": pd.DataFrame({"client_id": _str(cids), "control": control, "contacted": contacted,
                                       "whale": whale})}
    return out, truth


def _first_quarter_list(tables: dict, truth: dict, start: pd.Timestamp, share: float, rng) -> pd.DataFrame:
    """The planted experiment's list at ``start``: one action per billed client, a stratified control."""
    rev = tables["revenue"]
    r = rev.loc[(rev["date"] > start - pd.Timedelta(days=365)) & (rev["date"] <= start)]
    ltm = r.groupby("client_id")["amount"].sum()
    ltm = ltm[ltm > 0]
    last = r.loc[r["amount"] > 0].groupby("client_id")["date"].max().reindex(ltm.index)
    cat = dict(zip(tables["products"]["product_id"], tables["products"]["category"]))
    cats = r.loc[r["amount"] > 0].assign(cat=r["product_id"].map(cat)).groupby("client_id")["cat"].agg(set)
    sv = tables["surveys"]
    recent = sv.loc[(sv["date"] > start - pd.Timedelta(days=730)) & (sv["date"] <= start)]
    latest = recent.sort_values("date", kind="stable").groupby("client_id")["nps"].last()
    tp = tables["third_party"]
    wallet = tp.loc[tp["as_of"] <= start].sort_values("as_of", kind="stable").groupby("client_id")["wallet"].last()
    popular = list(pd.Series([c for s in cats for c in s]).value_counts().index)
    rows = []
    for cid, value in ltm.items():
        w = wallet.get(cid, np.nan)
        missing = [c for c in popular if c not in cats.get(cid, set())]
        if latest.get(cid, 10) <= 6:
            rows.append((cid, "detractor", "service recovery", 0.2 * 0.3 * value,
                         f"Scored us {int(latest[cid])}/10 in the last two years."))
        elif (start - last[cid]).days >= 45:
            rows.append((cid, "falling activity", "relationship review", 0.2 * 0.5 * value,
                         f"No purchase for {(start - last[cid]).days} days."))
        elif missing and rng.random() < 0.5:
            rows.append((cid, "cross-sell", missing[0], 0.1 * value / max(len(cats.get(cid, ())), 1),
                         f"Similar clients hold {missing[0]}; this client does not."))
        elif np.isfinite(w) and w >= 3 * value:
            rows.append((cid, "headroom", "share of wallet", min(0.02 * (w - value), 0.25 * value),
                         "Outside data put most of its spend with other providers."))
    acts = pd.DataFrame(rows, columns=["client_id", "signal", "topic", "expected_value", "reason"])
    clients = tables["clients"].set_index("client_id")
    acts["person_id"] = acts["client_id"].map(clients["owner_id"]).astype("str")
    acts["tier"] = acts["client_id"].map(truth["clients"].set_index("client_id")["tier"]).astype("str")
    acts["action"] = acts["signal"].map(_CHANNEL).astype("str")
    # stratified control, person x tier, as the workbook assigns it
    control = np.zeros(len(acts), bool)
    for _, g in acts.groupby(["person_id", "tier"], sort=True):
        idx = g.index.to_numpy()[np.argsort(g["client_id"].to_numpy())]
        exact = share * len(idx)
        k = int(np.floor(exact)) + int(rng.random() < exact - np.floor(exact))
        control[rng.permutation(idx)[:k]] = True
    acts["control"] = control
    acts = acts.sort_values(["person_id", "expected_value", "client_id"], ascending=[True, False, True],
                            ignore_index=True)
    acts["rank"] = acts.groupby("person_id").cumcount() + 1
    for c in ("client_id", "signal", "topic", "reason", "action"):
        acts[c] = acts[c].astype("str")
    return acts[["person_id", "client_id", "rank", "action", "topic", "reason", "expected_value", "control",
                 "signal", "tier"]]


def generate_uplift_experiment(
    size: str = "default",
    random_state: int = 20261123,
    *,
    start="2026-06-30",
    end=AS_OF,
    uplift: dict | None = None,
    control_share: float = _EXPERIMENT_CONTROL,
    compliance: float = _COMPLIANCE,
    contamination: float = _CONTAMINATION,
    whale_share: float = _WHALE_SHARE,
) -> Sample:
    """The sample with a planted next-best-action experiment over two quarters.

    The default sample (:func:`generate`, unchanged up to ``start``) plus, at ``start``, a list of
    one action per client billed in the year before: a **detractor** follow-up when its latest
    answer in two years was 0-6, else **falling activity** when it has not bought for 45 days,
    else (for half the rest, at random) **cross-sell** of the most common category it does not
    buy, else **headroom** when its outside wallet is at least three times its revenue. Each with
    a twelve-month expected value (the list's promise) and the workbook's owner and tier; a
    ``control_share`` held back at random within person x tier (the workbook's design). Then
    :func:`plant_uplift` plants :data:`UPLIFT` in ``(start, end]``: retention calls bring orders,
    detractor calls points on the next answer (and a few orders), cross-sell calls adoption of the
    category, headroom calls nothing; with contamination and giant orders.

    Parameters
    ----------
    size : str
        As :func:`generate`.
    random_state : int
        Seed.
    start, end : date-like
        The list's date and the end of the quarter measured.
    uplift : dict, optional
        Per signal (default :data:`UPLIFT`).
    control_share, compliance, contamination, whale_share : float
        The design and the planted compliance.

    Returns
    -------
    Sample
        ``tables``: the canonical tables with the window's additions; ``truth``: the default
        sample's truth plus ``actions`` (the list, as ``next_best_actions.csv`` holds it),
        ``uplift`` and ``contacts`` (:func:`plant_uplift`).

    Examples
    --------
    >>> s = generate_uplift_experiment("small", random_state=5)
    >>> sorted(s.truth["actions"]["signal"].unique())
    ['cross-sell', 'detractor', 'falling activity', 'headroom']
    >>> float(s.truth["uplift"].query("signal == 'headroom' and outcome == 'revenue'")["itt"].iloc[0])
    0.0
    """
    start = pd.Timestamp(start)
    base = generate(size, random_state)
    actions = _first_quarter_list(base.tables, base.truth, start, control_share, _rng(random_state, 41))
    tables, planted = plant_uplift(base.tables, actions, start, end, uplift=uplift, compliance=compliance,
                                   contamination=contamination, whale_share=whale_share, random_state=random_state)
    return Sample(tables=tables, truth={**base.truth, "actions": actions, **planted})


def main(argv=None) -> int:
    """Command line: ``python -m clientstrategy.sample --out DIR --size S --seed N --format F``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status 0; the tables' folder and row counts are printed.

    Examples
    --------
    >>> import tempfile
    >>> main(["--out", tempfile.mkdtemp(), "--size", "small", "--format", "csv"])  # doctest: +ELLIPSIS
    wrote ...
    0
    """
    parser = argparse.ArgumentParser(prog="python -m clientstrategy.sample",
                                     description="Write the Northbridge Markets sample (fictional).")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[2] / "data" / "sample"),
                        help="folder; tables go to OUT/tables, truth to OUT/truth")
    parser.add_argument("--size", default="default",
                        help=f"one of {sorted(SIZES)}, or x<k> for k times the default (benchmarks)")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--format", dest="fmt", default="parquet", choices=["parquet", "csv"])
    parser.add_argument("--reverse-causality", default=REVERSE_KIND,
                        help="touch kind that follows the clients' buying (README effect 13), 'none' to leave it out")
    args = parser.parse_args(argv)
    reverse = None if str(args.reverse_causality).lower() in ("", "none") else args.reverse_causality
    t0 = time.perf_counter()   # elapsed time for the message only; never part of the output data
    path = write_sample(args.out, size=args.size, random_state=args.seed, fmt=args.fmt, reverse_causality=reverse)
    print(f"wrote {path} ({args.size}, seed {args.seed}, {args.fmt}) in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
