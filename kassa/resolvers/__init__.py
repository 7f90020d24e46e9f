"""Thin GraphQL resolvers by domain: arguments and the request context in, a service call,
domain results out (models, pages, dataclasses; never GraphQL types, which kassa.schema
wraps around them). A DomainError raised here is mapped once, in kassa/schema/errors.py."""
