"""Custom Rasa NLU graph components for the Achilles assistant."""
