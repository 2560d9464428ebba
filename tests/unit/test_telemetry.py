"""telemetry.Telemetry: one JSON object per line, levels, and CloudWatch EMF metadata."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from remediation_registry.telemetry import MetricGroup, Telemetry

from tests.support.emf import encoded
from tests.support.events import now_ms
from tests.support.logs import assert_valid_emf, emf_metrics, parse_log_lines


def written(buffer: io.StringIO) -> list[dict[str, Any]]:
    return parse_log_lines(buffer.getvalue())


def test_debug_lines_are_suppressed_at_info_level() -> None:
    buffer = io.StringIO()
    telemetry = Telemetry("NS", "INFO", stream=buffer)

    line = telemetry.log("DEBUG", "details", {"k": "v"})

    assert buffer.getvalue() == ""
    assert line == ""


def test_debug_lines_with_metrics_are_written_at_info_level() -> None:
    buffer = io.StringIO()
    telemetry = Telemetry("NS", "INFO", stream=buffer)

    telemetry.log(
        "DEBUG", "sweep metrics", {"reason": "expired"}, [MetricGroup({"Reason": "expired"}, [("M", "Count", 2)])]
    )

    [line] = written(buffer)
    assert line["message"] == "sweep metrics"
    assert emf_metrics(line) == {"M": (2, "Count", ["Reason"])}


def test_debug_lines_are_written_at_debug_level() -> None:
    buffer = io.StringIO()

    Telemetry("NS", "DEBUG", stream=buffer).log("DEBUG", "details")

    assert [line["message"] for line in written(buffer)] == ["details"]


@pytest.mark.parametrize(("threshold", "shown"), [("INFO", ["i", "w", "e"]), ("WARNING", ["w", "e"]), ("ERROR", ["e"])])
def test_levels_below_the_threshold_are_suppressed(threshold: str, shown: list[str]) -> None:
    buffer = io.StringIO()
    telemetry = Telemetry("NS", threshold, stream=buffer)

    for level, message in (("DEBUG", "d"), ("INFO", "i"), ("WARNING", "w"), ("ERROR", "e")):
        telemetry.log(level, message)

    assert [line["message"] for line in written(buffer)] == shown


def test_every_line_is_exactly_one_json_object_even_with_newlines_and_unicode() -> None:
    buffer = io.StringIO()
    telemetry = Telemetry("NS", "INFO", stream=buffer)

    telemetry.log("INFO", "multi\nline\r\nmessage", {"reason": "caf\u00e9\u2028\u0000", "obj": object(), "n": None})
    telemetry.log("WARNING", "second", metrics=[MetricGroup({}, [("X", "Count", 1)])])

    raw = buffer.getvalue()
    assert raw.count("\n") == 2
    assert raw.endswith("\n")
    first, second = written(buffer)
    assert first["message"] == "multi\nline\r\nmessage"
    assert first["reason"] == "caf\u00e9\u2028\u0000"
    assert isinstance(first["obj"], str)
    assert second["message"] == "second"


def test_plain_lines_carry_a_timestamp_and_no_emf_metadata() -> None:
    buffer = io.StringIO()
    before = now_ms()

    Telemetry("NS", stream=buffer).log("INFO", "hello", {"a": 1})

    [line] = written(buffer)
    assert "_aws" not in line
    assert isinstance(line["timestamp"], int)
    assert before <= line["timestamp"] <= now_ms()
    assert line == {"level": "INFO", "message": "hello", "a": 1, "timestamp": line["timestamp"]}


def test_metric_lines_are_emf_documents_with_values_at_the_root() -> None:
    buffer = io.StringIO()
    telemetry = Telemetry("Remediation/Test", stream=buffer)

    telemetry.log(
        "INFO",
        "connection removed",
        {"connectionId": "abc="},
        [
            MetricGroup(
                {"ClientType": "agent"}, [("Disconnects", "Count", 1.0), ("ConnectionDurationSeconds", "Seconds", 12.5)]
            ),
            MetricGroup({"Reason": "client_closed"}, [("AgentWentOffline", "Count", 1.0)]),
        ],
    )

    [line] = written(buffer)
    assert_valid_emf(line, "Remediation/Test")
    assert "timestamp" not in line
    assert line["connectionId"] == "abc="
    assert line["ClientType"] == "agent"
    assert line["Reason"] == "client_closed"
    assert emf_metrics(line) == {
        "Disconnects": (1.0, "Count", ["ClientType"]),
        "ConnectionDurationSeconds": (12.5, "Seconds", ["ClientType"]),
        "AgentWentOffline": (1.0, "Count", ["Reason"]),
    }


def test_dimension_sets_are_sorted_and_dimensionless_groups_are_allowed() -> None:
    buffer = io.StringIO()

    Telemetry("NS", stream=buffer).log(
        "INFO",
        "m",
        metrics=[MetricGroup({"b": "2", "a": "1"}, [("X", "Count", 1)]), MetricGroup({}, [("Y", "Count", 0)])],
    )

    [line] = written(buffer)
    directives = line["_aws"]["CloudWatchMetrics"]
    assert [directive["Dimensions"] for directive in directives] == [[["a", "b"]], [[]]]


def test_function_name_and_request_id_are_added_when_known() -> None:
    buffer = io.StringIO()
    telemetry = Telemetry("NS", stream=buffer, function="remediation-disconnect")
    telemetry.request_id = "req-1"

    telemetry.log("INFO", "hello")
    telemetry.request_id = None
    telemetry.log("INFO", "again")

    first, second = written(buffer)
    assert (first["function"], first["awsRequestId"]) == ("remediation-disconnect", "req-1")
    assert "awsRequestId" not in second


def test_returned_line_is_the_written_line() -> None:
    buffer = io.StringIO()

    line = Telemetry("NS", stream=buffer).log("ERROR", "boom", {"errorCode": "X"})

    assert buffer.getvalue() == line + "\n"
    assert json.loads(line)["errorCode"] == "X"


def test_metric_lines_are_byte_for_byte_the_encoded_document() -> None:
    buffer = io.StringIO()
    telemetry = Telemetry("Remediation/Test", stream=buffer, function="fn")
    telemetry.request_id = "req-1"
    groups = [
        MetricGroup(
            {"ClientType": "agent"}, [("Disconnects", "Count", 1.0), ("ConnectionDurationSeconds", "Seconds", 2.5)]
        ),
        MetricGroup({"Reason": "client_closed"}, [("AgentWentOffline", "Count", 1)]),
    ]
    fields = {"connectionId": "c=", "item": {"agentId": "caf\u00e9"}, "ClientType": "replaced", "_aws": "replaced"}

    first = telemetry.log("INFO", "connection removed", fields, groups)
    second = telemetry.log("INFO", "connection removed", fields, groups)  # directives from the cache

    # What json.dumps writes for the document each line holds: the spliced-in directives change nothing.
    assert first == encoded(json.loads(first))
    assert second == encoded(json.loads(second))
    document = json.loads(first)
    assert list(document)[-1] == "_aws"
    assert (document["ClientType"], document["Reason"], document["function"]) == ("agent", "client_closed", "fn")


def test_directives_differ_by_namespace_unit_and_dimension_names() -> None:
    buffer = io.StringIO()
    lines = [
        Telemetry(namespace, stream=buffer).log("INFO", "m", metrics=[MetricGroup(dimensions, [("M", unit, 1)])])
        for namespace, dimensions, unit in (
            ("A", {"D": "x"}, "Count"),
            ("A", {"D": "x"}, "Seconds"),
            ("B", {"D": "x"}, "Count"),
            ("A", {"E": "x"}, "Count"),
            ("A", {"D": "x"}, "Count"),
        )
    ]

    directives = [json.loads(line)["_aws"]["CloudWatchMetrics"][0] for line in lines]
    assert [(d["Namespace"], d["Dimensions"], d["Metrics"][0]["Unit"]) for d in directives] == [
        ("A", [["D"]], "Count"),
        ("A", [["D"]], "Seconds"),
        ("B", [["D"]], "Count"),
        ("A", [["E"]], "Count"),
        ("A", [["D"]], "Count"),
    ]
