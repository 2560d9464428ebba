"""One-line JSON logs that double as CloudWatch Embedded Metric Format (EMF) documents.

Written with the standard library only: Powertools would add an import chain to every cold start for
what is, here, a dictionary and one `json.dumps`. CloudWatch extracts the metrics from the log line, so
publishing costs no API call and no IAM permission. Dimensions are low-cardinality by construction
(client type, removal reason); connection and request ids are log fields, never dimensions.

The EMF directives (`_aws.CloudWatchMetrics`) depend only on the namespace and the metric groups'
dimension names, metric names and units: each distinct set is serialised once per container and
spliced into the line, which stays byte for byte what encoding the whole document would write
(BENCHMARKS.md, "Warm event": a fifth of the line's cost).
"""

from __future__ import annotations

import json
import sys
import time
from operator import itemgetter
from typing import IO, Any, Dict, Mapping, Optional, Sequence, Tuple

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}
# One encoder for the container (json.dumps with options builds one per call); documents are never cyclic.
_encode = json.JSONEncoder(separators=(",", ":"), default=str, check_circular=False).encode

# (metric name, unit, value)
Metric = Tuple[str, str, float]

# Serialised directives by (namespace, per group: dimension names, (metric name, unit)...). Bounded so
# that a caller inventing metric names would cost speed, never memory; the package has a dozen sets.
_directives: Dict[Tuple[Any, ...], str] = {}
_DIRECTIVES_CACHED = 256
_name_and_unit = itemgetter(0, 1)


class MetricGroup:
    """Metrics that share one set of dimensions (name -> value) inside one EMF document."""

    __slots__ = ("dimensions", "metrics")

    def __init__(self, dimensions: Mapping[str, str], metrics: Sequence[Metric]) -> None:
        self.dimensions = dimensions
        self.metrics = metrics


def directives(namespace: str, metrics: Sequence[MetricGroup]) -> str:
    """The CloudWatchMetrics array of an EMF document with these metric groups, as JSON."""
    signature = (namespace, *[(tuple(group.dimensions), *map(_name_and_unit, group.metrics)) for group in metrics])
    text = _directives.get(signature)
    if text is None:
        text = _encode(
            [
                {
                    "Namespace": namespace,
                    "Dimensions": [sorted(group.dimensions)],
                    "Metrics": [{"Name": name, "Unit": unit} for name, unit, _ in group.metrics],
                }
                for group in metrics
            ]
        )
        if len(_directives) < _DIRECTIVES_CACHED:
            _directives[signature] = text
    return text


class Telemetry:
    def __init__(
        self,
        namespace: str,
        level: str = "INFO",
        stream: Optional[IO[str]] = None,
        function: Optional[str] = None,
    ) -> None:
        self.namespace = namespace
        self.threshold = LEVELS.get(level, 20)
        self.stream = stream
        self.function = function
        self.request_id: Optional[str] = None

    def log(
        self,
        level: str,
        message: str,
        fields: Optional[Mapping[str, Any]] = None,
        metrics: Sequence[MetricGroup] = (),
    ) -> str:
        """Write one JSON line (an EMF document when metrics are given); return it ("" if suppressed).

        Members in this order, a later one replacing an earlier one of the same name: level, message,
        function, awsRequestId, the fields, per metric group its dimensions and metric values; then
        `_aws` (the EMF metadata, always last) or, without metrics, `timestamp`.
        """
        if LEVELS[level] < self.threshold and not metrics:
            return ""
        now_ms = int(time.time() * 1000)
        doc: Dict[str, Any] = {"level": level, "message": message}
        if self.function:
            doc["function"] = self.function
        if self.request_id:
            doc["awsRequestId"] = self.request_id
        if fields:
            doc.update(fields)
        if metrics:
            for group in metrics:
                doc.update(group.dimensions)
                for name, _unit, value in group.metrics:
                    doc[name] = value
            doc.pop("_aws", None)
            emf = f'"_aws":{{"Timestamp":{now_ms},"CloudWatchMetrics":{directives(self.namespace, metrics)}}}}}'
            line = f"{_encode(doc)[:-1]},{emf}"
        else:
            doc["timestamp"] = now_ms
            line = _encode(doc)
        (self.stream or sys.stdout).write(line + "\n")
        return line
