"""Trainers' tools: the NLU inbox, annotation, export, retraining (``python -m bot.trainer``).

Modules, bottom up: `candidates` (the inbox's vocabulary), `pii` (masking for review),
`vocabulary` (the domain's intents and entities), `tracker` (reading Rasa's tracker store),
`collect` (filling the inbox), `inbox` (review services; the workbench's entry point),
`export` (annotations into ``data/nlu``), `registry`, `gate`, `retrain`, `deploy` (models).
"""
