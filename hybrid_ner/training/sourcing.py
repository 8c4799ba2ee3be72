"""Put a trained NER into another pipeline.

A trained component usually *listens* to a shared embedding component
(``tok2vec`` in the CPU configs, ``transformer`` in the transformer configs).
Sourced alone with ``nlp.add_pipe(name, source=trained)`` it loses that
embedding: spaCy does not complain, and the NER finds no entities at all.
:func:`add_trained_ner` first gives the component its own copy of whatever
it listens to (``Language.replace_listeners``), then sources it.
"""

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

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
    """Add a trained NER (or any trained component) from another pipeline so
    that it finds the same entities there, whether it listens to a
    ``tok2vec`` or a ``transformer`` component.

    nlp (Language): The pipeline to add the component to.
    source (Union[str, Path, Language]): The trained pipeline: a directory
        such as ``training/.../model-best``, a package name, or a loaded
        ``Language``. A loaded pipeline is changed in place: its component
        gets its own copy of the embedding layer it listened to (its
        predictions stay the same).
    name (str): The component's name in ``source``.
    new_name (Optional[str]): Its name in ``nlp``; default ``name``.
    before (Optional[str]): As in ``nlp.add_pipe``.
    after (Optional[str]): As in ``nlp.add_pipe``.
    first (Optional[bool]): As in ``nlp.add_pipe``.
    last (Optional[bool]): As in ``nlp.add_pipe``.
    RETURNS (Any): The added component.

    Raises SourcingError (one line, naming the source) when the source has no
    such component, ``nlp`` already has one of that name, or the component
    would still depend on an embedding component it cannot take along.
    """
    where = str(source) if not isinstance(source, Language) else f"pipeline {source.pipe_names}"
    target_name = new_name or name
    if target_name in nlp.pipe_names:
        raise SourcingError(
            f"{where}: the pipeline already has a component {target_name!r} "
            f"(components: {', '.join(nlp.pipe_names)}); pass new_name="
        )
    trained = _load(source, where)
    if name not in trained.pipe_names:
        raise SourcingError(
            f"{where}: no component {name!r} to add "
            f"(components: {', '.join(trained.pipe_names) or 'none'})"
        )
    for upstream, paths in _listened_to(trained, name, where):
        trained.replace_listeners(upstream, name, paths)
    if _listened_to(trained, name, where):
        raise SourcingError(
            f"{where}: component {name!r} still listens to another component "
            "after replace_listeners"
        )
    return nlp.add_pipe(
        name, name=target_name, source=trained, before=before, after=after, first=first, last=last
    )


def _load(source: Union[str, Path, Language], where: str) -> Language:
    if isinstance(source, Language):
        return source
    try:
        return spacy.load(source)
    except OSError as err:
        reason = (str(err).strip().splitlines() or ["cannot be loaded"])[0]
        raise SourcingError(f"{where}: not a spaCy pipeline ({reason})") from None


def _listened_to(nlp: Language, name: str, where: str) -> List[Tuple[str, List[str]]]:
    """The embedding components that ``name`` listens to, each with the
    config paths of its listener layers (e.g. ``["model.tok2vec"]``)."""
    found = []
    config = nlp.get_pipe_config(name)
    for upstream, pipe in nlp.pipeline:
        listening = getattr(pipe, "listening_components", None)
        if upstream == name or not listening or name not in listening:
            continue
        n_listeners = len(pipe.listener_map.get(name, []))
        paths = _listener_paths(config, upstream)
        if len(paths) != n_listeners:
            raise SourcingError(
                f"{where}: component {name!r} has {n_listeners} listener layer(s) for {upstream!r} "
                f"but its config names {len(paths)} ({', '.join(paths) or 'none'}); "
                f"call nlp.replace_listeners({upstream!r}, {name!r}, PATHS) yourself"
            )
        found.append((upstream, paths))
    return found


def _listener_paths(config: Dict[str, Any], upstream: str, prefix: str = "") -> List[str]:
    """Dotted config paths of the listener blocks (``@architectures`` ending
    in ``Listener.v1``/``v2``...) that connect to ``upstream``."""
    paths = []
    for key, value in config.items():
        if not isinstance(value, dict):
            continue
        path = f"{prefix}{key}"
        architecture = str(value.get("@architectures", ""))
        if architecture.rsplit(".", 1)[0].endswith("Listener"):
            if value.get("upstream", "*") in ("*", upstream):
                paths.append(path)
        else:
            paths.extend(_listener_paths(value, upstream, prefix=f"{path}."))
    return paths


__all__ = ["SourcingError", "add_trained_ner"]
