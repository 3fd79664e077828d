"""Custom actions of the Achilles tendon rupture assistant (rasa-sdk).

Modules, one concern each:
  config        settings from environment variables (phone, form URL, database)
  content       loads and renders content/achilles_content.yml
  replies       shared reply shaping (buttons, hand-off text)
  answers       answering topic questions, fallback, out-of-scope, hand-off
  appointments  the in-chat appointment request form and its storage
  session       session start with the one-time disclaimer
  startup       start-up check of the action server with several replicas
"""
