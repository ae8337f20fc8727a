"""Which language an OCR line is in: a tiny stop-word / letter-sequence / diacritic scorer.

Why a hand-written scorer: a line on screen is 2-10 words, far too short for a statistical
language identifier to be reliable, and the heavy ones (fastText, CLD3) are not in the
environment. What decides a short line is (a) the function words, (b) the accented letters
only some languages use (ß, ñ, ã, œ, ì, ë ...), (c) a few letter sequences typical of one
language (``sch``, ``ij``, ``ção``, ``gli``). Each gives evidence; a word or letter that
several configured languages share splits its weight between them, so "de" (German article?
Spanish, French, Portuguese, Dutch preposition) is weak evidence for five languages.

Two uses:

* ``rank`` on PP-OCR's reading, whose alphabet has almost no diacritics: mostly the
  folded function words and letter sequences count (see ``evidence``). It picks which
  Tesseract languages re-read the line crop (``ocr`` config ``language_candidates``,
  ``language_evidence_min``).
* ``decide`` once the candidate languages have read the crop: the reading the models
  agree on (``reference_text``) is the reference text; each candidate scores
  ``evidence(reference) + CONF_WEIGHT * its own Tesseract confidence`` plus ``PRIOR`` for
  the first configured language (ties go to it, so "AIMA TEST 42" stays ``en``). The
  winner's share of ``exp(score)`` over the candidates is ``language_confidence``: a
  relative score, not a measured probability.

Calibration (``python -m benchmarks.ocr_bench --calibrate [--short]``; sentences, fonts and
sizes other than the tests'; 2 fonts x 4 sizes x 2 polarities x 7 languages = 112 lines):
on sentences with function words every setting tags 112/112 and k=2 already holds the
true language for every line. On short signs ("Pâtisserie fraîche", "Uitgang Zeeën")
PP-OCR's text ranks the true language into the top 2 for only 67/112 lines, hence
``language_evidence_min`` 1.0 (weaker lines are read in every language: 6.3 reads per
line there, 2.2 on sentences): tags 110/112, CER 0.10 % with CONF_WEIGHT 1 and PRIOR
0.25 (weight 0: 96/112; 2: 109; 4 and 8: 108; PRIOR 1: 97; all 7 languages for every
line: 100/112, because the top-2 choice keeps confusable languages out). Letter-sequence
weight 0.3 was set by hand and not tuned.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

CONF_WEIGHT = 1.0  # a Tesseract confidence of 1.0 weighs as much as one function word
PRIOR = 0.25  # bonus of the first configured language: decides lines without evidence
NGRAM_WEIGHT = 0.3
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_SHARP_S_AS_B = re.compile(r"(?<=[a-zäöü])B(?=[a-zäöü])")

_STOP_WORDS: dict[str, str] = {
    "en": "the and of to in is are was for on with at by this that from be it not or you we "
    "your our all will have has an please welcome today",
    "de": "der die das und ist nicht mit ein eine einer für auf ich sie wir von zu den dem des "
    "im in auch sich oder aber wie bei nach aus noch nur über unter wird sind werden heute bitte "
    "uhr straße",
    "fr": "le la les des du un une et est à au aux pour dans sur avec ce cette qui que ne pas "
    "nous vous il elle sont par plus en de où très",
    "es": "el la los las de del y en es un una que por para con no se su al lo como más pero "
    "muy está son hay año",
    "it": "il lo la gli le di del della e è che non un una per con sono si da in al alla ma più "
    "come anche perché così",
    "pt": "o os a as de do da dos das e é em no na um uma que não para com por se ao mais como "
    "mas são está você ele ela",
    "nl": "de het een en van is in op te dat die niet met voor zijn er maar ook aan bij naar wij "
    "we ik je u uit om nog geen dan",
}
# Letter sequences (folded: no diacritics, lower case) far more frequent in one language.
_NGRAMS: dict[str, tuple[str, ...]] = {
    "en": ("th", "wh", "ing", "ght", "ea"),
    "de": ("sch", "ei", "ung", "cht", "tz", "pf"),
    "fr": ("eau", "oi", "qu", "tion", "eux", "ou"),
    "es": ("cion", "ll", "ue", "ia"),
    "it": ("zz", "gli", "cch", "zion", "ggi", "tt"),
    "pt": ("cao", "coes", "nh", "lh", "ao"),
    "nl": ("ij", "oe", "aa", "ee", "uu", "oo"),
}
# Accented letters each language writes (lower case); others count against it.
_ALPHABET: dict[str, str] = {
    "en": "",
    "de": "äöüß",
    "fr": "àâæçéèêëîïôœùûüÿ",
    "es": "áéíñóúü",
    "it": "àèéìíîòóù",
    "pt": "áâãàçéêíóôõú",
    "nl": "áéíóúèëïöü",
}
KNOWN = frozenset(_STOP_WORDS)


def fold_word(word: str) -> str:
    """Lower case without diacritics (what PP-OCR's alphabet can write)."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _folded_stop_words() -> dict[str, frozenset[str]]:
    return {
        lang: frozenset(fold_word(w) for w in words.split()) for lang, words in _STOP_WORDS.items()
    }


_FOLDED_STOPS = _folded_stop_words()


def _shared(langs: Sequence[str], has: Mapping[str, bool]) -> float:
    """Weight of one piece of evidence that ``sum(has)`` configured languages share."""
    owners = sum(1 for lang in langs if has[lang])
    return 1.0 / owners if owners else 0.0


def evidence(text: str, langs: Sequence[str], *, ppocr: bool = False) -> dict[str, float]:
    """Evidence per configured language (known to the scorer) that ``text`` is in it.

    ``ppocr=True`` for PP-OCR readings: its alphabet has only a few accented letters and it
    puts them in the wrong places (``é`` for ``è``, ``ä`` for ``à``), so they count half and
    never against a language; a capital ``B`` between lower-case letters is how it writes
    ``ß`` ("StraBe"), which counts for German.
    """
    langs = [lang for lang in langs if lang in KNOWN]
    scores = dict.fromkeys(langs, 0.0)
    words = [fold_word(w) for w in _WORD.findall(text)]
    for word in words:
        has = {lang: word in _FOLDED_STOPS[lang] for lang in langs}
        weight = _shared(langs, has)
        for lang in langs:
            if has[lang]:
                scores[lang] += weight
    folded = " ".join(words)
    for lang in langs:
        hits = sum(folded.count(gram) for gram in _NGRAMS[lang])
        scores[lang] += NGRAM_WEIGHT * hits / max(1, len(words))
    if ppocr and "de" in scores:
        scores["de"] += len(_SHARP_S_AS_B.findall(text))
    for ch in text.casefold():
        if not ch.isalpha() or ord(ch) < 0x80:
            continue
        has = {lang: ch in _ALPHABET[lang] for lang in langs}
        weight = _shared(langs, has) * (0.5 if ppocr else 1.0)
        for lang in langs:
            if has[lang]:
                scores[lang] += weight
            elif not ppocr:
                scores[lang] -= 1.0
    return scores


def rank(text: str, langs: Sequence[str], *, ppocr: bool = True) -> tuple[list[str], float]:
    """Configured languages, most likely first, and the evidence of the first (prior left out).

    Ties go to the configured order, so without evidence the first configured language
    leads; languages the scorer does not know come last.
    """
    scores = evidence(text, langs, ppocr=ppocr)
    order = {lang: i for i, lang in enumerate(langs)}
    known = sorted(scores, key=lambda lang: (-_with_prior(scores, lang, langs), order[lang]))
    top = scores[known[0]] if known else 0.0
    return known + [lang for lang in langs if lang not in scores], top


def _with_prior(scores: Mapping[str, float], lang: str, langs: Sequence[str]) -> float:
    return scores[lang] + (PRIOR if langs and lang == langs[0] else 0.0)


@dataclass(frozen=True, slots=True)
class LanguageChoice:
    language: str
    confidence: float  # the winner's softmax share among the languages compared


def _softmax_share(scores: Mapping[str, float], winner: str) -> float:
    top = max(scores.values())
    total = sum(math.exp(s - top) for s in scores.values())
    return math.exp(scores[winner] - top) / total


def guess(text: str, langs: Sequence[str], *, ppocr: bool = False) -> LanguageChoice:
    """Language of a finished line from its text alone (no engine confidences)."""
    if not langs:
        raise ValueError("no languages configured")
    scores = evidence(text, langs, ppocr=ppocr)
    if not scores:  # only languages the scorer does not know (e.g. zh): the first one
        return LanguageChoice(langs[0], 1.0)
    total = {lang: _with_prior(scores, lang, langs) for lang in scores}
    winner = max(total, key=lambda lang: (total[lang], -langs.index(lang)))
    return LanguageChoice(winner, round(_softmax_share(total, winner), 4))


def reference_text(readings: Mapping[str, tuple[str, float]], order: Mapping[str, int]) -> str:
    """The reading most models agree on, each model voting with its confidence.

    Why not simply the most confident reading: the English model cannot write "â" and
    reads "Patisserie" as confidently (0.97) as the French model reads "Pâtisserie" (0.96);
    but French, Dutch and Italian all write the "â", so the accented text gathers the
    larger vote. Ties: the most confident single reading, then configured order.
    """
    votes: dict[str, float] = {}
    for text, conf in readings.values():
        key = " ".join(text.split())
        votes[key] = votes.get(key, 0.0) + conf

    def rank_key(lang: str) -> tuple[float, float, int]:
        text, conf = readings[lang]
        return votes[" ".join(text.split())], conf, -order.get(lang, 99)

    return readings[max(readings, key=rank_key)][0]


def decide(
    readings: Mapping[str, tuple[str, float]],
    langs: Sequence[str],
    *,
    conf_weight: float = CONF_WEIGHT,
    prior: float = PRIOR,
) -> LanguageChoice | None:
    """The language of a line re-read by Tesseract in each candidate language.

    ``readings``: candidate language -> (text, Tesseract confidence in [0, 1]). ``None``
    when no candidate read anything. ``conf_weight`` and ``prior`` are parameters only so
    the benchmark can calibrate them.
    """
    usable = {lang: r for lang, r in readings.items() if r[0].strip()}
    if not usable:
        return None
    order = {lang: i for i, lang in enumerate(langs)}
    scores = evidence(reference_text(usable, order), langs)
    total: dict[str, float] = {}
    for lang, (_, conf) in usable.items():
        base = scores.get(lang, 0.0) + (prior if langs and lang == langs[0] else 0.0)
        total[lang] = base + conf_weight * conf
    winner = max(total, key=lambda lang: (total[lang], -order.get(lang, 99)))
    return LanguageChoice(winner, round(_softmax_share(total, winner), 4))
