from tts.text import chunk, normalize, split_sentences


def test_normalize_collapses_whitespace_keeps_case_and_composes_unicode():
    assert normalize("  Hello\n\n\tWorld  ") == "Hello World"
    assert normalize("US us") == "US us"
    assert normalize("cafe\u0301") == "caf\u00e9"  # NFD e + combining acute -> one code point
    assert normalize("\ufeffzero\u200bwidth soft\u00adhyphen") == "zerowidth softhyphen"
    assert normalize("\u200b \u200d") == ""


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
