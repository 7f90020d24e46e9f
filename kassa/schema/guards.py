"""Cheap limits checked before strawberry parses and validates a document.

Validation itself can be made to burn seconds of CPU (a chain of fragments each spreading
the next ten times; ten thousand aliases of one field for the overlap check), so every
document first passes these checks, each linear in its size: a token limit while parsing,
then one walk that measures depth and the number of fields it would select, counting each
fragment once (memoized) however often it is spread. A verdict is cached per query text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from graphql import (
    DocumentNode,
    ExecutableDefinitionNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)
from strawberry.extensions import SchemaExtension, ValidationCache
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from kassa.config import ConfigurationError

VERDICTS_CACHED = 256
REJECTED = "QUERY_REJECTED"


@dataclass(frozen=True, slots=True)
class Limits:
    # Documents also arrive where no body cap applies (websocket messages, GET).
    max_characters: int = 64 * 1024
    max_tokens: int = 1000
    max_depth: int = 20
    max_fields: int = 500
    max_aliases: int = 30
    max_variable_values: int = 200
    max_variable_depth: int = 8
    max_variable_characters: int = 64 * 1024


class Rejected(GraphQLError):
    """A document or its variables over a limit: told to the client as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": REJECTED})


@dataclass(frozen=True, slots=True)
class _Size:
    depth: int
    fields: int


class _Measure:
    """Depth and selected fields of a document, each fragment measured once."""

    def __init__(self, document: DocumentNode, limits: Limits) -> None:
        self.limits = limits
        self.fragments = {
            node.name.value: node
            for node in document.definitions
            if isinstance(node, FragmentDefinitionNode)
        }
        self.measured: dict[str, _Size] = {}
        self.open: set[str] = set()

    def selections(self, node: SelectionSetNode | None) -> _Size:
        depth, fields = 0, 0
        for selection in node.selections if node else ():
            if isinstance(selection, FieldNode):
                inner = self.selections(selection.selection_set)
                depth, fields = max(depth, inner.depth + 1), fields + 1 + inner.fields
            elif isinstance(selection, InlineFragmentNode):
                inner = self.selections(selection.selection_set)
                depth, fields = max(depth, inner.depth), fields + inner.fields
            elif isinstance(selection, FragmentSpreadNode):
                inner = self.fragment(selection.name.value)
                depth, fields = max(depth, inner.depth), fields + inner.fields
            self.check(_Size(depth, fields))
        return _Size(depth, fields)

    def fragment(self, name: str) -> _Size:
        if name in self.measured:
            return self.measured[name]
        if name in self.open:
            raise Rejected(f"fragment {name} spreads itself")
        definition = self.fragments.get(name)
        if definition is None:
            return _Size(0, 0)  # validation names the unknown fragment
        self.open.add(name)
        size = self.measured[name] = self.selections(definition.selection_set)
        self.open.discard(name)
        return size

    def check(self, size: _Size) -> None:
        if size.depth > self.limits.max_depth:
            raise Rejected(f"the query is nested deeper than {self.limits.max_depth} levels")
        if size.fields > self.limits.max_fields:
            raise Rejected(
                f"the query selects more than {self.limits.max_fields} fields "
                "(fragments counted each time they are spread)"
            )


# GraphQL's lexemes, roughly: block strings, strings, comments, spreads, names, numbers,
# punctuators. Counting them with one C-level regex is ~10x cheaper than graphql-core's
# parser reaching its own token limit (about 5 ms per 1,000 tokens).
# An unterminated string is one lexeme up to the end of its line (or of the document for a
# block string): were a string required to close, every `"` of `"\"\"\"…` would start a
# match that scans to the end of the line and fails, quadratic in the line's length.
_LEXEME = re.compile(
    r'"""(?:\\"""|[^"]|"(?!""))*(?:(?P<closed_block>""")|\Z)'
    r'|"(?:[^"\\\n]|\\.)*(?P<closed>")?|#[^\n\r]*|\.\.\.'
    r"|[A-Za-z_][A-Za-z0-9_]*|-?[0-9][0-9A-Za-z.+-]*|[!$&()\[\]{}:=@|]"
)


def _count_tokens(query: str, limit: int) -> None:
    """Rejected beyond `limit` lexemes; linear in the query's length."""
    tokens = 0
    for lexeme in _LEXEME.finditer(query):
        text = lexeme.group()
        if text.startswith("#"):
            continue
        if text.startswith('"') and not (lexeme["closed"] or lexeme["closed_block"]):
            # Refused here: graphql-core would read it character by character first.
            raise Rejected("the query has an unterminated string")
        tokens += 1
        if tokens > limit:
            raise Rejected(f"the query has more than {limit} tokens")


@lru_cache(maxsize=VERDICTS_CACHED)
def _verdict(query: str, limits: Limits) -> DocumentNode | Rejected:
    try:
        _count_tokens(query, limits.max_tokens)
        document = parse(query, no_location=False, max_tokens=limits.max_tokens)
        aliases = sum(1 for node in _fields(document) if node.alias is not None)
        if aliases > limits.max_aliases:
            raise Rejected(f"the query uses more than {limits.max_aliases} aliases")
        measure = _Measure(document, limits)
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                measure.check(measure.selections(definition.selection_set))
    except Rejected as rejected:
        return rejected
    except GraphQLError as error:
        return Rejected(error.message)
    except RecursionError:
        return Rejected("the query is nested too deeply")
    return document


