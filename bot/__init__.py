"""PostDesk: the China Post Yunnan customer-service assistant (everything but the Rasa actions)."""
