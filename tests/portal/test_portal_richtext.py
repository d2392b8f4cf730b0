"""Algoritmeregister rich text: only div, br, p, ul, ol and li survive, never attributes."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from glazenstad.web.portal.richtext import sanitize_rich_text


def test_allowed_elements_are_kept_with_our_own_classes_only() -> None:
    html = sanitize_rich_text(
        '<p class="x" style="color:red">Doel</p><ul id="l"><li>een</li><li>twee</li></ul>'
        "<ol><li>drie</li></ol><div>blok<br>regel<br/>nog</div>"
    )
    assert isinstance(html, Markup)
    assert html == (
        '<p class="utrecht-paragraph">Doel</p>'
        '<ul class="utrecht-unordered-list"><li class="utrecht-unordered-list__item">een</li>'
        '<li class="utrecht-unordered-list__item">twee</li></ul>'
        '<ol class="utrecht-ordered-list"><li class="utrecht-ordered-list__item">drie</li></ol>'
        "<div>blok<br>regel<br>nog</div>"
    )


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        "<SCRIPT>alert(1)</SCRIPT>",
        '<img src="x" onerror="alert(1)">',
        '<p onclick="alert(1)">tekst</p>',
        '<a href="javascript:alert(1)">klik</a>',
        "<style>body{display:none}</style>",
        '<iframe src="https://evil.example"></iframe>',
        "<svg><script>alert(1)</script></svg>",
        "<scr<script>ipt>alert(1)</script>",
        '<p style="background:url(https://evil.example/x)">x</p>',
        "<!-- <script>alert(1)</script> -->",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        '<div title="&quot;><script>alert(1)</script>">x</div>',
        "<script>alert(1)",
    ],
)
def test_nothing_executable_survives(hostile: str) -> None:
    html = str(sanitize_rich_text(hostile)).lower()
    assert "<script" not in html
    assert "<img" not in html
    assert "<a " not in html
    assert "<iframe" not in html
    assert "<style" not in html
    assert "<svg" not in html
    for attribute in ("onerror", "onclick", "href", "src", "style=", "title="):
        assert attribute not in html


def test_unknown_elements_are_removed_but_their_text_stays() -> None:
    html = sanitize_rich_text('<p>Een <b>vet</b> en <a href="https://x.example">link</a>.</p>')
    assert html == '<p class="utrecht-paragraph">Een vet en link.</p>'


def test_script_content_is_dropped_entirely() -> None:
    assert sanitize_rich_text("<p>a</p><script>geheim()</script><p>b</p>") == (
        '<p class="utrecht-paragraph">a</p><p class="utrecht-paragraph">b</p>'
    )


def test_text_is_escaped_and_entities_decoded_once() -> None:
    html = sanitize_rich_text("<p>R&amp;D &lt;b&gt; 5 &gt; 3</p>")
    assert html == '<p class="utrecht-paragraph">R&amp;D &lt;b&gt; 5 &gt; 3</p>'


def test_unbalanced_markup_is_closed() -> None:
    assert sanitize_rich_text("<ul><li>een<li>twee") == (
        '<ul class="utrecht-unordered-list"><li class="utrecht-unordered-list__item">een'
        '</li><li class="utrecht-unordered-list__item">twee</li></ul>'
    )
    assert sanitize_rich_text("<p>een<p>twee<ul><li>x</ul>") == (
        '<p class="utrecht-paragraph">een</p><p class="utrecht-paragraph">twee</p>'
        '<ul class="utrecht-unordered-list"><li class="utrecht-unordered-list__item">x</li></ul>'
    )
    assert sanitize_rich_text("<p>open</div>") == '<p class="utrecht-paragraph">open</p>'


def test_plain_text_becomes_paragraphs() -> None:
    assert sanitize_rich_text("Eerste regel\ntweede regel\n\nNieuwe alinea & meer") == (
        '<p class="utrecht-paragraph">Eerste regel<br>tweede regel</p>'
        '<p class="utrecht-paragraph">Nieuwe alinea &amp; meer</p>'
    )


def test_empty_is_empty_markup() -> None:
    assert sanitize_rich_text(None) == Markup("")
    assert sanitize_rich_text("") == Markup("")
