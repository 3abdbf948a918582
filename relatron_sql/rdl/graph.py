"""The relational graph: every row a node, every foreign key two edge types.

For a foreign key ``child.fk -> parent`` the edge types are ``(child, 'f2p_<fk>', parent)``
(messages from the row holding the key to the row it names) and ``(parent, 'rev_f2p_<fk>',
child)``, as in RelBench. Each edge type is a CSR over its destination nodes whose rows list the
source nodes oldest first, so "neighbours visible at time t" is a prefix found by binary search.

Node ids: within a table, rows are numbered in primary-key order (row order when the table has
no primary key); globally, node types are laid out one after another (``type_offset``).
Node times are epoch microseconds; rows of static tables get ``STATIC`` (always visible) and
rows of timed tables whose time is NULL get ``NEVER`` (never visible). Everything comes out of
DuckDB as numpy buffers; the CSR is built by a numba kernel, with no Python loop over rows.
"""
from __future__ import annotations

import dataclasses
import logging

import numpy as np

from ..errors import TrainError, bad_argument
from ..kernels import csr_by_time, csr_stable, key_hashes, one_edge_rows, time_rank
from ..schema import Schema, Table, read_schema
from sqlglot import exp

from ..sqlbuild import column, render, table as table_ref

log = logging.getLogger(__name__)

STATIC = np.iinfo(np.int64).min
NEVER = np.iinfo(np.int64).max

EdgeType = tuple[str, str, str]


