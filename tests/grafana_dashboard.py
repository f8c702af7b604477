"""The Grafana dashboard as its tests read it: panels and their queries, the `level` and `agency`
variables, and what Grafana does with them — the substitution of a selection into a query (the
Prometheus datasource's regex escaping, `(a|b)` for several values, the variable's `allValue` for
All) and the agency variable's options, made from a `query_result(...)` answer and its regex."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.support import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "dossier-overview.json"
QUERY_RESULT = re.compile(r"^query_result\((.+)\)\s*$")
# What the Prometheus datasource escapes in a regex-matched value (`prometheusSpecialRegexEscape`).
_REGEX_SPECIAL = re.compile(r"[$^*{}\[\]+?.()|]")


@dataclass(frozen=True)
class Target:
    panel: dict[str, Any]
    target: dict[str, Any]

    @property
    def expr(self) -> str:
        expr: str = self.target["expr"]
        return expr

    @property
    def title(self) -> str:
        title: str = self.panel["title"]
        return title


def load() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def panels(dashboard: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every panel that queries (rows left out)."""
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def targets(dashboard: Mapping[str, Any]) -> Iterator[Target]:
    for panel in panels(dashboard):
        for target in panel["targets"]:
            yield Target(panel, target)


def variable(dashboard: Mapping[str, Any], name: str) -> dict[str, Any]:
    found = [v for v in dashboard["templating"]["list"] if v["name"] == name]
    assert len(found) == 1, f"variable {name}: {len(found)} definitions"
    chosen: dict[str, Any] = found[0]
    return chosen


def custom_options(variable: Mapping[str, Any]) -> dict[str, str]:
    """A custom variable's `text : value` options, as value -> text."""
    pairs = [option.split(" : ") for option in variable["query"].split(",")]
    assert all(len(pair) == 2 for pair in pairs), variable["query"]
    return {value.strip(): text.strip() for text, value in pairs}


def level_texts(dashboard: Mapping[str, Any]) -> dict[str, str]:
    return custom_options(variable(dashboard, "level"))


def _escape(value: str) -> str:
    # In the PromQL string literal a regex backslash is written twice.
    return _REGEX_SPECIAL.sub(lambda m: "\\\\" + m.group(0), value.replace("\\", "\\\\\\\\"))


def selection(values: Sequence[str] | None) -> str:
    """What Grafana writes for `$var` in a regex matcher: the variable's allValue (`.*`) for All,
    else each value escaped, several of them as `(a|b)`."""
    if values is None:
        return ".*"
    escaped = [_escape(v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def interpolate(expr: str, level: Sequence[str] | None = None, agencies: Sequence[str] | None = None) -> str:
    """`expr` with a selection of the two variables (None = All) and `$__rate_interval` of 1m."""
    return (
        expr.replace("$level", selection(level))
        .replace("$agency", selection(agencies))
        .replace("$__rate_interval", "1m")
    )


def agency_variable_query(dashboard: Mapping[str, Any]) -> str:
    """The PromQL inside the agency variable's `query_result(...)`."""
    found = QUERY_RESULT.match(variable(dashboard, "agency")["query"]["query"])
    assert found, "the agency variable is a query_result(...) query"
    return found.group(1)


def agency_options(dashboard: Mapping[str, Any], result: list[dict[str, Any]]) -> dict[str, str]:
    """The agency variable's options (value -> text) from the answer to its query, as Grafana makes
    them: each series written `name{k="v",...} value ms`, then the variable's regex with its named
    groups `value` and `text`."""
    source = variable(dashboard, "agency")["regex"]
    assert source.startswith("/") and source.endswith("/"), source
    pattern = re.compile(source[1:-1].replace("(?<", "(?P<"))
    options = {}
    for series in result:
        labels = dict(series["metric"])
        text = labels.pop("__name__", "")
        text += "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
        text += f" {series['value'][1]} {int(series['value'][0] * 1000)}"
        found = pattern.search(text)
        assert found, text
        options[found.group("value")] = found.group("text")
    return options
