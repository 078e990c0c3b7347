"""How seeds are displayed, without a browser: code pasted without fences is fenced
(annotation.rendering.fence_unfenced_code) and prose is left alone, on seeds taken from the
seed pools (Arena-Hard-Auto, InfiBench); every rendered <pre> is keyboard-focusable while nh3
stays as strict; the stylesheets draw code blocks from one place and the highlighter's error
token has no red box; the rendered / raw view of a text keeps the text exact."""

import re
from pathlib import Path

import pytest
from django.template.loader import render_to_string

from annotation.rendering import (
    _sanitize,
    fence_unfenced_code,
    highlight_css,
    render_markdown,
    render_seed,
)

STATIC = Path(__file__).resolve().parents[1] / "static"

# --- seeds with code and no fences (from the pools, shortened) ----------------------------------

TS_CLASS = """If I have a TypeScript class:

class Foo {
  ReactProperties: {
    a: string;
  }
}

How do I extract the type of the ReactProperties member object from the type Class?"""

ARDUINO = """Hello, what do you think of this arduino code in regards to understandability, \
optimization and size?
Any suggestions for improvements?

void cycleLEDs(int interval) {
  const int nOutPins = sizeof(outPins) / sizeof(outPins[0]);
  static unsigned long lastChange = 0;
  static int currIndex = 0; // Use static to retain value between function calls
  int nextIndex = 0;

  if (millis() >= lastChange + abs(interval)) {
    // Determine direction
    int direction = interval < 0 ? -1 : 1;
    currIndex += direction;
  }
}

Thank you for your help, i value your input."""

MBED = """find the issue: #include "mbed.h"
#include <exception>

DigitalOut ledYellow(D2);
DigitalOut ledAmber(D3);

Thread thread2;

int counter = 0;

// Subroutine for any LEDs
void ledAny (DigitalOut *ledA){
    while(true){
        *ledA = 1;
        ThisThread::sleep_for(500ms);
    }
}"""

PYTHON = """modify below code and make ends 1 milisecond ealier than read from srt

import re
import subprocess

def burn_subtitles(video_path, ass_subtitle_path, output_video_path):
    command = [
        'ffmpeg',
        '-i', video_path,                       # Input video file
        '-vf', f"subtitles={ass_subtitle_path}", # Correct filter for subtitles
        output_video_path
    ]
    subprocess.run(command)

    # Write ``` markers? They stay inside the block."""

HTML = """Fix that code so on submit click minlength and maxlength will work:
<div class="modal fade" id="editForm" tabindex="-1"  aria-hidden="true">
        <div class="modal-dialog modal-dialog-centered">
            <input name="title" minlength="1" maxlength="100" type="text" required />
        </div>
</div>
<script>window.__pwned = 1</script>"""

JSX = """                 Object.keys(row).filter((key) => key !== "id").map((key) => {
                      return <TableCell className="" key={key}>{row[key]}</TableCell>
                    })

How can I add a class only if the value equals error?"""

SQL = """act as sql serve master dba, do it step by step , and fix the bug  the qery
DECLARE @i INT = 1;
    Declare @column_name nvarchar(25);
    declare @SQL varchar(MAX) ;
    WHILE @i <=1
    BEGIN
        set @SQL='ALTER TABLE Foo ADD ' + @column_name + ' decimal(3,1)';
        EXEC (@SQL)
        SET @i = @i + 1;
    END;"""

# --- prose seeds (from the pools) that must stay prose ------------------------------------------