@dataclasses.dataclass
class Graph:
    node_types: list[str]
    type_offset: np.ndarray            # int64 [T + 1]
    node_time: np.ndarray              # int64 [N], global ids
    edge_types: list[EdgeType]
    et_src_type: np.ndarray            # int64 [E]
    et_dst_type: np.ndarray            # int64 [E]
    row_off: np.ndarray                # int64 [E]: start of each edge type's rows in indptr
    indptr: np.ndarray                 # int64, concatenated rows, global positions
    indices: np.ndarray                # int64 global source ids (a strided view)
    nbr_time: np.ndarray               # int64 source times, interleaved with indices
    type_et_ptr: np.ndarray            # int64 [T + 1]: edge types grouped by destination type
    type_et: np.ndarray                # int64
    max_degree: np.ndarray             # int64 [E]
    timed: dict[str, bool]
    keys: dict[str, np.ndarray]        # table -> primary key values as strings, node order
    #: int64 [E]: for an edge type where every row has exactly one edge (a foreign key with no
    #: NULL, seen from the child), the position of row 0's edge (row i's is that + i); else -1
    et_dense: np.ndarray = dataclasses.field(init=False)
    #: node type -> key_hash of its nodes, computed when first asked for
    _key_hashes: dict[str, np.ndarray] = dataclasses.field(init=False, default_factory=dict,
                                                          repr=False, compare=False)

    def __post_init__(self):
        self.et_dense = one_edge_rows(self.indptr, self.row_off,
                                      [self.num_nodes(e[2]) for e in self.edge_types])

    def num_nodes(self, node_type: str) -> int:
        t = self.node_types.index(node_type)
        return int(self.type_offset[t + 1] - self.type_offset[t])

    def type_id(self, node_type: str) -> int:
        return self.node_types.index(node_type)

    def num_edges(self, edge_type: EdgeType) -> int:
        e = self.edge_types.index(edge_type)
        lo = self.row_off[e]
        hi = lo + self.num_nodes(edge_type[2])
        return int(self.indptr[hi] - self.indptr[lo])

    def neighbours(self, edge_type: EdgeType, node: int) -> tuple[np.ndarray, np.ndarray]:
        """Local source ids and times of the edges into ``node`` (a local id), oldest first."""
        e = self.edge_types.index(edge_type)
        row = self.row_off[e] + node
        span = slice(self.indptr[row], self.indptr[row + 1])
        src = self.indices[span] - self.type_offset[self.type_id(edge_type[0])]
        return src, self.nbr_time[span]

    def key_hash(self, node_type: str) -> np.ndarray:
        """uint64 per node of ``node_type``, in node order: a hash of its primary key's text.
        It names the row whatever rows are added beside it, where a local id moves when a row
        with a smaller key is added (even one dated later); the sampler keys a seed's random
        draws by it."""
        if node_type not in self._key_hashes:
            keys = np.ascontiguousarray(np.asarray(self.keys[node_type]).astype(str))
            codes = keys.view(np.uint32).reshape(len(keys), keys.dtype.itemsize // 4)
            self._key_hashes[node_type] = key_hashes(codes)
        return self._key_hashes[node_type]

    def locate(self, node_type: str, ids: np.ndarray) -> np.ndarray:
        """Local node ids of primary-key values ``ids`` (compared as strings); -1 if absent."""
        keys = self.keys[node_type]
        order = np.argsort(keys, kind="stable")
        ids = np.asarray(ids).astype(str)
        if len(keys) == 0:
            return np.full(len(ids), -1, dtype=np.int64)
        pos = np.searchsorted(keys[order], ids)
        pos = np.minimum(pos, len(keys) - 1)
        found = keys[order][pos] == ids
        return np.where(found, order[pos], -1).astype(np.int64)


#: The alias of the table a node-order query reads. Every column of such a query is qualified
#: by it: DuckDB resolves a bare ORDER BY name to the query's own output alias first, so a primary
#: key named like an output (``k``, ``t``) would sort by that output instead of the key.
SRC = "src"


def node_order(t: Table, alias: str = SRC) -> exp.Expression:
    """What orders the rows of ``t`` into nodes: its primary key, or, without one, a hash of
    all its values, so that a table loaded in another order gives the same graph (not its
    ``rowid``: rows tied on time would then be taken by the "last" sampler, and summed, in the
    order they happened to be stored). Rows equal in every column are interchangeable; the
    ``rowid`` after the hash only keeps two rows whose hashes collide in one order across the
    queries that build the graph and its features."""
    if t.primary_key:
        return column(t.primary_key, alias)
    return exp.Tuple(expressions=[exp.func("hash", *[column(c.name, alias) for c in t.columns]),
                                  column("rowid", alias)])


def _fetch(con, sql: str, params: list | None = None) -> dict[str, np.ndarray]:
    return con.execute(sql, params or []).fetchnumpy()


def _as_int64(values) -> np.ndarray:
    values = np.ma.filled(values, -1) if np.ma.isMaskedArray(values) else values
    return np.asarray(values, dtype=np.int64)


def _epoch_us(t: Table, alias: str = SRC) -> exp.Expression:
    """Epoch microseconds of ``t``'s time column (qualified by ``alias``). A nanosecond time is
    rounded up to the next microsecond: a row 400 ns after an anchor (which has microseconds)
    stays after it. ``-infinity``, which ``epoch_us`` leaves NULL, is ``STATIC`` (before every
    anchor, as SQL's ``<=`` has it); ``infinity`` stays NULL (never visible)."""
    c = column(t.time_column, alias)
    us = exp.func("epoch_us", exp.cast(c, "TIMESTAMP"))
    if t.column(t.time_column).dtype.upper() == "TIMESTAMP_NS":
        ns = exp.DataType.build("TIMESTAMP_NS", dialect="duckdb")
        rounded_down = exp.LT(this=exp.cast(exp.cast(c.copy(), "TIMESTAMP"), ns),
                              expression=c.copy())
        us = exp.Add(this=us, expression=exp.cast(rounded_down, "BIGINT"))
    minus_infinity = exp.EQ(this=exp.cast(c.copy(), "TIMESTAMP"),
                            expression=exp.cast(exp.Literal.string("-infinity"), "TIMESTAMP"))
    return exp.Case().when(minus_infinity, exp.Literal.number(int(STATIC))).else_(us)


def node_times(con, t: Table) -> np.ndarray:
    """Epoch microseconds of every row of ``t`` in node order (STATIC / NEVER as above)."""
    if t.time_column is None:
        return np.full(t.rows, STATIC, dtype=np.int64)
    out = _fetch(con, render("SELECT COALESCE(:us, ?) AS t FROM :t AS :a ORDER BY :o",
                             us=_epoch_us(t), t=table_ref(t.name), a=SRC, o=node_order(t)),
                 [int(NEVER)])
    return _as_int64(out["t"])


def node_keys(con, t: Table) -> np.ndarray:
    if t.primary_key is None:
        return np.arange(t.rows).astype(str)
    out = _fetch(con, render("SELECT CAST(:k AS VARCHAR) AS k FROM :t AS :a ORDER BY :k",
                             k=node_order(t), t=table_ref(t.name), a=SRC))
    return np.asarray(out["k"]).astype(str)


def fk_pairs(con, child: Table, fk: str, parent: Table) -> tuple[np.ndarray, np.ndarray]:
    """(child local id, parent local id) of every row whose foreign key names a parent row,
    ordered by the child's time (then id), so that grouping by parent keeps rows oldest first.

    NULL and dangling keys give no edge."""
    sql = render(
        "SELECT c.rn AS c, p.rn AS p FROM (SELECT row_number() OVER (ORDER BY :co) - 1 AS rn, "
        ":fk AS k, :tc AS t FROM :child AS :a) AS c JOIN (SELECT row_number() OVER (ORDER BY "
        ":pk) - 1 AS rn, :pk AS k FROM :parent AS :a) AS p ON c.k = p.k ORDER BY c.t NULLS "
        "LAST, c.rn",
        tc=_epoch_us(child) if child.time_column else exp.Literal.number(0),
        co=node_order(child), fk=column(fk, SRC), child=table_ref(child.name),
        pk=node_order(parent), parent=table_ref(parent.name), a=SRC)
    out = _fetch(con, sql)
    return _as_int64(out["c"]), _as_int64(out["p"])


def build_csr(dst: np.ndarray, src: np.ndarray, src_time: np.ndarray, n_dst: int,
              ordered: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr, indices, neighbour times) of edges ``src -> dst``, rows oldest first.

    ``ordered``: the edges already come ordered by source time, so one counting pass does."""
    dst = np.ascontiguousarray(dst, dtype=np.int64)
    src = np.ascontiguousarray(src, dtype=np.int64)
    if ordered:
        indptr, indices = csr_stable(dst, src, int(n_dst))
    else:
        indptr, indices, _ = csr_by_time(dst, src, time_rank(src_time), int(n_dst))
    return indptr, indices, src_time[indices]


def build_graph(con, tables: list[str] | None = None, schema: Schema | None = None) -> Graph:
    """The graph of ``tables`` (default: every table) of the database behind ``con``."""
    schema = schema or read_schema(con, count_dangling=False)
    names = sorted(tables if tables is not None else schema.tables)
    for name in names:
        schema.table(name, "tables")
    described = {n: schema.tables[n] for n in names}
    counts = np.array([described[n].rows for n in names], dtype=np.int64)
    type_offset = np.zeros(len(names) + 1, dtype=np.int64)
    type_offset[1:] = np.cumsum(counts)
    times = {n: node_times(con, described[n]) for n in names}
    node_time = np.concatenate([times[n] for n in names]) if names else np.zeros(0, np.int64)
    keys = {n: node_keys(con, described[n]) for n in names}

    edge_types, parts = [], []
    for child in names:
        for fk, parent in sorted(described[child].foreign_keys.items()):
            if parent not in described:
                continue
            if described[parent].primary_key is None:
                log.warning("%s.%s references %s, which has no primary key: no edges", child,
                            fk, parent)
                continue
            c, p = fk_pairs(con, described[child], fk, described[parent])
            edge_types.append((child, f"f2p_{fk}", parent))
            # (destinations, sources, source type, destination type, is f2p); both come
            # ordered by source time: f2p pairs in child time order, and a row has one parent
            parts.append((p, c, child, parent, True))
            edge_types.append((parent, f"rev_f2p_{fk}", child))
            parts.append((c, p, parent, child, False))
    index = {n: i for i, n in enumerate(names)}
    indptrs, indices, nbr_times, row_off, max_degree = [], [], [], [], []
    rows_so_far = edges_so_far = 0
    for dst, src, src_type, dst_type, f2p in parts:
        n_dst = described[dst_type].rows
        ip, ix, nt = build_csr(dst, src, times[src_type], n_dst, ordered=True)
        if not f2p:
            # the link from a row to the row its key names is known once the row holding the
            # key is: an entity seed whose own row is not visible yet reaches no parent
            holder = np.repeat(np.arange(n_dst, dtype=np.int64), np.diff(ip))
            nt = np.maximum(nt, times[dst_type][holder])
        row_off.append(rows_so_far)
        indptrs.append(ip + edges_so_far)
        indices.append(ix + type_offset[index[src_type]])
        nbr_times.append(nt)
        max_degree.append(int(np.diff(ip).max()) if n_dst else 0)
        rows_so_far += n_dst + 1
        edges_so_far += len(ix)
    cat = (lambda xs: np.concatenate(xs).astype(np.int64) if xs else np.zeros(0, np.int64))
    et_src = np.array([index[e[0]] for e in edge_types], dtype=np.int64)
    et_dst = np.array([index[e[2]] for e in edge_types], dtype=np.int64)
    by_dst = np.argsort(et_dst, kind="stable").astype(np.int64)
    type_et_ptr = np.zeros(len(names) + 1, dtype=np.int64)
    type_et_ptr[1:] = np.cumsum(np.bincount(et_dst, minlength=len(names)))
    # neighbour id and time side by side: one cache line serves the time test and the gather
    pairs = np.empty((edges_so_far, 2), dtype=np.int64)
    pairs[:, 0] = cat(indices)
    pairs[:, 1] = cat(nbr_times)
    return Graph(names, type_offset, node_time, edge_types, et_src, et_dst,
                 np.array(row_off, dtype=np.int64), cat(indptrs), pairs[:, 0], pairs[:, 1],
                 type_et_ptr, by_dst, np.array(max_degree, dtype=np.int64),
                 {n: described[n].time_column is not None for n in names}, keys)


def graph_for(con, entity: str, schema: Schema | None = None) -> Graph:
    """The graph of the tables linked to ``entity`` through foreign keys."""
    schema = schema or read_schema(con, count_dangling=False)
    if entity not in schema.tables:
        raise bad_argument("entity", f"no table {entity!r}", schema.tables, TrainError)
    return build_graph(con, schema.component(entity), schema)
