"""Custom Rasa NLU components (postal entities, intent blend) and the NLU evaluation tools."""
