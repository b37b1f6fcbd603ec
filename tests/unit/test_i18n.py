"""Internationalisation completeness: catalogues, placeholders, and a template lint.

* Every message the code and templates mark for translation (extracted afresh, in-process,
  with the same mapping and keywords as ``make extract-messages``) has a non-empty,
  non-fuzzy translation in both the zh_CN and the en catalogue, so adding a string without
  translating it fails here.
* Each translation keeps the msgid's placeholders (``%(n)s``, ``{min}`` …), else formatting
  raises or silently drops the value at run time.
* No template writes user-visible text outside a translation call: text between tags and
  the human-readable attributes (``placeholder``, ``title``, ``alt``, ``aria-label`` …).
* No Python code hands a bare string literal to the calls that show messages to users
  (``flash``, ``api_error``, the service errors, marshmallow ``error=``).
"""

from __future__ import annotations

import ast
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from jinja2 import Environment

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "hazwaste" / "translations"
TEMPLATES = ROOT / "templates"
LOCALES = ("zh_CN", "en")
# The same extra keywords as `make extract-messages` (-k _l -k N_ -k lazy_gettext).
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "N_": None, "lazy_gettext": None}

# Words a template may write literally, and why:
ALLOWED_WORDS = {
    "hazwaste",  # the product's brand name is the same in every language
    "中文",  # language switcher: each language is named in itself, so the
    "English",  # reader can find theirs whatever the page's current language is
    # SI unit symbols are international and used unchanged in Chinese technical text
    # (GB 3100/3102), e.g. "1,250.5 kg", "2.5 t", "±12 m".
    "kg",
    "t",
    "m",
}
# Attributes whose values a person reads (or a screen reader speaks).
TEXT_ATTRIBUTES = {
    "placeholder",
    "title",
    "alt",
    "aria-label",
    "aria-description",
    "aria-roledescription",
    "aria-placeholder",
    "aria-valuetext",
    "label",
}
BUTTON_INPUT_TYPES = {"submit", "button", "reset"}  # their ``value`` is the button's text


# --- catalogues -----------------------------------------------------------------------------


def extracted_messages() -> dict[tuple[str, str | None], tuple[str, ...]]:
    """Extract every marked message from the tree, keyed by (msgid, context)."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, "babel.cfg")
    found: dict[tuple[str, str | None], tuple[str, ...]] = {}
    for _filename, _lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        ids = (message,) if isinstance(message, str) else tuple(message)
        if ids[0]:
            found[(ids[0], context)] = ids
    return found


def po_path(locale: str) -> Path:
    """Flask-Babel looks for ``str(Locale.parse(code))``: zh_CN's catalogue is in zh_Hans_CN."""
    return TRANSLATIONS / str(Locale.parse(locale)) / "LC_MESSAGES" / "messages.po"


def load_catalogue(locale: str) -> Catalog:
    with po_path(locale).open("rb") as po:
        return read_po(po, locale=locale)


@pytest.fixture(scope="module")
def extracted() -> dict[tuple[str, str | None], tuple[str, ...]]:
    messages = extracted_messages()
    assert len(messages) > 100, "extraction found suspiciously few messages"
    return messages


@pytest.fixture(scope="module", params=LOCALES)
def catalogue(request: pytest.FixtureRequest) -> Catalog:
    return load_catalogue(request.param)


def _strings(message: Message) -> tuple[str, ...]:
    return tuple(message.string) if isinstance(message.string, list | tuple) else (message.string,)


def catalogue_gaps(
    extracted: dict[tuple[str, str | None], tuple[str, ...]], catalogue: Catalog
) -> dict[str, list[str]]:
    """Extracted msgids missing from ``catalogue``, untranslated, fuzzy or short of plurals."""
    gaps: dict[str, list[str]] = {"missing": [], "empty": [], "fuzzy": [], "plural": []}
    for (msgid, context), ids in sorted(extracted.items(), key=lambda item: item[0][0]):
        message = catalogue.get(msgid, context=context)
        if message is None:
            gaps["missing"].append(msgid)
            continue
        if message.fuzzy:
            gaps["fuzzy"].append(msgid)
        strings = _strings(message)
        if len(ids) > 1 and (not message.pluralizable or len(strings) != catalogue.num_plurals):
            gaps["plural"].append(msgid)
        if not all(s and s.strip() for s in strings):
            gaps["empty"].append(msgid)
    return {kind: ids for kind, ids in gaps.items() if ids}


def test_every_extracted_message_is_translated(extracted, catalogue: Catalog) -> None:
    gaps = catalogue_gaps(extracted, catalogue)
    assert not gaps, (
        f"{catalogue.locale_identifier}: run `make extract-messages`, then translate these in "
        f"both catalogues (scripts/translate_check.py --fill-en fills en): {gaps}"
    )


