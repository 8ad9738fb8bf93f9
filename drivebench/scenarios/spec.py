"""Typed scenario specs, loaded once from a TOML file and never mutated. This module has what every family
shares (the common fields, parsing, errors, hashing); each family's own model is in its plugin
(drivebench/families/<family>/spec.py), found by the file's `family` field.

A scenario file is data only: `scenarios/<name>.toml` becomes the gymnasium id `drivebench/<name>-v<version>`.
Units are SI unless a field name says otherwise (`*_deg` are degrees). Coordinates follow highway-env: x to the
east, y to the south (the y axis points down on screen), so a heading that increases turns the car to its right.

Every mistake in a file is reported as `ScenarioError(file, [(field, what is wrong and what is allowed)])`.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

from drivebench.errors import ScenarioError

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Within:
    """The check of a range field: ordered ([a, b] with a <= b) and inside the allowed interval [low, high]."""

    low: float
    high: float

    def __call__(self, value: tuple[float, float]) -> tuple[float, float]:
        if value[0] > value[1]:
            raise ValueError(f"a range is [low, high] with low <= high, got [{value[0]:g}, {value[1]:g}]")
        if value[0] < self.low or value[1] > self.high:
            raise ValueError(f"must lie within [{self.low:g}, {self.high:g}], got [{value[0]:g}, {value[1]:g}]")
        return value


def Range(low: float, high: float):  # noqa: N802 (used as a type: `speed: Range(0, 40) = ...`)
    """The type of a range field: a closed interval [a, b], a <= b, inside [low, high] (the field's physically
    plausible values, written in its description), from which a value is drawn uniformly with the episode's seed."""
    return Annotated[tuple[float, float], AfterValidator(Within(low, high))]


def bounds(info: FieldInfo) -> tuple[str, float, float, str] | None:
    """The interval a numeric field's values must lie in, as (opening bracket, low, high, closing bracket): from
    its constraints (ge/gt/le/lt) or, for a range field, its `Within` check; None if the field has neither."""
    low = high = None
    opening, closing = "[", "]"
    for item in info.metadata:
        if isinstance(item, AfterValidator) and isinstance(item.func, Within):
            return "[", item.func.low, item.func.high, "]"
        if getattr(item, "ge", None) is not None:
            low = item.ge
        elif getattr(item, "gt", None) is not None:
            low, opening = item.gt, "("
        elif getattr(item, "le", None) is not None:
            high = item.le
        elif getattr(item, "lt", None) is not None:
            high, closing = item.lt, ")"
    return None if low is None and high is None else (opening, low, high, closing)


def interval_text(info: FieldInfo) -> str | None:
    """A field's allowed interval as written in its description, e.g. '(0, 40]' or '[-12, 12]'."""
    found = bounds(info)
    if found is None:
        return None
    opening, low, high, closing = found
    return f"{opening}{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}{closing}"


class SpecModel(BaseModel):
    """Every part of a scenario file: frozen, and an unknown field is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)  # NaN and inf name their field


class ScenarioBase(SpecModel):
    """Fields every scenario family has; a family's model subclasses it, adds `family: Literal["<name>"]`, its own
    fields and a `problems()` method for checks that span several fields."""

    name: str = Field(description="the file name without .toml; set by the loader")
    description: str = ""
    version: int = Field(default=0, ge=0, le=999, description="bump when dynamics, reward or termination change; "
                         "in [0, 999]")
    horizon: int = Field(default=300, ge=10, le=5000, description="episode length limit [steps], in [10, 5000]")
    policy_frequency: int = Field(default=5, ge=1, le=30, description="decisions per second [Hz], in [1, 30]")
    simulation_frequency: int = Field(default=15, ge=1, le=60, description="physics steps per second [Hz], "
                                      "in [1, 60]")

    UNION_TAGS: ClassVar[frozenset[str]] = frozenset()
    """Tags of the discriminated unions in the family's file (e.g. a segment's `kind`), left out of error paths."""

    def problems(self) -> list[tuple[str, str]]:
        """The family's checks that span several fields (pydantic validated each field alone)."""
        return []


Spec = ScenarioBase
"""Any family's scenario spec (the family's own model, a ScenarioBase subclass)."""


