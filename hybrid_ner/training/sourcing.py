"""Put a trained NER into another pipeline: sourced alone, a listener of a shared
``tok2vec`` or ``transformer`` finds nothing, so it first gets its own copy of it."""

from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import spacy
from spacy.language import Language

from ..errors import HybridNerError


class SourcingError(HybridNerError, ValueError):
    """A component cannot be taken from a trained pipeline into another one."""


def add_trained_ner(
    nlp: Language,
    source: Union[str, Path, Language],
    name: str = "ner",
    *,
    new_name: Optional[str] = None,
    before: Optional[str] = None,
    after: Optional[str] = None,
    first: Optional[bool] = None,
    last: Optional[bool] = None,
) -> Any:
    """Add a trained component from another pipeline so that it works there.

    source (Union[str, Path, Language]): A path, package or ``Language`` (changed in place).
    name (str): The component's name in ``source``; ``new_name`` in ``nlp``.
    """
    where = str(source) if not isinstance(source, Language) else f"pipeline {source.pipe_names}"
    target_name = new_name or name
    if target_name in nlp.pipe_names:
        raise SourcingError(
            f"{where}: the pipeline already has a component {target_name!r} "
            f"(components: {', '.join(nlp.pipe_names)}); pass new_name="
        )
    trained = source
    if not isinstance(trained, Language):
        try:
            trained = spacy.load(source)
        except OSError as err:
            reason = (str(err).strip().splitlines() or ["cannot be loaded"])[0]
            raise SourcingError(f"{where}: not a spaCy pipeline ({reason})") from None
    if name not in trained.pipe_names:
        raise SourcingError(
            f"{where}: no component {name!r} to add "
            f"(components: {', '.join(trained.pipe_names) or 'none'})"
        )
    for upstream, pipe in trained.pipeline:
        if upstream != name and name in (getattr(pipe, "listening_components", None) or []):
            paths = _listener_paths(trained.get_pipe_config(name), upstream)
            try:
                trained.replace_listeners(upstream, name, paths)
            except ValueError as err:
                raise SourcingError(
                    f"{where}: cannot replace the listeners of {name!r} to {upstream!r} at "
                    f"{paths} ({str(err).splitlines()[0]}); call nlp.replace_listeners yourself"
                ) from None
    return nlp.add_pipe(
        name, name=target_name, source=trained, before=before, after=after, first=first, last=last
    )


def _listener_paths(config: Dict[str, Any], upstream: str, prefix: str = "") -> List[str]:
    """Dotted config paths of the ``*Listener.vN`` blocks that connect to ``upstream``."""
    paths = []
    for key, value in config.items():
        if isinstance(value, dict):
            if str(value.get("@architectures", "")).rsplit(".", 1)[0].endswith("Listener"):
                if value.get("upstream", "*") in ("*", upstream):
                    paths.append(f"{prefix}{key}")
            else:
                paths.extend(_listener_paths(value, upstream, prefix=f"{prefix}{key}."))
    return paths
