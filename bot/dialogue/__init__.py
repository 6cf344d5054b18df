"""Dialogue policies of PostDesk's Rasa model (config.yml ``policies``)."""
