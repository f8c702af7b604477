"""Writes the Alertmanager configuration that runs: deploy/alertmanager/alertmanager.yml with this
deployment's receivers put in place of the placeholders, from the environment.

    ALERTMANAGER_WEBHOOK_URL            where every receiver POSTs Alertmanager's webhook JSON
    ALERTMANAGER_WEBHOOK_URL_FILE       ... or a file holding that URL (it may carry a token)
    ALERTMANAGER_SMTP_SMARTHOST         host:port of the mail relay; e-mail is off without it
    ALERTMANAGER_SMTP_FROM              the sender address (needed with a smarthost)
    ALERTMANAGER_SMTP_USERNAME          optional, with ALERTMANAGER_SMTP_PASSWORD_FILE
    ALERTMANAGER_SMTP_REQUIRE_TLS       true (default) or false (a relay on the local network)
    ALERTMANAGER_DEADLINES_EMAIL_TO     addresses of the `deadlines` receiver (comma-separated)
    ALERTMANAGER_OPERATIONS_EMAIL_TO    addresses of the `operations` receiver (any receiver: its name in
                                        capitals, `-` as `_`)

An integration that is not configured is left out (a receiver with none still holds its alerts for
`amtool alert query` and Alertmanager's API); nothing of the placeholders' `*.invalid` addresses remains.

Usage: configure.py OUTPUT    (deploy/scripts/alertmanager.sh runs it; it prints what it set up)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "alertmanager.yml"
PLACEHOLDER = ".invalid"


class ConfigurationError(ValueError):
    """The environment asks for something that cannot work (e.g. e-mail without a relay)."""


def webhook_url(env: Mapping[str, str]) -> str | None:
    path = env.get("ALERTMANAGER_WEBHOOK_URL_FILE", "").strip()
    url = Path(path).read_text().strip() if path else env.get("ALERTMANAGER_WEBHOOK_URL", "").strip()
    return url or None


def configure(source: dict[str, Any], env: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The configuration to run and one line per receiver saying where it delivers."""
    config = dict(source)
    config["templates"] = [str(HERE / template) for template in source.get("templates", [])]
    smarthost = env.get("ALERTMANAGER_SMTP_SMARTHOST", "").strip()
    smtp = {key: value for key, value in source.get("global", {}).items() if not key.startswith("smtp_")}
    if smarthost:
        sender = env.get("ALERTMANAGER_SMTP_FROM", "").strip()
        if not sender:
            raise ConfigurationError("ALERTMANAGER_SMTP_SMARTHOST is set but ALERTMANAGER_SMTP_FROM is not")
        smtp |= {
            "smtp_smarthost": smarthost,
            "smtp_from": sender,
            "smtp_require_tls": env.get("ALERTMANAGER_SMTP_REQUIRE_TLS", "true").strip().lower() != "false",
        }
        if username := env.get("ALERTMANAGER_SMTP_USERNAME", "").strip():
            smtp["smtp_auth_username"] = username
            if password_file := env.get("ALERTMANAGER_SMTP_PASSWORD_FILE", "").strip():
                smtp["smtp_auth_password_file"] = password_file
    config["global"] = smtp
    url = webhook_url(env)
    receivers, summary = [], []
    for receiver in source["receivers"]:
        name = receiver["name"]
        out = {key: value for key, value in receiver.items() if not key.endswith("_configs")}
        where = []
        if url and receiver.get("webhook_configs"):
            out["webhook_configs"] = [{**hook, "url": url} for hook in receiver["webhook_configs"]]
            where.append("webhook")
        recipients = env.get(f"ALERTMANAGER_{name.upper().replace('-', '_')}_EMAIL_TO", "").strip()
        if recipients and not smarthost:
            raise ConfigurationError(f"{name}: e-mail recipients without ALERTMANAGER_SMTP_SMARTHOST")
        if recipients and receiver.get("email_configs"):
            out["email_configs"] = [{**mail, "to": recipients} for mail in receiver["email_configs"]]
            where.append(f"e-mail to {recipients}")
        receivers.append(out)
        summary.append(f"{name}: {', '.join(where) or 'none (alerts held for amtool and the API only)'}")
    config["receivers"] = receivers
    if PLACEHOLDER in yaml.safe_dump(config, allow_unicode=True):
        raise ConfigurationError(f"a placeholder address ({PLACEHOLDER}) is left in the configuration")
    return config, summary


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        config, summary = configure(yaml.safe_load(SOURCE.read_text()), os.environ)
    except (ConfigurationError, OSError) as exc:
        print(f"alertmanager configuration: {exc}", file=sys.stderr)
        return 1
    out = Path(argv[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.touch()
    out.chmod(0o600)  # the webhook URL may carry a token
    header = f"# Written by {Path(__file__).relative_to(HERE.parents[1])} from {SOURCE.name}; do not edit.\n"
    out.write_text(header + yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    for line in summary:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
