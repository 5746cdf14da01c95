"""How long an SMS is on the network: GSM-7 or UCS-2, how many segments, and cutting it to fit.

A text made only of GSM 03.38 characters travels as GSM-7: 160 septets in one segment, 153 per
segment when it takes several (the rest is the concatenation header); a character of the
extension table (`€`, `[`, `{`...) costs two septets and is never split across segments. Any
other character turns the whole text into UCS-2: 70 UTF-16 units in one segment, 67 per segment
when several, and a character outside the BMP (most emoji) costs two units, never split either.
"""
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")
LIMITS = {"GSM-7": (160, 153), "UCS-2": (70, 67)}  # one segment alone, each of several
ELLIPSIS = {"GSM-7": "...", "UCS-2": "…"}
WORD_BREAK_WINDOW = 20  # a cut moves back to a space at most this many characters earlier


def encoding(text: str) -> Encoding:
    return "GSM-7" if all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text) else "UCS-2"


def _costs(text: str, coding: Encoding) -> list[int]:
    if coding == "GSM-7":
        return [2 if ch in GSM_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def segments(text: str) -> int:
    """Segments the text takes (an empty text: none)."""
    coding = encoding(text)
    costs = _costs(text, coding)
    single, each = LIMITS[coding]
    if sum(costs) <= single:
        return 1 if text else 0
    count, used = 1, 0
    for cost in costs:
        if used + cost > each:
            count, used = count + 1, 0
        used += cost
    return count


def describe(text: str) -> dict:
    return {"encoding": encoding(text), "segments": segments(text), "characters": len(text)}


def fit(text: str, max_segments: int) -> str:
    """The text, or its longest start that fits in `max_segments` with an ellipsis, cut at a space when one is near."""
    if segments(text) <= max_segments:
        return text
    ellipsis = ELLIPSIS[encoding(text)]

    def fits(length: int) -> bool:
        return segments(text[:length].rstrip() + ellipsis) <= max_segments

    low, high = 0, len(text)  # fits(low) holds (the ellipsis alone fits one segment), fits(high) does not
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    space = text.rfind(" ", max(0, low - WORD_BREAK_WINDOW), low + 1)
    cut = space if space > 0 and text[low:low + 1] not in ("", " ") else low
    return text[:cut].rstrip() + ellipsis
