"""`dossier-processing erase-applicant CODE` (Decree 13/2023/NĐ-CP: erasure on request) and
`dossier-processing applicant-keys` (a new key pair for intake and processing)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from pathlib import Path
from typing import Any

from dossier_processing.applicant.keys import generate_key_pair
from dossier_processing.applicant.store import Erasure, erase
from dossier_processing.settings import ProcessingSettings

log = logging.getLogger(__name__)


def add_parser(sub: Any) -> None:
    """The `erase-applicant` and `applicant-keys` commands."""
    erase_cmd = sub.add_parser(
        "erase-applicant",
        help="erase a dossier's applicant data (name, identifier, phone, email), with an audit row",
        description="Delete the dossier's stored applicant data, strip it from its stored "
        "dossier.received events, and record the erasure (who, when, which dossier; never the data) in "
        "applicant_erasures and the log. The dossier never takes applicant data again, so a replay of "
        "old events cannot bring it back. Kafka keeps the sealed blob on dossier.events.v1 until the "
        "topic's retention removes it (docs/security.md).",
        epilog="example: dossier-processing erase-applicant 000.00.10.H49-250405-0001 --by nguyen.van.b",
    )
    erase_cmd.add_argument("code", metavar="CODE", help="the dossier code (MaHoSo)")
    erase_cmd.add_argument(
        "--by", default=None, help="who asked for or carries out the erasure (default: the OS user)"
    )
    keys = sub.add_parser(
        "applicant-keys",
        help="write a new X25519 key pair for applicant data",
        description="Write the private key (for PROCESSING_APPLICANT_PRIVATE_KEY, mode 0600) and the "
        "public key (for INTAKE_APPLICANT_PUBLIC_KEY), each as one line of base64.",
    )
    keys.add_argument("--private-file", type=Path, required=True, metavar="FILE")
    keys.add_argument("--public-file", type=Path, required=True, metavar="FILE")


async def _erase(code: str, by: str, settings: ProcessingSettings) -> Erasure:
    from dossier_processing.bootstrap import create_engine

    engine = create_engine(settings, pool_size=1)
    try:
        async with engine.begin() as conn:
            return await erase(conn, code, by)
    finally:
        await engine.dispose()


def _write_keys(private_file: Path, public_file: Path) -> None:
    pair = generate_key_pair()
    fd = os.open(private_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(pair.private + "\n")
    public_file.write_text(pair.public + "\n")


def run(args: argparse.Namespace, settings: ProcessingSettings) -> int:
    if args.command == "applicant-keys":
        _write_keys(args.private_file, args.public_file)
        print(f"private key: {args.private_file}; public key: {args.public_file}")
        return 0
    code = args.code.strip()
    if not code or not code.isascii() or not code.isprintable():
        print("CODE must be a dossier code in printable ASCII", file=sys.stderr)
        return 2
    by = args.by or getpass.getuser()
    erasure = asyncio.run(_erase(code, by, settings))
    log.info(
        "applicant data erased",
        extra={
            "audit": "applicant_erasure",
            "dossier_code": erasure.dossier_code,
            "erased_by": erasure.erased_by,
            "applicant_rows": erasure.applicant_rows,
            "events_cleared": erasure.events_cleared,
            "archived_months": erasure.archived_months,
        },
    )
    print(
        f"{code}: applicant data erased ({erasure.applicant_rows} stored record, "
        f"{erasure.events_cleared} stored events cleared); recorded in applicant_erasures"
    )
    if not erasure.known_dossier:
        print(f"note: no dossier {code} is stored yet; its applicant data will never be kept")
    if erasure.archived_months:
        print(
            f"note: {erasure.archived_months} archived months hold events of {code}; their files keep the "
            "sealed data until they are restored and erased again"
        )
    return 0
