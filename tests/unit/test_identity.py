"""identity.py and claims.py on their own: the agent id rule, IAM ARNs, resolve() per source, and the
settings' errors (each names the variable)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import pytest
from remediation_registry import claims, identity
from remediation_registry.config import ConfigError
from remediation_registry.identity import IdentitySettings, Refused

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"


def settings(**env: str) -> IdentitySettings:
    return identity.load(env)


def iam_settings(agents: str = "", dashboards: str = "", agent_id_from: str = "", **env: str) -> IdentitySettings:
    return settings(
        CONNECT_IDENTITY_SOURCE="iam",
        CONNECT_IAM_AGENT_ROLES=agents,
        CONNECT_IAM_DASHBOARD_ROLES=dashboards,
        CONNECT_IAM_AGENT_ID_FROM=agent_id_from,
        **env,
    )


def refusal(call: Any, *args: Any) -> str:
    with pytest.raises(Refused) as error:
        call(*args)
    assert error.value.reason in identity.REASONS
    return error.value.reason


# ---------------------------------------------------------------------------------------------------
# The agent id rule
# ---------------------------------------------------------------------------------------------------

ACCEPTED_IDS = [
    "a",
    "agent-07",
    "a" * 256,
    "\U0001f600" * 256,  # 256 characters, whatever their UTF-8 length
    "agent-m\u00fcnchen",  # precomposed u-umlaut: NFC
    "\u30a8\u30fc\u30b8\u30a7\u30f3\u30c87",
    "\u0430gent",  # a Cyrillic look-alike: NFC and printable, not detected (documented)
    "\ufb01le-server",  # a compatibility ligature: NFC, not NFKC (documented)
    "build agent 7",  # plain spaces inside
    "host.example.com/agent:7@eu",
]
REFUSED_IDS = [
    ("", "missing"),
    ("a" * 257, "257 characters long"),
    (" agent", "whitespace"),
    ("agent ", "whitespace"),
    ("\tagent", "whitespace"),
    ("agent\n", "whitespace"),
    ("\u3000agent", "whitespace"),  # ideographic space
    ("\u2003agent", "whitespace"),  # em space
    ("ag\u200bent", "U+200B"),  # zero-width space (Cf)
    ("ag\u200dent", "U+200D"),  # zero-width joiner (Cf)
    ("ag\u2060ent", "U+2060"),  # word joiner (Cf)
    ("ag\u00adent", "U+00AD"),  # soft hyphen (Cf)
    ("\u202eagent", "U+202E"),  # right-to-left override (Cf)
    ("\ufeffagent", "U+FEFF"),  # byte order mark: not whitespace for str.strip(), Cf
    ("ag\u00a0ent", "U+00A0"),  # no-break space (Zs)
    ("ag\u2028ent", "U+2028"),  # line separator (Zl)
    ("ag\u2029ent", "U+2029"),  # paragraph separator (Zp)
    ("ag\x00ent", "U+0000"),
    ("ag\x7fent", "U+007F"),
    ("ag\x85ent", "U+0085"),
    ("ag\ue000ent", "U+E000"),  # private use (Co)
    ("ag\ud800ent", "U+D800"),  # a lone surrogate (JSON "\ud800" decodes to one)
    ("ag\U000e0001ent", "U+E0001"),  # language tag (Cf)
    ("cafe\u0301", "NFC"),  # combining acute accent
    ("\u212b", "NFC"),  # ANGSTROM SIGN -> U+00C5
    ("\u1100\u1161", "NFC"),  # conjoining jamo -> U+AC00
]


@pytest.mark.parametrize("agent_id", ACCEPTED_IDS)
def test_well_formed_ids_are_accepted(agent_id: str) -> None:
    identity.check_agent_id(agent_id, None)


@pytest.mark.parametrize(("agent_id", "said"), REFUSED_IDS)
def test_look_alike_and_malformed_ids_are_refused(agent_id: str, said: str) -> None:
    if not agent_id:  # an empty id is a missing one, decided before the rule (resolve)
        options = settings()
        context = {"authorizer": {"clientType": "agent", "agentId": agent_id}}
        assert refusal(identity.resolve, context, {}, options) == identity.MISSING_AGENT_ID
        return
    with pytest.raises(Refused) as error:
        identity.check_agent_id(agent_id, None)
    assert error.value.reason == identity.INVALID_AGENT_ID
    assert said in error.value.message


def test_the_message_escapes_what_it_shows_and_bounds_it() -> None:
    with pytest.raises(Refused) as error:
        identity.check_agent_id("x\u200b" + "y" * 300, None)
    assert "'x\\u200b" in error.value.message
    assert "..." in error.value.message
    assert len(error.value.message) < 200


@pytest.mark.parametrize(
    ("pattern", "agent_id", "matches"),
    [
        ("agent-[0-9]{1,6}", "agent-42", True),
        ("agent-[0-9]{1,6}", "my-agent-42", False),
        ("agent-[0-9]{1,6}", "agent-42-x", False),
        ("agent-\\d+", "agent-\u0663", True),  # Unicode digits: Python's \d (documented)
        ("(?a)agent-\\d+", "agent-\u0663", False),
        ("[a-z]+|[0-9]+", "abc", True),
        ("[a-z]+|[0-9]+", "abc123", False),  # the whole id, not one alternative's prefix
    ],
)
def test_the_pattern_must_match_the_whole_id(pattern: str, agent_id: str, matches: bool) -> None:
    compiled = settings(CONNECT_AGENT_ID_PATTERN=pattern).agent_id_pattern
    assert compiled is not None
    if matches:
        identity.check_agent_id(agent_id, compiled)
    else:
        assert refusal(identity.check_agent_id, agent_id, compiled) == identity.PATTERN_MISMATCH


def test_the_built_in_rule_comes_before_the_pattern() -> None:
    compiled = re.compile(".*")
    assert refusal(identity.check_agent_id, "agent\u200b", compiled) == identity.INVALID_AGENT_ID


@pytest.mark.parametrize("pattern", ["agent-[0-9", "(unclosed", "*", "a{2,1}", "(?P<x>a)(?P<x>b)"])
def test_a_pattern_that_does_not_compile_names_the_variable(pattern: str) -> None:
    with pytest.raises(ConfigError, match="CONNECT_AGENT_ID_PATTERN"):
        settings(CONNECT_AGENT_ID_PATTERN=pattern)


def test_no_pattern_when_unset_or_empty() -> None:
    assert settings().agent_id_pattern is None
    assert settings(CONNECT_AGENT_ID_PATTERN="").agent_id_pattern is None


# ---------------------------------------------------------------------------------------------------
# resolve(): claimed identities (authorizer, query string)
# ---------------------------------------------------------------------------------------------------


def test_the_authorizer_source_reads_only_the_authorizer() -> None:
    options = settings()
    query = {"clientType": "agent", "agentId": "from-query"}
    assert refusal(identity.resolve, {}, query, options) == identity.NO_IDENTITY
    assert refusal(identity.resolve, {"authorizer": "not an object"}, query, options) == identity.NO_IDENTITY
    context = {"authorizer": {"clientType": "agent", "agentId": "from-authorizer"}}
    assert identity.resolve(context, query, options) == identity.Identity("agent", "from-authorizer", "authorizer")


def test_the_query_string_source_reads_only_the_query_string() -> None:
    options = settings(CONNECT_IDENTITY_SOURCE="query_string_insecure")
    context = {"authorizer": {"clientType": "agent", "agentId": "from-authorizer"}}
    assert refusal(identity.resolve, context, {}, options) == identity.NO_IDENTITY
    query = {"clientType": "dashboard"}
    assert identity.resolve(context, query, options) == identity.Identity("dashboard", None, "query_string_insecure")


def test_configured_keys_are_the_only_keys_read() -> None:
    options = settings(CONNECT_CLIENT_TYPE_KEY="role", CONNECT_AGENT_ID_KEY="sub")
    context = {"authorizer": {"clientType": "agent", "agentId": "default-keys", "role": "agent", "sub": "agent-9"}}
    assert identity.resolve(context, {}, options).agent_id == "agent-9"
    context = {"authorizer": {"clientType": "agent", "agentId": "default-keys"}}
    assert refusal(identity.resolve, context, {}, options) == identity.NO_IDENTITY


@pytest.mark.parametrize("client_type", ["Agent", "AGENT", " agent", "agent ", "robot", 1, True, ["agent"]])
def test_client_types_are_exact(client_type: object) -> None:
    context = {"authorizer": {"clientType": client_type, "agentId": "a"}}
    assert refusal(identity.resolve, context, {}, settings()) == identity.UNKNOWN_CLIENT_TYPE


# ---------------------------------------------------------------------------------------------------
# IAM ARNs
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_arn", "expected"),
    [
        (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/remediation-agent/i-0123456789abcdef0",
            (("aws", ACCOUNT, "role", "remediation-agent"), "i-0123456789abcdef0"),
        ),
        (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Ops_0123abcd/alice@example.com",
            (("aws", ACCOUNT, "role", "AWSReservedSSO_Ops_0123abcd"), "alice@example.com"),
        ),
        (f"arn:aws:iam::{ACCOUNT}:user/host-17", (("aws", ACCOUNT, "user", "host-17"), None)),
        (f"arn:aws:iam::{ACCOUNT}:user/agents/eu/host-17", (("aws", ACCOUNT, "user", "host-17"), None)),
        (f"arn:aws-cn:sts::{ACCOUNT}:assumed-role/r/s1", (("aws-cn", ACCOUNT, "role", "r"), "s1")),
        (f"arn:aws-us-gov:sts::{ACCOUNT}:assumed-role/r/s1", (("aws-us-gov", ACCOUNT, "role", "r"), "s1")),
        (f"arn:aws-iso-b:iam::{ACCOUNT}:user/u", (("aws-iso-b", ACCOUNT, "user", "u"), None)),
        # Not a role session or an IAM user:
        (f"arn:aws:iam::{ACCOUNT}:root", None),
        (f"arn:aws:sts::{ACCOUNT}:federated-user/remediation-agent", None),
        (f"arn:aws:iam::{ACCOUNT}:role/remediation-agent", None),  # a role ARN is no caller
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/remediation-agent", None),  # no session
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/remediation-agent/", None),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/remediation-agent/s", None),  # session names are 2-64
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/remediation-agent/{'s' * 65}", None),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/path/remediation-agent/session", None),  # no path there
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/remediation-agent/ses sion", None),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/remediation-agent/s\u00e9ssion", None),
        (f"arn:aws:iam::{ACCOUNT}:assumed-role/remediation-agent/session", None),  # iam, not sts
        (f"arn:aws:sts::{ACCOUNT}:user/host-17", None),
        ("arn:aws:sts::12345678901:assumed-role/r/session", None),  # 11-digit account
        (f"arn:AWS:sts::{ACCOUNT}:assumed-role/r/session", None),
        (f"arn:aws:sts:eu-west-1:{ACCOUNT}:assumed-role/r/session", None),  # STS ARNs have no region
        (f" arn:aws:sts::{ACCOUNT}:assumed-role/r/session", None),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/r/session\n", None),
        (f"arn:aws:iam::{ACCOUNT}:user/", None),
        (f"arn:aws:iam::{ACCOUNT}:user/{'u' * 65}", None),
        ("", None),
        ("*", None),
    ],
)
def test_caller_arns(user_arn: str, expected: Optional[Any]) -> None:
    assert identity.caller_principal(user_arn) == expected


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (f"arn:aws:iam::{ACCOUNT}:role/remediation-agent", ("aws", ACCOUNT, "role", "remediation-agent")),
        (f"arn:aws:iam::{ACCOUNT}:role/fleet/eu/remediation-agent", ("aws", ACCOUNT, "role", "remediation-agent")),
        (f"arn:aws:iam::{ACCOUNT}:user/ops/alice", ("aws", ACCOUNT, "user", "alice")),
        (f"arn:aws-cn:iam::{ACCOUNT}:role/r", ("aws-cn", ACCOUNT, "role", "r")),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/remediation-agent/session", None),
        (f"arn:aws:iam::{ACCOUNT}:root", None),
        (f"arn:aws:iam::{ACCOUNT}:role/", None),
        (f"arn:aws:iam::{ACCOUNT}:instance-profile/agents", None),
        ("remediation-agent", None),
    ],
)
def test_listed_arns(arn: str, expected: Optional[Any]) -> None:
    assert identity.listed_principal(arn) == expected


AGENT_ROLE = f"arn:aws:iam::{ACCOUNT}:role/fleet/remediation-agent"
DASHBOARD_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ops-dashboard"


def session(role: str, name: str = "i-0123456789abcdef0", account: str = ACCOUNT, partition: str = "aws") -> str:
    return f"arn:{partition}:sts::{account}:assumed-role/{role}/{name}"


def caller_context(user_arn: Optional[str]) -> Dict[str, Any]:
    return {"identity": {"sourceIp": "203.0.113.7", **({"userArn": user_arn} if user_arn is not None else {})}}


@pytest.mark.parametrize(
    ("user_arn", "options", "expected"),
    [
        # an agent role (listed with a path; the session ARN has none): the session name
        (session("remediation-agent"), {}, ("agent", "i-0123456789abcdef0")),
        (session("remediation-agent"), {"agent_id_from": "role_name"}, ("agent", "remediation-agent")),
        # a dashboard role
        (session("ops-dashboard", "alice@example.com"), {}, ("dashboard", None)),
        # IAM users
        (
            f"arn:aws:iam::{ACCOUNT}:user/agents/host-17",
            {"agents": f"arn:aws:iam::{ACCOUNT}:user/host-17", "agent_id_from": "user_name"},
            ("agent", "host-17"),
        ),
        (
            f"arn:aws:iam::{ACCOUNT}:user/ops/alice",
            {"dashboards": f"arn:aws:iam::{ACCOUNT}:user/alice"},
            ("dashboard", None),
        ),
        # unknown roles and principals
        (session("Remediation-Agent"), {}, "unknown_principal"),  # names compare exactly
        (session("remediation-agent", account=OTHER_ACCOUNT), {}, "unknown_principal"),
        (session("remediation-agent", partition="aws-cn"), {}, "unknown_principal"),
        (session("admin"), {}, "unknown_principal"),
        (f"arn:aws:iam::{ACCOUNT}:user/remediation-agent", {}, "unknown_principal"),  # a user is not the role
        (
            f"arn:aws:iam::{ACCOUNT}:user/host-17",
            {"agents": f"arn:aws:iam::{ACCOUNT}:role/host-17"},
            "unknown_principal",
        ),
        (f"arn:aws:iam::{ACCOUNT}:root", {}, "unknown_principal"),
        (f"arn:aws:sts::{ACCOUNT}:federated-user/remediation-agent", {}, "unknown_principal"),
        ("arn:aws:sts::123:assumed-role/remediation-agent/i-1", {}, "unknown_principal"),
        (None, {}, "no_identity"),
        ("", {}, "no_identity"),
        # the agent id rule and pattern apply to derived ids
        (session("remediation-agent", "agent-12"), {"pattern": "i-[0-9a-f]+"}, "pattern_mismatch"),
        (session("remediation-agent", "i-0abc"), {"pattern": "i-[0-9a-f]+"}, ("agent", "i-0abc")),
    ],
)
def test_iam_callers(user_arn: Optional[str], options: Mapping[str, str], expected: Any) -> None:
    extra = {"CONNECT_AGENT_ID_PATTERN": options["pattern"]} if "pattern" in options else {}
    loaded = iam_settings(
        agents=options.get("agents", AGENT_ROLE),
        dashboards=options.get("dashboards", DASHBOARD_ROLE),
        agent_id_from=options.get("agent_id_from", ""),
        **extra,
    )
    context = caller_context(user_arn)
    if isinstance(expected, str):
        assert refusal(identity.resolve, context, {}, loaded) == expected
        return
    found = identity.resolve(context, {"clientType": "dashboard"}, loaded)
    assert (found.client_type, found.agent_id, found.source, found.principal) == (*expected, "iam", user_arn)


def test_iam_context_must_be_an_object() -> None:
    loaded = iam_settings(agents=AGENT_ROLE)
    assert refusal(identity.resolve, {"identity": "arn:aws:iam::123456789012:root"}, {}, loaded) == "no_identity"


# ---------------------------------------------------------------------------------------------------
# load()
# ---------------------------------------------------------------------------------------------------


def test_iam_lists_are_comma_separated_and_trimmed() -> None:
    loaded = iam_settings(agents=f" {AGENT_ROLE} ,, arn:aws:iam::{ACCOUNT}:role/second ", dashboards="")
    assert loaded.iam_agents == {("aws", ACCOUNT, "role", "remediation-agent"), ("aws", ACCOUNT, "role", "second")}
    assert (loaded.iam_dashboards, loaded.iam_agent_id_from) == (frozenset(), "session_name")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "CONNECT_IAM_AGENT_ROLES and CONNECT_IAM_DASHBOARD_ROLES are both empty"),
        ({"agents": "remediation-agent"}, "CONNECT_IAM_AGENT_ROLES must list"),
        ({"agents": session("remediation-agent")}, "CONNECT_IAM_AGENT_ROLES must list"),
        ({"dashboards": f"arn:aws:iam::{ACCOUNT}:root"}, "CONNECT_IAM_DASHBOARD_ROLES must list"),
        ({"agents": AGENT_ROLE, "dashboards": f"arn:aws:iam::{ACCOUNT}:role/other/remediation-agent"}, "both list"),
        ({"agents": f"arn:aws:iam::{ACCOUNT}:user/host-17"}, "CONNECT_IAM_AGENT_ID_FROM=session_name"),
        ({"agents": AGENT_ROLE, "agent_id_from": "user_name"}, "CONNECT_IAM_AGENT_ID_FROM=user_name"),
        ({"agents": AGENT_ROLE, "agent_id_from": "instance_id"}, "CONNECT_IAM_AGENT_ID_FROM must be one of"),
    ],
)
def test_iam_configuration_errors_name_the_variable(env: Dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        iam_settings(**env)


def test_iam_variables_are_read_only_with_the_iam_source() -> None:
    loaded = settings(CONNECT_IAM_AGENT_ROLES="not an arn", CONNECT_IAM_AGENT_ID_FROM="nonsense")
    assert (loaded.source, loaded.iam_agents, loaded.iam_dashboards) == ("authorizer", frozenset(), frozenset())


# ---------------------------------------------------------------------------------------------------
# claims.py: the source and the authorizer context keys
# ---------------------------------------------------------------------------------------------------


def test_claims_defaults() -> None:
    assert claims.load({}) == claims.Claims("authorizer", "clientType", "agentId")
    assert claims.load({"CONNECT_IDENTITY_SOURCE": " ", "CONNECT_AGENT_ID_KEY": ""}) == claims.load({})


@pytest.mark.parametrize("source", ["authorizer", "iam", "query_string_insecure"])
def test_identity_sources(source: str) -> None:
    assert claims.load({"CONNECT_IDENTITY_SOURCE": f" {source} "}).source == source


@pytest.mark.parametrize("raw", ["query_string", "IAM", "authoriser", "none", "true"])
def test_an_unknown_identity_source_names_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="CONNECT_IDENTITY_SOURCE"):
        claims.load({"CONNECT_IDENTITY_SOURCE": raw})


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CONNECT_AGENT_ID_KEY": "agent id"}, "CONNECT_AGENT_ID_KEY"),
        ({"CONNECT_AGENT_ID_KEY": "k" * 129}, "CONNECT_AGENT_ID_KEY"),
        ({"CONNECT_CLIENT_TYPE_KEY": "client/type"}, "CONNECT_CLIENT_TYPE_KEY"),
        ({"CONNECT_CLIENT_TYPE_KEY": "cl\u00efent"}, "CONNECT_CLIENT_TYPE_KEY"),
        ({"CONNECT_CLIENT_TYPE_KEY": "sub", "CONNECT_AGENT_ID_KEY": "sub"}, "CONNECT_CLIENT_TYPE_KEY and"),
        ({"CONNECT_CLIENT_TYPE_KEY": "agentId"}, "CONNECT_CLIENT_TYPE_KEY and"),
    ],
)
def test_bad_authorizer_keys_name_the_variable(env: Dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        claims.load(env)


def test_authorizer_keys_accept_their_whole_alphabet() -> None:
    key = "Az09_.:-" + "k" * 120
    assert claims.load({"CONNECT_CLIENT_TYPE_KEY": key}).client_type_key == key


def test_dashboard_charts_every_refusal_reason() -> None:
    """RefusedConnects is published only with its Reason dimension, and CloudWatch charts a metric by its
    exact dimensions: the dashboard's widget (monitoring.tf, local.refused_reasons) needs one line per
    reason, so its list must be REASONS."""
    monitoring = (Path(__file__).resolve().parents[2] / "monitoring.tf").read_text()
    listed = re.search(r"^\s*refused_reasons\s*=\s*\[([^\]]*)\]", monitoring, re.MULTILINE)
    assert listed is not None, "monitoring.tf has no local refused_reasons"
    assert tuple(re.findall(r'"([a-z_]+)"', listed.group(1))) == identity.REASONS
