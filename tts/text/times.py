"""Clock times: '3:30 pm' -> 'three thirty p.m.', '15:45' -> 'fifteen forty-five', '9am-5pm' -> 'nine a.m. to
five p.m.'. A number is a time only with minutes (two digits after a colon) or with am/pm; '3.30 pm' (the
British dot) only with am/pm. Whole hours say "o'clock" on a 12-hour clock and 'hundred' on a 24-hour one."""
from __future__ import annotations

import re

from tts.text.number_words import ONES, cardinal
from tts.text.rewrite import rewrite

_CLOCK = (r"(?P<h{0}>[0-9]{{1,2}})(?:(?P<sep{0}>[:.])(?P<m{0}>[0-9]{{2}})(?::(?P<s{0}>[0-9]{{2}}))?)?"
          r"(?:\s?(?P<ap{0}>[AaPp])\.?[Mm](?![A-Za-z])(?P<dot{0}>\.)?)?")
_TIME = re.compile(r"(?<![\w:.,/-])" + _CLOCK.format(1) + r"(?:\s?[-–]\s?" + _CLOCK.format(2)
                   + r")?(?![\w:]|[.,][0-9])")


def _clock(m: re.Match, i: int, ampm: str | None) -> str | None:
    """One side of a time (i: 1 or 2), with the am/pm it carries or shares; None when it is not a time."""
    hours, minutes, seconds = m.group(f"h{i}"), m.group(f"m{i}"), m.group(f"s{i}")
    if minutes is None and ampm is None:
        return None
    if m.group(f"sep{i}") == "." and ampm is None:
        return None  # 3.30 without am/pm is a decimal
    h, mi, se = int(hours), int(minutes or 0), int(seconds or 0)
    if h > 24 or mi > 59 or se > 59 or (ampm and not 0 < h <= 12):
        return None
    if minutes is None or mi == 0:
        if ampm:
            said = cardinal(str(h))
        elif h == 0:
            said = "midnight" if not se else "zero hundred"
        else:
            said = f"{cardinal(str(h))} o'clock" if h <= 12 else f"{cardinal(str(h))} hundred"
    else:
        said = f"{cardinal(str(h))} {'oh ' + ONES[mi] if mi < 10 else cardinal(str(mi))}"
    if se:
        said += f" and {cardinal(str(se))} second{'s' if se != 1 else ''}"
    if ampm:
        said += f" {ampm.lower()}.m."
    return said


def _time(m: re.Match) -> str | None:
    ampm1, ampm2 = m.group("ap1"), m.group("ap2")
    if m.group("h2") is None:
        said = _clock(m, 1, ampm1)
    else:
        first, second = _clock(m, 1, ampm1 or ampm2), _clock(m, 2, ampm2)
        if first is None or second is None:
            return None
        if ampm2 and not ampm1:
            first = first.rsplit(" ", 1)[0]  # '9-11am': am is said once, at the end
        said = f"{first} to {second}"
    if said is None:
        return None
    last_dot = m.group("dot2") if m.group("h2") is not None else m.group("dot1")
    if said.endswith(".m.") and not last_dot and m.string[m.end():m.end() + 1] == ".":
        said = said[:-1]  # the sentence's own period follows
    return said


def verbalize_times(text: str) -> str:
    """Clock times and time ranges in text said as words."""
    return rewrite(_TIME, _time, text)
