"""`SeedQA`: open (or build) the index of a documents folder and answer questions from it.

This is the one object every way in (CLI, batch files, chat app, API) talks to, so they all
answer identically. `answer` is safe to call from several threads: the index is read-only and
the encoder serialises its own calls.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Sequence
from pathlib import Path

from qa.chooser import AnswerModel, default_model
from qa.core import workload
from qa.core.errors import SeedQAError
from qa.core.modes import Mode
from qa.core.protocols import Encoder
from qa.core.records import REFUSAL, Answer, Chunk, Citation
from qa.crosslingual import translator_for
from qa.features import candidates_and_features
from qa.index import Index, open_index
from qa.posseg_fast import install as install_fast_posseg
from qa.question import parse
from qa.retrieve import rank
from qa.span_model import choose_span

EMPTY_MESSAGE = "问题为空：请输入一个问题。"
NO_WORDS_MESSAGE = "问题里没有可检索的文字：请用文字描述你的问题。"
TRUNCATED_MESSAGE = "问题过长，只使用了前 300 个字符。"
MAX_TOP_K = 20
# Reciprocal-rank fusion weights of the BM25 ranking against the dense one. On the dev set BM25
# over jieba tokens ranked the gold passage first more often than the 4-bit e5-small did (recall@1
# 0.84 vs 0.72), for paraphrased questions too; weighting it 1.5x lifted hybrid recall@1 from 0.80
# to 0.88 (2x gave 0.92; the milder value is kept to avoid fitting 25 questions). A question that
# is not Chinese shares almost no tokens with the corpus, so BM25 barely counts for it, unless
# its names and phrases were found as Chinese words of the index (`qa.crosslingual`): then those
# words count as much as an English question's own would (1.0 and 1.5 gave the same recall@1,
# 0.83, on the 12 English questions of the seeds fit part; 0.3 gave 0.75).
LEXICAL_WEIGHT = 1.5
LEXICAL_WEIGHT_FOREIGN = 0.3
LEXICAL_WEIGHT_TRANSLATED = 1.0


class SeedQA:
    """Answers questions extractively from one documents folder (a `qa.core.Answerer`)."""

    def __init__(
        self, index: Index, encoder: Encoder, docs: Path, model: AnswerModel | None = None
    ) -> None:
        self.index = index
        self.encoder = encoder
        self.docs = Path(docs)
        self._model = model
        # jieba's POS tagger with a numpy Viterbi: the same tags, ~3x faster on unknown words
        # (its pure-Python Viterbi was 78% of answering at 10k passages)
        install_fast_posseg()

    @property
    def model(self) -> AnswerModel:
        """The learned answer choice, loaded on first use (training needs only candidates)."""
        if self._model is None:
            self._model = default_model()
        return self._model

    @property
    def default_threshold(self) -> float:
        return self.model.threshold

    @classmethod
    def open(
        cls,
        docs: Path | str = "seeds",
        index_dir: Path | str | None = None,
        model: str | None = None,
        progress: bool = True,
        rebuild: bool = False,
        vector_store: str = "faiss",
        index_type: str = "auto",
        verify: bool = False,
    ) -> SeedQA:
        """Load the index of `docs`, building it first when missing, stale or damaged.

        `index_type` (auto, flat, ivf) is the FAISS passage index's kind (`qa.stores.faiss_store`);
        `verify` hashes every index file however large the index is."""
        from embeddings import load_encoder

        docs = Path(docs)
        if not docs.is_dir():
            raise SeedQAError(f"documents folder '{docs}' does not exist; pass --docs DIR")
        encoder = load_encoder(model)
        index = open_index(
            docs,
            Path(index_dir) if index_dir else None,
            encoder,
            progress=progress,
            rebuild=rebuild,
            vector_store=vector_store,
            index_type=index_type,
            verify=verify,
        )
        return cls(index, encoder, docs)

    @property
    def chunks(self) -> list[Chunk]:
        return self.index.chunks

    def refresh(self, progress: bool = False) -> Index:
        """Re-open the index after the documents folder changed (files added or removed) and
        answer from the new version from now on; only new and changed files are read and only
        new text embedded. Answers already under way finish on the version they started with."""
        index = open_index(self.docs, self.index.folder.parent, self.encoder, progress=progress,
                           vector_store=self.index.manifest["stores"]["passages"])
        self.index = index
        return index

    def warm_up(self) -> None:
        """Load now what one kind of question would otherwise wait for on first use: the
        English-to-Chinese dictionary and this index's translator (the first English question of
        a process took 1.15 s, the next ones ~20 ms). A server calls it while nobody asks yet;
        it costs ~72 MB, so one-shot commands leave it to first use. A failure here is left
        for that question to report."""
        with contextlib.suppress(SeedQAError):
            _chinese_terms(self.index, "warm up")

    def answer(
        self,
        question: str,
        history: Sequence[str] | None = None,
        top_k: int = 5,
        mode: Mode | str = Mode.HYBRID,
        threshold: float | None = None,
    ) -> Answer:
        """A verbatim sentence answering `question`, with citations; or a refusal.

        `history` is the user's previous questions (most recent last), used only when the new
        question is elliptical (`工业总产值呢？`).
        """
        mode = Mode.parse(mode)
        top_k, threshold = self._options(top_k, threshold)
        raw, q, early = self._question(question, history)
        if early is not None:
            return early
        index = self.index  # one version for the whole answer, even if `refresh` swaps it now
        with workload.answering():
            qvec = self.encoder.encode_queries([q.search_text])[0]
            return self._answer(index, raw, q, qvec, top_k, mode, threshold)

    def answer_batch(
        self,
        questions: Sequence[str],
        histories: Sequence[Sequence[str] | None] | None = None,
        top_k: int | Sequence[int] = 5,
        mode: Mode | str | Sequence[Mode | str] = Mode.HYBRID,
        threshold: float | Sequence[float | None] | None = None,
    ) -> list[Answer]:
        """`answer` for each of `questions`, with one encoder call for all of them.

        Why: a server with many users at once answers them in groups; the encoder is most of an
        answer's time and one call for the group costs less than one per question. Each result is
        what `answer(questions[i], histories[i], top_k[i], mode[i], threshold[i])` returns: the
        same sentence, span, refusal and citations (a vector computed beside others may differ in
        its last float digits, so a score may too). `top_k`, `mode` and `threshold` are one value
        for all or one per question. Every option is checked before anything is answered, so a
        bad one raises `SeedQAError` as `answer` would and no work is wasted; callers that need
        one error per question check or answer those singly.
        """
        n = len(questions)
        hists = [None] * n if histories is None else list(histories)
        modes = _each(mode, n, (str, Mode))
        tops = _each(top_k, n, (int, float, str))
        thresholds = _each(threshold, n, (int, float, str, type(None)))
        if len(hists) != n:
            raise ValueError(f"{len(hists)} histories for {n} questions")
        opts = [(Mode.parse(m), *self._options(k, t))
                for m, k, t in zip(modes, tops, thresholds, strict=True)]
        asked = [self._question(question, h) for question, h in zip(questions, hists, strict=True)]
        index = self.index  # one version for the whole group
        need = [i for i, (_raw, _q, early) in enumerate(asked) if early is None]
        out: list[Answer | None] = [early for _raw, _q, early in asked]
        with workload.answering():
            vecs = self.encoder.encode_queries([asked[i][1].search_text for i in need]) \
                if need else []
            for i, qvec in zip(need, vecs, strict=True):
                raw, q, _ = asked[i]
                m, k, t = opts[i]
                out[i] = self._answer(index, raw, q, qvec, k, m, t)
        return [a for a in out if a is not None]

    def _question(self, question: object, history: Sequence[str] | None):
        """(raw text, parsed question, early answer): the early answer, when not None, is the
        refusal for a question with no text or no words, which needs no vector."""
        raw = question if isinstance(question, str) else str(question or "")
        q = parse(raw, [h for h in (history or []) if isinstance(h, str)])
        if not q.text:
            return raw, q, Answer(raw, REFUSAL, True, 0.0, [], message=EMPTY_MESSAGE)
        if not re.search(r"\w", q.text):
            early = Answer(raw, REFUSAL, True, 0.0, [], qtype=q.qtype, message=NO_WORDS_MESSAGE)
            return raw, q, early
        return raw, q, None

    def _answer(self, index: Index, raw: str, q, qvec, top_k: int, mode: Mode,
                threshold: float) -> Answer:
        """Everything of `answer` after the encoder call, on one index version."""
        hits, cands, x = self._candidates(index, q, top_k, mode, qvec)
        citations = [self._citation(index, n, h) for n, h in enumerate(hits, start=1)]
        message = TRUNCATED_MESSAGE if q.truncated else ""
        if not cands:
            return Answer(raw, REFUSAL, True, 0.0, citations, qtype=q.qtype, message=message)
        best, conf = self.model.choose(x)
        if best is None or conf < threshold:
            return Answer(raw, REFUSAL, True, conf, citations, qtype=q.qtype, message=message)
        choice = cands[best]
        sentence = choice.text
        rule = (choice.span.start, choice.span.end) if choice.span is not None else None
        s, e = choose_span(sentence, q, rule)
        chunk = index.chunks[choice.chunk_id]
        sent = chunk.sentences[choice.sentence_index]
        return Answer(
            question=raw,
            answer=sentence,
            refused=False,
            confidence=conf,
            citations=citations,
            span=sentence[s:e],
            span_start=s,
            span_end=e,
            source=choice.rank + 1,
            qtype=q.qtype,
            message=message,
            location=chunk.location(sent.start, sent.end),
        )

    def _candidates(self, index: Index, q, top_k: int, mode: str, qvec=None):
        """The one encoder call of an answer (unless `qvec` is given), the ranked passages, and
        their candidate sentences with features; lexical mode ranks without the vector but still
        scores sentences by it."""
        if qvec is None:
            qvec = self.encoder.encode_queries([q.search_text])[0]
        tokens, lexical_weight = q.tokens, LEXICAL_WEIGHT
        if not q.chinese:
            found = _chinese_terms(index, q.text) if Mode.parse(mode) != Mode.DENSE else []
            tokens = [*q.tokens, *found]
            lexical_weight = LEXICAL_WEIGHT_TRANSLATED if found else LEXICAL_WEIGHT_FOREIGN
        hits = rank(index, qvec, tokens, mode, top_k, lexical_weight)
        cands, x = candidates_and_features(index, q, qvec, hits)
        return hits, cands, x

    def candidates(self, question: str, top_k: int = 5, mode: Mode | str = Mode.HYBRID):
        """(candidates, feature rows) for `question`, as `answer` sees them; None when the
        question has no words. Training (`qa.train`) labels these rows."""
        q = parse(question if isinstance(question, str) else str(question or ""))
        if not q.text or not re.search(r"\w", q.text):
            return None
        _hits, cands, x = self._candidates(self.index, q, top_k, mode)
        return cands, x

    def _options(self, top_k: object, threshold: object) -> tuple[int, float]:
        """`top_k` and `threshold` checked as one-line user errors.

        Why: the API and batch callers pass whatever they were sent; `int("x")` would escape as a
        ValueError (a traceback in the server log, an opaque error to the caller), and a NaN
        threshold would silently turn refusals off (`confidence < nan` is always false).
        """
        try:
            k = int(top_k)  # type: ignore[call-overload]
        except (TypeError, ValueError, OverflowError):
            raise SeedQAError(f"top_k must be a whole number, got {top_k!r}") from None
        if threshold is None:
            return max(1, min(k, MAX_TOP_K)), self.default_threshold
        try:
            t = float(threshold)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            t = math.nan
        if not math.isfinite(t):
            raise SeedQAError(f"threshold must be a number between 0 and 1, got {threshold!r}")
        return max(1, min(k, MAX_TOP_K)), t

    def _citation(self, index: Index, n: int, hit) -> Citation:
        c = index.chunks[hit.chunk_id]
        return Citation(
            n=n,
            doc=c.doc,
            title=c.title,
            line_start=c.line_start,
            line_end=c.line_end,
            text=c.text,
            score=hit.score,
            context=c.context,
            chunk_id=c.id,
            page=c.page,
            headings=c.headings,
            block=c.block,
        )


def _chinese_terms(index: Index, text: str) -> list[str]:
    """The index's Chinese words an English question names (none when its store cannot list
    its words)."""
    translator = translator_for(index.lexical)
    return translator.terms(text) if translator is not None else []


def _each(value: object, n: int, scalar: tuple[type, ...]) -> list:
    """`value` once per question: repeated when it is one value, else checked for length."""
    if isinstance(value, scalar) or not isinstance(value, Sequence):
        return [value] * n
    if len(value) != n:
        raise ValueError(f"{len(value)} option values for {n} questions")
    return list(value)
