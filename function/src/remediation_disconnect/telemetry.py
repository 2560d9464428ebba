"""One-line JSON logs that double as CloudWatch Embedded Metric Format (EMF) documents.

Written with the standard library only: Powertools would add an import chain to every cold start for
what is, here, a dictionary and one `json.dumps`. CloudWatch extracts the metrics from the log line, so
publishing costs no API call and no IAM permission. Dimensions are low-cardinality by construction
(client type, removal reason); connection and request ids are log fields, never dimensions.
"""

from __future__ import annotations

import json
import sys
import time
from typing import IO, Any, Dict, List, Mapping, Optional, Sequence, Tuple

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}
# One encoder for the container (json.dumps with options builds one per call); documents are never cyclic.
_encode = json.JSONEncoder(separators=(",", ":"), default=str, check_circular=False).encode

# (metric name, unit, value)
Metric = Tuple[str, str, float]


class MetricGroup:
    """Metrics that share one set of dimensions (name -> value) inside one EMF document."""

    __slots__ = ("dimensions", "metrics")

    def __init__(self, dimensions: Mapping[str, str], metrics: Sequence[Metric]) -> None:
        self.dimensions = dimensions
        self.metrics = metrics


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
    ) -> Dict[str, Any]:
        """Write one JSON line (with EMF metadata when metrics are given); return the document."""
        if LEVELS[level] < self.threshold and not metrics:
            return {}
        now_ms = int(time.time() * 1000)
        doc: Dict[str, Any] = {"level": level, "message": message}
        if self.function:
            doc["function"] = self.function
        if self.request_id:
            doc["awsRequestId"] = self.request_id
        if fields:
            doc.update(fields)
        if metrics:
            directives: List[Dict[str, Any]] = []
            for group in metrics:
                doc.update(group.dimensions)
                for name, _unit, value in group.metrics:
                    doc[name] = value
                directives.append(
                    {
                        "Namespace": self.namespace,
                        "Dimensions": [sorted(group.dimensions)],
                        "Metrics": [{"Name": name, "Unit": unit} for name, unit, _ in group.metrics],
                    }
                )
            doc["_aws"] = {"Timestamp": now_ms, "CloudWatchMetrics": directives}
        else:
            doc["timestamp"] = now_ms
        stream = self.stream or sys.stdout
        stream.write(_encode(doc) + "\n")
        return doc
