"""The EMF validator (tests/support/emf.py + emf_schema.json) rejects what the specification forbids.

Every suite relies on it (tests/conftest.py, tests/e2e/conftest.py, tests/support/logs.py), so it
must not pass bad lines: each case below breaks exactly one rule of the published spec.
"""

from __future__ import annotations

import copy
import io
import json
from typing import Any, Callable, Dict, List

import pytest
from remediation_registry.telemetry import MetricGroup, Telemetry

from tests.support.emf import MAX_EVENT_BYTES, line_problems
from tests.support.logs import parse_log_lines

# The specification's own example document.
SPEC_EXAMPLE: Dict[str, Any] = {
    "_aws": {
        "Timestamp": 1574109732004,
        "CloudWatchMetrics": [
            {
                "Namespace": "lambda-function-metrics",
                "Dimensions": [["functionVersion"]],
                "Metrics": [{"Name": "time", "Unit": "Milliseconds"}],
            }
        ],
    },
    "functionVersion": "$LATEST",
    "time": 100,
    "requestId": "989ffbf8-9ace-4817-a57c-e4dd734019ee",
}


def problems_after(change: Callable[[Dict[str, Any]], None]) -> List[str]:
    document = copy.deepcopy(SPEC_EXAMPLE)
    change(document)
    return line_problems(json.dumps(document))


def directive(document: Dict[str, Any]) -> Dict[str, Any]:
    return document["_aws"]["CloudWatchMetrics"][0]  # type: ignore[no-any-return]


def with_dimensions(document: Dict[str, Any], count: int) -> None:
    keys = [f"Dim{n}" for n in range(count)]
    directive(document)["Dimensions"] = [keys]
    document.update({key: "value" for key in keys})


def test_the_specification_example_and_edge_values_are_valid() -> None:
    assert problems_after(lambda d: None) == []
    assert problems_after(lambda d: with_dimensions(d, 30)) == []  # the limit itself
    assert problems_after(lambda d: directive(d)["Metrics"][0].pop("Unit")) == []  # Unit is optional
    assert problems_after(lambda d: d.update(time=[1, 2.5, 3])) == []  # numeric arrays are metric values
    assert problems_after(lambda d: directive(d).update(Dimensions=[[]])) == []  # a DimensionSet MAY be empty


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(lambda d: d.pop("_aws"), "'_aws' is a required property", id="missing-_aws"),
        pytest.param(lambda d: d["_aws"].update(Timestamp=1574109732), "less than the minimum", id="seconds-timestamp"),
        pytest.param(lambda d: d["_aws"].update(Timestamp="1574109732004"), "is not of type 'integer'", id="text-time"),
        pytest.param(lambda d: d["_aws"].pop("Timestamp"), "'Timestamp' is a required property", id="no-timestamp"),
        pytest.param(lambda d: with_dimensions(d, 31), "is too long", id="31-dimensions"),
        pytest.param(lambda d: directive(d)["Metrics"][0].update(Unit="Percentage"), "is not one of", id="bad-unit"),
        pytest.param(lambda d: directive(d)["Metrics"][0].update(Unit="count"), "is not one of", id="unit-case"),
        pytest.param(lambda d: d.pop("time"), "metric 'time' is not a member of the root", id="missing-metric"),
        pytest.param(
            lambda d: d.pop("functionVersion"),
            "dimension 'functionVersion' is not a member of the root",
            id="missing-dimension",
        ),
        pytest.param(lambda d: d.update(functionVersion=7), "must have a string value", id="numeric-dimension"),
        pytest.param(lambda d: d.update(time="100"), "must be a number or an array", id="text-metric"),
        pytest.param(lambda d: d.update(time=True), "must be a number or an array", id="boolean-metric"),
        pytest.param(lambda d: d.update(time=list(range(101))), "has 101 values", id="101-values"),
        pytest.param(
            lambda d: (
                directive(d).update(Metrics=[{"Name": f"m{n}"} for n in range(101)])
                or d.update({f"m{n}": 1 for n in range(101)})
            ),
            "is too long",
            id="101-metrics",
        ),
        pytest.param(lambda d: directive(d).pop("Namespace"), "'Namespace' is a required property", id="no-namespace"),
        pytest.param(lambda d: directive(d).update(Namespace=""), "should be non-empty", id="empty-namespace"),
        pytest.param(lambda d: directive(d).update(Extra=1), "Additional properties", id="extra-member"),
        pytest.param(
            lambda d: directive(d)["Metrics"][0].update(StorageResolution=30), "is not one of", id="resolution"
        ),
        pytest.param(lambda d: d.update(pad="x" * MAX_EVENT_BYTES), "bytes; CloudWatch Logs", id="over-1MB"),
    ],
)
def test_a_document_breaking_one_rule_is_rejected(change: Callable[[Dict[str, Any]], Any], expected: str) -> None:
    problems = problems_after(change)
    assert any(expected in problem for problem in problems), problems


def test_text_that_is_not_one_json_object_is_rejected() -> None:
    valid = json.dumps(SPEC_EXAMPLE)
    assert "not one JSON object" in line_problems(valid.replace("100", "NaN", 1))[0]  # not JSON (RFC 8259)
    assert "not one JSON object" in line_problems("START RequestId: x " + valid)[0]
    assert "not an object" in line_problems(json.dumps([SPEC_EXAMPLE]))[0]


def test_parsing_logs_rejects_an_invalid_emf_line() -> None:
    bad = copy.deepcopy(SPEC_EXAMPLE)
    bad["_aws"]["Timestamp"] = 1574109732
    with pytest.raises(AssertionError, match="less than the minimum"):
        parse_log_lines(json.dumps(bad) + "\n")


def test_every_line_telemetry_writes_is_checked(emf_lines_follow_the_spec: List[str]) -> None:
    """The autouse hook sees lines written to any stream, read by the test or not."""
    telemetry = Telemetry("Remediation/Test", stream=io.StringIO())
    telemetry.log("INFO", "fine", metrics=[MetricGroup({"ClientType": "agent"}, [("Disconnects", "Count", 1)])])
    assert emf_lines_follow_the_spec == []

    telemetry.log("INFO", "bad unit", metrics=[MetricGroup({}, [("Latency", "Percentage", 1)])])
    telemetry.log(
        "INFO", "many dimensions", metrics=[MetricGroup({f"D{n}": "x" for n in range(31)}, [("N", "Count", 1)])]
    )
    assert len(emf_lines_follow_the_spec) == 2
    assert "'bad unit'" in emf_lines_follow_the_spec[0]
    assert "is not one of" in emf_lines_follow_the_spec[0]
    assert "'many dimensions'" in emf_lines_follow_the_spec[1]
    assert "is too long" in emf_lines_follow_the_spec[1]
    emf_lines_follow_the_spec.clear()  # seen and asserted: do not fail this test at teardown
