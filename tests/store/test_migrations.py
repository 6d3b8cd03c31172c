from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import Engine, inspect, text

from cpxm.migrate import alembic_config, current_revision, head_revision, upgrade_database
from cpxm.schema import metadata


def test_migrations_build_every_table_the_models_declare(engine: Engine) -> None:
    assert current_revision(engine) == head_revision(engine)
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())


def test_upgrade_is_idempotent(engine: Engine) -> None:
    assert upgrade_database(engine) == head_revision(engine)


def test_sqlite_store_enforces_foreign_keys_and_uses_wal(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_foreign_keys_reject_unknown_references(engine: Engine) -> None:
    with engine.connect() as connection, connection.begin() as transaction:
        try:
            connection.execute(
                text(
                    "INSERT INTO products (code, name, therapeutic_area_code, "
                    "lifecycle_phase_code) VALUES ('x', 'X', 'no-such-area', 'no-such-phase')"
                )
            )
        except Exception as error:
            assert "foreign" in str(error).lower()
        else:
            raise AssertionError("a product with an unknown therapeutic area was accepted")
        finally:
            transaction.rollback()


def test_every_migration_downgrades_and_upgrades_again(
    tmp_path: Path, store_engine: Engine
) -> None:
    config = alembic_config(store_engine)
    with store_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert "stakeholders" not in inspect(store_engine).get_table_names()
    assert upgrade_database(store_engine) == head_revision(store_engine)
    assert set(metadata.tables) <= set(inspect(store_engine).get_table_names())
