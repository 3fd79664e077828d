"""Patients who write in another Los Angeles language (content/languages.yml).

For each language: the message's language is recognised (its script, or its
distinctive words when typed in Latin letters), a red flag in it gets the
right tier, an ordinary question does not, and the domain has that language's
emergency, urgent and "I can only answer in English" replies (with 911 and the
office phone), so they go out even when the action server is down.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rasa.shared.nlu.training_data.message import Message

from nlu_components.language import LanguageDetector
from nlu_components.triage_rules import load_rules

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = yaml.safe_load((ROOT / "content" / "languages.yml").read_text(encoding="utf-8"))
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))

# language -> (an emergency, an urgent problem after surgery, an ordinary question)
MESSAGES = {
    "zh": (
        "我做完跟腱手术后胸口很痛，喘不过气",
        "手术后伤口流脓了",
        "跟腱断裂恢复需要多长时间？",
    ),
    "ko": (
        "아킬레스 수술 후에 가슴이 아프고 숨을 쉬기 힘들어요",
        "수술 후 상처에서 고름이 나와요",
        "아킬레스건 파열 회복 기간이 얼마나 걸리나요?",
    ),
    "tl": (
        "Masakit ang dibdib ko at hindi ako makahinga",
        "May nana ang sugat ko pagkatapos ng operasyon",
        "Gaano katagal po ang paggaling pagkatapos ng operasyon?",
    ),
    "hy": (
        "Կրծքավանդակս ցավում է և չեմ կարողանում շնչել",
        "Վիրահատությունից հետո վերքից թարախ է գալիս",
        "Որքա՞ն ժամանակ է տևում ապաքինումը",
    ),
    "hy-Latn": (
        "kurcqs shat cavuma u chem karum shnchem",
        "virahatutyunic heto verqic taraxa galis",
        "inchqan zhamanak a petq vor lavanam?",
    ),
    "fa": (
        "سینه‌ام درد می‌کند و نمی‌توانم نفس بکشم",
        "بعد از عمل زخمم چرک کرده",
        "دوره بهبودی چقدر طول می‌کشد؟",
    ),
    "fa-Latn": (
        "sine am dard mikone va nemitoonam nafas bekesham",
        "bad az amal zakhmam cherk karde",
        "dore behbudi chand vaght tool mikeshe?",
    ),
    "ru": (
        "У меня болит грудь и не могу дышать",
        "После операции из раны идет гной",
        "Сколько длится восстановление после разрыва ахиллова сухожилия?",
    ),
    "vi": (
        "Tôi bị đau ngực và khó thở",
        "Sau khi mổ vết mổ bị chảy mủ",
        "Hồi phục sau đứt gân Achilles mất bao lâu?",
    ),
    "ja": (
        "胸が痛くて息ができません",
        "手術の後、傷口から膿が出ています",
        "アキレス腱断裂の回復にはどのくらいかかりますか？",
    ),
    "ar": (
        "عندي ألم في الصدر ولا أستطيع التنفس",
        "بعد العملية الجرح يخرج منه صديد",
        "كم من الوقت يستغرق التعافي؟",
    ),
}
REQUIRED = ["zh", "ko", "tl", "hy", "hy-Latn", "fa", "fa-Latn", "ru", "vi", "ja", "ar"]


def test_every_la_language_is_in_the_reviewed_file_and_marked_for_review():
    assert set(REQUIRED) <= set(LANGUAGES["languages"])
    assert "qualified medical translator" in LANGUAGES["review_status"]


def language_of(text):
    m = Message(data={"text": text})
    m.set("intent", {"name": "ask_recovery", "confidence": 0.9})
    m.set("intent_ranking", [{"name": "ask_recovery", "confidence": 0.9}])
    LanguageDetector({}).process([m])
    found = [e["value"] for e in m.get("entities") or [] if e["entity"] == "language"]
    return (found[0] if found else None), m.get("intent")["name"]


@pytest.mark.parametrize("code", REQUIRED)
def test_language_is_recognised_and_answered_as_another_language(code):
    for text in MESSAGES[code]:
        assert language_of(text) == (code, "other_language"), text


@pytest.mark.parametrize("code", REQUIRED)
def test_red_flags_in_each_language_get_their_tier(code):
    rules = load_rules()
    emergency, urgent, ordinary = MESSAGES[code]
    assert rules.read(emergency).tier(rules.ranks) == "emergency", emergency
    assert rules.read(urgent).tier(rules.ranks) == "urgent_problem", urgent
    assert rules.read(ordinary).tier(rules.ranks) is None, ordinary


def variant(response, code):
    for v in DOMAIN["responses"][response]:
        for condition in v.get("condition") or []:
            if condition.get("name") == "language" and condition.get("value") == code:
                return v["text"]
    return None


@pytest.mark.parametrize("code", REQUIRED)
def test_each_language_has_its_own_safety_and_other_language_replies(code):
    english = {r: DOMAIN["responses"][r][-1]["text"] for r in DOMAIN["responses"]}
    for response in ("utter_emergency", "utter_urgent_problem", "utter_other_language"):
        text = variant(response, code)
        assert text and text != english[response], (code, response)
        assert "{office_phone}" in text or response == "utter_emergency", (code, response)
    assert "911" in variant("utter_emergency", code)
    assert "911" in variant("utter_other_language", code)
    assert "{office_phone}" in variant("utter_other_language", code)


def test_negated_sign_in_another_language_is_not_a_report():
    rules = load_rules()
    # Russian: "no fever, the wound is fine" / Tagalog: "no fever"
    assert "fever" not in [f.category for f in rules.read("Температуры нет").reports]
    assert rules.read("Wala akong lagnat po").tier(rules.ranks, post_op_known=True) is None


def test_english_text_does_not_trip_latin_script_phrases_of_other_languages():
    rules = load_rules()
    for text in (
        "how long is recovery after the repair",
        "can I drive with the boot on my left foot",
        "I have a question about the man who did my surgery",
        "is PRP worth it",
    ):
        assert rules.read(text).tier(rules.ranks, post_op_known=True) is None, text
        assert language_of(text)[0] in (None, "en"), text


# Said in other words than the first phrase lists had (issue 17): a relative's
# breathlessness told by what they cannot do, a foot told by its colour, a new
# pop told as a kick, pain the pills do not touch; each with the tier it needs.
INDIRECT_RED_FLAGS = [
    ("zh", "我妈妈手术后说话都喘，一句话都说不完", "emergency"),
    ("zh", "开刀后两周走路时听到咔的一声，像被人踢了一脚", "urgent_problem"),
    ("ja", "母が急に倒れました。呼んでも反応しません", "emergency"),
    ("ja", "手術後、痛み止めも効かないし日に日に痛くなります", "urgent_problem"),
    ("ko", "남편이 수술 후에 숨을 쉴 수가 없대요", "emergency"),
    ("ru", "Муж еле дышит, хватает ртом воздух", "emergency"),
    ("ru", "После операции нога толще другой", "urgent_problem"),
    ("ar", "زوجي مش قادر يتنفس وما يقدر يكمل كلامه", "emergency"),
    ("ar", "بعد العملية المسكن ما عم ينفع والوجع بيزيد كل يوم", "urgent_problem"),
    ("fa", "نفسم تنگه و نمیتونم حرفمو تموم کنم", "emergency"),
    ("fa-Latn", "babam nafasesh bala nemiad, nemitoone harf bezane", "emergency"),
    ("hy", "Մայրիկս ուշքի չի գալիս", "emergency"),
    ("hy-Latn", "virahatutyunic heto inch vor ban paytec, karces qaci tvecin", "urgent_problem"),
    ("tl", "Ang lola ko nandilim ang paningin at hindi magising", "emergency"),
    ("tl", "Naka-cast ako, natapilok ako kanina at parang may sumipa sa likod", "urgent_problem"),
    ("vi", "Mẹ tôi nói không ra hơi, thở dồn dập", "emergency"),
    ("vi", "Sau mổ uống thuốc cũng không đỡ, càng lúc càng đau", "urgent_problem"),
]

# ...and what only looks like them: a cough and a blood test, ice on the foot,
# "tired" (피곤) after a cough.
LOOK_ALIKES = [
    ("zh", "咳嗽了几天，今天去验血，血压有点高"),
    ("ko", "기침을 좀 하고 피곤해요"),
    ("ko", "얼음주머니를 대고 있어서 발가락이 차가워요"),
    ("ar", "حطيت تلج على رجلي وصارت باردة"),
]


@pytest.mark.parametrize("code,text,tier", INDIRECT_RED_FLAGS)
def test_indirect_red_flags_get_their_tier(code, text, tier):
    rules = load_rules()
    assert rules.read(text).tier(rules.ranks) == tier, (code, text)


@pytest.mark.parametrize("code,text", LOOK_ALIKES)
def test_look_alikes_in_other_languages_are_not_escalated(code, text):
    rules = load_rules()
    assert rules.read(text).tier(rules.ranks, post_op_known=True) is None, (code, text)
