"""A JSON Schema for OpenLineage run events, derived at test time from the attrs models
that openlineage-python generates from the official OpenLineage JSON schema.

No PyPI package ships the OpenLineage JSON schema files themselves (openlineage-python,
openlineage-integration-common, openlineage-sql and apache-airflow-providers-openlineage
were checked), and nothing may be downloaded at test time. The client's generated classes
carry the same structure: required fields (no default), types, enums, nested objects and
the standard facets with their ``_schemaURL``. This module turns them into a JSON Schema
that :mod:`jsonschema` validates events against, with the formats the spec declares
(``uuid`` run ids, ``date-time`` event times, ``uri`` producers and schema URLs) and the
fields the spec requires but the classes fill in by default (``producer``,
``schemaURL``, ``_producer``, ``_schemaURL``).
"""

from __future__ import annotations

import enum
import types
import typing
from functools import cache
from typing import Any

import attr

FORMATS = {
    "runId": "uuid",
    "eventTime": "date-time",
    "producer": "uri",
    "schemaURL": "uri",
    "_producer": "uri",
    "_schemaURL": "uri",
}
REQUIRED_BY_SPEC = {"producer", "schemaURL", "_producer", "_schemaURL"}


def standard_facets() -> dict[str, dict[str, type]]:
    """The standard facets by where they appear and by their name in the spec."""
    from openlineage.client.facet_v2 import (
        column_lineage_dataset,
        dataset_version_dataset,
        error_message_run,
        execution_parameters_run,
        job_type_job,
        lifecycle_state_change_dataset,
        output_statistics_output_dataset,
        parent_run,
        processing_engine_run,
        schema_dataset,
        tags_run,
    )

    return {
        "run": {
            "parent": parent_run.ParentRunFacet,
            "errorMessage": error_message_run.ErrorMessageRunFacet,
            "executionParameters": execution_parameters_run.ExecutionParametersRunFacet,
            "processing_engine": processing_engine_run.ProcessingEngineRunFacet,
            "tags": tags_run.TagsRunFacet,
        },
        "job": {"jobType": job_type_job.JobTypeJobFacet},
        "dataset": {
            "schema": schema_dataset.SchemaDatasetFacet,
            "columnLineage": column_lineage_dataset.ColumnLineageDatasetFacet,
            "version": dataset_version_dataset.DatasetVersionDatasetFacet,
            "lifecycleStateChange": lifecycle_state_change_dataset.LifecycleStateChangeDatasetFacet,
        },
        "outputDataset": {
            "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet
        },
    }


_DEFINITIONS: dict[str, Any] = {}


@cache
def run_event_schema() -> dict[str, Any]:
    """The JSON Schema of a RunEvent (classes as ``$defs``, so recursive ones work)."""
    from openlineage.client.event_v2 import RunEvent

    root = _class_schema(RunEvent)
    return {**root, "$defs": dict(_DEFINITIONS)}


def _facet_map_schema(field_name: str, value_type: Any) -> dict[str, Any] | None:
    """``facets``-like dicts: known facets by name, any other as the base facet."""
    facets = standard_facets()
    where = {"facets": None, "outputFacets": "outputDataset", "inputFacets": "inputDataset"}
    if field_name not in where:
        return None
    base = _type_schema(value_type)
    kind = where[field_name]
    if kind is None:
        kind = _facet_kind(value_type)
    known = facets.get(kind, {})
    return {
        "type": "object",
        "properties": {name: _class_schema(cls) for name, cls in known.items()},
        "additionalProperties": base,
    }


def _facet_kind(facet_type: Any) -> str:
    name = getattr(facet_type, "__name__", "")
    return {"RunFacet": "run", "JobFacet": "job", "DatasetFacet": "dataset"}.get(name, "")


def _class_schema(cls: type) -> dict[str, Any]:
    key = f"{cls.__module__}.{cls.__qualname__}"
    if key not in _DEFINITIONS:
        _DEFINITIONS[key] = {}  # placeholder: a recursive reference finds it
        _DEFINITIONS[key] = _object_schema(cls)
    return {"$ref": f"#/$defs/{key}"}


def _object_schema(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties, required = {}, []
    for field in attr.fields(cls):
        annotation = hints[field.name]
        schema = None
        if _origin(_strip_none(annotation)) is dict:
            schema = _facet_map_schema(field.name, typing.get_args(_strip_none(annotation))[1])
        schema = schema or _type_schema(annotation)
        if field.name in FORMATS:
            schema = {**schema, "format": FORMATS[field.name]}
        if field.name in ("_schemaURL", "schemaURL") and _is_standard_facet(cls):
            schema = {**schema, "const": cls._get_schema()}
        properties[field.name] = schema
        if field.default is attr.NOTHING or field.name in REQUIRED_BY_SPEC:
            required.append(field.name)
    is_facet = any(base.__name__ == "BaseFacet" for base in cls.__mro__)
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": is_facet,  # facets may be extended, core objects not
    }


def _is_standard_facet(cls: type) -> bool:
    return any(cls in group.values() for group in standard_facets().values())


def _strip_none(annotation: Any) -> Any:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if _origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        return args[0]
    return annotation


def _origin(annotation: Any) -> Any:
    return typing.get_origin(annotation)


def _type_schema(annotation: Any) -> dict[str, Any]:
    annotation = _strip_none(annotation)
    origin = _origin(annotation)
    if origin is list:
        return {"type": "array", "items": _type_schema(typing.get_args(annotation)[0])}
    if origin is dict:
        return {
            "type": "object",
            "additionalProperties": _type_schema(typing.get_args(annotation)[1]),
        }
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return {"enum": [member.value for member in annotation]}
    simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if annotation in simple:
        return {"type": simple[annotation]}
    if attr.has(annotation):
        return _class_schema(annotation)
    if annotation is Any:
        return {}
    raise TypeError(f"no JSON Schema rule for {annotation!r}")


def validate(event: dict[str, Any]) -> None:
    """Raise :class:`jsonschema.ValidationError` if ``event`` breaks the schema."""
    import jsonschema

    jsonschema.validate(
        event,
        run_event_schema(),
        cls=jsonschema.Draft202012Validator,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
