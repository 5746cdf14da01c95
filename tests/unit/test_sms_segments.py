"""SMS length as the network counts it: GSM-7 or UCS-2, segments, and cutting a text to fit."""
import pytest

from chalicelib.notices import sms_segments


def test_the_gsm_alphabet_is_the_standards():
    # GSM 03.38: 128 codes, one of them the escape to the extension table; 10 extension characters
    assert len(sms_segments.GSM_BASIC) == 127 and len(sms_segments.GSM_EXTENSION) == 10
    assert not sms_segments.GSM_BASIC & sms_segments.GSM_EXTENSION


@pytest.mark.parametrize("text, encoding, segments", [
    ("", "GSM-7", 0),
    ("a" * 160, "GSM-7", 1),
    ("a" * 161, "GSM-7", 2),
    ("a" * 306, "GSM-7", 2),
    ("a" * 307, "GSM-7", 3),
    ("è" * 160, "GSM-7", 1),  # Italian accents are in the GSM alphabet
    ("€" * 80, "GSM-7", 1),  # an extension character costs two septets
    ("€" * 81, "GSM-7", 2),
    ("a" * 152 + "€" + "a" * 152, "GSM-7", 3),  # 306 septets, but the escape pair is never split
    ("ó", "UCS-2", 1),  # Spanish ó is not
    ("ó" * 70, "UCS-2", 1),
    ("ó" * 71, "UCS-2", 2),
    ("ó" * 134, "UCS-2", 2),
    ("ó" * 135, "UCS-2", 3),
    ("😀" * 35, "UCS-2", 1),  # outside the BMP: two UTF-16 units each
    ("😀" * 36, "UCS-2", 2),
    ("ó" * 66 + "😀" + "ó" * 66, "UCS-2", 3),  # 134 units, but the surrogate pair is never split
])
def test_encoding_and_segments(text, encoding, segments):
    assert sms_segments.describe(text) == {"encoding": encoding, "segments": segments, "characters": len(text)}


def test_a_text_that_fits_is_left_alone():
    text = "Coffee Club: you earned 12 beans."
    assert sms_segments.fit(text, 1) == text


@pytest.mark.parametrize("word, ellipsis", [("beans", "..."), ("caffè", "..."), ("código", "…"), ("☕", "…")])
@pytest.mark.parametrize("max_segments", [1, 2, 3])
def test_a_long_text_is_cut_at_a_word_to_fit_with_an_ellipsis_of_its_own_alphabet(word, ellipsis, max_segments):
    # Given a text far longer than the limit
    text = " ".join([word] * 200)
    # When it is cut
    cut = sms_segments.fit(text, max_segments)
    # Then it fits, keeps its alphabet, ends with the ellipsis after a whole word, and loses as little as it can
    assert sms_segments.segments(cut) == max_segments and sms_segments.encoding(cut) == sms_segments.encoding(text)
    assert cut.endswith(ellipsis) and text.startswith(cut[:-len(ellipsis)])
    assert cut[:-len(ellipsis)].endswith(word)
    per_segment = sms_segments.LIMITS[sms_segments.encoding(text)][max_segments > 1]
    assert len(cut) > max_segments * per_segment * 0.8 / (2 if word == "☕" else 1)


def test_a_text_without_spaces_is_cut_where_it_must_be():
    cut = sms_segments.fit("x" * 500, 1)
    assert cut == "x" * 157 + "..." and sms_segments.segments(cut) == 1