def test_gap_check_catches_new_fuzzy_and_plural_messages() -> None:
    catalogue = Catalog(locale="en")
    catalogue.add("Saved.", "Saved.")
    catalogue.add("Guessed", "Guessed", flags=["fuzzy"])
    catalogue.add(("%(num)s line", "%(num)s lines"), ("%(num)s line", ""))
    extracted = {
        ("Saved.", None): ("Saved.",),
        ("Guessed", None): ("Guessed",),
        ("%(num)s line", None): ("%(num)s line", "%(num)s lines"),
        ("A new string", None): ("A new string",),
    }
    assert catalogue_gaps(extracted, catalogue) == {
        "missing": ["A new string"],
        "empty": ["%(num)s line"],
        "fuzzy": ["Guessed"],
    }


def test_every_configured_language_has_a_catalogue() -> None:
    for locale in LOCALES:
        assert po_path(locale).is_file(), f"no catalogue where Flask-Babel looks for {locale}"


def test_zh_cn_catalogue_has_one_plural_form() -> None:
    assert load_catalogue("zh_CN").num_plurals == 1
    assert load_catalogue("en").num_plurals == 2


def test_zh_cn_translations_are_chinese(extracted) -> None:
    """A zh_CN msgstr left in English is as bad as a missing one (copy-pasted msgids)."""
    catalogue = load_catalogue("zh_CN")
    english = []
    for msgid, context in extracted:
        message = catalogue.get(msgid, context=context)
        if message is None:
            continue  # reported by the completeness test
        for string in _strings(message):
            if string and not re.search(r"[\u4e00-\u9fff]", string):
                english.append(msgid)
    assert not english, f"zh_CN msgstr without any Chinese: {english}"


PLACEHOLDER = re.compile(
    r"%\((?P<named>\w+)\)[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]"  # %(name)s
    r"|(?<!%)%[#0+-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]"  # %s, %d
    r"|\{(?P<brace>\w*)(?:![rsa])?(?::[^{}]*)?\}"  # {name}, {0}, {name:>3}
)


def placeholders(text: str) -> Counter[str]:
    return Counter(m.group(0) for m in PLACEHOLDER.finditer(text.replace("%%", "")))


def test_placeholder_pattern() -> None:
    assert placeholders("At most %(n)s characters, %s and {min}–{max}") == Counter(
        {"%(n)s": 1, "%s": 1, "{min}": 1, "{max}": 1}
    )
    assert placeholders("100%% sure") == Counter()


def test_translations_keep_placeholders(catalogue: Catalog) -> None:
    wrong = []
    for message in catalogue:
        if not message.id:
            continue
        ids = (message.id,) if isinstance(message.id, str) else tuple(message.id)
        for index, string in enumerate(_strings(message)):
            if not string:
                continue
            if len(ids) == 1:
                expected = placeholders(ids[0])
            elif catalogue.num_plurals == 1:
                # One form serves every count: it must carry the plural msgid's placeholders.
                expected = placeholders(ids[1])
            else:
                expected = placeholders(ids[min(index, 1)])
            if placeholders(string) != expected:
                wrong.append((ids[0], string))
    assert not wrong, f"{catalogue.locale_identifier}: placeholders differ from the msgid: {wrong}"


# --- template lint --------------------------------------------------------------------------

MARK = "\x00"  # stands for any Jinja tag or expression in the reassembled template text


@dataclass(frozen=True)
class Finding:
    template: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.template}:{self.line}: {self.text!r}"


def _is_letter(ch: str) -> bool:
    return unicodedata.category(ch).startswith("L")


def literal_words(text: str) -> list[str]:
    """Words (runs of letters, any script) left after removing everything that is not text.

    Tag markers, whitespace, punctuation, symbols and digits all separate words; the
    allowlisted words are dropped.
    """
    cleaned = "".join(ch if _is_letter(ch) else " " for ch in text)
    return [word for word in cleaned.split() if word not in ALLOWED_WORDS]


# A ``{% block %}`` opened inside an HTML tag, e.g. ``<main class="{% block main_class %}">``.
_BLOCK_IN_TAG = re.compile(r"<[A-Za-z][^<>]*?\{%-?\s*block\s+(\w+)")


def attribute_blocks(sources: list[str]) -> frozenset[str]:
    """Names of blocks the parent templates place inside a tag (attribute values, not text).

    A child template's ``{% block main_class %}narrow{% endblock %}`` fills a class
    attribute; without this its content would look like stray text.
    """
    return frozenset(name for source in sources for name in _BLOCK_IN_TAG.findall(source))


