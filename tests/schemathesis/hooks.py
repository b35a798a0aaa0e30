"""Schemathesis hooks of the contract test (tests/tests/suite/api_contract.rs).

`refusal_is_documented`: a schema-valid request may still be refused — by a rule of the
Regolamento (422), a check the schema cannot express such as a fiscal code's check letter or a
period whose end precedes its start (400), a stale `If-Match` (412), a scan that is not a
PDF/JPEG/PNG by content (415) — but only with a problem `code` that the operation's own
documented responses name. Anything else is a schema-valid request rejected without a reason.
"""

import re

import schemathesis

DOCUMENTED_STATUSES = {400, 412, 415, 422}


def _documented_codes(case, status):
    """The operation's documented responses for `status`, and its parameters' descriptions
    (an `Idempotency-Key` says there what a reused key gets)."""
    raw = case.operation.definition.raw
    responses = raw.get("responses", {})
    texts = []
    for key in (str(status), f"{str(status)[0]}XX", "default"):
        if key in responses:
            texts.append(responses[key].get("description", ""))
    for param in raw.get("parameters", []):
        description = param.get("description", "")
        if str(status) in description:
            texts.append(description)
    return " ".join(texts)


@schemathesis.check
def refusal_is_documented(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code not in DOCUMENTED_STATUSES:
        return None
    try:
        code = response.json().get("code")
    except Exception as e:  # noqa: BLE001 - a refusal must be problem+json
        raise AssertionError(f"{response.status_code} is not problem+json: {e}") from None
    described = _documented_codes(case, response.status_code)
    # A write documents that a rule may refuse it (422, the rule named by `code`).
    if response.status_code == 422 and "422 rule refusals" in described:
        return None
    if not code or not re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", described):
        raise AssertionError(
            f"a schema-valid request was refused {response.status_code} `{code}`, "
            f"which {case.operation.label} does not document: {response.text[:300]}"
        )
    return None