PROSE = [
    # Markdown lists and a heading.
    """Create a Windows Forms application Using C#, BinaryWriter, and BinaryReader.

Requirements:

Task:

1. Create a Windows Forms application with a simple user interface to write and read binary data.

2. Create a form with controls to input student ID, name, and GPA.

- Use the BinaryWriter class to write data.
- Use the BinaryReader class to read it back.

## Notes
> Keep it simple; no database.""",
    # Semicolons and colons in a creative brief.
    """Write the opening chapter of a novel.
Specifics:
Genre: Dark fantasy;
Tags: Noir, drama, thriller;
Tone: bleak but hopeful.""",
    # Lyrics with braces around them.
    """new wave dark disco,indie pop,electronic post punk
===
create and write out a strong rhymed text
and use this {
A NO INTERNET CONNECTION (NO! NO! NO! NO!)
YOU STILL HOLD IN MY EXCEPTION (HOLD ON!)
I FALLING DAWN YOU KEEP ME RIGHT
}""",
    # A maths problem in Chinese, formulas inline.
    """R语言编程：( 1) 首先，用Gaussian Copula函数对操作风险单元的相依结构进行拟合；
令 Cu ( v) = w，通过 Cu ( v) 的逆函数即可计算得到v = C（-1）u ( w) ;
( 4) 计算两个风险单元操作风险: L = x1 + x2，由此得到未来银行内部整体操作风险损失的一个可能情况;
景，记为{ L1，L2，…，LM } 由此可以得到内部整体操作风险的损失分布 G( x) ;""",
    # A question that mentions code words in sentences.
    """In Javascript, given a key-value object where each entry has a `price` field, how to \
extract the keys and price values?
If the function returns an array, for example, I want to import it from another module.
Return the result as two arrays; keep the order.""",
    # A problem statement with values, one per line but as sentences.
    """A. Closest Point
time limit per test 2 seconds
memory limit per test 512 megabytes
Consider a set of points on a line. The distance between two points i and j is |i-j|.""",
]


def fenced_blocks(text: str) -> list[str]:
    """The blocks ``fence_unfenced_code`` added to ``text``, as text."""
    return re.findall(r"^(`{3,})\n(.*?)\n\1$", fence_unfenced_code(text), re.S | re.M)


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        (TS_CLASS, "class Foo {", "}"),
        (ARDUINO, "void cycleLEDs(int interval) {", "}"),
        (MBED, "#include <exception>", "}"),
        (PYTHON, "import re", "    # Write ``` markers? They stay inside the block."),
        (HTML, '<div class="modal fade" id="editForm" tabindex="-1"  aria-hidden="true">', None),
        (JSX, "                 Object.keys(row)", "                    })"),
        (SQL, "DECLARE @i INT = 1;", "    END;"),
    ],
)
def test_code_without_fences_is_fenced_from_its_first_to_its_last_line(text, first, last):
    blocks = fenced_blocks(text)
    assert len(blocks) == 1, fence_unfenced_code(text)
    fence, body = blocks[0]
    lines = body.split("\n")
    assert lines[0].startswith(first)
    if last is not None:
        assert lines[-1] == last
    assert len(fence) > max(len(run) for run in re.findall(r"`+", body + "``"))
    # Nothing else changed: removing the fences gives the text back.
    kept = [line for line in fence_unfenced_code(text).split("\n") if line != fence]
    assert "\n".join(kept) == text


def test_the_sentence_leading_into_the_code_stays_a_paragraph():
    html = render_seed(TS_CLASS)
    assert html.startswith('<p>If I have a TypeScript class:</p>\n<pre tabindex="0"><code>')
    assert "class Foo {\n  ReactProperties: {\n    a: string;\n  }\n}\n</code></pre>" in html
    assert html.endswith(
        "<p>How do I extract the type of the ReactProperties member object "
        "from the type Class?</p>\n"
    )
    html = render_seed(SQL)
    assert html.startswith("<p>act as sql serve master dba")
    html = render_seed(ARDUINO)
    assert "<p>Thank you for your help, i value your input.</p>" in html


@pytest.mark.parametrize("text", PROSE)
def test_prose_and_markdown_are_left_alone(text):
    assert fence_unfenced_code(text) == text
    assert "<pre" not in render_seed(text)


def test_existing_fences_are_kept_and_only_unfenced_code_is_fenced():
    text = (
        "Why does this fail?\n\n```python\nimport os\nx = 1\nprint(x)\n```\n\n"
        "And this one:\n\nconst a = 1;\nconst b = 2;\nconsole.log(a + b);\n\nThanks."
    )
    out = fence_unfenced_code(text)
    assert out.count("```python") == 1
    assert "```\nconst a = 1;\nconst b = 2;\nconsole.log(a + b);\n```" in out
    # An unclosed fence runs to the end and nothing inside it is touched.
    unclosed = "Look:\n~~~~\nint a = 1;\nint b = 2;\nint c = 3;"
    assert fence_unfenced_code(unclosed) == unclosed
    # Indented fences count too.
    nested = "1. Step one:\n   ```\n   x = 1;\n   y = 2;\n   z = 3;\n   ```\n2. Done."
    assert fence_unfenced_code(nested) == nested


