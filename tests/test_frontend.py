"""The text front end (tts/text/frontend.py): SSML, pronunciations, written forms read out, scripts refused."""
import pytest

from tts.text.frontend import FrontEndError, prepare
from tts.text.script import Segment

NUMBERS = {"5": "five", "2": "two", "10 km": "ten kilometers"}


def verbalize(text):  # a stand-in reader: whole known forms only
    import re

    for written, spoken in NUMBERS.items():
        text = re.sub(rf"(?<!\w){re.escape(written)}(?!\w)", spoken, text)
    return text


def test_pronunciations_apply_to_whole_words_before_written_forms_are_read():
    script = prepare("Nginx has 5 workers, not nginx5 or MyNginx.", verbalize=verbalize,
                     pronunciations={"Nginx": "engine x", "5": "fünf"})
    assert script == (Segment("engine x has fünf workers, not nginx5 or MyNginx."),)
    assert prepare("Run 10 km.", verbalize=verbalize) == (Segment("Run ten kilometers."),)
    assert prepare("Run 10 km.", verbalize=verbalize, normalize=False) == (Segment("Run 10 km."),)


def test_an_ipa_pronunciation_is_a_phoneme_segment_where_the_engine_takes_phonemes_and_an_error_elsewhere():
    entries = {"tomato": "/təˈmeɪtoʊ/"}
    script = prepare("A tomato for 2.", verbalize=verbalize, pronunciations=entries, phonemes=True)
    assert script == (Segment("A"), Segment("tomato", "təˈmeɪtoʊ"), Segment("for two."))
    with pytest.raises(FrontEndError, match=r"the pronunciation /təˈmeɪtoʊ/ \(for 'tomato'\) is IPA"):
        prepare("A tomato.", pronunciations=entries)


def test_ssml_and_pronunciations_together_and_say_as_is_not_read_twice():
    script = prepare('<speak>Nginx <break time="300ms"/> costs <say-as interpret-as="digits">52</say-as> and 5'
                     "</speak>", verbalize=verbalize, pronunciations={"Nginx": "engine x"})
    assert script == (Segment("engine x", None, 300), Segment("costs five two and five"))
    with pytest.raises(FrontEndError, match="<prosody> is not supported") as e:
        prepare("<speak><prosody>x</prosody></speak>")
    assert e.value.field == "text"


@pytest.mark.parametrize("text, script, sample", [
    ("Привет мир", "Cyrillic", "Привет мир"),
    ("Hello Γειά σου", "Greek", "Γειά σου"),
    ("Say 你好 now", "Cjk", "你好"),
    ("مرحبا", "Arabic", "مرحبا"),
])
def test_letters_the_engine_cannot_read_are_refused_naming_the_script(text, script, sample):
    with pytest.raises(FrontEndError, match=f"has {script} letters \\('{sample}'\\), which this engine does not read"):
        prepare(text)


def test_transliteration_reads_other_scripts_as_latin_and_symbols_pass():
    assert prepare("Привет мир", transliterate=True) == (Segment("Privet mir"),)
    assert prepare("café 👍 ✓") == (Segment("café 👍 ✓"),)  # accented Latin, emoji and symbols are not letters
