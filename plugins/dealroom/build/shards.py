"""Shards: a stable split of the deal set, so N machines can each build and publish a part.

`--shard I/N` (or the `shard` option, or `DEALROOM_SHARD`) builds only the deals that
fall in shard I of N. Which shard a deal falls in depends on its slug alone, through
SHA-256: every machine, Python version and run agrees, and adding or removing a deal
never moves another one. Python's own `hash()` would not do: it is salted per process.

Plain Python, no MkDocs: the CLI, the plugin and the merge of shard releases share it.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

SHARD_ENV = "DEALROOM_SHARD"  # overrides the `shard` option, e.g. per CI matrix job
MAX_SHARDS = 1000  # far beyond any CI matrix; a typo like "1/40000" is caught
SHARD_PATTERN = re.compile(r"(\d{1,4})/(\d{1,4})")


class ShardError(ValueError):
    """A shard written in a form that cannot be used; says what form is expected."""


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count`, numbered from 1 as CI matrices usually are."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard | None:
        """`"I/N"` as a shard; `""` for none (every deal). Raises ShardError."""
        text = text.strip()
        if not text:
            return None
        match = SHARD_PATTERN.fullmatch(text.replace(" ", ""))
        if match is None:
            raise ShardError(
                f"expected I/N, shard I of N with 1 <= I <= N, e.g. 1/4 (got {text!r})"
            )
        index, count = int(match[1]), int(match[2])
        if not 1 <= count <= MAX_SHARDS:
            raise ShardError(f"the number of shards must be 1 to {MAX_SHARDS} (got {text!r})")
        if not 1 <= index <= count:
            raise ShardError(f"the shard must be 1 to {count}, as in 1/{count} (got {text!r})")
        return cls(index, count)

    def holds(self, slug: str) -> bool:
        return shard_of(slug, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(slug: str, count: int) -> int:
    """The shard (1 to `count`) that the deal `slug` falls in. The first 8 bytes of the
    slug's SHA-256 taken modulo `count`: spread evenly, and the same everywhere."""
    digest = hashlib.sha256(slug.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def effective_shard(option: str) -> Shard | None:
    """The shard a build makes: `DEALROOM_SHARD` if set and not empty, else the `shard`
    option. Raises ShardError naming where the bad value came from."""
    from_env = os.environ.get(SHARD_ENV, "").strip()
    source, text = (SHARD_ENV, from_env) if from_env else ("shard", option or "")
    try:
        return Shard.parse(text)
    except ShardError as error:
        raise ShardError(f"{source}: {error}") from None
