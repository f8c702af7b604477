"""The Grafana dashboard's structure: every text a reader sees is Vietnamese, every agency shown by
its name (joined from `dossier_agency_info`), every counter read through the `dossier:` records,
every agency-scoped query filtered by the `level` and `agency` variables, the worklist table's
columns named, and the datasource the one Grafana is provisioned with. Its queries are run against
a real Prometheus in tests/integration/metrics/test_prometheus.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from dossier_core.catalog import AgencyLevel
from tests.grafana_dashboard import (
    agency_variable_query,
    custom_options,
    level_texts,
    load,
    panels,
    targets,
    variable,
)
from tests.support import ROOT

PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
# English words a translated text would have left behind.
ENGLISH = frozenset(
    re.findall(
        r"[a-z]+",
        """a all and age agency agencies at backlog by channel count date day days direct dossier dossiers
    due early for from in last late lag level name of on online overdue paused pending per pipeline
    postal processing rate ratio received refused rescheduled resolved since soon state status targets
    the time timeliness to total up value week with withdrawn""",
    )
)
INFO = 'dossier_agency_info{level=~"$level"}'
# Series with an `agency` label, which every agency-scoped query filters by `$agency`.
AGENCY_SERIES = re.compile(
    r"(?<![\w:])(dossier_pending|dossier_due_soon|dossier:\w+|agency:[\w:]+)(\{[^}]*\})?"
)
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
LABEL_REPLACE = re.compile(r',\s*"(\w+)",\s*"([^"]*)",\s*"(\w+)",\s*"([^"]*)"\)')
RANGE_FUNCTION = re.compile(r"\b(?:increase|rate|irate|delta|resets|changes)\(\s*([\w:]+)")
# Legend placeholders allowed: the agency's name, and Vietnamese labels made with label_replace.
MADE_LABELS = {"level_name": "level", "service_name": "job"}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return load()


def vietnamese_problem(text: str) -> str | None:
    """Why `text` is not Vietnamese, or None. Code in backticks and identifiers are left aside."""
    prose = re.sub(r"`[^`]*`", " ", text)
    words = [w for w in re.findall(r"[^\W\d_]+", prose)]
    english = sorted({w for w in words if w.lower() in ENGLISH})
    if english:
        return f"English words {english}"
    if words and not re.search(r"[^\x00-\x7f]", prose):
        return "no Vietnamese letter"
    return None


def reader_texts(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, text) for every text a reader of the dashboard sees."""
    yield "dashboard title", dashboard["title"]
    yield "dashboard description", dashboard["description"]
    for tag in dashboard["tags"]:
        yield "tag", tag
    for var in dashboard["templating"]["list"]:
        yield f"variable {var['name']}", var["label"]
        yield f"variable {var['name']}", var["description"]
    for text in custom_options(variable(dashboard, "level")).values():
        yield "level option", text
    for panel in dashboard["panels"]:
        where = f"panel {panel['id']}"
        yield where, panel["title"]
        if panel["type"] == "row":
            continue
        yield where, panel["description"]
        for target in panel["targets"]:
            if "legendFormat" in target:
                yield f"{where} legend", PLACEHOLDER.sub("", target["legendFormat"])
            for _, text, _, _ in LABEL_REPLACE.findall(target["expr"]):
                yield f"{where} label", text
        defaults = panel["fieldConfig"]["defaults"]
        if "axisLabel" in defaults.get("custom", {}):
            yield f"{where} axis", defaults["custom"]["axisLabel"]
        for override in panel["fieldConfig"]["overrides"]:
            yield f"{where} override", override["matcher"]["options"]
            for prop in override["properties"]:
                if prop["id"] == "displayName":
                    yield f"{where} override", prop["value"]
                if prop["id"] == "mappings":
                    for mapping in prop["value"]:
                        for shown in mapping["options"].values():
                            yield f"{where} mapping", shown["text"]
        for transformation in panel.get("transformations", []):
            for text in transformation["options"].get("renameByName", {}).values():
                yield f"{where} column", text


def test_every_text_a_reader_sees_is_vietnamese(dashboard: dict[str, Any]) -> None:
    texts = list(reader_texts(dashboard))
    assert len(texts) > 60
    problems = [(where, text, why) for where, text in texts if (why := vietnamese_problem(text))]
    assert problems == []
    assert all(text.strip() for where, text in texts if "legend" not in where), "empty text"


def test_the_vietnamese_check_finds_english() -> None:
    assert vietnamese_problem("Overdue by agency") is not None
    assert vietnamese_problem("Tỷ lệ on time") is not None
    assert vietnamese_problem("Ty le dung han") is not None
    assert vietnamese_problem("Hồ sơ quá hạn theo cơ quan (`dossier_pending`)") is None


def test_every_legend_names_agencies_by_the_join_or_a_vietnamese_label(dashboard: dict[str, Any]) -> None:
    for t in targets(dashboard):
        if t.target.get("format") == "table":
            continue
        legend = t.target["legendFormat"]
        assert legend.strip(), t.title
        for label in PLACEHOLDER.findall(legend):
            if label == "name":
                assert "group_left (name" in t.expr and "max by (agency, name" in t.expr, t.title
                assert f"max by (agency, name) ({INFO})" in t.expr, t.title
            else:
                assert label in MADE_LABELS, (t.title, legend)
                made = {(dst, src) for dst, _, src, _ in LABEL_REPLACE.findall(t.expr)}
                assert made == {(label, MADE_LABELS[label])}, t.title


