"""Staff console for the Achilles assistant (Flask): conversations, reviews, intent
corrections, appointment requests, overview charts. See console/README.md."""
