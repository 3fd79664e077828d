"""A second opinion on the intent, sentence by sentence for long messages.

Patients write long posts: a timeline, then one or two questions ("ruptured it
3 weeks ago playing pickleball, splint from urgent care, ortho on Friday... can
it heal in a boot? and when could I drive?"). A classifier that reads the whole
post at once is pulled towards the story. This component:

1. trains a logistic regression on TF-IDF word and character n-grams plus the
   MiniLM sentence embedding (nlu_components/sentence_embeddings/), on the
   same training data as DIET (seconds to train);
2. scores the whole message and blends that with DIET's ranking (`diet_weight`);
3. for a message of several sentences, also scores each part (sentences, and
   "..., also how long ...?" clauses) on its own: when the whole message is
   unsure and one question part is clear, that part decides; a different
   question asked in another part is kept as `secondary_intent` in the parse
   data, so the answer can offer it as a button.

The triage component still runs after this one and has the last word.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple

import joblib
import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack

logger = logging.getLogger(__name__)

MODEL_FILE = "sentence_classifier.joblib"
# the project's spaCy pipeline (spacy_pipeline/build_pipeline.py), tokenizer only,
# with spaCy's rule-based sentencizer added: ~0.2 ms for a 60-word post
SPACY_PIPELINE = "en_achilles_lookup"
# inside one sentence, a second question joined by "also"/"and"/"plus" ("..., also
# how long until I can drive?"): the sentencizer cannot see these, so a small rule
_CLAUSE_JOIN = re.compile(
    r"[,;]?\s+(?:also|and also|plus|oh and|and)\s*,?\s+"
    r"(?=(?:what|how|when|can|could|will|would|should|is|are|do|does|did|any)\b)",
    re.IGNORECASE,
)
MIN_PART_WORDS = 3
_QUESTION_START = re.compile(
    r"^(?:also,?\s+|and\s+|plus\s+|so\s+|but\s+)?"
    r"(what|whats|how|when|why|where|who|which|is|are|do|does|did|can|could|will|would|"
    r"should|shall|am|any|anyone|anything|que|cuando|como|puedo|es)\b",
    re.IGNORECASE,
)
_QUESTION_WORDS = re.compile(
    r"\b(wondering|question|questions|curious|want to know|wanted to know|need to know|"
    r"should i|can i|do i|how long|when can|when will|is it|is there|any advice|"
    r"advice|pls|please tell|tell me)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")


@lru_cache(maxsize=1)
def sentencizer():
    """The project's spaCy pipeline (tokenizer) with spaCy's rule-based sentencizer."""
    import spacy

    try:
        nlp = spacy.load(SPACY_PIPELINE, exclude=["lemmatizer"])
    except OSError:  # the packaged pipeline is not installed: same tokenizer rules
        logger.warning("%s is not installed; using a blank English tokenizer", SPACY_PIPELINE)
        nlp = spacy.blank("en")
    from spacy.pipeline import Sentencizer

    # ...and an ellipsis ends a sentence too ("ortho on Friday... can it heal?")
    punct = list(Sentencizer.default_punct_chars) + ["..", "...", "....", "…"]
    nlp.add_pipe("sentencizer", config={"punct_chars": punct})
    return nlp


CONTENT_PATH = Path(__file__).resolve().parent.parent / "content" / "achilles_content.yml"


def page_sources(path: Path = CONTENT_PATH) -> List[Tuple[Text, Text]]:
    """(page sentence, intent) for each `sources` sentence of a topic in the content
    file that only one topic lists (a sentence several topics rest on says nothing
    about which one a question is after)."""
    import yaml

    topics = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("topics") or {}
    owners: Dict[Text, set] = {}
    for entry in topics.values():
        for sentence in entry.get("sources") or []:
            if entry.get("intent"):
                owners.setdefault(sentence, set()).add(entry["intent"])
    return [(t, next(iter(i))) for t, i in owners.items() if len(i) == 1]


def split_parts(text: Text) -> List[Text]:
    """Sentences (spaCy's sentencizer, and line breaks), then a second question
    joined inside a sentence by "also"/"and" ("..., also how long?")."""
    parts: List[Text] = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        for sentence in sentencizer()(line).sents:
            parts += [c.strip() for c in _CLAUSE_JOIN.split(sentence.text) if c.strip()]
    return [p for p in parts if len(_WORD.findall(p)) >= MIN_PART_WORDS]


def is_question(sentence: Text) -> bool:
    s = sentence.strip()
    return "?" in s or bool(_QUESTION_START.match(s)) or bool(_QUESTION_WORDS.search(s))


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class SentenceIntentClassifier(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "C": 10.0,  # inverse regularisation of the regression
            "use_embeddings": True,  # False: TF-IDF n-grams only (eval/ablation)
            # the embedding's weight against the n-grams (its features are multiplied)
            "embedding_scale": 1.0,
            "diet_weight": 0.5,  # share of DIET in the whole-message blend
            # Reading a post like a nurse: the question sentences decide, the story
            # is context. In a message of several parts with a question part, the
            # ranking is `question_weight` x the question's + the rest x the whole
            # message's; 0 switches it off (then the old rule below applies).
            "question_weight": 0.0,
            # which question is the main one when there are several: "first"
            # (patients ask their main question first) or "clearest"
            "main_question": "first",
            # "emphasis": the question is read with the whole post after it as its
            # context ("<question> <post>", one more text to score); "linear": the
            # question sentence alone, mixed with the whole post's ranking
            "question_blend": "emphasis",
            # the old rule: a part decides only when the whole message is below
            # `unsure_below` and the part's question is at least `part_min_confidence`
            "unsure_below": 0.5,
            "part_min_confidence": 0.6,
            "max_parts": 8,
            "secondary_min_confidence": 0.4,
            # ...and the second question must have this much support in the whole message
            "secondary_min_whole": 0.02,
            # A second opinion: nearest neighbours among the training examples
            # (cosine of the MiniLM embeddings), blended with the regression:
            # `knn_weight` x neighbours + the rest x regression; 0 switches it off.
            "knn_weight": 0.0,
            "knn_k": 10,
            # softmax temperature over the neighbours' similarities
            "knn_temperature": 0.05,
            # also the page's sentences (`sources` of content/achilles_content.yml),
            # as neighbours labelled with their topic's intent (never trained on)
            "knn_page_sources": False,
            "ranking_length": 10,
            # conversation intents are never offered as the "also asked" button
            "not_secondary": [
                "greet",
                "goodbye",
                "thanks",
                "affirm",
                "deny",
                "bot_challenge",
                "cancel",
                "out_of_scope",
                "other_language",
                "nlu_fallback",
                "emergency",
                "urgent_problem",
            ],
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Optional[Dict[Text, Any]] = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._model = model

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceIntentClassifier:
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SentenceIntentClassifier:
        model = None
        try:
            with model_storage.read_from(resource) as directory:
                model = joblib.load(directory / MODEL_FILE)
        except (ValueError, FileNotFoundError):
            logger.warning("SentenceIntentClassifier: no trained model; passing DIET through")
        return cls(config, model_storage, resource, model)

    # ---------------------------------------------------------------- train ----

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        examples = [e for e in training_data.intent_examples if e.get("text")]
        texts = [e.get("text") for e in examples]
        labels = [e.get("intent") for e in examples]
        words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)
        words.fit(texts)
        chars.fit(texts)
        model = {
            "words": words,
            "chars": chars,
            "regression": None,
            "embeddings": bool(self.config["use_embeddings"]),
            "embedding_scale": float(self.config["embedding_scale"]),
        }
        regression = LogisticRegression(C=float(self.config["C"]), max_iter=3000)
        regression.fit(self._features(model, texts), labels)
        model["regression"] = regression
        if model["embeddings"]:
            from nlu_components.sentence_embeddings import get_encoder

            # the training examples' embeddings (the regression's features just
            # computed them: the encoder's cache makes this free), as float16
            classes = list(regression.classes_)
            knn_texts, knn_labels = list(texts), list(labels)
            if self.config["knn_page_sources"]:
                # the page's own sentences, each under the one topic that lists it
                pairs = [(t, i) for t, i in page_sources() if i in classes]
                knn_texts += [t for t, _ in pairs]
                knn_labels += [i for _, i in pairs]
            model["knn_vectors"] = get_encoder().encode(knn_texts).astype(np.float16)
            model["knn_labels"] = np.array([classes.index(x) for x in knn_labels], dtype=np.int32)
        with self._model_storage.write_to(self._resource) as directory:
            joblib.dump(model, directory / MODEL_FILE)
        self._model = model
        return self._resource

    @staticmethod
    def _features(model: Dict[Text, Any], texts: List[Text]):
        parts = [model["words"].transform(texts), model["chars"].transform(texts)]
        if model.get("embeddings", True):
            from nlu_components.sentence_embeddings import get_encoder

            scale = float(model.get("embedding_scale", 1.0))
            parts.append(csr_matrix(scale * get_encoder().encode(texts)))
        return hstack(parts).tocsr()

    def _probabilities(self, texts: List[Text]) -> List[Dict[Text, float]]:
        regression = self._model["regression"]
        rows = regression.predict_proba(self._features(self._model, texts))
        weight = float(self.config["knn_weight"])
        if weight > 0 and self._model.get("knn_vectors") is not None:
            rows = (1 - weight) * rows + weight * self._neighbours(texts, rows.shape[1])
        return [dict(zip(regression.classes_, map(float, row))) for row in rows]

    def _neighbours(self, texts: List[Text], n_classes: int) -> np.ndarray:
        """Intent distribution of each text's nearest training examples."""
        from nlu_components.sentence_embeddings import get_encoder

        vectors = get_encoder().encode(texts)  # cached: the features computed them
        similarity = vectors @ self._model["knn_vectors"].astype(np.float32).T
        k = min(int(self.config["knn_k"]), similarity.shape[1])
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        out = np.zeros((len(texts), n_classes))
        labels = self._model["knn_labels"]
        for row, idx in enumerate(nearest):
            sims = similarity[row, idx]
            weights = np.exp((sims - sims.max()) / float(self.config["knn_temperature"]))
            np.add.at(out[row], labels[idx], weights)
            out[row] /= out[row].sum()
        return out

    # -------------------------------------------------------------- process ----

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        if self._model is None:
            return messages
        for message in messages:
            text = message.get("text")
            if text:
                self._classify(message, text)
        return messages

    def _classify(self, message: Message, text: Text) -> None:
        parts = split_parts(text)[: self.config["max_parts"]]
        if len(parts) < 2:
            parts = []
        # the question sentences: those asked with a question mark, else those
        # worded as questions
        questions = [i for i, part in enumerate(parts) if "?" in part] or [
            i for i, part in enumerate(parts) if is_question(part)
        ]
        q_weight = float(self.config["question_weight"])
        main_part = None
        if q_weight > 0 and questions:
            if self.config["main_question"] == "clearest":
                main_part = None  # chosen below, once the parts are scored
            else:
                main_part = questions[0]
        texts = [text] + parts
        if q_weight > 0 and questions and self.config["question_blend"] == "emphasis":
            # the question read first, then the whole post as its context
            texts.append(parts[questions[0]] + " " + text)
        scored = self._probabilities(texts)
        diet = {
            r["name"]: float(r["confidence"])
            for r in message.get("intent_ranking") or []
            if r.get("name")
        }
        w = float(self.config["diet_weight"]) if diet else 0.0
        blend = {name: w * diet.get(name, 0.0) + (1 - w) * p for name, p in scored[0].items()}
        part_tops = [max(p.items(), key=lambda item: item[1]) for p in scored[1 : 1 + len(parts)]]
        if q_weight > 0 and questions:
            # the question decides, the story (the whole message) is context
            if main_part is None:
                main_part = max(questions, key=lambda i: part_tops[i][1])
            question = scored[1 + main_part]
            if self.config["question_blend"] == "emphasis":
                question = scored[-1]
            blend = {
                name: q_weight * question.get(name, 0.0) + (1 - q_weight) * p
                for name, p in blend.items()
            }
        total = sum(blend.values()) or 1.0
        ranking = sorted(
            ({"name": n, "confidence": c / total} for n, c in blend.items()),
            key=lambda r: -r["confidence"],
        )[: self.config["ranking_length"]]
        main = ranking[0]
        if q_weight <= 0 and main["confidence"] < self.config["unsure_below"]:
            clear = [
                (p, name)
                for (name, p), part in zip(part_tops, parts)
                if is_question(part) and p >= self.config["part_min_confidence"]
            ]
            if clear:
                p, name = max(clear)
                main = {"name": name, "confidence": p}
                ranking = [main] + [r for r in ranking if r["name"] != name]
        message.set("intent", main, add_to_output=True)
        message.set("intent_ranking", ranking[: self.config["ranking_length"]], add_to_output=True)
        # the second question: the clearest part about another intent (a question
        # worded without a question mark counts: "and if they deny it what would it cost")
        candidates = part_tops
        secondary = self._secondary(main["name"], candidates, blend)
        if secondary:
            message.set("secondary_intent", secondary, add_to_output=True)

    def _secondary(
        self, main: Text, part_tops: List[Tuple[Text, float]], whole: Dict[Text, float]
    ) -> Optional[Text]:
        """The clearest other question asked in another part of the message."""
        skip = set(self.config["not_secondary"]) | {main}
        candidates = [
            (p, name)
            for name, p in part_tops
            if name not in skip
            and p >= self.config["secondary_min_confidence"]
            and whole.get(name, 0.0) >= self.config["secondary_min_whole"]
        ]
        return max(candidates)[1] if candidates else None
