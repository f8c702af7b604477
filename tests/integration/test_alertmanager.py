"""Alertmanager's configuration (deploy/alertmanager): amtool accepts the repo's file and every
configuration configure.py writes from an environment, every alert of the rules has a route to the
receiver meant for it, and the Vietnamese templates have a sentence for each of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import ROOT

pytestmark = pytest.mark.integration

ALERTMANAGER = ROOT / "deploy" / "alertmanager"
DEADLINES = {"DossierOverdueBacklog", "DossierDueSoon", "DossierLateRatioHigh", "DossierFeedbackOverdue"}


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((ROOT / "deploy" / "prometheus" / "rules" / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def amtool(*args: str) -> str:
    run = subprocess.run(["amtool", *args], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def configure(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ALERTMANAGER_")}
    return subprocess.run(
        [sys.executable, str(ALERTMANAGER / "configure.py"), str(tmp_path / "alertmanager.yml")],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_amtool_accepts_the_repo_configuration() -> None:
    out = amtool("check-config", str(ALERTMANAGER / "alertmanager.yml"))
    assert "1 templates" in out and "2 receivers" in out


@pytest.mark.parametrize(
    ("env", "integrations"),
    [
        ({}, {"deadlines": set(), "operations": set()}),
        (
            {"ALERTMANAGER_WEBHOOK_URL": "https://chat.example.vn/hooks/abc"},
            {"deadlines": {"webhook_configs"}, "operations": {"webhook_configs"}},
        ),
        (
            {
                "ALERTMANAGER_SMTP_SMARTHOST": "mail.example.vn:587",
                "ALERTMANAGER_SMTP_FROM": "canh-bao@example.vn",
                "ALERTMANAGER_SMTP_USERNAME": "canh-bao",
                "ALERTMANAGER_SMTP_PASSWORD_FILE": "/etc/dossier/smtp-password",
                "ALERTMANAGER_DEADLINES_EMAIL_TO": "kiem-soat-tthc@example.vn, so-tu-phap@example.vn",
            },
            {"deadlines": {"email_configs"}, "operations": set()},
        ),
    ],
    ids=["nothing", "webhook", "e-mail"],
)
def test_configure_writes_what_the_environment_sets_up_and_amtool_accepts_it(
    tmp_path: Path, env: dict[str, str], integrations: dict[str, set[str]]
) -> None:
    run = configure(tmp_path, **env)
    assert run.returncode == 0, run.stderr
    written = tmp_path / "alertmanager.yml"
    amtool("check-config", str(written))
    text = written.read_text()
    assert ".invalid" not in text
    config = yaml.safe_load(text)
    got = {r["name"]: {k for k in r if k.endswith("_configs")} for r in config["receivers"]}
    assert got == integrations
    receivers = {r["name"]: r for r in config["receivers"]}
    if "ALERTMANAGER_WEBHOOK_URL" in env:
        assert receivers["operations"]["webhook_configs"][0]["url"] == env["ALERTMANAGER_WEBHOOK_URL"]
    if "ALERTMANAGER_SMTP_SMARTHOST" in env:
        assert config["global"]["smtp_smarthost"] == env["ALERTMANAGER_SMTP_SMARTHOST"]
        assert config["global"]["smtp_auth_password_file"] == env["ALERTMANAGER_SMTP_PASSWORD_FILE"]
        assert receivers["deadlines"]["email_configs"][0]["to"] == env["ALERTMANAGER_DEADLINES_EMAIL_TO"]
    assert oct(written.stat().st_mode & 0o777) == oct(0o600)


def test_configure_reads_the_webhook_url_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "webhook-url"
    secret.write_text("https://chat.example.vn/hooks/token-from-a-file\n")
    run = configure(tmp_path, ALERTMANAGER_WEBHOOK_URL_FILE=str(secret))
    assert run.returncode == 0, run.stderr
    config = yaml.safe_load((tmp_path / "alertmanager.yml").read_text())
    urls = {hook["url"] for r in config["receivers"] for hook in r["webhook_configs"]}
    assert urls == {"https://chat.example.vn/hooks/token-from-a-file"}


@pytest.mark.parametrize(
    "env",
    [
        {"ALERTMANAGER_OPERATIONS_EMAIL_TO": "van-hanh@example.vn"},
        {
            "ALERTMANAGER_SMTP_SMARTHOST": "mail.example.vn:587",
            "ALERTMANAGER_DEADLINES_EMAIL_TO": "a@example.vn",
        },
    ],
    ids=["recipients without a relay", "a relay without a sender"],
)
def test_configure_refuses_an_e_mail_setup_that_cannot_send(tmp_path: Path, env: dict[str, str]) -> None:
    run = configure(tmp_path, **env)
    assert run.returncode == 1
    assert "ALERTMANAGER_SMTP_" in run.stderr
    assert not (tmp_path / "alertmanager.yml").exists()


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_every_alert_is_routed_to_its_audience(rule: dict[str, Any]) -> None:
    labels = [f"alertname={rule['alert']}", f"severity={rule['labels']['severity']}", "agency=000.00.01.H49"]
    out = amtool("config", "routes", "test", f"--config.file={ALERTMANAGER / 'alertmanager.yml'}", *labels)
    assert out.split() == ["deadlines" if rule["alert"] in DEADLINES else "operations"]


def notification(alerts: list[dict[str, Any]], status: str = "firing") -> dict[str, Any]:
    """Alertmanager's notification data (the webhook's JSON) for alerts of one group."""
    common = {k: v for k, v in alerts[0]["labels"].items() if all(a["labels"].get(k) == v for a in alerts)}
    annotations = {
        k: v for k, v in alerts[0]["annotations"].items() if all(a["annotations"].get(k) == v for a in alerts)
    }
    return {
        "receiver": "deadlines",
        "status": status,
        "alerts": alerts,
        "groupLabels": {k: common[k] for k in ("alertname", "agency") if k in common},
        "commonLabels": common,
        "commonAnnotations": annotations,
        "externalURL": "http://127.0.0.1:9095",
    }


def alert(rule: dict[str, Any], status: str = "firing", **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": rule["alert"], **rule["labels"], **labels},
        "annotations": {
            "summary": "ENGLISH SUMMARY",
            "value": "4321",
            "runbook": rule["annotations"]["runbook"],
        },
        "startsAt": "2026-12-07T01:30:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
    }


def render(template: str, data: dict[str, Any], tmp_path: Path, kind: str = "text") -> str:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data))
    return amtool(
        "template",
        "render",
        f"--template.glob={ALERTMANAGER / 'templates' / '*.tmpl'}",
        f"--template.type={kind}",
        f'--template.text={{{{ template "{template}" . }}}}',
        f"--template.data={path}",
    )


AGENCY = {"agency": "000.00.31.H49", "name": "Sở Tư pháp tỉnh Quảng Ninh"}
OTHER = {"instance": "127.0.0.1:8002", "job": "dossier-processing", "reason": "unappliable"}


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_every_alert_has_a_vietnamese_message(rule: dict[str, Any], tmp_path: Path) -> None:
    labels = AGENCY if rule["alert"] in DEADLINES else OTHER
    firing = notification([alert(rule, **labels)])
    subject = render("dossier.vi.subject", firing, tmp_path)
    text = render("dossier.vi.text", firing, tmp_path)
    assert subject.startswith("[CẢNH BÁO] ") and rule["alert"] not in subject
    assert "ENGLISH SUMMARY" not in text, "no Vietnamese sentence of its own"
    assert "Mức: " in text and "08:30 ngày 07/12/2026 (giờ Việt Nam)" in text
    assert rule["annotations"]["runbook"] in text
    if rule["alert"] in DEADLINES:
        assert f"{AGENCY['name']} ({AGENCY['agency']})" in subject
        assert f"{AGENCY['name']} ({AGENCY['agency']})" in text and "4321" in text
    elif "value" in rule["annotations"]:
        assert "4321" in text
    resolved = render(
        "dossier.vi.text", notification([alert(rule, "resolved", **labels)], "resolved"), tmp_path
    )
    assert resolved.startswith("[ĐÃ KHẮC PHỤC] ") and "đã trở lại bình thường" in resolved


def test_the_html_message_escapes_what_it_shows(tmp_path: Path) -> None:
    rule = next(r for r in alert_rules() if r["alert"] == "DossierOverdueBacklog")
    data = notification([alert(rule, agency="A", name='Phòng <b>"Một cửa"</b>')])
    html = render("dossier.vi.html", data, tmp_path, kind="html")
    assert '<html lang="vi">' in html and "<b>" not in html
    assert "Phòng &lt;b&gt;&#34;Một cửa&#34;&lt;/b&gt; (A) có 4321 hồ sơ" in html


def test_a_group_of_alerts_is_one_message_listing_each(tmp_path: Path) -> None:
    rule = next(r for r in alert_rules() if r["alert"] == "DossierEventsDeadLettered")
    data = notification([alert(rule, reason="unappliable"), alert(rule, reason="archived")])
    text = render("dossier.vi.text", data, tmp_path)
    assert text.splitlines()[0] == "[CẢNH BÁO] Sự kiện vào hàng đợi lỗi (2 cảnh báo)"
    assert "(lý do: unappliable)" in text and "(lý do: archived)" in text
