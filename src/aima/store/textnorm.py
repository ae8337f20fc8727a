"""Words as the full-text index sees them: per-language stemming and English spelling variants.

Stemming is per language, because a stemmer is: English rules turn "costs" into
"cost" but would mangle German. A segment's ``language`` picks the rules
(:data:`LANGUAGES`); anything else is indexed unstemmed (``simple``).

British and American spellings ("harbour"/"harbor", "colour"/"color",
"organise"/"organize", "centre"/"center", "travelled"/"traveled", "defence"/"defense")
are not stemming: no stemmer maps one onto the other. :func:`american` is a small,
rule-based normaliser applied to English words on *both* sides -- the indexed text
and the query -- so either spelling finds the other. Its rules are word lists plus
suffix patterns, deliberately conservative: a word it does not know stays as it is
(at worst a variant is not found; it never makes two different words equal unless
they differ only by the spelling convention).

On SQLite the stems are computed here (``snowballstemmer``, pure Python) and stored
as tokens tagged with their language (``en`` + ``cost`` = ``encost``), so a German
stem never matches an English one. PostgreSQL stems with its own text search
configurations (same Snowball algorithms) and only gets the spelling-normalised text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer  # type: ignore[import-untyped]

# ISO 639-1 code -> Snowball algorithm / PostgreSQL text search configuration.
LANGUAGES: dict[str, str] = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
    "nl": "dutch",
}
SIMPLE = "xx"  # the tag of unstemmed text (unknown or unsupported language)
WORD = re.compile(r"[^\W_]+")  # runs of letters and digits, like FTS5's unicode61 tokens


def _split(words: str) -> tuple[str, ...]:
    return tuple(words.split())


# -our / -or: the roots that take either spelling (not "four", "hour", "your", "tour"...).
_OUR_ROOTS = _split(
    "arbour ardour armour behaviour candour clamour colour demeanour endeavour favour "
    "fervour flavour harbour honour humour labour neighbour odour parlour rancour rigour "
    "rumour saviour savour splendour succour tumour valour vapour vigour"
)
# -re / -er
_RE_ROOTS = _split(
    "centre theatre metre litre fibre calibre sabre sombre spectre lustre meagre ochre "
    "sceptre mitre goitre saltpetre reconnoitre"
)
# -lled / -lling / -ller with a single l in American spelling (not "compelled", "controlled").
_LL_BASES = _split(
    "travel cancel label model level signal fuel channel marshal counsel jewel quarrel rival "
    "tunnel total dial equal funnel initial panel pencil shovel snorkel swivel towel unravel "
    "marvel grovel revel bevel chisel duel enamel gravel yodel"
)
# -ise words that are not -ize variants ("exercise", "surprise", "advise", ...).
_ISE_KEEP = frozenset(
    _split(
        "advertise advise appraise apprise arise braise bruise chastise circumcise comprise "
        "compromise concise cruise demise despise devise disguise enterprise excise exercise "
        "expertise franchise guise improvise incise merchandise noise otherwise likewise "
        "clockwise paradise poise porpoise praise precise premise promise raise reprise revise "
        "rise supervise surmise surprise televise tortoise treatise turquoise valise wise"
    )
)
# Whole words (every form listed).
_WORDS = {
    "defence": "defense",
    "defences": "defenses",
    "offence": "offense",
    "offences": "offenses",
    "licence": "license",
    "licences": "licenses",
    "practise": "practice",
    "practised": "practiced",
    "practising": "practicing",
    "grey": "gray",
    "greyer": "grayer",
    "tyre": "tire",
    "tyres": "tires",
    "aluminium": "aluminum",
    "programme": "program",
    "programmes": "programs",
    "cheque": "check",
    "cheques": "checks",
    "plough": "plow",
    "ploughs": "plows",
    "mould": "mold",
    "moulds": "molds",
    "ageing": "aging",
    "sceptic": "skeptic",
    "sceptical": "skeptical",
    "manoeuvre": "maneuver",
    "manoeuvres": "maneuvers",
    "catalogue": "catalog",
    "catalogues": "catalogs",
    "analogue": "analog",
    "jewellery": "jewelry",
    "pyjamas": "pajamas",
    "kerb": "curb",
    "storey": "story",
    "storeys": "stories",
}
_ISE = re.compile(r"^(?P<base>[a-z]{3,})is(?P<end>e|es|ed|ing|er|ers|ation|ations)$")
_YSE = re.compile(
    r"^(?P<base>[a-z]*(?:anal|paral|catal|dial|electrol|hydrol))ys(?P<end>e|es|ed|ing)$"
)
_LL = re.compile(r"^(?P<base>[a-z]+l)l(?P<end>ed|ing|er|ers|ation)$")


def american(word: str) -> str:
    """The American spelling of a lower-case English word (the word itself when unknown)."""
    if word in _WORDS:
        return _WORDS[word]
    for root in _OUR_ROOTS:
        if word.startswith(root):
            return root[:-2] + "r" + word[len(root) :]
    for root in _RE_ROOTS:  # also compounds: "kilometres", "amphitheatre"
        base = root[:-2]  # "centre" -> "cent"
        for brit, amer in (("re", "er"), ("res", "ers"), ("red", "ered"), ("ring", "ering")):
            if word.endswith(base + brit):
                return word[: len(word) - len(brit)] + amer
    match = _LL.match(word)
    if match and match["base"] in _LL_BASES:
        return match["base"] + match["end"]
    match = _ISE.match(word)
    if match and match["base"] + "ise" not in _ISE_KEEP:
        return match["base"] + "iz" + match["end"]
    match = _YSE.match(word)
    if match:
        return match["base"] + "yz" + match["end"]
    return word


def language_tag(language: str | None) -> str:
    """``en`` for "en"/"EN"/"en-GB"; :data:`SIMPLE` for unknown or unsupported languages."""
    key = (language or "").strip().lower().split("-")[0].split("_")[0]
    return key if key in LANGUAGES else SIMPLE


def fold(word: str) -> str:
    """Lower case without diacritics (``Straße`` -> ``strasse``, ``München`` -> ``munchen``).

    Folding before stemming keeps matching accent-insensitive: a word typed without
    its accents stems exactly like the accented one.
    """
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=16)
def _stemmer(tag: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer(LANGUAGES[tag])


@lru_cache(maxsize=65_536)
def stem(word: str, tag: str) -> str:
    """One word's index token for a language tag: folded, Americanised (en), stemmed."""
    folded = fold(word)
    if tag == SIMPLE:
        return folded
    if tag == "en":
        folded = american(folded)
    return str(_stemmer(tag).stemWord(folded))


def tokens(text: str, tag: str) -> list[str]:
    """The tagged stems of a text, in order (positions kept, so phrases still match)."""
    return [tag + stem(w, tag) for w in WORD.findall(text)]


def sqlite_index_text(text: str, language: str | None) -> str:
    """What SQLite's stemmed FTS5 table indexes for a segment."""
    return " ".join(tokens(text, language_tag(language)))


def postgres_index_text(text: str, language: str | None) -> str:
    """What PostgreSQL's tsvector reads: English text with American spellings; others as is."""
    if language_tag(language) != "en":
        return text

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        lower = word.lower()
        american_word = american(lower)
        return word if american_word == lower else american_word

    return WORD.sub(swap, text)
