"""Rasa input channels of the assistant, one module per channel.

sanitize.py is shared by all of them: whatever a patient sends, NLU sees
clean, bounded text, and nobody can trigger intents by typing "/restart".
"""
