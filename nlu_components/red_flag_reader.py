"""A learned red-flag reader: the rules' categories recognised from meaning, not words.

The reviewed rules (content/red_flags.yml, nlu_components/triage_rules/) are
precise but only know the words a clinician wrote down. Patients also describe
a red flag indirectly ("I have to stop mid-sentence to get air", "one leg looks
twice as fat as the other"). This reader classifies each part of a message
(the sentences the intent classifier already cut and encoded, so the shared
MiniLM encoder answers from its cache) into one of the rules' categories or
`none`, with a logistic regression on the all-MiniLM-L6-v2 embedding plus
character n-grams (the English encoder alone reads Spanish poorly; on the
earlier probes, which it never trained on, the n-grams lifted recall at 0.8
from 0.45 to 0.56 with no look-alike escalated: eval/RESULTS.md).

It is trained on data/red_flag_reader/*.yml: single clauses labelled with
a category or `none`, the none ones covering every look-alike family (other
senses of the words, other people's stories, prevention questions, expected or
resolved sensations, exertion and weather...).

How its findings are used (nlu_components/triage.py): the rules decide alone;
the reader decides alone only at or above its `sure` probability and only for a
part the rules read as a plain report (not negated, not a question, not past,
not someone else's story); between `unsure` and `sure` the answer carries a
line naming the sign. Thresholds and their trade-off: eval/RESULTS.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
READER_DATA_PATH = PROJECT_ROOT / "data" / "red_flag_reader"
NO_SIGN = "none"


@dataclass(frozen=True)
class ReaderHit:
    """The reader's best category for one part of a message."""

    part: str
    category: str
    probability: float


def data_files(path: Path = READER_DATA_PATH) -> List[Path]:
    """The training files: every .yml in the folder (or the one file named)."""
    path = Path(path)
    return sorted(path.glob("*.yml")) if path.is_dir() else [path]


def load_clauses(path: Path = READER_DATA_PATH) -> Tuple[List[str], List[str]]:
    """The training clauses and their labels (a category name or `none`)."""
    texts, labels = [], []
    for file in data_files(path):
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        for item in data["clauses"]:
            text = str(item.get("text") or "").strip()
            if text:
                texts.append(text)
                labels.append(str(item["label"]))
    return texts, labels


class RedFlagReader:
    """Logistic regression on MiniLM embeddings and character n-grams:
    a part of a message -> category or none."""

    def __init__(self, model: Optional[Dict[str, Any]] = None) -> None:
        self.model = model

    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[str], c: float = 16.0) -> RedFlagReader:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        chars = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2
        ).fit(texts)
        model = {"chars": chars, "regression": None}
        regression = LogisticRegression(C=c, max_iter=4000, class_weight="balanced")
        regression.fit(_features(model, texts), list(labels))
        model["regression"] = regression
        return cls(model)

    def probabilities(self, parts: Sequence[str]) -> List[Dict[str, float]]:
        if self.model is None or not parts:
            return [{} for _ in parts]
        regression = self.model["regression"]
        rows = regression.predict_proba(_features(self.model, parts))
        return [dict(zip(regression.classes_, map(float, row))) for row in rows]

    def hits(self, parts: Sequence[str]) -> List[ReaderHit]:
        """Each part's most likely category other than `none`, best first."""
        found = []
        for part, probs in zip(parts, self.probabilities(parts)):
            signs = {k: v for k, v in probs.items() if k != NO_SIGN}
            if signs:
                category, probability = max(signs.items(), key=lambda item: item[1])
                found.append(ReaderHit(part, category, probability))
        return sorted(found, key=lambda h: -h.probability)


def _features(model: Dict[str, Any], texts: Sequence[str]):
    from scipy.sparse import csr_matrix, hstack

    from nlu_components.sentence_embeddings import get_encoder

    embeddings = csr_matrix(get_encoder().encode(list(texts)))
    return hstack([embeddings, model["chars"].transform(list(texts))]).tocsr()
