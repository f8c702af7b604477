"""The rows the consumer writes are defined once (`models.DossierRow`, `models.EventRow`): the tables and
the consumer's bulk statements follow them, column for column and type for type."""

from __future__ import annotations

import re
from dataclasses import field, fields, make_dataclass
from typing import get_args, get_type_hints

import pytest
from sqlalchemy import Column, MetaData, Table, Text
from sqlalchemy.dialects import postgresql

from dossier_processing import models
from dossier_processing.ingest import sql

#: the `dossiers` columns the writing transaction fills, not the row
DATABASE_FILLED = ["change_xid", "updated_at"]


def _statement_columns(statement: str, table: str) -> list[str]:
    found = re.search(rf"insert into {table} \(([^)]*)\)", statement)
    assert found is not None
    return [name.strip() for name in found.group(1).split(",")]


def _casts(statement: str) -> dict[str, str]:
    return dict(re.findall(r"cast\(:(\w+) as ([A-Z][A-Z ]*)\[\]\)", statement))


def _sql_type(column: Column) -> str:
    return str(column.type.compile(dialect=postgresql.dialect()))


def test_dossier_row_fields_are_the_columns_the_upsert_writes() -> None:
    row_fields = [f.name for f in fields(models.DossierRow)]
    upsert = str(sql._UPSERT_DOSSIERS)
    assert _statement_columns(upsert, "dossiers") == [*row_fields, *DATABASE_FILLED]
    assert [c.name for c in models.dossiers.c] == [*row_fields, *DATABASE_FILLED]
    assert [name for name, _ in sql.DOSSIER_COLUMNS] == row_fields
    # every value is passed as an array of the table's own column type
    assert _casts(upsert) == {name: _sql_type(models.dossiers.c[name]) for name in row_fields}


def test_event_row_fields_are_the_columns_the_insert_writes() -> None:
    row_fields = [f.name for f in fields(models.EventRow)]
    insert = str(sql._INSERT_EVENTS)
    assert _statement_columns(insert, "events") == row_fields
    assert [c.name for c in models.events.c] == [*row_fields, "applied_at"]
    assert _casts(insert) == {name: _sql_type(models.events.c[name]) for name in row_fields}


@pytest.mark.parametrize(
    ("table", "row_type"), [(models.dossiers, models.DossierRow), (models.events, models.EventRow)]
)
def test_a_column_is_nullable_exactly_when_its_field_admits_none(table: Table, row_type: type) -> None:
    hints = get_type_hints(row_type)
    for f in fields(row_type):
        assert table.c[f.name].nullable is (type(None) in get_args(hints[f.name])), f.name
    assert not table.c[fields(row_type)[0].name].nullable  # the primary key
    assert all(not c.nullable for c in table.c if c.name in (*DATABASE_FILLED, "applied_at"))


def test_a_new_field_becomes_a_column_of_the_upsert() -> None:
    """What adding a column takes: a field on the row; the statement's list and types follow."""
    hints = get_type_hints(models.DossierRow)
    wider = make_dataclass(
        "WiderRow",
        [
            *((f.name, hints[f.name], field(metadata=f.metadata)) for f in fields(models.DossierRow)),
            ("counter_note", str | None, field(metadata=models.sql(Text()))),
        ],
        frozen=True,
    )
    table = Table("dossiers", MetaData(), *models.row_columns(wider), Column("change_xid", models.Xid8))
    columns = sql.written_columns(table, wider)
    assert columns[-1] == ("counter_note", "TEXT") and table.c.counter_note.nullable
    assert len(columns) == len(fields(models.DossierRow)) + 1
