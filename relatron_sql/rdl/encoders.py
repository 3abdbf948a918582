"""Column encoders per table: turn a table's feature columns into model-ready arrays.

Per table, fitted once and stored as JSON:
- numeric and boolean columns: standardised (mean, std over the finite values), NULL, NaN and
  +-inf -> 0 plus a missing flag (a column with no finite value is all missing);
- categorical columns: a vocabulary, codes 1..V, 0 for NULL or unseen values;
- text columns: hashed into ``TEXT_BUCKETS`` codes (DuckDB ``hash``);
- timestamp columns: cyclic day-of-week and day-of-year features, plus, at batch time, the age
  of the value relative to the seed's time (``relative_age``).

Statistics and vocabularies are fitted on the rows known at the training cutoff (``as_of``: the
table's time column at or before it; tables without a time column are static and fitted whole),
so rows from the validation and test periods shape no encoding.

Primary keys, foreign keys and the table's time column are structure, not features. Codes of
all categorical and text columns of a table share one index space (``code_offsets``), so a model
needs one embedding table per node type.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from sqlglot import exp

from ..arrays import floats
from ..schema import Table
from ..sqlbuild import column, known_at, table as table_ref
from .graph import node_order

TEXT_BUCKETS = 512
NULL_CODE = "\x00"
#: The alias of the table ``encode`` reads; its columns are qualified by it, since a bare ORDER
#: BY name resolves to an output alias first (a primary key named ``n0`` would sort by the first
#: numeric feature).
SRC = "src"


@dataclasses.dataclass
class TableFeatures:
    """Encoded rows of one table in node order."""
    num: np.ndarray       # float32 [n, d_num]
    cat: np.ndarray       # int64 [n, d_cat], already offset into the table's code space
    stamp: np.ndarray     # float64 [n, d_ts] epoch days, NaN when NULL

    def permuted(self, rng: np.random.Generator) -> "TableFeatures":
        """The same rows in a random order (for permutation importance)."""
        order = rng.permutation(len(self.num))
        return TableFeatures(self.num[order], self.cat[order], self.stamp[order])


@dataclasses.dataclass
class TableEncoder:
    table: str
    numeric: list[str]
    means: list[float]
    stds: list[float]
    categorical: list[str]
    vocab: list[list[str]]
    text: list[str]
    stamps: list[str]

    @property
    def num_dim(self) -> int:
        return 2 * len(self.numeric) + 5 * len(self.stamps)

    @property
    def code_sizes(self) -> list[int]:
        return [len(v) + 1 for v in self.vocab] + [TEXT_BUCKETS + 1] * len(self.text)

    @property
    def num_codes(self) -> int:
        return int(sum(self.code_sizes)) + 1

    def config(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config: dict) -> "TableEncoder":
        return cls(**config)

    @classmethod
    def fit(cls, con, t: Table, as_of=None) -> "TableEncoder":
        feats = t.features
        known = known_at(t.time_column, as_of)
        numeric = [c.name for c in feats if c.semantic in ("numeric", "boolean")]
        categorical = [c.name for c in feats if c.semantic == "categorical"]
        text = [c.name for c in feats if c.semantic == "text"]
        stamps = [c.name for c in feats if c.semantic == "timestamp"]
        means, stds = [], []
        if numeric:
            means, stds = _moments(con, t.name, numeric, known, scaled=False)
            # values near the largest double overflow the sums: again, each column over its
            # largest magnitude, where those sums are finite
            if not all(np.isfinite(means + stds)):
                again = _moments(con, t.name, numeric, known, scaled=True)
                means = [m if np.isfinite(m) else a for m, a in zip(means, again[0])]
                stds = [d if np.isfinite(d) else a for d, a in zip(stds, again[1])]
            means = [_finite(m, 0.0) for m in means]
            stds = [_finite(d, 0.0) or 1.0 for d in stds]
        vocab = []
        for c in categorical:
            q = (exp.select(exp.cast(column(c), "VARCHAR").as_("v")).distinct()
                 .from_(table_ref(t.name)).where(column(c).is_(exp.null()).not_()))
            if known is not None:
                q = q.where(known.copy())
            values = con.execute(q.sql("duckdb")).fetchall()
            vocab.append(sorted(str(v[0]) for v in values))
        return cls(t.name, numeric, means, stds, categorical, vocab, text, stamps)

    def encode(self, con, t: Table) -> TableFeatures:
        """Encode every row of ``t`` in node order (primary key order, else row order)."""
        n = t.rows
        selects = [exp.cast(column(c, SRC), "DOUBLE").as_(f"n{i}")
                   for i, c in enumerate(self.numeric)]
        selects += [exp.cast(column(c, SRC), "VARCHAR").as_(f"c{i}")
                    for i, c in enumerate(self.categorical)]
        selects += [exp.Mod(this=exp.func("hash", column(c, SRC)),
                            expression=exp.Literal.number(TEXT_BUCKETS)).as_(f"x{i}")
                    for i, c in enumerate(self.text)]
        selects += [exp.Div(this=exp.func("epoch", exp.cast(column(c, SRC), "TIMESTAMP")),
                            expression=exp.Literal.number(86400)).as_(f"s{i}")
                    for i, c in enumerate(self.stamps)]
        cols: dict[str, np.ndarray] = {}
        if selects:
            q = exp.select(*selects).from_(table_ref(t.name).as_(SRC)).order_by(
                node_order(t, SRC))
            cols = con.execute(q.sql("duckdb")).fetchnumpy()
        num = np.zeros((n, self.num_dim), dtype=np.float32)
        for i in range(len(self.numeric)):
            v = floats(cols[f"n{i}"])
            missing = ~np.isfinite(v)
            with np.errstate(invalid="ignore", over="ignore"):
                z = np.where(missing, 0.0, (v - self.means[i]) / self.stds[i])
            # no value of the rows the scale was fitted on lies further than sqrt(rows) standard
            # deviations out: only a later value, or one near the largest double, is clipped
            num[:, 2 * i] = np.clip(np.nan_to_num(z, posinf=CLIP, neginf=-CLIP), -CLIP, CLIP)
            num[:, 2 * i + 1] = missing
        stamp = np.zeros((n, len(self.stamps)), dtype=np.float64)
        base = 2 * len(self.numeric)
        for i in range(len(self.stamps)):
            days = floats(cols[f"s{i}"])
            stamp[:, i] = days
            ok = ~np.isnan(days)
            d = np.where(ok, days, 0.0)
            week = 2 * np.pi * np.mod(d + 3, 7) / 7
            year = 2 * np.pi * np.mod(d, 365.2425) / 365.2425
            num[:, base + 5 * i: base + 5 * i + 4] = (np.stack(
                [np.sin(week), np.cos(week), np.sin(year), np.cos(year)], 1) * ok[:, None])
            num[:, base + 5 * i + 4] = ~ok
        sizes = self.code_sizes
        offsets = np.concatenate([[1], 1 + np.cumsum(sizes)[:-1]]).astype(np.int64) if sizes \
            else np.zeros(0, np.int64)
        cat = np.zeros((n, len(sizes)), dtype=np.int64)
        for i, vocab in enumerate(self.vocab):
            cat[:, i] = offsets[i] + _codes(cols[f"c{i}"], vocab)
        for j in range(len(self.text)):
            i = len(self.vocab) + j
            raw = cols[f"x{j}"]
            mask = np.ma.getmaskarray(raw)
            vals = np.asarray(np.ma.filled(raw, 0), dtype=np.int64) + 1
            cat[:, i] = offsets[i] + np.where(mask, 0, vals)
        return TableFeatures(num, cat, stamp)


#: the most standard deviations a numeric value is encoded as (finite in float32)
CLIP = 1e4


def _moments(con, table: str, numeric: list[str], known, scaled: bool
             ) -> tuple[list[float], list[float]]:
    """Mean and population standard deviation of each column over its finite values (NaN when
    a sum overflows). ``scaled``: computed on the values divided by their largest magnitude,
    then scaled back, so that values near the largest double do not overflow the sums."""
    def over_rows(aggs):
        q = exp.select(*aggs).from_(table_ref(table))
        if known is not None:
            q = q.where(known.copy())
        return con.execute(q.sql("duckdb")).fetchall()[0]

    def finite(agg, v):   # over finite values only: one inf makes the mean inf and the std NaN
        return exp.Filter(this=agg, expression=exp.Where(this=exp.func("isfinite", v.copy())))

    values = [exp.cast(column(c), "DOUBLE") for c in numeric]
    tops = [1.0] * len(numeric)
    if scaled:
        found = over_rows([finite(exp.func("max", exp.func("abs", v.copy())), v) for v in values])
        tops = [float(x) if x else 1.0 for x in found]
    scaled_values = [v if top == 1.0 else exp.Div(this=v.copy(),
                                                   expression=exp.Literal.number(top))
                     for v, top in zip(values, tops)]
    aggs = [finite(exp.func(f, x.copy()), v)
            for v, x in zip(values, scaled_values) for f in ("avg", "stddev_pop")]
    row = over_rows(aggs)
    means = [float("nan") if row[2 * i] is None else float(row[2 * i]) * tops[i]
             for i in range(len(numeric))]
    stds = [float("nan") if row[2 * i + 1] is None else float(row[2 * i + 1]) * tops[i]
            for i in range(len(numeric))]
    return means, stds


def _finite(value, default: float) -> float:
    """``value`` as a float; ``default`` when it is NULL or not finite (a statistic over no
    finite value, or one that overflowed)."""
    value = float(value) if value is not None else default
    return value if np.isfinite(value) else default


def relative_age(stamp_days: np.ndarray, seed_days: np.ndarray) -> np.ndarray:
    """Years between each timestamp value and its seed's time (0 where NULL), shape [n, d_ts]."""
    age = (seed_days[:, None] - stamp_days) / 365.2425
    return np.where(np.isnan(age), 0.0, np.clip(age, -100, 100) / 10.0).astype(np.float32)


def _codes(values, vocab: list[str]) -> np.ndarray:
    """1-based position of each value in the sorted ``vocab``; 0 when NULL or unseen."""
    if np.ma.isMaskedArray(values):
        mask = np.ma.getmaskarray(values)
        values = np.ma.filled(values, NULL_CODE)
    else:
        mask = np.array([v is None for v in values], dtype=bool) if values.dtype == object \
            else np.zeros(len(values), bool)
    strings = np.asarray(values, dtype=object).astype(str)
    if not vocab:
        return np.zeros(len(strings), dtype=np.int64)
    ordered = np.array(vocab, dtype=str)
    pos = np.minimum(np.searchsorted(ordered, strings), len(ordered) - 1)
    hit = (ordered[pos] == strings) & ~mask
    return np.where(hit, pos + 1, 0).astype(np.int64)
