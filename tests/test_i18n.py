"""Every user-facing string is in both catalogues, and language negotiation picks sensibly."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from server.i18n import SUPPORTED, load_catalogues, negotiate

ROOT = Path(__file__).resolve().parent.parent
METHODS = [
    ("server/**.py", "python"),
    ("events/**.py", "python"),
    ("web/templates/**.html", "jinja2"),
    ("web/static/js/**.js", "javascript"),
]


def source_messages() -> set[str | tuple[str, ...]]:
    skip = {".venv", ".git", "node_modules", "tests", "e2e", "bench", "docs"}
    found = extract_from_dir(
        ROOT,
        METHODS,
        keywords={**DEFAULT_KEYWORDS, "N_": None},
        directory_filter=lambda path: Path(path).name not in skip,
    )
    return {message for _, _, message, _, _ in found if message}


def catalogue(directory: str):
    with open(ROOT / "web" / "locale" / directory / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=directory)


@pytest.mark.parametrize("directory", sorted(SUPPORTED.values()))
def test_every_string_in_the_code_is_in_the_catalogue(directory: str) -> None:
    known = {m.id for m in catalogue(directory) if m.id}
    known |= {tuple(i) for i in known if isinstance(i, (list, tuple))}
    missing = {m for m in source_messages() if m not in known and (m[0] if isinstance(m, tuple) else m) not in known}
    assert not missing, f"run scripts/i18n and translate: {sorted(map(str, missing))}"


def test_every_chinese_entry_is_translated_and_not_fuzzy() -> None:
    untranslated = [
        m.id
        for m in catalogue("zh_CN")
        if m.id and (m.fuzzy or not (all(m.string) if isinstance(m.string, tuple) else m.string))
    ]
    assert not untranslated


def test_placeholders_survive_translation() -> None:
    for message in catalogue("zh_CN"):
        if not message.id:
            continue
        source = message.id if isinstance(message.id, str) else message.id[0]
        target = message.string if isinstance(message.string, str) else message.string[0]
        assert sorted(_placeholders(source)) == sorted(_placeholders(target)), source


def _placeholders(text: str) -> list[str]:
    import re

    return re.findall(r"%\(\w+\)[sd]", text)


def test_catalogues_load() -> None:
    catalogues = load_catalogues()
    assert set(catalogues) == set(SUPPORTED)
    assert catalogues["zh-CN"].translations.gettext("Events") == "活动"
    assert catalogues["en"].translations.gettext("Events") == "Events"


@pytest.mark.parametrize(
    "header, cookie, expected",
    [
        (None, None, "en"),
        ("zh-CN", None, "zh-CN"),
        ("zh-Hans-CN;q=0.9", None, "zh-CN"),
        ("en;q=0.2, zh;q=0.8", None, "zh-CN"),
        ("de, en;q=0.5", None, "en"),
        ("zh-CN", "en", "en"),
        ("en", "zh-CN", "zh-CN"),
        ("en", "evil", "en"),
        ("*", None, "en"),
        ("x" * 10_000, None, "en"),
    ],
)
def test_negotiate(header, cookie, expected) -> None:
    assert negotiate(header, cookie) == expected


HALF_WIDTH = ",.:;!?()"


def half_width_punctuation(text: str) -> list[str]:
    """Half-width , . : ; ! ? ( ) in a Chinese string, each with what surrounds it. A mark inside
    an ASCII run is left alone (1.5, 10:00, 100,000, a URL), as are placeholders' parentheses;
    any other one — between or beside Chinese characters, before a space, at the end — is the
    English mark where Chinese uses its full-width one (，。：；！？（）)."""
    import re

    keep = r"%\(\w+\)[sd]|%%|[A-Za-z][\w+.-]*://[\x21-\x7e]*[\w/]"  # placeholders and URLs
    masked = re.sub(keep, lambda m: "x" * len(m.group(0)), text)
    found = []
    for i, mark in enumerate(masked):
        if mark not in HALF_WIDTH:
            continue
        before, after = masked[i - 1 : i], masked[i + 1 : i + 2]
        if before.isascii() and before.isalnum() and after.isascii() and after.isalnum():
            continue
        found.append(text[max(0, i - 6) : i + 7])
    return found


@pytest.mark.parametrize(
    "text, faults",
    [
        ("活动已结束，报名已关闭。", 0),
        ("活动已结束,报名已关闭.", 2),
        ("姓名太长(最多 100 个字符)。", 2),
        ("实时:本页会自动更新", 1),
        ("各列分别是什么?", 1),
        ("%(name)s 修改了：%(fields)s", 0),
        ("此文件超过 100,000 行：每 1.5 秒，10:00 开始", 0),
        ("此文件不是文本：请另存为 CSV(UTF-8)后重试。", 1),
        ("打开 https://example.com/station 即可", 0),
    ],
)
def test_the_punctuation_rule_itself(text, faults) -> None:
    assert len(half_width_punctuation(text)) == faults


def test_chinese_strings_use_full_width_punctuation() -> None:
    wrong = {}
    for message in catalogue("zh_CN"):
        if not message.id:
            continue
        for text in (message.string,) if isinstance(message.string, str) else message.string:
            if any("\u4e00" <= c <= "\u9fff" for c in text) and half_width_punctuation(text):
                wrong[text] = half_width_punctuation(text)
    assert not wrong, f"use ，。：；！？（） in Chinese: {wrong}"


def test_no_template_puts_punctuation_outside_its_translation() -> None:
    """`{{ _("Seed") }}:` shows an English colon in Chinese too: the mark belongs in the msgid,
    where the catalogue gives Chinese its full-width one ("Seed:" → "种子：")."""
    import re

    outside = re.compile(r"\{\{\s*(?:_|ngettext)\((?:[^{}]|\{[^{}]*\})*\)\s*\}\}\s*[:;,!?]")
    templates = Path(__file__).resolve().parents[1] / "web" / "templates"
    found = [
        f"{path.relative_to(templates)}: {m.group(0)[-40:]}"
        for path in sorted(templates.rglob("*.html"))
        for m in outside.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not found, found
