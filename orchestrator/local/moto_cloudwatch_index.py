"""An index over moto CloudWatch's datapoints, for the ``cloudwatch-index`` patch of moto_compat.

moto 5.2's ``CloudWatchBackend`` keeps every datapoint ``put_metric_data`` stored in one list
(``metric_data``) and answers ``GetMetricData`` by scanning all of it once per request and then,
for every query, once more per period: O(stored datapoints x queries x periods). A dry run's store
grows with components x simulated time, so the scan dominated the CloudWatch side (14.7% self time
of a 30-component dry run, issue 11 item 7).

:class:`MetricIndex` follows that list (it only ever grows; a list that was replaced or shrank is
indexed again) and files each datapoint under its namespace and metric name, and under its metric
name, dimension names and exact dimensions, each series sorted by (timestamp, arrival). A query
then reads only the series that can match, and only the datapoints of its time window (bisection).

The answers are moto's own, to the bit. That means keeping moto's semantics, quirks included:

* a ``MetricStat`` with dimensions matches ``sorted(datum.dimensions) == sorted(query
  dimensions)`` (``Dimension.__lt__`` is not an order and ``Dimension.__eq__`` treats a missing
  value as a wildcard) and the metric name, *not* the namespace; without dimensions, the namespace
  and the name, whatever the datum's dimensions. The index narrows candidates to the series whose
  (name, value) pairs are the query's, as a multiset, plus those with a missing value and the same
  names (necessary conditions of moto's equality), and evaluates moto's own predicate once per
  series of identical dimensions (the predicate depends only on the dimensions);
* datapoints reach each period's statistic in moto's order (the order they were stored, then
  the out-of-the-box metrics of moto's providers, computed per request as moto does), so sums of
  floats are the same sums; the statistic is computed by moto's ``Statistics``;
* periods, labels, ``ReturnData``, ``ScanBy``, metric math (moto's ``parse_expression``) and the
  validation errors are moto's; a request with a Metrics Insights (``SELECT``) query, a period
  that is not positive, or datapoints whose timestamps cannot be compared goes to moto's own
  implementation unchanged.

``GetMetricStatistics`` is indexed the same way (namespace, name, time window; moto's
``MetricDatumBase.filter`` for dimensions, its ``daterange`` for periods).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

__all__ = ["MetricIndex", "index_of", "indexed_get_metric_data", "indexed_get_metric_statistics"]

_INDEX_ATTRIBUTE = "_moto_compat_metric_index"
_index_lock = threading.Lock()

Entry = tuple[int, Any]
"""(arrival number in ``metric_data``, the datum)."""


class _Series:
    """Datapoints sorted by (timestamp, arrival), with their timestamps for bisection."""

    __slots__ = ("entries", "times")

    def __init__(self) -> None:
        self.times: list[datetime] = []
        self.entries: list[Entry] = []

    def add(self, seq: int, datum: Any) -> None:
        when = datum.timestamp
        if not self.times or when >= self.times[-1]:
            self.times.append(when)
            self.entries.append((seq, datum))
            return
        at = bisect.bisect_right(self.times, when)  # later arrivals after equal timestamps
        self.times.insert(at, when)
        self.entries.insert(at, (seq, datum))

    def window(self, start: datetime, end: datetime) -> list[Entry]:
        """The datapoints with ``start <= timestamp < end``, by (timestamp, arrival)."""
        low = bisect.bisect_left(self.times, start)
        high = bisect.bisect_left(self.times, end, lo=low)
        return self.entries[low:high]


def _names_key(dimensions: Iterable[Any]) -> tuple[str, ...]:
    return tuple(sorted(repr(d.name) for d in dimensions))


def _exact_key(dimensions: Iterable[Any]) -> tuple[tuple[Any, Any], ...]:
    return tuple((d.name, d.value) for d in dimensions)


def _pairs_key(dimensions: Iterable[Any]) -> tuple[tuple[str, str], ...] | None:
    """The multiset of (name, value), or None when a value is missing (moto's wildcard)."""
    pairs = [(repr(d.name), repr(d.value)) for d in dimensions]
    if any(d.value is None for d in dimensions):
        return None
    return tuple(sorted(pairs))


class MetricIndex:
    """The datapoints of one moto ``CloudWatchBackend``, filed for its queries."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._source: list[Any] | None = None
        self._count = 0
        self._by_metric: dict[tuple[str, str], _Series] = {}
        # name -> dimension names -> exact dimensions -> (a datum with them, their series)
        self._by_name: dict[str, dict[tuple[str, ...], dict[Any, tuple[Any, _Series]]]] = {}
        # the same groups by (name, multiset of (name, value)); those with a missing value apart
        self._by_pairs: dict[tuple[str, Any], dict[Any, tuple[Any, _Series]]] = {}
        self._wildcards: dict[tuple[str, tuple[str, ...]], dict[Any, tuple[Any, _Series]]] = {}
        self._matches: dict[tuple[Any, Any], bool] = {}

    @property
    def indexed(self) -> int:
        """How many of ``metric_data``'s datapoints are filed."""
        return self._count

    def sync(self, data: list[Any]) -> None:
        """File what ``data`` (the backend's ``metric_data``) gained since the last call."""
        with self._lock:
            if data is not self._source or len(data) < self._count:
                self._source = data
                self._count = 0
                self._by_metric = {}
                self._by_name = {}
                self._by_pairs = {}
                self._wildcards = {}
                self._matches = {}
            end = len(data)
            for seq in range(self._count, end):
                self._add(seq, data[seq])
            self._count = end

    def _add(self, seq: int, datum: Any) -> None:
        key = (datum.namespace, datum.name)
        series = self._by_metric.get(key)
        if series is None:
            series = self._by_metric[key] = _Series()
        series.add(seq, datum)
        names = _names_key(datum.dimensions)
        groups = self._by_name.setdefault(datum.name, {}).setdefault(names, {})
        exact = _exact_key(datum.dimensions)
        group = groups.get(exact)
        if group is None:
            group = groups[exact] = (datum, _Series())
            pairs = _pairs_key(datum.dimensions)
            if pairs is None:
                self._wildcards.setdefault((datum.name, names), {})[exact] = group
            else:
                self._by_pairs.setdefault((datum.name, pairs), {})[exact] = group
        group[1].add(seq, datum)

    def of_metric(self, namespace: str, name: str, start: datetime, end: datetime) -> list[Entry]:
        """Datapoints of ``namespace``/``name`` (any dimensions) in ``[start, end)``."""
        with self._lock:
            series = self._by_metric.get((namespace, name))
            return series.window(start, end) if series is not None else []

    def with_dimensions(
        self, name: str, dimensions: list[Any], start: datetime, end: datetime
    ) -> list[Entry]:
        """Datapoints moto's ``sorted(md.dimensions) == sorted(dimensions) and md.name == name``
        keeps, in ``[start, end)`` (any namespace, as in moto)."""
        wanted = sorted(dimensions)
        query_key = _exact_key(dimensions)
        names = _names_key(dimensions)
        pairs = _pairs_key(dimensions)
        found: list[Entry] = []
        with self._lock:
            if pairs is None:  # a wildcard in the query: any group with these names may match
                groups = list(self._by_name.get(name, {}).get(names, {}).items())
            else:  # without wildcards, moto's equality needs the same (name, value) multiset
                groups = [
                    *self._by_pairs.get((name, pairs), {}).items(),
                    *self._wildcards.get((name, names), {}).items(),
                ]
            for exact, (example, series) in groups:
                memo = (query_key, exact)
                match = self._matches.get(memo)
                if match is None:
                    match = self._matches[memo] = bool(sorted(example.dimensions) == wanted)
                if match:
                    found.extend(series.window(start, end))
        return found


def index_of(backend: Any) -> MetricIndex:
    """The index of ``backend`` (created on first use, then kept with the backend)."""
    index: MetricIndex | None = getattr(backend, _INDEX_ATTRIBUTE, None)
    if index is None:
        with _index_lock:
            index = getattr(backend, _INDEX_ATTRIBUTE, None)
            if index is None:
                index = MetricIndex()
                setattr(backend, _INDEX_ATTRIBUTE, index)
    return index


def _extras(backend: Any, start: datetime, end: datetime) -> list[Entry]:
    """moto's out-of-the-box metrics (``aws_metric_data``, computed per request as moto does)
    in ``[start, end)``, numbered after the stored ones (``get_all_metrics`` puts them last)."""
    first = len(backend.metric_data)
    return [
        (first + offset, datum)
        for offset, datum in enumerate(backend.aws_metric_data)
        if start <= datum.timestamp < end
    ]


def indexed_get_metric_data(
    original: Callable[..., Any],
    backend: Any,
    queries: list[dict[str, Any]],
    start_time: datetime,
    end_time: datetime,
    scan_by: str = "TimestampAscending",
) -> list[dict[str, Any]]:
    """``CloudWatchBackend.get_metric_data`` through the index; moto's answer (see the module)."""
    start = start_time.replace(microsecond=0)
    end = end_time.replace(microsecond=0)
    insights = any("Expression" in q and q["Expression"].startswith("SELECT") for q in queries)
    periods_ok = all(int(q["MetricStat"]["Period"]) > 0 for q in queries if "MetricStat" in q)
    if start >= end or insights or not periods_ok:
        return list(original(backend, queries, start_time, end_time, scan_by))
    try:
        return _metric_data(backend, queries, start, end, scan_by)
    except TypeError:  # timestamps moto could not compare either: its own error
        return list(original(backend, queries, start_time, end_time, scan_by))


def _metric_data(
    backend: Any, queries: list[dict[str, Any]], start: datetime, end: datetime, scan_by: str
) -> list[dict[str, Any]]:
    from moto.cloudwatch.metric_data_expression_parser import parse_expression
    from moto.cloudwatch.models import Dimension, Statistics

    index = index_of(backend)
    index.sync(backend.metric_data)
    extras = _extras(backend, start, end)
    results: list[dict[str, Any]] = []
    to_return: list[dict[str, Any]] = []
    for query in (q for q in queries if "MetricStat" in q):
        metric_stat = query["MetricStat"]
        namespace = metric_stat["Metric"]["Namespace"]
        name = metric_stat["Metric"]["MetricName"]
        delta = timedelta(seconds=int(metric_stat["Period"]))
        dimensions = [
            Dimension(name=d["Name"], value=d["Value"])
            for d in metric_stat["Metric"].get("Dimensions", [])
        ]
        unit = metric_stat.get("Unit")
        stat = metric_stat["Stat"]
        if dimensions:
            wanted = sorted(dimensions)
            entries = index.with_dimensions(name, dimensions, start, end)
            entries += [
                e for e in extras if sorted(e[1].dimensions) == wanted and e[1].name == name
            ]
        else:
            entries = index.of_metric(namespace, name, start, end)
            entries += [e for e in extras if e[1].namespace == namespace and e[1].name == name]
        if unit:
            entries = [e for e in entries if e[1].unit == unit]
        entries.sort(key=lambda e: e[0])  # moto's order: as stored
        periods: dict[int, list[Any]] = {}
        for _, datum in entries:
            periods.setdefault((datum.timestamp - start) // delta, []).append(datum)
        values: list[Any] = []
        timestamps: list[datetime] = []
        for number in sorted(periods):
            stats = Statistics([stat], start + number * delta)
            stats.metric_data = periods[number]
            values.append(stats.get_statistics_for_type(stat))
            timestamps.append(stats.timestamp)
        if scan_by == "TimestampDescending" and timestamps:
            timestamps.reverse()
            values.reverse()
        label = query.get("Label") or f"{name} {stat}"
        result = {
            "id": query["Id"],
            "label": label,
            "values": values,
            "timestamps": timestamps,
            "status_code": "Complete",
        }
        results.append(result)
        if query.get("ReturnData", True):
            to_return.append(dict(result))
    for query in (q for q in queries if "Expression" in q):
        values, timestamps = parse_expression(query["Expression"], results)
        to_return.append(
            {
                "id": query["Id"],
                "label": query.get("Label") or query["Id"],
                "values": values,
                "timestamps": timestamps,
                "status_code": "Complete",
            }
        )
    return to_return


def indexed_get_metric_statistics(
    original: Callable[..., Any],
    backend: Any,
    namespace: str,
    metric_name: str,
    start_time: datetime,
    end_time: datetime,
    period: int,
    stats: list[str],
    dimensions: list[dict[str, str]],
    unit: str | None = None,
) -> list[Any]:
    """``CloudWatchBackend.get_metric_statistics`` through the index; moto's answer."""
    start = start_time.replace(microsecond=0)
    end = end_time.replace(microsecond=0)
    arguments = (namespace, metric_name, start_time, end_time, period, stats, dimensions, unit)
    if start >= end or int(period) <= 0:
        return list(original(backend, *arguments))
    try:
        return _metric_statistics(
            backend, namespace, metric_name, start, end, period, stats, dimensions, unit
        )
    except TypeError:
        return list(original(backend, *arguments))


def _metric_statistics(
    backend: Any,
    namespace: str,
    metric_name: str,
    start: datetime,
    end: datetime,
    period: int,
    stats: list[str],
    dimensions: list[dict[str, str]],
    unit: str | None,
) -> list[Any]:
    from moto.cloudwatch.models import Statistics, daterange

    index = index_of(backend)
    index.sync(backend.metric_data)
    entries = index.of_metric(namespace, metric_name, start, end)
    extras = [
        e
        for e in _extras(backend, start, end)
        if e[1].namespace == namespace and e[1].name == metric_name
    ]
    if extras:  # moto sorts the whole selection by timestamp, stably (ties as stored)
        entries = sorted(entries + extras, key=lambda e: (e[1].timestamp, e[0]))
    data = [datum for _, datum in entries]
    if unit:
        data = [datum for datum in data if datum.unit == unit]
    if dimensions:
        data = [datum for datum in data if datum.filter(None, None, dimensions)]
    if not data:
        return []
    delta = timedelta(seconds=period)
    position = 0
    out: list[Any] = []
    for when in daterange(data[0].timestamp, data[-1].timestamp + delta, delta):
        statistics = Statistics(stats, when)
        while position < len(data) and data[position].timestamp < when + delta:
            statistics.metric_data.append(data[position])
            statistics.unit = data[position].unit
            position += 1
        if statistics.metric_data:
            out.append(statistics)
    return out
