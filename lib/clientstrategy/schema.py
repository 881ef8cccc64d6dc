"""The canonical input tables of the workbook (SPEC section 1) and the client profile's columns.

One place says which tables exist, their key, their required and optional columns with a
logical type, and which columns reference which table. ``io``, ``mapping``, ``validate`` and
``sample`` all read it; nothing here computes anything.

Logical types
-------------
``id``        string identifier (numbers are read as text: ``"007"`` stays ``"007"``)
``str``       free text
``date``      calendar date (``datetime64``, midnight)
``datetime``  timestamp (``datetime64``)
``float``     number
``int``       whole number (nullable)
``bool``      true/false
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ACTIVITY_TYPES",
    "INTENTS",
    "PROFILE_COLUMNS",
    "REQUIRED_TABLES",
    "TABLES",
    "TIERS",
    "Table",
    "table_columns",
]


@dataclass(frozen=True)
class Table:
    """One canonical table.

    Parameters
    ----------
    name : str
        Table name, also the file stem (``clients.csv``, ``clients.parquet``).
    required : dict
        Column name -> logical type, columns that must be present.
    optional : dict
        Column name -> logical type, columns that may be present.
    key : str or None
        Column that must be unique, if any.
    references : dict
        Column -> ``(table, column)`` it must match when both are present.
    prefixes : dict
        Column-name prefix -> logical type for open families (``tag_*``, ``rating_*``).
    """

    name: str
    required: dict
    optional: dict = field(default_factory=dict)
    key: str | None = None
    references: dict = field(default_factory=dict)
    prefixes: dict = field(default_factory=dict)

    @property
    def columns(self) -> dict:
        """All named columns, required first."""
        return {**self.required, **self.optional}

    def type_of(self, column: str) -> str | None:
        """The logical type of ``column`` (including prefixed families), or None if unknown."""
        if column in self.required:
            return self.required[column]
        if column in self.optional:
            return self.optional[column]
        for prefix, kind in self.prefixes.items():
            if column.startswith(prefix):
                return kind
        return None


TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        Table(
            "clients",
            required={"client_id": "id"},
            optional={"client_name": "str", "region": "str", "industry": "str", "size_band": "str",
                      "onboarded_on": "date", "owner_id": "id"},
            key="client_id",
            references={"owner_id": ("people", "person_id")},
            prefixes={"tag_": "str"},
        ),
        Table(
            "people",
            required={"person_id": "id"},
            optional={"person_name": "str", "role": "str", "seniority": "str", "region": "str",
                      "team": "str", "style": "str"},
            key="person_id",
        ),
        Table(
            "products",
            required={"product_id": "id"},
            optional={"product_name": "str", "category": "str", "margin_rate": "float", "complexity": "str"},
            key="product_id",
        ),
        Table(
            "revenue",
            required={"date": "date", "client_id": "id", "amount": "float"},
            optional={"product_id": "id", "person_id": "id", "cost": "float", "quantity": "float",
                      "transaction_id": "id"},
            references={"client_id": ("clients", "client_id"), "product_id": ("products", "product_id"),
                        "person_id": ("people", "person_id")},
        ),
        Table(
            "activities",
            required={"timestamp": "datetime", "client_id": "id", "activity_type": "str"},
            optional={"person_id": "id", "outcome": "str", "duration_min": "float", "product_id": "id",
                      "topic": "str"},
            references={"client_id": ("clients", "client_id"), "person_id": ("people", "person_id"),
                        "product_id": ("products", "product_id")},
        ),
        Table(
            "digital",
            required={"timestamp": "datetime", "client_id": "id", "event_type": "str"},
            optional={"user_id": "id", "session_id": "id", "page": "str", "search_query": "str",
                      "duration_s": "float", "product_id": "id"},
            references={"client_id": ("clients", "client_id"), "product_id": ("products", "product_id")},
        ),
        Table(
            "market_events",
            required={"date": "date", "topic": "str"},
            optional={"event_id": "id", "magnitude": "float", "headline": "str"},
        ),
        Table(
            "surveys",
            required={"date": "date", "client_id": "id", "nps": "int"},
            optional={"respondent_id": "id", "wave": "str", "comment": "str"},
            references={"client_id": ("clients", "client_id")},
            prefixes={"rating_": "float"},
        ),
        Table(
            "survey_invites",
            required={"date": "date", "client_id": "id"},
            optional={"wave": "str", "respondent_id": "id"},
            references={"client_id": ("clients", "client_id")},
        ),
        Table(
            "third_party",
            required={"client_id": "id", "as_of": "date"},
            optional={"wallet": "float", "employees": "float", "annual_revenue": "float",
                      "intent_score": "float", "external_rating": "str", "source": "str"},
            references={"client_id": ("clients", "client_id")},
        ),
    ]
}

REQUIRED_TABLES = ("revenue",)

ACTIVITY_TYPES = ("call", "email", "meeting", "event", "document", "other")

TIERS = ("Platinum", "Gold", "Silver", "Bronze")

INTENTS = ("grow", "maintain", "re-engineer", "retire")

#: Columns of ``artifacts/client_profile.parquet`` in SPEC order; a column whose source
#: table is absent is present and null.
PROFILE_COLUMNS = (
    "client_id", "revenue_ltm", "revenue_prior_ltm", "growth", "tier", "segment", "segment_id", "p_alive",
    "expected_purchases_12m", "expected_purchases_12m_low", "expected_purchases_12m_high",
    "clv", "clv_low", "clv_high", "engagement_score", "persona", "persona_id", "nps_last", "wallet",
    "share_of_wallet", "headroom", "value_to_business", "value_to_client", "group", "intent",
    "service_level",
)


def table_columns(name: str) -> list[str]:
    """Names of the required and optional columns of table ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not a canonical table.
    """
    if name not in TABLES:
        raise ValueError(f"unknown table {name!r}; canonical tables are {sorted(TABLES)}")
    return list(TABLES[name].columns)
