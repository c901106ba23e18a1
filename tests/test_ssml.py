"""The SSML subset (tts/text/ssml.py): what each tag speaks, and clear errors for what it does not read."""
import pytest

from tts.text.script import Segment, joined
from tts.text.ssml import SsmlError, is_ssml, parse


def words(markup, verbalize=None):
    return list(joined(parse(markup, verbalize=verbalize)))


def test_breaks_paragraphs_and_sentences_become_pauses_and_sentence_ends():
    assert words('<speak>Hello <break time="500ms"/> world<break strength="x-strong"/>'
                 '<p>A paragraph</p><s>One sentence</s></speak>') == [
        Segment("Hello", None, 500), Segment("world", None, 1000), Segment("A paragraph.", None, 700),
        Segment("One sentence.")]
    assert words("<speak>a<break/>b</speak>") == [Segment("a", None, 400), Segment("b")]  # medium by default
    assert words('<speak>x<break time="1.5s"/></speak>') == [Segment("x", None, 1500)]


def test_say_as_reads_text_the_way_it_asks():
    spoken = {"3": "three", "3rd": "third", "42": "forty-two", "42nd": "forty-second", "2026": "twenty twenty-six"}
    verbalize = spoken.get  # a stand-in for the verbalizer: the kinds below decide what it is asked

    def say(kind, text):
        return words(f'<speak><say-as interpret-as="{kind}">{text}</say-as></speak>', lambda t: verbalize(t, t))[0].text

    assert say("characters", "USA") == "U S A" and say("spell-out", "ab1") == "A B one"
    assert say("digits", "2026") == "two zero two six"
    assert say("cardinal", "42") == "forty-two" and say("ordinal", "42") == "forty-second"
    assert say("ordinal", "3") == "third"
    assert say("telephone", "555-0123") == "five five five, zero one two three"


def test_sub_and_phoneme():
    assert words('<speak><sub alias="World Wide Web">WWW</sub> and <phoneme alphabet="ipa" ph="təˈmeɪtoʊ">tomato'
                 "</phoneme></speak>") == [Segment("World Wide Web and"), Segment("tomato", "təˈmeɪtoʊ")]


def test_plain_text_with_tags_is_wrapped_and_namespaces_are_accepted():
    assert not is_ssml("Hi <break/> there") and is_ssml("  <speak>x</speak>")
    assert words('Hi <break time="100ms"/> there') == [Segment("Hi", None, 100), Segment("there")]
    assert words('<speak xmlns="http://www.w3.org/2001/10/synthesis">Hi</speak>') == [Segment("Hi")]


@pytest.mark.parametrize("markup, message", [
    ("<speak>Hi <prosody rate='slow'>there</prosody></speak>", "<prosody> is not supported"),
    ('<speak><break time="forever"/></speak>', 'time must be like "500ms"'),
    ('<speak><break time="60s"/></speak>', "at most 10 s"),
    ('<speak><break strength="loud"/></speak>', "strength must be one of"),
    ('<speak><say-as interpret-as="money">5</say-as></speak>', "interpret-as must be one of"),
    ('<speak><say-as interpret-as="cardinal">five</say-as></speak>', "is not a whole number"),
    ("<speak><sub>WWW</sub></speak>", "<sub> needs an alias"),
    ('<speak><phoneme alphabet="x-sampa" ph="t@"/></speak>', 'only alphabet="ipa"'),
    ("<speak>unclosed", "not well-formed SSML"),
    ("<other>x</other>", "<other> is not supported"),  # plain text with a tag: read inside <speak>
])
def test_what_it_does_not_read_is_an_error_naming_the_tag(markup, message):
    with pytest.raises(SsmlError, match=message.replace("(", r"\(")):
        parse(markup)


def test_no_dtds_no_entities_no_external_references():
    bomb = ('<?xml version="1.0"?><!DOCTYPE speak [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
            "<speak>&b;</speak>")
    with pytest.raises(SsmlError, match="DTD or entities"):
        parse(bomb)
    external = '<?xml version="1.0"?><!DOCTYPE speak SYSTEM "file:///etc/passwd"><speak>x</speak>'
    with pytest.raises(SsmlError, match="DTD or entities"):
        parse(external)