def _fields(document: DocumentNode) -> Iterator[FieldNode]:
    pending: list[SelectionSetNode] = [
        definition.selection_set
        for definition in document.definitions
        if isinstance(definition, ExecutableDefinitionNode)
    ]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                yield selection
            selection_set = getattr(selection, "selection_set", None)
            if selection_set is not None:
                pending.append(selection_set)


def guarded_document(query: str, limits: Limits) -> DocumentNode:
    """The parsed document, or `Rejected` raised when it is over a limit."""
    # Checked before the cache: an oversized text must not be kept as a cache key.
    if len(query) > limits.max_characters:
        raise Rejected(f"the query is longer than {limits.max_characters} characters")
    verdict = _verdict(query, limits)
    if isinstance(verdict, Rejected):
        raise Rejected(verdict.message)
    return verdict


def check_variables(variables: Mapping[str, object] | None, limits: Limits) -> None:
    """Variables are JSON the client chose: bounded in values and nesting."""
    values = characters = 0
    pending: list[tuple[object, int]] = [(variables or {}, 0)]
    while pending:
        value, depth = pending.pop()
        values += 1
        characters += len(value) if isinstance(value, str) else 0
        if characters > limits.max_variable_characters:
            raise Rejected(f"variables hold more than {limits.max_variable_characters} characters")
        if depth > limits.max_variable_depth:
            raise Rejected(f"variables are nested deeper than {limits.max_variable_depth} levels")
        if values > limits.max_variable_values:
            raise Rejected(f"variables hold more than {limits.max_variable_values} values")
        if isinstance(value, Mapping):
            characters += sum(len(str(key)) for key in value)
            pending.extend((inner, depth + 1) for inner in value.values())
        elif isinstance(value, list):
            pending.extend((inner, depth + 1) for inner in value)


def parse_guarded(context: ExecutionContext, limits: Limits) -> None:
    """Parses through the guard (it replaces strawberry's ParserCache: the verdict cache
    keeps the parsed document of accepted queries)."""
    try:
        check_variables(context.variables, limits)
        context.graphql_document = guarded_document(context.query or "", limits)
    except Rejected as rejected:
        _refuse(context, rejected)


def _refuse(context: ExecutionContext, rejected: Rejected) -> None:
    """Answer `rejected` as strawberry answers a validation error, on every transport (an
    exception here would end a websocket subscription with no error and a traceback): a
    stand-in document of the operation's name, and the error as its validation result."""
    context.graphql_document = parse(_stand_in(context))
    context.pre_execution_errors = [rejected]


def _stand_in(context: ExecutionContext) -> str:
    """A document strawberry accepts up to validation: named as the client's operation, of
    a type the transport allows (it is never validated or run)."""
    name = context.operation_name
    named = name if name and _NAME.fullmatch(name) else ""
    allowed = set(context.allowed_operations)
    kind = next((kind for kind in _STAND_IN_KINDS if kind in allowed), OperationType.QUERY)
    return f"{kind.value} {named} {{ __typename }}"


_STAND_IN_KINDS = (OperationType.QUERY, OperationType.MUTATION, OperationType.SUBSCRIPTION)


_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")


class PersistedQueries(SchemaExtension):
    """With an allow-list (`KASSA_PERSISTED_QUERIES`), only its documents run: sent whole,
    or by hash in `extensions.persistedQuery.sha256Hash` (Apollo's convention)."""

    def __init__(self, documents: Mapping[str, str]) -> None:
        super().__init__()
        self.documents = documents

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        if context.query:
            if document_hash(context.query) not in self.documents:
                self._refuse("this server runs only its persisted queries")
        else:
            persisted = (context.operation_extensions or {}).get("persistedQuery")
            digest = persisted.get("sha256Hash") if isinstance(persisted, Mapping) else None
            query = self.documents.get(digest) if isinstance(digest, str) else None
            if query is None:
                self._refuse("no persisted query has this sha256Hash")
            else:
                context.query = query
        yield

    def _refuse(self, message: str) -> None:
        # The stand-in passes the guard; its errors are the answer (see _refuse below).
        context = self.execution_context
        context.query = _stand_in(context)
        context.pre_execution_errors = [Rejected(message)]


def document_hash(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def load_persisted_queries(path: Path) -> dict[str, str]:
    """A JSON list of documents, or an object of sha256 hex → document (checked)."""
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"KASSA_PERSISTED_QUERIES: cannot read {path}: {exc}") from exc
    if not isinstance(loaded, list | dict):
        raise ConfigurationError(f"KASSA_PERSISTED_QUERIES: {path} is not a list or an object")
    documents = loaded if isinstance(loaded, list) else list(loaded.values())
    if not all(isinstance(document, str) for document in documents):
        raise ConfigurationError(f"KASSA_PERSISTED_QUERIES: {path} holds non-string documents")
    by_hash = {document_hash(document): document for document in documents}
    if isinstance(loaded, dict) and set(loaded) != set(by_hash):
        raise ConfigurationError(
            f"KASSA_PERSISTED_QUERIES: in {path} a key is not the sha256 of its document"
        )
    return by_hash


# strawberry's validation cache (shared by every ValidationCache of its default size).
_validated = ValidationCache().cached_validate_document


def validate_cached(context: ExecutionContext) -> None:
    """Validates through strawberry's cache, leaving a refusal made before validation in
    place (the stand-in document would otherwise validate clean and run)."""
    if not context.pre_execution_errors:
        context.pre_execution_errors = _validated(
            context.schema._schema, context.graphql_document, context.validation_rules
        )