def _mask_jinja(source: str, env: Environment, skip_blocks: frozenset[str]) -> str:
    """The template with every Jinja construct replaced by MARK, keeping the line breaks.

    What ``{% trans %}…{% endtrans %}`` encloses is translated, and what a block in
    ``skip_blocks`` encloses is an attribute value, so both are masked as well.
    """
    parts: list[str] = []
    in_trans = False
    blocks: list[str] = []
    tag: list[str] = []  # names inside the current {% … %}
    for _lineno, token, value in env.lex(source):
        if token == "block_begin":
            tag = []
        elif token == "name":
            tag.append(value)
        elif token == "block_end" and tag:
            if tag[0] in ("trans", "pluralize"):
                in_trans = True
            elif tag[0] == "endtrans":
                in_trans = False
            elif tag[0] == "block" and len(tag) > 1:
                blocks.append(tag[1])
            elif tag[0] == "endblock" and blocks:
                blocks.pop()
        if token == "data" and not in_trans and not skip_blocks.intersection(blocks):
            parts.append(value)
        else:
            newlines = value.count("\n") if isinstance(value, str) else 0
            parts.append(MARK + "\n" * newlines)
    return "".join(parts)


class _TextCollector(HTMLParser):
    """Collects the text nodes and the human-readable attribute values of an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._skip_depth = 0  # inside <script>/<style>: code, not prose

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line = self.getpos()[0]
        attributes = {name.lower(): value or "" for name, value in attrs}
        for name, value in attributes.items():
            if name in TEXT_ATTRIBUTES:
                self.found.append((line, value))
        if tag == "input" and attributes.get("type", "").lower() in BUTTON_INPUT_TYPES:
            self.found.append((line, attributes.get("value", "")))
        if tag in ("script", "style"):
            self._skip_depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in ("script", "style"):
            self._skip_depth -= 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip_depth:
            self._skip_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            # Report the line of the first letter, not where the preceding tag ended.
            first = next((i for i, ch in enumerate(data) if _is_letter(ch)), 0)
            self.found.append((self.getpos()[0] + data[:first].count("\n"), data))


def lint_template(
    source: str, name: str = "<string>", skip_blocks: frozenset[str] = frozenset()
) -> list[Finding]:
    """Return the literal, untranslated text a template would show.

    Jinja's lexer separates template data from tags and expressions; the data is parsed as
    HTML, and any text node or readable attribute that still contains letters outside the
    allowlist is a finding.
    """
    env = Environment(extensions=["jinja2.ext.i18n"])
    collector = _TextCollector()
    collector.feed(_mask_jinja(source, env, skip_blocks))
    collector.close()
    return [
        Finding(name, line, " ".join(words))
        for line, text in collector.found
        if (words := literal_words(text))
    ]


def template_files() -> Iterator[Path]:
    yield from sorted(TEMPLATES.rglob("*.html"))


def test_lint_flags_plain_text() -> None:
    findings = lint_template("{% block content %}\n<p>Hello</p>\n{% endblock %}", "t.html")
    assert [(f.line, f.text) for f in findings] == [(2, "Hello")]


@pytest.mark.parametrize(
    "snippet",
    [
        "<p>你好</p>",
        "<p>{{ _('Name') }}: Name</p>",
        '<input placeholder="Search">',
        '<img src="x.png" alt="Logo">',
        '<a href="/" title="Home">{{ _("Home") }}</a>',
        '<nav aria-label="Pages"></nav>',
        '<input type="submit" value="Send">',
        "<p>Total &amp; more</p>",
        "{% if x %}Yes{% else %}{{ _('No') }}{% endif %}",
    ],
)
def test_lint_flags_untranslated_snippets(snippet: str) -> None:
    assert lint_template(snippet), snippet


@pytest.mark.parametrize(
    "snippet",
    [
        "<p>{{ _('Hello') }}</p>",
        "<p>{{ _('Page %(page)s of %(pages)s', page=1, pages=2) }}</p>",
        '<input placeholder="{{ _(\'Search\') }}" type="search" name="q" value="{{ q }}">',
        '<nav aria-label="{{ _(\'Pages\') }}">‹ {{ _("Previous") }} · 1/2 →</nav>',
        "{% trans %}Hello {{ name }}{% endtrans %}",
        "<p>{{ row.code }} ({{ row.hazard_raw }}) — 42 &nbsp; *</p>",
        "{# A comment says why, in English #}<br>",
        '<div class="field has-error" id="f-name" data-x="abc"></div>',
        '<input type="text" value="{{ v }}" name="email" autocomplete="username">',
        "<script>const label = 'x';</script><style>p { color: red; }</style>",
        "<title>{{ _('Overview') }} · hazwaste</title><a>中文</a><a>English</a>",
    ],
)
def test_lint_accepts_translated_or_textless_snippets(snippet: str) -> None:
    assert lint_template(snippet) == [], snippet


def test_blocks_inside_tags_are_attribute_values() -> None:
    base = '<body class="{% block body_class %}{% endblock %}">{% block content %}{% endblock %}'
    skip = attribute_blocks([base])
    assert skip == {"body_class"}
    child = '{% extends "base.html" %}{% block body_class %}narrow{% endblock %}'
    assert lint_template(child, skip_blocks=skip) == []
    assert lint_template(child + "{% block content %}Oops{% endblock %}", skip_blocks=skip)


def test_lint_reports_line_numbers_through_jinja_tags() -> None:
    source = "{% if a %}\n{{ x }}\n{% endif %}\n<p>\n  Stray text\n</p>"
    assert [(f.line, f.text) for f in lint_template(source)] == [(5, "Stray text")]


def test_templates_have_no_untranslated_text() -> None:
    sources = {path: path.read_text(encoding="utf-8") for path in template_files()}
    assert sources, "no templates found"
    skip = attribute_blocks(list(sources.values()))
    findings = [
        finding
        for path, source in sources.items()
        for finding in lint_template(source, str(path.relative_to(ROOT)), skip)
    ]
    assert not findings, "wrap these in {{ _(...) }}:\n" + "\n".join(map(str, findings))


# --- Python lint ----------------------------------------------------------------------------

# Calls whose message reaches a user, with the positions/keywords of message and field maps.
MESSAGE_ARGS: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    "flash": ((0,), ("message",)),
    "api_error": ((1, 2), ("message", "fields")),
    "error_page": ((1,), ("message",)),
    "_respond": ((1,), ("message",)),
    "ServiceError": ((0, 1), ("message", "fields")),
    "Invalid": ((0, 1), ("message", "fields")),
    "NotFound": ((0, 1), ("message", "fields")),
    "Forbidden": ((0, 1), ("message", "fields")),
    "Conflict": ((0, 1), ("message", "fields")),
    "ValidationError": ((0,), ("message",)),
}
ANY_CALL_KEYWORDS = ("error",)  # marshmallow validators: validate.Range(..., error=...)


def _literal_texts(node: ast.AST) -> Iterator[ast.AST]:
    """String literals (plain or f-strings) with letters, also inside dicts/lists/tuples."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        if literal_words(node.value):
            yield node
    elif isinstance(node, ast.JoinedStr):
        yield node
    elif isinstance(node, ast.Dict):
        for value in node.values:
            yield from _literal_texts(value)
    elif isinstance(node, ast.List | ast.Tuple | ast.Set):
        for element in node.elts:
            yield from _literal_texts(element)
    elif isinstance(node, ast.BinOp):  # "Saved " + name
        yield from _literal_texts(node.left)
        yield from _literal_texts(node.right)


