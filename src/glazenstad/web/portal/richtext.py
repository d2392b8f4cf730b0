"""Safe rendering of Algoritmeregister rich-text fields.

The publication standard allows only div, br, p, ul, ol and li in its text fields. The register
loader accepts any text (a quality check reports other tags), so the portal must never trust it:
this sanitizer rebuilds the markup from scratch, keeping only those elements, dropping every
attribute, and escaping all text. Content of script-like elements is dropped completely; any other
unknown element is removed but its text is kept, so a stray <b> does not hide a sentence.
"""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser

from markupsafe import Markup

ALLOWED_TAGS = frozenset({"div", "br", "p", "ul", "ol", "li"})
# Elements whose content is code or not meant to be read: removed with everything inside.
_DROP_CONTENT = frozenset(
    {"script", "style", "template", "iframe", "object", "embed", "noscript", "textarea", "title"}
    | {"svg", "math", "head", "select", "option"}
)
# The markup we write ourselves: Utrecht component classes, never anything from the input.
_OPEN_TAG = {
    "div": "<div>",
    "p": '<p class="utrecht-paragraph">',
    "ul": '<ul class="utrecht-unordered-list">',
    "ol": '<ol class="utrecht-ordered-list">',
}
_LIST_ITEM = {
    "ul": '<li class="utrecht-unordered-list__item">',
    "ol": '<li class="utrecht-ordered-list__item">',
}


class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.skip_depth = 0
        self.saw_markup = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.saw_markup = True
        if tag in _DROP_CONTENT:
            self.skip_depth += 1
            return
        if self.skip_depth or tag not in ALLOWED_TAGS:
            return
        if tag == "br":
            self.out.append("<br>")
            return
        # As a browser would: a new list item ends the open one; a block ends an open paragraph.
        if self.open and (
            (tag == "li" and self.open[-1] == "li") or (tag != "li" and self.open[-1] == "p")
        ):
            self.out.append(f"</{self.open.pop()}>")
        if tag == "li":
            parent = next((t for t in reversed(self.open) if t in _LIST_ITEM), "ul")
            self.out.append(_LIST_ITEM[parent])
        else:
            self.out.append(_OPEN_TAG[tag])
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.saw_markup = True
        if tag == "br" and not self.skip_depth:
            self.out.append("<br>")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP_CONTENT:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if self.skip_depth or tag not in self.open:
            return
        # Close everything opened after it too, so the output is always well nested.
        while self.open:
            current = self.open.pop()
            self.out.append(f"</{current}>")
            if current == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            self.out.append(escape(data, quote=False))

    def finish(self) -> str:
        self.close()
        while self.open:
            self.out.append(f"</{self.open.pop()}>")
        return "".join(self.out)


def _plain_paragraphs(escaped: str) -> str:
    """Text without markup: blank lines make paragraphs, single line breaks stay breaks.

    Takes text that is already escaped, so inserting our own tags around it stays safe.
    """
    blocks = [b.strip() for b in escaped.replace("\r\n", "\n").split("\n\n")]
    return "".join(_OPEN_TAG["p"] + "<br>".join(b.split("\n")) + "</p>" for b in blocks if b)


def sanitize_rich_text(value: str | None) -> Markup:
    """HTML that is safe to put in a page: only the Algoritmeregister's elements, no attributes."""
    if not value:
        return Markup("")
    parser = _Sanitizer()
    parser.feed(value)
    cleaned = parser.finish()
    if not parser.saw_markup:
        return Markup(_plain_paragraphs(cleaned))
    return Markup(cleaned)
