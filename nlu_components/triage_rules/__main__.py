"""Try messages against the rules: python -m nlu_components.triage_rules "..." ["..."]"""

import sys

from nlu_components.triage_rules.rules import load_rules

if __name__ == "__main__":
    rules = load_rules()
    for message in sys.argv[1:]:
        print(message, "->", rules.read(message).as_dict(rules.ranks))
