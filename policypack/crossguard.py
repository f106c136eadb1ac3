"""The CrossGuard side of the pack: each policy of :mod:`policypack.rules` as a ``pulumi_policy`` policy.

Per policy, the CLI passes the config the engine wrote for the stack (``automation/review/policy.py``):
``enforcementLevel``, ``stack`` and ``environment`` (the stack's ``<project>:environment`` config value: a pack
started as a plugin is not told the stack's config), ``waivers`` (``[{"resource": "type::name glob", "reason":
...}]``: a waived resource is not reported here, and the engine records the waiver in its report) and
``stateful`` (the project's patterns) and ``calendar`` (the version support table on the day of the run: the engine
passes it; a pack run by hand without it reads ``automation/prices/lifecycle.yaml`` of its project itself).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from policypack import rules

NAME = "ghost-gitops"
SCHEMA = PolicyConfigSchema(properties={
    "waivers": {"type": "array", "items": {"type": "object", "properties": {
        "resource": {"type": "string"}, "reason": {"type": "string"}}, "required": ["resource", "reason"]}},
    "stateful": {"type": "array", "items": {"type": "string"}},
    "stack": {"type": "string"},
    "environment": {"type": "string"},
    "calendar": {"type": "object"},
})
#: the project's version support table, relative to this pack (read only when the engine passed no calendar)
LIFECYCLE = Path(__file__).resolve().parent.parent / "automation" / "prices" / "lifecycle.yaml"


#: set to a directory, the pack records what the CLI sends it (tests/data/analyzer, issue 28): per stack, every
#: resource a resource policy was asked about, with its props as the policy saw them, secrets redacted
RECORD_ENV = "GHOST_GITOPS_ANALYZER_RECORD"
REDACTED = "[redacted]"
_recorded: dict[str, dict[str, Any]] = {}
_record_lock = threading.Lock()


def redact(type_: str, value: Any, key: str = "") -> Any:
    """``value`` with what may be secret replaced by ``[redacted]``: a Kubernetes Secret's data, a random password's
    result and any string under a secret-sounding key (providers, whose settings hold a kubeconfig's client key, are
    not recorded at all). The analyzer receives secrets in plain text (pulumi_policy unwraps them), so this is the
    only line of defence."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            whole = (type_ == "kubernetes:core/v1:Secret" and k in ("data", "stringData")) or \
                (type_.startswith("random:") and k in ("result", "bcryptHash"))
            out[str(k)] = ({kk: REDACTED for kk in v} if isinstance(v, Mapping) else REDACTED) if whole \
                else redact(type_, v, str(k))
        return out
    if isinstance(value, list):
        return [redact(type_, v, key) for v in value]
    if isinstance(value, str) and rules.SECRET_NAME.search(key):
        return REDACTED
    return value


def record(stack: str, subject: rules.Subject) -> None:
    """Add ``subject`` to ``$GHOST_GITOPS_ANALYZER_RECORD/<stack>.json`` (a no-op without the variable)."""
    folder = os.environ.get(RECORD_ENV)
    if not folder or subject.type.startswith("pulumi:providers:"):
        return
    entry = {"urn": subject.urn, "type": subject.type, "name": subject.name, "protect": subject.protect,
             "props": redact(subject.type, subject.props)}
    with _record_lock:
        if _recorded.get(subject.urn) == entry:
            return  # every resource policy sees the resource: write the file once per change, not once per policy
        _recorded[subject.urn] = entry
        path = Path(folder) / f"{stack or 'stack'}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(sorted(_recorded.values(), key=lambda e: e["urn"]), indent=1, sort_keys=True) + "\n")


@functools.cache
def project_calendar(path: Path = LIFECYCLE) -> dict[str, Any] | None:
    """The calendar of a run the engine did not configure (``pulumi preview --policy-pack policypack`` by hand): the
    table's dates on today (``GHOST_GITOPS_TODAY`` if set). None without the table."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError:
        return None
    today = os.environ.get("GHOST_GITOPS_TODAY", "").strip() or dt.datetime.now(dt.UTC).date().isoformat()
    return {"today": today, "warn_days": doc.get("warn_days", 90),
            **{product: {str(v): [str(r["end_standard"]), str(r["end_extended"])] for v, r in doc[product]["versions"].items()}
               for product in ("eks", "rds_mysql")}}


def plain(value: Any) -> Any:
    """The SDK's read-only proxies as plain dicts and lists (the rules test ``isinstance(x, Mapping)``)."""
    if isinstance(value, (str, bytes, int, float, bool)) or value is None:
        return value
    if isinstance(value, Mapping) or hasattr(value, "items"):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or hasattr(value, "__iter__"):
        return [plain(v) for v in value]
    return value


def _context(config: Mapping[str, Any]) -> rules.Context:
    stateful = tuple(str(p) for p in config.get("stateful") or ()) or rules.DEFAULT_STATEFUL
    environment = config.get("environment")
    calendar = config.get("calendar")
    return rules.Context(stack=str(config.get("stack") or ""), environment=str(environment) if environment else None,
                         stateful=stateful, calendar=calendar if isinstance(calendar, Mapping) else project_calendar())


def _waivers(name: str, config: Mapping[str, Any]) -> list[rules.Waiver]:
    return [rules.Waiver(name, str(w.get("resource")), str(w.get("reason"))) for w in config.get("waivers") or ()
            if isinstance(w, Mapping)]


def _resource_policy(policy: rules.Policy) -> ResourceValidationPolicy:
    check = policy.check
    assert check is not None

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        recording = bool(os.environ.get(RECORD_ENV))
        if policy.types is not None and args.resource_type not in policy.types and not recording:
            return
        config = plain(args.get_config())
        subject = rules.Subject(args.urn, args.resource_type, args.name, plain(args.props), bool(args.opts.protect))
        if recording:
            record(str(config.get("stack") or ""), subject)
            if policy.types is not None and args.resource_type not in policy.types:
                return
        if rules.opaque(subject):
            return
        if any(w.covers(policy.name, subject) for w in _waivers(policy.name, config)):
            return
        for message in check(subject, _context(config)):
            report(message, None)

    return ResourceValidationPolicy(name=policy.name, description=policy.description, validate=validate,
                                    enforcement_level=EnforcementLevel(policy.level), config_schema=SCHEMA,
                                    severity=Severity(policy.severity))


def _stack_policy(policy: rules.Policy) -> StackValidationPolicy:
    check = policy.check_stack
    assert check is not None

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        config = plain(args.get_config())
        subjects = [rules.Subject(r.urn, r.resource_type, r.name, plain(r.props), bool(r.opts.protect))
                    for r in args.resources]
        waivers = _waivers(policy.name, config)
        for subject, message in check(subjects, _context(config)):
            if not any(w.covers(policy.name, subject) for w in waivers):
                report(message, subject.urn)

    return StackValidationPolicy(name=policy.name, description=policy.description, validate=validate,
                                 enforcement_level=EnforcementLevel(policy.level), config_schema=SCHEMA,
                                 severity=Severity(policy.severity))


def policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    return [_resource_policy(p) if p.check is not None else _stack_policy(p) for p in rules.POLICIES]


def serve() -> None:
    """Start the pack's gRPC server (prints its port for the CLI) and block."""
    PolicyPack(name=NAME, policies=policies(), enforcement_level=EnforcementLevel.MANDATORY)  # type: ignore[arg-type]
