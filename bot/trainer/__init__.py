"""Trainers' tools: the NLU inbox, annotation and export of training data (``python -m bot.trainer``)."""
