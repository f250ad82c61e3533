"""Sentence punctuation, defined once for every step that cuts text into sentences.

Chunking, cleaning, answer spans, example questions and the chat window's excerpts must agree on
where a sentence ends, or an answer sentence would be cut differently in one place than another.
"""

#: Marks that end a sentence (full-width and ASCII).
SENTENCE_ENDS = "。！？；!?;"
#: Closing quotes and brackets that stay with the sentence they close.
CLOSERS = "”’」』）)】》\"'"
