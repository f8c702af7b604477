"""The optional `field_code` column of `procedures.csv`: the national portal's field code (MaLinhVuc)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dossier_core.catalog_csv import CatalogError, default_catalog_dir, load_catalog

HEADER = "code,name,field,duration,unit,online_level,supplement_policy,field_code\n"


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "catalog"
    shutil.copytree(default_catalog_dir(), target)
    return target


def test_the_field_code_is_read_and_optional(copy: Path) -> None:
    (copy / "procedures.csv").write_text(
        HEADER + "1.0,X,Hộ tịch,3,working_days,full,extend, G09-TP03 \n2.0,Y,F,3,working_days,full,extend,\n",
        encoding="utf-8",
    )
    procedures = load_catalog(copy).procedures
    assert procedures["1.0"].field_code == "G09-TP03" and procedures["2.0"].field_code is None
    (copy / "procedures.csv").write_text(
        "code,name,field,duration,unit,online_level,supplement_policy\n1.0,X,F,3,working_days,full,extend\n",
        encoding="utf-8",
    )
    assert load_catalog(copy).procedures["1.0"].field_code is None


@pytest.mark.parametrize("value", ["G09 TP03", "x" * 51, "G09\tTP03"])
def test_a_field_code_is_one_short_word(copy: Path, value: str) -> None:
    (copy / "procedures.csv").write_text(
        HEADER + f'1.0,X,F,3,working_days,full,extend,"{value}"\n', encoding="utf-8"
    )
    with pytest.raises(CatalogError, match=r"^procedures\.csv:2:field_code: .* is not a code"):
        load_catalog(copy)
