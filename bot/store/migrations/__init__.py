"""Alembic migrations of the operational store (run by ``python -m bot.store init``)."""