def test_the_level_names_are_one_vocabulary_for_every_catalog_level(dashboard: dict[str, Any]) -> None:
    texts = level_texts(dashboard)
    assert set(texts) == {level.value for level in AgencyLevel}
    seen = 0
    for t in targets(dashboard):
        replaced = [
            (text, value) for dst, text, _, value in LABEL_REPLACE.findall(t.expr) if dst == "level_name"
        ]
        if replaced:
            assert dict((value, text) for text, value in replaced) == texts, t.title
            seen += 1
    for panel in panels(dashboard):
        for override in panel["fieldConfig"]["overrides"]:
            for prop in override["properties"]:
                if prop["id"] == "mappings":
                    mapped = {v: shown["text"] for m in prop["value"] for v, shown in m["options"].items()}
                    assert mapped == texts, panel["title"]
                    seen += 1
    assert seen >= 2


def test_counters_are_read_only_through_the_dossier_records(dashboard: dict[str, Any]) -> None:
    records = {
        rule["record"]
        for group in yaml.safe_load((ROOT / "deploy/prometheus/rules/recording.yml").read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    counted = set()
    for t in targets(dashboard):
        assert not re.search(r"(?<![\w:])dossier_\w+_total\b", t.expr), (t.title, "raw counter")
        for name in RANGE_FUNCTION.findall(t.expr):
            assert name.startswith("dossier:") and name in records, (t.title, name)
            counted.add(name)
        for name in re.findall(r"(?<![\w:])((?:dossier|agency):[\w:]+)", t.expr):
            assert name in records, (t.title, name)
    assert {"dossier:received_total", "dossier:resolved_total"} <= counted


def test_every_agency_scoped_query_follows_both_variables(dashboard: dict[str, Any]) -> None:
    scoped_panels = set()
    for t in targets(dashboard):
        selectors = AGENCY_SERIES.findall(t.expr)
        if not selectors:
            assert "$agency" not in t.expr and "dossier_agency_info" not in t.expr, t.title
            continue
        scoped_panels.add(t.panel["id"])
        for name, matchers in selectors:
            assert 'agency=~"$agency"' in matchers, (t.title, name)
        infos = re.findall(r"dossier_agency_info(\{[^}]*\})?", t.expr)
        assert infos and all(i == '{level=~"$level"}' for i in infos), t.title
    assert len(scoped_panels) >= 12
    assert "$level" in agency_variable_query(dashboard)


def test_the_variables(dashboard: dict[str, Any]) -> None:
    level = variable(dashboard, "level")
    assert level["type"] == "custom" and level["includeAll"] and level["allValue"] == ".*"
    agency = variable(dashboard, "agency")
    assert agency["type"] == "query" and agency["multi"] and agency["includeAll"]
    assert agency["allValue"] == ".*" and agency["definition"] == agency["query"]["query"]
    # The query as the Prometheus variable editor keeps it: "Query result" (qryType 3) and its PromQL.
    assert agency["query"]["qryType"] == 3 and agency["query"]["varQuery"] == agency_variable_query(dashboard)
    assert "max by (agency, name)" in agency_variable_query(dashboard)
    names = [v["name"] for v in dashboard["templating"]["list"]]
    assert names.index("level") < names.index("agency"), "the agency list depends on the level"


def test_the_worklist_table_names_every_column(dashboard: dict[str, Any]) -> None:
    tables = [p for p in panels(dashboard) if p["type"] == "table"]
    worklist = [p for p in tables if p["title"] == "Cơ quan có nhiều hồ sơ quá hạn nhất"]
    assert len(worklist) == 1 and worklist[0] is tables[0], "the worklist comes first"
    assert re.match(r"topk\(\d+, ", worklist[0]["targets"][0]["expr"])
    for table in tables:
        steps = [t["id"] for t in table["transformations"]]
        assert steps == ["merge", "organize"], table["title"]
        organize = table["transformations"][1]["options"]
        fields = {"Time", "agency", "name"} | {f"Value #{t['refId']}" for t in table["targets"]}
        for target in table["targets"]:
            assert target["format"] == "table" and target["instant"], table["title"]
            if "group_left (name, level)" in target["expr"]:
                fields.add("level")
        shown = fields - {k for k, hidden in organize["excludeByName"].items() if hidden}
        assert "name" in shown and set(organize["renameByName"]) == shown, table["title"]
        assert set(organize["indexByName"]) == shown, table["title"]
        columns = set(organize["renameByName"].values())
        for override in table["fieldConfig"]["overrides"]:
            assert override["matcher"]["options"] in columns, (table["title"], override["matcher"])
        for sort in table["options"]["sortBy"]:
            assert sort["displayName"] in columns, table["title"]


def test_panels_fit_the_grid_without_overlapping(dashboard: dict[str, Any]) -> None:
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], int] = {}
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        assert g["x"] >= 0 and g["w"] > 0 and g["x"] + g["w"] <= 24, panel["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, (panel["id"], cells.get((x, y)))
                cells[(x, y)] = panel["id"]


def test_the_datasource_is_the_provisioned_one(dashboard: dict[str, Any]) -> None:
    sources = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert len(sources) == 1 and sources[0]["type"] == "prometheus"
    uid = sources[0]["uid"]

    def datasources(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict):
            if "datasource" in node:
                yield node["datasource"]
            for value in node.values():
                yield from datasources(value)
        elif isinstance(node, list):
            for value in node:
                yield from datasources(value)

    found = list(datasources(dashboard))
    assert len(found) > 20 and all(d == {"type": "prometheus", "uid": uid} for d in found)


def test_compose_mounts_the_provisioned_dashboards() -> None:
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "dossier.yml").read_text())["providers"]
    assert [p["type"] for p in providers] == ["file"]
    assert providers[0]["options"]["path"].startswith("${GRAFANA_DASHBOARDS_DIR")
    grafana = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
    assert mounts["./deploy/grafana/dashboards"] == grafana["environment"]["GRAFANA_DASHBOARDS_DIR"]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
