"""One test per masking pattern, with the near misses each must leave alone."""

import pytest

from privacy.masking import DATE, EMAIL, NAME, PHONE, Masker, mask_names

OFFICE = "310.651.2366"
masker = Masker([OFFICE])


def mask(text, names=()):
    return masker.mask(text, names)


@pytest.mark.parametrize(
    "text",
    [
        "call me at 310 555 0123",
        "call me at (310) 555-0123",
        "call me at (310)555-0123",
        "call me at 310-555-0123",
        "call me at 310.555.0123",
        "call me at 3105550123",
        "call me at +1 310 555 0123",
        "call me at 1-310-555-0123",
        "call me at +13105550123",
    ],
)
def test_us_phone_numbers_are_masked(text):
    assert mask(text) == f"call me at {PHONE}"


def test_international_and_local_numbers_are_masked():
    assert mask("my cell +44 20 7946 0958 thanks") == f"my cell {PHONE} thanks"
    assert mask("home 555-0123") == f"home {PHONE}"
    assert mask("sender whatsapp:+13105550123") == f"sender whatsapp:{PHONE}"


@pytest.mark.parametrize(
    "text",
    [
        "4 to 6 weeks in a cast",
        "2-3 weeks",
        "6-8 weeks of physical therapy",
        "pain is 6/10",
        "open 24/7",
        "I hurt it in 2019",
        "20 mg twice a day",
        "at 10:30 am",
        "1-2 hours",
        "PT 2x per week",
        "call 911",
        "an order number 12345678901234",
        "+33 12",
        "version 4.5.10",
    ],
)
def test_phone_and_date_near_misses_stay(text):
    assert mask(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "call the office at 310.651.2366",
        "call the office at (310) 651-2366",
        "call the office at +1 310 651 2366",
        "call the office at 651-2366",
    ],
)
def test_the_office_number_stays_visible(text):
    assert mask(text) == text


@pytest.mark.parametrize(
    "text,expected",
    [
        ("my email is maria.lopez@example.com.", f"my email is {EMAIL}."),
        ("MARIA_L+ankle@mail.example.co.uk please", f"{EMAIL} please"),
        ("write to a-b@c-d.org", f"write to {EMAIL}"),
    ],
)
def test_emails_are_masked(text, expected):
    assert mask(text) == expected


@pytest.mark.parametrize("text", ["meet @ 5pm", "me@home", "email me", "@drsoomekh on instagram"])
def test_email_near_misses_stay(text):
    assert mask(text) == text


@pytest.mark.parametrize(
    "text,expected",
    [
        ("I was born on 03/15/1985", f"I was born on {DATE}"),
        ("DOB: 3/15/85", f"DOB: {DATE}"),
        ("dob 3/15", f"dob {DATE}"),
        ("born in 1985", f"born in {DATE}"),
        ("born on March 15th", f"born on {DATE}"),
        ("my birthday is 15 March", f"my birthday is {DATE}"),
        ("date of birth: 1985-03-15", f"date of birth: {DATE}"),
        ("March 15, 1985", DATE),
        ("15th of March, 1985", DATE),
        ("Mar. 15 1985", DATE),
        ("1985/3/15", DATE),
        ("15.03.1985", DATE),
        ("surgery on 11/02/2026", f"surgery on {DATE}"),
    ],
)
def test_dates_of_birth_and_full_dates_are_masked(text, expected):
    assert mask(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "surgery on June 5",  # no year, no birth keyword
        "I was born to run",  # birth keyword, no date
        "a 3/4 inch incision",
        "in May I tore it",
    ],
)
def test_date_near_misses_stay(text):
    assert mask(text) == text


def test_names_from_the_form_are_masked_wherever_they_recur():
    names = ["Maria Lopez"]
    assert mask("Maria Lopez", names) == NAME
    assert mask("Thank you, Maria. We'll call.", names) == f"Thank you, {NAME}. We'll call."
    assert mask("- Name: maria lopez", names) == f"- Name: {NAME}"
    assert mask_names("I will walk", ["Will Park"]) == "I will walk"


def test_everything_together():
    text = (
        "I'm maria.lopez@example.com, born 03/15/1985, cell 310 555 0123; "
        "office said call 310.651.2366 in 4 to 6 weeks"
    )
    assert mask(text) == (
        f"I'm {EMAIL}, born {DATE}, cell {PHONE}; office said call 310.651.2366 in 4 to 6 weeks"
    )


def test_empty_text():
    assert mask("") == ""
    assert mask(None) == ""
