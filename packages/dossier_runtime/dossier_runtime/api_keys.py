"""API keys: a CSV file `name,key_sha256,agencies` holding only hashes (SPEC §3, §7).

`agencies` is a `;`-separated list of shell-style patterns of agency codes (`000.00.18.H43;*.H22`).
Run `python -m dossier_runtime.api_keys create --name NAME --agencies 'PATTERNS' --file FILE` to add a
key: the key itself is printed once and never stored.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import hmac
import secrets
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

HEADER = ("name", "key_sha256", "agencies")


class ApiKeyFileError(ValueError):
    pass


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    name: str
    key_sha256: str
    agency_patterns: tuple[str, ...]

    def allows(self, agency_code: str) -> bool:
        return any(fnmatchcase(agency_code, pattern) for pattern in self.agency_patterns)


class ApiKeyRing:
    """The keys of one file, looked up by hash in constant time."""

    def __init__(self, keys: Iterable[ApiKey] = ()) -> None:
        self._by_hash = {k.key_sha256: k for k in keys}

    def __len__(self) -> int:
        return len(self._by_hash)

    def authenticate(self, key: str | None) -> ApiKey | None:
        if not key:
            return None
        digest = hash_key(key)
        found = self._by_hash.get(digest)
        # compare_digest keeps the final check constant-time even though the lookup is a dict probe
        if found is not None and hmac.compare_digest(found.key_sha256, digest):
            return found
        return None

    def by_hash(self, digest: str) -> ApiKey | None:
        """The key whose SHA-256 is `digest` (a session made from a key keeps only its hash)."""
        return self._by_hash.get(digest)

    @classmethod
    def load(cls, path: Path) -> ApiKeyRing:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ApiKeyFileError(f"{path}: cannot read the API keys file: {exc.strerror}") from exc
        rows = csv.reader(text.splitlines())
        header = next(rows, None)
        if header is None or tuple(h.strip() for h in header[:3]) != HEADER:
            raise ApiKeyFileError(f"{path}:1: header must be {','.join(HEADER)}")
        keys = []
        for line, row in enumerate(rows, start=2):
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) < 3:
                raise ApiKeyFileError(f"{path}:{line}: expected 3 columns, found {len(row)}")
            name, digest, agencies = (cell.strip() for cell in row[:3])
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest.lower()):
                raise ApiKeyFileError(f"{path}:{line}:key_sha256: not a hex SHA-256 digest")
            patterns = tuple(p.strip() for p in agencies.split(";") if p.strip())
            if not patterns:
                raise ApiKeyFileError(f"{path}:{line}:agencies: no agency pattern")
            keys.append(ApiKey(name, digest.lower(), patterns))
        return cls(keys)


def create_key(path: Path, name: str, agencies: str) -> str:
    """Append a new key to the file (creating it with its header) and return the key, once."""
    key = "dk_" + secrets.token_urlsafe(32)
    new_file = not path.exists() or path.stat().st_size == 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        if new_file:
            writer.writerow(HEADER)
        writer.writerow([name, hash_key(key), agencies])
    return key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dossier_runtime.api_keys", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create a key, store its hash, print the key once")
    create.add_argument("--file", type=Path, required=True, help="keys file (created when missing)")
    create.add_argument("--name", required=True, help="who uses the key, e.g. the counter system")
    create.add_argument("--agencies", required=True, help="';'-separated agency code patterns, e.g. '*.H49'")
    args = parser.parse_args(argv)
    key = create_key(args.file, args.name, args.agencies)
    print(key)
    print(
        f"stored the SHA-256 of this key for {args.name!r} in {args.file}; it is shown only now.",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
