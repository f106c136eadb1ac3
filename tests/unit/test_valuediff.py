"""Value-level diffs (automation/model/valuediff.py): paths, secrets, unknowns, detailed diffs, replacements.

The shapes of the inputs are the real CLI's: a secret in a step event is the blinded
``{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "[secret]"}`` (captured
from pulumi 3.274.1's event log with show_secrets off, tests/real/test_real_engine.py's fixture), the unknown sentinel is
pulumi's ``04da6b54-80e4-46f7-96ec-b56ff0331ba9``, and detailed diff kinds are the SDK's DiffKind values.
"""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.automation import events as ev

from automation.model.changes import PropertyChange
from automation.model.valuediff import SECRET, detailed_changes, merge, normalize, parse_path, secret_changes, step_changes, value_changes

BLINDED = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "[secret]"}
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
C0 = "spec.template.spec.containers[0]"


@pytest.mark.parametrize(("path", "parts"), [
    ("image", ("image",)),
    (f"{C0}.image", ("spec", "template", "spec", "containers", 0, "image")),
    ('data["config.json"]', ("data", "config.json")),
    ('metadata.annotations["pulumi.com/patchForce"]', ("metadata", "annotations", "pulumi.com/patchForce")),
    ('tags["a \\"b\\""]', ("tags", 'a "b"')),
    ("spec.ports[*].port", None),
    ("a..b", None),
])
def test_property_paths(path: str, parts: tuple[Any, ...] | None) -> None:
    assert parse_path(path) == parts


def test_every_secret_form_becomes_the_marker_and_nothing_else_survives() -> None:
    doc = {"a": BLINDED, "b": [1.0, BLINDED], "c": UNKNOWN, "__provider": BLINDED, "d": {"e": "[secret]"}}
    assert normalize(doc) == {"a": SECRET, "b": [1, SECRET], "c": "[unknown]", "d": {"e": SECRET}}


@pytest.mark.parametrize(("old", "new", "expected"), [
    ({"x": 1}, {"x": 2}, [PropertyChange("x", "1", "2")]),
    ({"x": "a"}, {}, [PropertyChange("x", "a", None)]),
    ({}, {"tags": {"team": "blog"}}, [PropertyChange("tags", None, '{"team":"blog"}')]),
    ({"s": {"c": [{"i": "g:1"}]}}, {"s": {"c": [{"i": "g:2"}]}}, [PropertyChange("s.c[0].i", "g:1", "g:2")]),
    ({"d": {"k.j": "1"}}, {"d": {"k.j": "2"}}, [PropertyChange('d["k.j"]', "1", "2")]),
    ({"tags": {"cost-center": "a"}}, {"tags": {"cost-center": "b"}}, [PropertyChange('tags["cost-center"]', "a", "b")]),
    ({"l": [1, 2]}, {"l": [1, 2, 3]}, [PropertyChange("l[2]", None, "3")]),
    ({"p": BLINDED}, {"p": "plain"}, [PropertyChange("p", SECRET, "plain")]),
    ({"p": BLINDED}, {"p": BLINDED}, []),  # blinded secrets look equal: secret_changes says what changed
    ({"v": UNKNOWN}, {"v": "x"}, [PropertyChange("v", "[unknown]", "x")]),
    ({"n": 1.0}, {"n": 1}, []),
])
def test_changed_leaves(old: dict[str, Any], new: dict[str, Any], expected: list[PropertyChange]) -> None:
    assert list(value_changes(old, new)) == expected


def test_a_secret_never_shows_its_length_or_shape() -> None:
    short, long_ = dict(BLINDED), dict(BLINDED)
    changes = value_changes({"a": short, "b": "x"}, {"a": long_, "b": "y"}) + secret_changes({"a": short}, {"a": long_})
    assert [(p.path, p.old, p.new) for p in changes] == [("b", "x", "y"), ("a", SECRET, SECRET)]


def test_replace_keys_mark_the_properties_under_them() -> None:
    (db, other) = value_changes({"db_name": "app", "size": 1}, {"db_name": "renamed", "size": 2}, replace_keys=["db_name"])
    assert db == PropertyChange("db_name", "app", "renamed", forces_replacement=True)
    assert other.forces_replacement is False


