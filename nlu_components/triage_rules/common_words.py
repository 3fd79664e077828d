"""The typo guard: common words a typo match could confuse with a term word."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import FrozenSet, List, Set

from rapidfuzz.distance import OSA

from nlu_components.triage_rules.matching import FUZZY_MIN_LEN, FUZZY_TWO_EDITS_LEN

# Words this common in English or Spanish are never read as a misspelling of a
# term (log-probability from spacy-lookups-data's lexeme tables).
COMMON_WORD_LOGPROB = -15.5
# The function words of the other Latin-script languages patients write in
# (spaCy's stop-word lists, accents removed) are never typos either: Vietnamese
# "trong" (in) is not a misspelt Spanish "trono" (a pop).
OTHER_LATIN_STOP_WORDS = ("vi", "tl")


def _other_latin_stop_words() -> Set[str]:
    """spaCy's Vietnamese and Tagalog stop words, and the words of the Latin-script
    languages' own lists in content/languages.yml (Armenian "operacia" is not a
    misspelt Spanish "operacion")."""
    import importlib

    from nlu_components.triage_rules.other_languages import fold, load_languages_spec

    entries: List[str] = []
    for lang in OTHER_LATIN_STOP_WORDS:
        entries += importlib.import_module(f"spacy.lang.{lang}.stop_words").STOP_WORDS
    for lang in (load_languages_spec().get("languages") or {}).values():
        if lang.get("script") == "Latin":
            for key in ("markers", "post_op_context", "negation"):
                entries += [str(x) for x in lang.get(key) or ()]
    words: Set[str] = set()
    for entry in entries:
        text = fold(entry, strip_marks=True).replace("_", " ")
        words.update(w for w in text.split() if w.isalpha())
    return words


def common_words_near(term_words: Set[str], other_words: Set[str]) -> FrozenSet[str]:
    """Common English/Spanish words (and Vietnamese and Tagalog function words)
    a typo match could confuse with a term word.

    Only these need guarding, so this small set is all that is kept (computed
    once from spacy-lookups-data's frequency tables, a few seconds; the NLU
    component stores it in the trained model, tests cache it under build/).
    """
    import spacy_lookups_data  # registry package, offline
    from rapidfuzz import process

    data = Path(spacy_lookups_data.__file__).parent / "data"
    common: Set[str] = set()
    for lang in ("en", "es"):
        with gzip.open(data / f"{lang}_lexeme_prob.json.gz", "rt", encoding="utf-8") as fh:
            probs = json.load(fh)
        common.update(
            w
            for w, p in probs.items()
            if p > COMMON_WORD_LOGPROB and w.isalpha() and len(w) >= FUZZY_MIN_LEN - 1
        )
        del probs
    common.update(w for w in other_words if len(w) >= FUZZY_MIN_LEN - 1)
    common -= {w.rstrip("*") for w in term_words}
    candidates = sorted(common)
    near: Set[str] = set()
    for term in term_words:
        stem = term.rstrip("*")
        if len(stem) < FUZZY_MIN_LEN:
            continue
        if term.endswith("*"):
            prefixes = [w[: len(stem)] for w in candidates]
            hits = process.extract(stem, prefixes, scorer=OSA.distance, score_cutoff=1, limit=None)
        else:
            allowed = 2 if len(stem) >= FUZZY_TWO_EDITS_LEN else 1
            hits = process.extract(
                stem, candidates, scorer=OSA.distance, score_cutoff=allowed, limit=None
            )
        near.update(candidates[index] for _, _, index in hits)
    # The exact forms of terms are never "typos" of other terms either.
    return frozenset(near | {w.rstrip("*") for w in term_words})


def cached_common_words_near(term_words: Set[str], cache_dir: Path) -> FrozenSet[str]:
    """common_words_near(), cached in a file named by a hash of its inputs (the
    term words, the other languages' words and the frequency threshold), so an
    edit to content/red_flags.yml or content/languages.yml recomputes it."""
    import hashlib

    other_words = _other_latin_stop_words()
    inputs = [COMMON_WORD_LOGPROB, sorted(term_words), sorted(other_words)]
    key = hashlib.sha256(json.dumps(inputs).encode()).hexdigest()[:16]
    path = cache_dir / f"common_words_{key}.json"
    if path.exists():
        return frozenset(json.loads(path.read_text()))
    words = common_words_near(term_words, other_words)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(sorted(words)))
    except OSError:  # read-only install: just recompute next time
        pass
    return words
