from tts.text import chunk, clean, split_sentences
from tts.text.split import clauses


def test_clean_collapses_whitespace_keeps_case_and_composes_unicode():
    assert clean("  Hello\n\n\tWorld  ") == "Hello World"
    assert clean("US us") == "US us"
    assert clean("cafe\u0301") == "caf\u00e9"  # NFD e + combining acute -> one code point
    assert clean("\ufeffzero\u200bwidth soft\u00adhyphen") == "zerowidth softhyphen"
    assert clean("\u200b \u200d") == ""


def test_sentences_split_on_end_punctuation_not_abbreviations():
    text = 'Dr. Smith arrived. Was it late? "Yes." J. K. Rowling wrote it! The end…'
    assert split_sentences(text) == ["Dr. Smith arrived.", "Was it late?", '"Yes."', "J. K. Rowling wrote it!",
                                     "The end…"]


def test_chunks_pack_whole_sentences_under_the_limit():
    text = "One two three. Four five six. Seven eight nine."
    assert chunk(text, 30) == ["One two three. Four five six.", "Seven eight nine."]
    assert chunk(text, 14) == ["One two three.", "Four five six.", "Seven eight", "nine."]


def test_a_sentence_without_punctuation_is_cut_at_words_and_never_exceeds_the_limit():
    text = " ".join(["word"] * 100)
    pieces = chunk(text, 50)
    assert all(len(p) <= 50 for p in pieces)
    assert " ".join(pieces) == text


def test_clause_punctuation_is_preferred_to_arbitrary_words():
    text = "first part of a long sentence, second part of it; third part here"
    assert chunk(text, 32) == ["first part of a long sentence,", "second part of it;", "third part here"]


def test_an_unbroken_string_is_cut_hard():
    pieces = chunk("x" * 25, 10)
    assert pieces == ["x" * 10, "x" * 10, "x" * 5]


def test_numbers_initialisms_ellipses_and_quotes_stay_inside_their_sentence():
    text = ('Pi is 3.14 today. The U.S. Army left at 5 a.m. Tuesday. Wait... what happened? '
            '"It ended," she said. "Then?" He left.')
    assert split_sentences(text) == ["Pi is 3.14 today.", "The U.S. Army left at 5 a.m. Tuesday.",
                                     "Wait... what happened?", '"It ended," she said.', '"Then?"', "He left."]


def test_clauses_break_after_clause_punctuation_but_not_inside_numbers():
    assert clauses("We paid 3,000 dollars, then 3.5 more; finally — done.") == [
        "We paid 3,000 dollars,", "then 3.5 more;", "finally —", "done."]
