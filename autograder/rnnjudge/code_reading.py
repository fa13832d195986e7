"""Reading a submission's code as text, never running it: its tokens, and whether it builds code at
run time. The judge names such a file in its status on every route; ``rnnlab.similarity`` compares
submissions by these tokens, and names the same files in the class report."""

from __future__ import annotations

import io
import re
import tokenize

SKIPPED_TYPES = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
FALLBACK_TOKEN = re.compile(r"#[^\n]*|[A-Za-z_]\w*|\d[\w.]*|[^\s\w]")

# Code that runs code built at run time (`exec(zlib.decompress(base64.b64decode(...)))`, or a download)
# shows no fingerprint of what it runs, and no reader sees it: such a submission is named for the TA.
RUN_TIME_BUILTINS = {"exec", "eval", "compile", "__import__"}  # called as built-ins, not `model.eval()`
DECODERS = {"b64decode", "b85decode", "a85decode", "b32decode", "decompress", "import_module", "loads"}
LONG_LITERAL = 2000  # characters: a string literal this long holds data or code, not lab code


def raw_tokens(code: str) -> list[tuple[str, str, int, int]]:
    """(type name, text, first line, last line) of each token; comments and blank lines dropped.

    Python's tokenizer first; code it rejects (broken indentation, an unclosed string) is split
    by a regular expression instead, so every file gets tokens."""
    try:
        return [(tokenize.tok_name[t.type], t.string, t.start[0], t.end[0])
                for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type not in SKIPPED_TYPES]
    except (tokenize.TokenError, SyntaxError):
        return fallback_tokens(code)


def fallback_tokens(code: str) -> list[tuple[str, str, int, int]]:
    found = []
    for number, line in enumerate(code.splitlines(), start=1):
        for match in FALLBACK_TOKEN.finditer(line):
            text = match.group()
            if not text.startswith("#"):
                kind = "NAME" if text[0].isalpha() or text[0] == "_" else "NUMBER" if text[0].isdigit() else "OP"
                found.append((kind, text, number, number))
        found.append(("NEWLINE", "\n", number, number))
    return found


def hidden_code(code: str) -> str:
    """What in ``code`` builds code at run time ("" when nothing does)."""
    tokens = raw_tokens(code)
    found = set()
    for i, (kind, text, _, _) in enumerate(tokens):
        after_dot = i > 0 and tokens[i - 1][1] == "."
        if kind == "NAME" and ((text in RUN_TIME_BUILTINS and not after_dot) or (text in DECODERS and after_dot)):
            found.add(text)
        elif kind == "STRING" and len(text) >= LONG_LITERAL:
            found.add(f"a string literal of {LONG_LITERAL}+ characters")
    return ", ".join(sorted(found))