def _models(model: type[BaseModel]) -> set[type[BaseModel]]:
    """A model and every model nested in its fields (through lists and unions): where field names come from."""
    found, todo = set(), [model]
    while todo:
        m = todo.pop()
        if m in found:
            continue
        found.add(m)
        for info in m.model_fields.values():
            todo += [a for a in _annotation_types(info.annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
    return found


def _annotation_types(annotation) -> list:
    args = get_args(annotation)
    return [annotation] if not args else [t for a in args for t in _annotation_types(a)]


def scenario_id(spec: Spec) -> str:
    """The gymnasium id: `drivebench/<name>-v<version>`."""
    return f"drivebench/{spec.name}-v{spec.version}"


def spec_hash(spec: Spec) -> str:
    """sha256 of the spec's canonical JSON: identifies the exact scenario a demo or result was made on."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()


def canonical_json(spec: Spec) -> str:
    return json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def parse_spec(data: dict, *, file: str | Path = "<spec>") -> Spec:
    """Validate a spec given as data (e.g. from JSON) with its family's model (scenarios/family.py). Raises
    ScenarioError naming each bad field."""
    from drivebench.scenarios import family as families

    if not isinstance(data, dict) or "family" not in data:
        raise ScenarioError(file, [("family", f"required field is missing: one of {families.names_text()}")])
    if not isinstance(data["family"], str) or data["family"] not in families.names():
        raise ScenarioError(file, [("family", f"value {data['family']!r} does not match any of the expected "
                                              f"tags: {families.names_text()}")])
    model = families.get(data["family"]).spec_model
    try:
        spec = model.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(file, [_describe(err, model) for err in exc.errors()]) from None
    problems = _common_problems(spec) + spec.problems()
    if problems:
        raise ScenarioError(file, problems)
    return spec


def load_scenario(path: str | Path) -> Spec:
    """Read and validate one scenario file; its name is the file name without `.toml`."""
    path = Path(path)
    if path.suffix != ".toml":
        raise ScenarioError(path, [("(file)", "scenario files are TOML: name it <name>.toml")])
    if not NAME_PATTERN.match(path.stem):
        raise ScenarioError(path, [("(file name)", "use lower-case words joined by '-', e.g. curve-gentle.toml")])
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(path, [("(file)", "no such file")]) from None
    except IsADirectoryError:
        raise ScenarioError(path, [("(file)", "a folder, not a file: rename it or move it out of the folder")]) \
            from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(path, [("(file)", f"not UTF-8 text (byte {exc.start}): save it as UTF-8")]) from None
    except OSError as exc:
        raise ScenarioError(path, [("(file)", f"cannot be read: {exc.strerror or exc}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, [("(syntax)", f"not valid TOML: {exc}")]) from None
    if "name" in data:
        raise ScenarioError(path, [("name", "remove it: the scenario's name is its file name")])
    return parse_spec({**data, "name": path.stem}, file=path)


def _describe(err: dict, model: type[ScenarioBase]) -> tuple[str, str]:
    loc = err["loc"]
    # Drop the union tags pydantic inserts (a segment's "straight") so the path reads like the file.
    parts: list[str] = []
    for part in loc:
        if isinstance(part, str) and part in model.UNION_TAGS and parts and parts[-1].endswith("]"):
            continue
        if isinstance(part, int):
            parts[-1] = f"{parts[-1]}[{part}]" if parts else f"[{part}]"
        else:
            parts.append(str(part))
    field = ".".join(parts) or "(top level)"
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        unknown = str(loc[-1])
        names = sorted({name for m in _models(model) for name in m.model_fields})
        close = difflib.get_close_matches(unknown, names, n=1)
        msg = f"unknown field{'; did you mean ' + repr(close[0]) + '?' if close else ''}"
    elif kind == "missing":
        msg = "required field is missing"
    elif kind == "value_error":
        msg = msg.removeprefix("Value error, ")
    elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        info = _field_at(model, loc)
        allowed = interval_text(info) if info is not None else None
        if allowed:
            unit = re.search(r"\[([^\],]+)\]", info.description or "")
            msg = f"{msg}: allowed {allowed}{' ' + unit.group(1) if unit else ''}"
    elif kind == "union_tag_invalid" or kind == "union_tag_not_found":
        msg = msg.replace("Input tag", "value").replace("found using", "of")
    return field, msg


def _field_at(model: type[BaseModel], loc: tuple) -> FieldInfo | None:
    """The field an error location points at (through nested models, lists and unions), or None."""
    candidates, info = [model], None
    for part in loc:
        if isinstance(part, int):
            continue
        owners = [m for m in candidates if part in m.model_fields]
        if not owners:
            continue  # a union tag (a segment's "arc") or a type name pydantic put in the path
        info = owners[0].model_fields[part]
        candidates = [a for a in _annotation_types(info.annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
    return info


def _common_problems(spec: ScenarioBase) -> list[tuple[str, str]]:
    """Checks of the fields every family has that span several fields."""
    problems: list[tuple[str, str]] = []
    if not NAME_PATTERN.match(spec.name):
        problems.append(("name", "use lower-case words joined by '-'"))
    if spec.simulation_frequency % spec.policy_frequency:
        problems.append(("simulation_frequency", "must be a multiple of policy_frequency"))
    return problems


def field_docs(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str]]:
    """(field path, description) for every documented field: what `drivebench scenarios show` explains."""
    rows = []
    for name, info in model.model_fields.items():
        ann = info.annotation
        sub = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        if sub is not None:
            rows += field_docs(sub, f"{prefix}{name}.")
            continue
        if info.description:
            rows.append((f"{prefix}{name}", info.description))
        if get_origin(ann) is list:  # a list of models (a road's segments): each kind's fields, as name[kind].field
            for item in _annotation_types(ann):
                if isinstance(item, type) and issubclass(item, BaseModel):
                    tag = get_args(item.model_fields["kind"].annotation) if "kind" in item.model_fields else ()
                    rows += field_docs(item, f"{prefix}{name}[{tag[0] if tag else ''}].")
    return rows
