"""Question token counts with tiktoken. Offline machines set TIKTOKEN_CACHE_DIR to a folder that
holds the encoding files (see README)."""

from functools import cache

import tiktoken


@cache
def encoding(name: str) -> tiktoken.Encoding:
    """The tiktoken encoding ``name`` (``o200k_base``) or the one of model ``name`` (``gpt-4o``)."""
    try:
        return tiktoken.get_encoding(name)
    except ValueError:
        return tiktoken.encoding_for_model(name)


def count_tokens(text: str, tokenizer: str) -> int:
    # disallowed_special=() so text that happens to contain "<|endoftext|>" is counted as text.
    return len(encoding(tokenizer).encode(text, disallowed_special=()))