def test_the_providers_detailed_diff_with_values_and_replace_kinds() -> None:
    old = {"spec": {"template": {"spec": {"containers": [{"image": "ghost:6.65.0-alpine", "env": [{"name": "A"}]}]}}},
           "data": {"token": BLINDED}}
    new = {"spec": {"template": {"spec": {"containers": [{"image": "ghost:6.66.0-alpine", "env": [{"name": "B"}]}]}}},
           "data": {"token": BLINDED}}
    detailed = {f"{C0}.image": ("update-replace", True), f"{C0}.env": ("update", True), "data.token": ("update", True),
                "spec.template.spec.containers[*].image": ("update", True)}
    changes = {p.path: p for p in detailed_changes(old, {}, new, detailed)}
    assert changes[f"{C0}.image"] == PropertyChange(f"{C0}.image", "ghost:6.65.0-alpine", "ghost:6.66.0-alpine", True)
    assert changes[f"{C0}.env[0].name"] == PropertyChange(f"{C0}.env[0].name", "A", "B")  # expanded to the leaf
    assert changes["data.token"] == PropertyChange("data.token", SECRET, SECRET)  # the provider says it changed
    # a wildcard path is read at its parent; it adds nothing new here
    assert set(changes) == {f"{C0}.image", f"{C0}.env[0].name", "data.token"}


def test_a_detailed_diff_against_state_reads_the_old_outputs() -> None:
    (change,) = detailed_changes({"size": 5}, {"size": 7}, {"size": 8}, {"size": ("update", False)})
    assert (change.old, change.new) == ("7", "8")
    (gone,) = detailed_changes({"x": "a"}, {}, {}, {"x": ("delete", True)})
    assert (gone.old, gone.new) == ("a", None)


def test_step_changes_by_op() -> None:
    assert step_changes("create", None, None, {"x": 1}) == ((), ())
    assert step_changes("delete", {"x": 1}, None, None) == ((), ())
    keys, props = step_changes("update", {"content": BLINDED, "dir": "/c"}, {}, {"content": BLINDED, "dir": "/c"})
    assert keys == ("content",) and props == (PropertyChange("content", SECRET, SECRET),)
    keys, props = step_changes("replace", {"db": "a"}, {}, {"db": "b"}, replace_keys=["db"])
    assert keys == ("db",) and props[0].forces_replacement


def test_the_steps_of_a_replacement_merge() -> None:
    merged = merge([PropertyChange("a", "1", None, True)], [PropertyChange("a", None, "2"), PropertyChange("b", "x", "y")])
    assert merged == (PropertyChange("a", "1", "2", True), PropertyChange("b", "x", "y"))


def test_the_event_collector_reads_values_and_the_stack_outputs_from_real_event_shapes() -> None:
    import io

    from automation.engines.port import Progress
    from automation.engines.pulumi_events import EventCollector

    def state(inputs: dict[str, Any], outputs: dict[str, Any] | None = None) -> ev.StepEventStateMetadata:
        return ev.StepEventStateMetadata(type="t", urn="u", id="1", parent="", provider="p", inputs=inputs,
                                         outputs=outputs or {})

    collector = EventCollector(Progress(io.StringIO()), planning=False)
    urn = "urn:pulumi:dev::p::kubernetes:batch/v1:Job::ghost-db-bootstrap"
    meta = ev.StepEventMetadata(
        op=ev.OpType.REPLACE, urn=urn, type="kubernetes:batch/v1:Job", provider="p", keys=[f"{C0}.image"],
        old=state({"spec": {"template": {"spec": {"containers": [{"image": "a"}]}}}}),
        new=state({"spec": {"template": {"spec": {"containers": [{"image": "b"}]}}}}),
        detailed_diff={f"{C0}.image": ev.PropertyDiff(ev.DiffKind.UPDATE_REPLACE, True)})
    collector(ev.EngineEvent(sequence=1, timestamp=0, resource_pre_event=ev.ResourcePreEvent(meta)))
    stack = ev.StepEventMetadata(op=ev.OpType.SAME, urn="urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev",
                                 type="pulumi:pulumi:Stack", provider="", old=state({}), new=state({}, {"token": BLINDED,
                                                                                                      "url": "http://x"}))
    collector(ev.EngineEvent(sequence=2, timestamp=0, res_outputs_event=ev.ResOutputsEvent(stack)))
    change = collector.changes[urn]
    assert [(p.path, p.old, p.new) for p in change.replaced_by] == [(f"{C0}.image", "a", "b")]
    assert collector.stack_outputs == {"token": SECRET, "url": "http://x"}
