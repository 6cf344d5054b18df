"""The rasa_sdk actions, one module per topic; the action server imports them all."""
