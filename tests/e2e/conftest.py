"""Every log line the deployed code writes (run from the zip by scripts/lambda_local.py) that carries
EMF metadata is checked against the specification, whichever test invokes it and by which name."""

from __future__ import annotations

from typing import Any, Dict

import pytest

from scripts import offline
from tests.support.emf import assert_emf_document

_invoke_local = offline.invoke_local


def _checked_invoke_local(*args: Any, **kwargs: Any) -> Dict[str, Any]:
    result = _invoke_local(*args, **kwargs)
    for document in result["logs"]:
        if "_aws" in document:
            assert_emf_document(document)
    return result


@pytest.fixture(autouse=True)
def deployed_emf_lines_follow_the_spec(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    monkeypatch.setattr(offline, "invoke_local", _checked_invoke_local)  # also what invoke_sweep calls
    if getattr(request.module, "invoke_local", None) is _invoke_local:
        monkeypatch.setattr(request.module, "invoke_local", _checked_invoke_local)
