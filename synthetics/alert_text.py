"""What the alerts of alerting/rules/synthetics.yml say, from the catalogue and targets/: each failure
mode's remediation steps as a Prometheus template picking the alert's target by its `target` label,
and each target's certificate thresholds (the series do not carry them)."""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from pathlib import Path

from synthetics.catalogue import FailureMode, remediation_values
from synthetics.target import Target, load_target

__all__ = [
    "REPO",
    "blank_target",
    "certificate_days",
    "go_text",
    "placeholders",
    "remediation_steps",
    "remediation_template",
    "repository_targets",
    "target_condition",
]

REPO = Path(__file__).resolve().parents[1]


def repository_targets(folder: Path = REPO / "targets") -> list[Target]:
    """The targets of targets/ whose names are known before a run (an embedded one is generated at
    boot), read without the environment so the file does not depend on who generates it."""
    loaded = [load_target(path, environ={}) for path in sorted(folder.glob("*.yaml"))]
    return [target for target in loaded if not target.embedded]


def go_text(text: str) -> str:
    """Text inside a Go template: a literal `{{` would open an action."""
    return text.replace("{{", '{{ "{{" }}')


def remediation_steps(mode: FailureMode, values: Mapping[str, str]) -> str:
    formatter = string.Formatter()
    steps = [formatter.vformat(step, (), values) for step in mode.remediation]
    return "\n".join(f"{number}. {go_text(step)}" for number, step in enumerate(steps, start=1))


def blank_target() -> Target:
    """A target that names nothing and keeps every default."""
    return Target(name="any", source="alerting", embedded=True)


def placeholders() -> dict[str, str]:
    """What remediation_values says for a target that names nothing: `<key path>` for each name."""
    return remediation_values(blank_target())


def remediation_template(mode: FailureMode, targets: Sequence[Target]) -> str:
    """The mode's remediation steps with the names of the alert's target when it is one of `targets`,
    else with the placeholders a reader fills in."""
    branches = [
        f"{{{{ {'if' if index == 0 else 'else if'} eq $labels.target {json.dumps(target.name)} }}}}"
        + remediation_steps(mode, remediation_values(target))
        for index, target in enumerate(targets)
    ]
    fallback = remediation_steps(mode, placeholders())
    if not branches:
        return fallback
    return "".join(branches) + "{{ else }}" + fallback + "{{ end }}"


def certificate_days(targets: Sequence[Target]) -> list[tuple[str, int, int]]:
    """(target selector, min days, critical days): one per distinct pair of thresholds, the defaults
    for every target not in targets/ (or not different from them)."""
    defaults = blank_target().tls
    default = (defaults.min_days_remaining, defaults.critical_days)
    special: dict[tuple[int, int], list[str]] = {}
    for target in targets:
        pair = (target.tls.min_days_remaining, target.tls.critical_days)
        if pair != default:
            special.setdefault(pair, []).append(target.name)
    named = sorted(name for names in special.values() for name in names)
    out = [(f'target!~"{"|".join(named)}"' if named else "", *default)]
    out += [(f'target=~"{"|".join(sorted(names))}"', *pair) for pair, names in sorted(special.items())]
    return out


def target_condition(selector: str) -> str:
    """A Go template condition for a `target=~"a|b"` selector."""
    names = selector.split('"')[1].split("|")
    tests = [f"(eq $labels.target {json.dumps(name)})" for name in names]
    return tests[0] if len(tests) == 1 else f"or {' '.join(tests)}"
