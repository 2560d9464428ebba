"""What one sweep run did: the counts, the `sweep finished` log line and the sweeper's metrics."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ..contract import CLIENT_TYPES
from ..telemetry import MetricGroup, Telemetry


class SweepReport:
    def __init__(self) -> None:
        self.examined = 0
        self.scanned = 0
        self.expired = 0
        self.gone = 0
        self.probed = 0
        self.probe_errors = 0
        self.raced = 0
        self.unprocessed = 0
        self.agents_offline: Dict[str, int] = {"expired": 0, "gone": 0}  # presence transitions made
        self.presence_errors = 0
        self.complete = False  # this run finished a pass
        self.active: Dict[str, int] = {}  # live connections this run saw
        self.stopped_by: Optional[str] = None
        self.position = "none saved"
        self.pass_progress: Dict[str, Any] = {}

    def as_dict(self) -> Dict[str, Any]:
        return {
            "examined": self.examined,
            "removedExpired": self.expired,
            "removedGone": self.gone,
            "probed": self.probed,
            "probeErrors": self.probe_errors,
            "alreadyRemoved": self.raced,
            "unprocessed": self.unprocessed,
            "agentsOffline": dict(self.agents_offline),
            "presenceErrors": self.presence_errors,
            "complete": self.complete,
            "pass": dict(self.pass_progress),
            "position": self.position,
            "activeConnections": dict(self.active),
            "stoppedBy": self.stopped_by,
        }


def emit(
    telemetry: Telemetry,
    report: SweepReport,
    probing: bool,
    pass_active: Optional[Dict[str, int]],
) -> None:
    """Log the run's summary and its metrics; ActiveConnections only for a pass completed and saved."""
    summary: List[MetricGroup] = []
    if probing:
        summary.append(MetricGroup({}, [("ProbeErrors", "Count", report.probe_errors)]))
    # A run that stops at its budget is normal now (the next run continues): WARNING only when the
    # position could not be kept.
    level = "WARNING" if report.position in ("unavailable", "not saved") else "INFO"
    telemetry.log(level, "sweep finished", report.as_dict(), summary)
    reasons = ("expired", "gone") if probing else ("expired",)
    for reason in reasons:
        metrics = [("StaleConnectionsRemoved", "Count", float(getattr(report, reason)))]
        telemetry.log("DEBUG", "sweep metrics", {"reason": reason}, [MetricGroup({"Reason": reason}, metrics)])
    if pass_active is not None:
        # Only a complete pass knows the totals (live items seen over the pass); a part would mislead.
        labels = set(CLIENT_TYPES) | set(pass_active)
        for label in sorted(labels):
            telemetry.log(
                "DEBUG",
                "active connections",
                {"clientType": label, "pass": report.pass_progress["number"]},
                [MetricGroup({"ClientType": label}, [("ActiveConnections", "Count", pass_active.get(label, 0))])],
            )
