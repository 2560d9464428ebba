"""Every log line the deployed code writes (run from the committed zip under AWS's Runtime Interface
Emulator by scripts/lambda_rie.py) that carries EMF metadata is checked against the specification,
whichever test, gateway or demo helper invokes it."""

from __future__ import annotations

from typing import Any

import pytest

from scripts.lambda_rie import Invocation, LambdaRuntime
from tests.support.emf import assert_emf_document

_invoke = LambdaRuntime.invoke


def _checked_invoke(self: LambdaRuntime, event: Any) -> Invocation:
    invocation = _invoke(self, event)
    for document in invocation.logs:
        if "_aws" in document:
            assert_emf_document(document)
    return invocation


@pytest.fixture(autouse=True)
def deployed_emf_lines_follow_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LambdaRuntime, "invoke", _checked_invoke)