def test_line_endings_are_normalised_and_short_snippets_stay_inline():
    assert fence_unfenced_code("x = 1;\r\ny = 2;\r\nz = 3;") == "```\nx = 1;\ny = 2;\nz = 3;\n```"
    assert fence_unfenced_code("Set x = 1;\nthen call f(x);") == "Set x = 1;\nthen call f(x);"


def test_render_seed_escapes_the_code_and_sanitizes_as_strictly():
    html = render_seed(HTML)
    assert "<script" not in html and "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html
    assert '&lt;div class="modal fade" id="editForm" tabindex="-1"' in html
    assert render_seed("") == ""
    # Rewrites and guidelines are rendered as written: no guessing.
    assert "<pre" not in render_markdown(TS_CLASS)


def test_every_pre_gets_tabindex_0_and_input_attributes_are_still_stripped():
    html = render_markdown("```python\nx = 1\n```\n\n    indented\n\n```\nplain\n```")
    assert html.count('<pre tabindex="0">') + html.count('<pre class="highlight" tabindex="0">')
    assert len(re.findall(r"<pre\b[^>]*>", html)) == 3
    assert all('tabindex="0"' in tag for tag in re.findall(r"<pre\b[^>]*>", html))
    # The sanitizer itself sets it, whatever the input says; other tags get none.
    dirty = (
        '<pre tabindex="-1" onclick="alert(1)" style="color:red" class="highlight">a</pre>'
        '<p tabindex="3" onfocus="alert(2)">b</p><a href="https://x.test" tabindex="1">c</a>'
        '<code tabindex="0">d</code>'
    )
    assert _sanitize(dirty) == (
        '<pre class="highlight" tabindex="0">a</pre><p>b</p>'
        '<a href="https://x.test" rel="nofollow noopener noreferrer">c</a><code>d</code>'
    )


def test_highlight_css_is_generated_and_has_no_error_box_and_no_block_rules():
    css = (STATIC / "css" / "highlight.css").read_text()
    assert css == highlight_css()
    assert ".hl-err" not in css
    assert "border" not in css
    assert not re.search(r"^(pre|\.highlight)\s*\{", css, re.M)
    # JSX inside a js fence does produce an error token: only its styling is gone.
    assert 'class="hl-err"' in render_markdown("```js\nconst a = <div>{x}</div>;\n```")


def test_code_blocks_are_styled_in_one_place():
    css_dir = STATIC / "css"
    code_css = (css_dir / "code.css").read_text()
    # Inline code has padding and a background; code inside a block has neither.
    assert re.search(r"^code \{[^}]*padding:\.1rem \.3rem", code_css, re.M)
    pre_code = re.search(r"^pre code \{([^}]*)\}", code_css, re.M)
    assert pre_code and "padding:0" in pre_code.group(1) and "background:none" in pre_code.group(1)
    # No other stylesheet styles a <pre> or code in a block.
    for sheet in sorted(css_dir.glob("*.css")):
        if sheet.name == "code.css":
            continue
        for selector in re.findall(r"([^{}]+)\{", sheet.read_text()):
            selector = re.sub(r"/\*.*?\*/", "", selector, flags=re.S)
            assert not re.search(r"(^|[\s,>])pre\b", selector), (sheet.name, selector)


def test_text_view_shows_the_exact_text_raw_and_the_rendered_html():
    text = "\n<script>alert(1)</script> & `x`\n  indented\n"
    html = render_to_string(
        "core/_text_view.html",
        {
            "name": "seed",
            "html": render_seed(text),
            "text": text,
            "label": "The seed's text",
            "body_id": "seed-body",
            "remember": "seed",
        },
    )
    raw = re.search(r'<pre class="view-raw" tabindex="0">(.*?)</pre>', html, re.S)
    assert raw is not None
    # One newline after <pre> (dropped by HTML parsers), then the text, escaped.
    assert raw.group(1) == ("\n\n&lt;script&gt;alert(1)&lt;/script&gt; &amp; `x`\n  indented\n")
    assert 'id="seed-text" data-remember="seed"' in html
    assert 'id="seed-body"' in html and "<script>alert" not in html
    assert html.count('name="view-seed"') == 2
    assert 'src="/static/js/seed_view.js"' in html