def lint_python(source: str, name: str = "<string>") -> list[Finding]:
    """Return string literals passed, untranslated, where a user would read them."""
    findings = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        positions, keywords = MESSAGE_ARGS.get(called, ((), ()))
        candidates = [node.args[i] for i in positions if i < len(node.args)]
        candidates += [
            kw.value for kw in node.keywords if kw.arg in keywords or kw.arg in ANY_CALL_KEYWORDS
        ]
        for candidate in candidates:
            for literal in _literal_texts(candidate):
                text = ast.get_source_segment(source, literal) or ""
                findings.append(Finding(name, literal.lineno, text))
    return findings


@pytest.mark.parametrize(
    "snippet",
    [
        'flash("Saved.")',
        'flash(f"User {email} created.")',
        'raise Invalid("Bad input.", {"uscc": [msg]})',
        'raise Invalid(msg, {"uscc": ["Not valid."]})',
        'return api_error(401, "Wrong password.")',
        'return api_error(422, msg, fields={"x": ["Too long."]})',
        'raise Forbidden(message="No.")',
        'validate.Range(min=0, error="Too small.")',
        'raise ValidationError("Wrong " + name)',
    ],
)
def test_python_lint_flags_literal_messages(snippet: str) -> None:
    assert lint_python(snippet), snippet


@pytest.mark.parametrize(
    "snippet",
    [
        'flash(_("Saved."))',
        'flash(str(message), "error")',
        'flash(_("User %(email)s created.", email=email), "success")',
        'raise Invalid(msg, {"uscc": [msg]})',
        "raise NotFound()",
        'api_error(401, code="unauthorized")',
        'validate.Range(min=0, error=N_("Too small."))',
        'raise ValidationError(N_("Wrong."))',
        'raise Invalid(_("Bad."), {"Idempotency-Key": [_("Used.")]})',
    ],
)
def test_python_lint_accepts_translated_messages(snippet: str) -> None:
    assert lint_python(snippet) == [], snippet


def test_python_code_has_no_untranslated_messages() -> None:
    package = ROOT / "hazwaste"
    findings = [
        finding
        for path in sorted(package.rglob("*.py"))
        for finding in lint_python(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert not findings, "wrap these in _() (or N_() where the message is translated later):\n" + (
        "\n".join(map(str, findings))
    )
