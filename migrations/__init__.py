"""Alembic migrations (alembic.ini at the repo root). `migrations.runner.upgrade(url)` runs them from code."""
