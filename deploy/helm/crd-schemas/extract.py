"""Extract the schema of a CustomResourceDefinition for the chart's validation test.

Reads one CRD (YAML) on standard input and writes, into the directory given as argument, one JSON file
per served version: `{"apiVersion", "kind", "schema"}`, where `schema` is the version's
`openAPIV3Schema` without its `description` texts and without `status` (the chart never sets it).
Nothing else is changed: the test adds `additionalProperties: false` itself where the schema does not
say `x-kubernetes-preserve-unknown-fields`. Usage (see README.md beside this file):

    git show v1.30.0:config/crd/bases/postgresql.cnpg.io_poolers.yaml \
        | python extract.py cloudnative-pg-1.30.0
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml


def without_descriptions(node: Any) -> Any:
    """The schema node with every `description` text left out (they are most of a CRD's size)."""
    if isinstance(node, dict):
        return {
            key: without_descriptions(value)
            for key, value in node.items()
            if not (key == "description" and isinstance(value, str))
        }
    if isinstance(node, list):
        return [without_descriptions(item) for item in node]
    return node


def version_schemas(crd: dict[str, Any]) -> list[dict[str, Any]]:
    """One `{"apiVersion", "kind", "schema"}` per served version of the CRD."""
    spec = crd["spec"]
    documents = []
    for version in spec["versions"]:
        if not version.get("served", False):
            continue
        schema = without_descriptions(version["schema"]["openAPIV3Schema"])
        schema.get("properties", {}).pop("status", None)
        documents.append(
            {
                "apiVersion": f"{spec['group']}/{version['name']}",
                "kind": spec["names"]["kind"],
                "schema": schema,
            }
        )
    return documents


def main() -> None:
    target = Path(sys.argv[1])
    target.mkdir(parents=True, exist_ok=True)
    for crd in yaml.safe_load_all(sys.stdin):
        if not crd:
            continue
        for document in version_schemas(crd):
            group, version = document["apiVersion"].split("/")
            path = target / f"{group}_{version}_{document['kind']}.json"
            path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
            print(path)


if __name__ == "__main__":
    main()
