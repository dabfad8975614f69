"""CloudFormation's side of a deployment, for one set of parameter values: parameters checked against their
constraints, the AWS::LanguageExtensions transform applied before SAM's, Conditions and Rules evaluated, intrinsic
functions resolved.

Values that exist only in AWS (a CloudFront domain name, an import) cannot be known locally. They resolve to a
marker, not an error: a private-use code point brackets the reference's name inside the resolved string, so that
`Fn::Split` over `Fn::Sub "https://${SiteDistribution.DomainName},${AllowedOrigins}"` still yields the other
origins, and `concrete` turns a marked value into None (with a log line naming what to pass) where it is used.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from .errors import TemplateError

__all__ = [
    "LANGUAGE_EXTENSIONS",
    "MARKED",
    "NO_VALUE",
    "PSEUDO_PARAMETERS",
    "Conditions",
    "Resolver",
    "as_text",
    "check_rules",
    "concrete",
    "marked",
    "no_if",
    "parameter_values",
    "physical",
    "resolve_language_extensions",
    "strings",
    "typed_parameters",
    "unresolved",
]

log = logging.getLogger("local_api.template")

MARK: Final = "\ue000"
MARKED: Final = re.compile(f"{MARK}([^{MARK}]*){MARK}")
NO_VALUE: Final = object()  # AWS::NoValue: the key or item disappears
_SUB_VARIABLE: Final = re.compile(r"\$\{([^}]*)\}")
LANGUAGE_EXTENSIONS: Final = "AWS::LanguageExtensions"
PSEUDO_PARAMETERS: Final = frozenset(
    {
        "AWS::AccountId",
        "AWS::NotificationARNs",
        "AWS::NoValue",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    }
)
# Language extensions this module does not implement: a template using one is refused rather than served wrongly.
_UNSUPPORTED_EXTENSIONS: Final = ("Fn::ForEach", "Fn::Length", "Fn::ToJsonString")


# ---------------------------------------------------------------------------------------------------- parameters
def parameter_values(specs: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    """Given values over defaults, checked against the declared constraints as CloudFormation would check them."""
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise TemplateError(f"unknown template parameter(s) {', '.join(unknown)}; declared: {', '.join(specs)}")
    values: dict[str, str] = {}
    for name, spec in specs.items():
        if name in given:
            value = str(given[name])
        elif "Default" in spec:
            value = str(spec["Default"]).lower() if isinstance(spec["Default"], bool) else str(spec["Default"])
        else:
            raise TemplateError(f"template parameter {name} has no default: pass a value for it")
        problem = _constraint_problem(spec, value)
        if problem:
            shown = "(hidden: NoEcho)" if spec.get("NoEcho") else repr(value)
            raise TemplateError(f"template parameter {name}={shown} {problem}")
        values[name] = value
    return values


def _constraint_problem(spec: Mapping[str, Any], value: str) -> str | None:
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(v) for v in allowed]:
        return f"is not one of {', '.join(str(v) for v in allowed)}"
    pattern = spec.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(pattern, value):
        return f"does not match {pattern}" + (
            f" ({spec['ConstraintDescription']})" if "ConstraintDescription" in spec else ""
        )
    if not spec.get("MinLength", 0) <= len(value) <= spec.get("MaxLength", len(value)):
        return "has the wrong length"
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return "is not a number"
        if not spec.get("MinValue", number) <= number <= spec.get("MaxValue", number):
            return f"is outside {spec.get('MinValue', '')}..{spec.get('MaxValue', '')}"
    return None


def typed_parameters(specs: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    """What `Ref` to each parameter yields: list types are lists, everything else a string."""
    typed: dict[str, Any] = {}
    for name, value in values.items():
        kind = str(specs[name].get("Type", "String"))
        typed[name] = value.split(",") if kind == "CommaDelimitedList" or kind.startswith("List<") else value
    return typed


# ---------------------------------------------------------------------------------------------------- intrinsics
def _is_intrinsic(node: dict[str, Any]) -> bool:
    if len(node) != 1:
        return False
    (key,) = node
    return key == "Ref" or key.startswith("Fn::")


class Resolver:
    """Fn::If, Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Split, Fn::Select, Fn::FindInMap, Fn::Base64, as deployed."""

    def __init__(
        self,
        parameters: Mapping[str, Any],
        refs: Mapping[str, str],
        attributes: Mapping[str, str],
        mappings: Mapping[str, Any],
        holds: Callable[[str], bool],
    ) -> None:
        self.parameters = parameters
        self.refs = refs
        self.attributes = attributes
        self.mappings = mappings
        self.holds = holds

    def __call__(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if _is_intrinsic(node):
            ((function, argument),) = node.items()
            return self._intrinsic(function, argument)
        resolved = {key: self(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not NO_VALUE}

    def _intrinsic(self, function: str, argument: Any) -> Any:
        if function == "Ref":
            return self._ref(str(argument))
        if function == "Fn::GetAtt":
            logical, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
            return self._attribute(str(logical), str(self(attribute)))
        if function == "Fn::If":
            condition, if_true, if_false = argument
            return self(if_true if self.holds(condition) else if_false)
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            return self._sub(text, self(variables))
        if function == "Fn::Join":
            separator, items = argument
            values = self(items)
            return separator.join(as_text(value, "Fn::Join") for value in values)
        if function == "Fn::Split":
            separator, text = argument
            return as_text(self(text), "Fn::Split").split(separator)
        if function == "Fn::Select":
            index, items = argument
            return self(items)[int(self(index))]
        if function == "Fn::FindInMap":
            name, top, second = (as_text(self(part), "Fn::FindInMap") for part in argument)
            try:
                return self.mappings[name][top][second]
            except KeyError:
                raise TemplateError(f"Fn::FindInMap: no {name}.{top}.{second} in Mappings") from None
        if function == "Fn::Base64":
            return base64.b64encode(as_text(self(argument), "Fn::Base64").encode()).decode()
        if function == "Fn::GetAZs":
            region = self.parameters["AWS::Region"]
            return [f"{region}{zone}" for zone in "abc"]
        # Fn::ImportValue, Fn::Cidr, ...: values that only exist in AWS.
        return marked(f"{function}")

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        return marked(name)

    def _attribute(self, logical: str, attribute: str) -> Any:
        key = f"{logical}.{attribute}"
        return self.attributes.get(key, marked(key))

    def _sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return as_text(variables[name], "Fn::Sub")
            if "." in name and not name.startswith("AWS::"):
                logical, attribute = name.split(".", 1)
                return as_text(self._attribute(logical, attribute), "Fn::Sub")
            return as_text(self._ref(name), "Fn::Sub")

        return _SUB_VARIABLE.sub(replace, text)


def as_text(value: Any, where: str) -> str:
    """A resolved scalar as CloudFormation stringifies it (booleans lowercase)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return str(value)
    raise TemplateError(f"{where}: expected a string, got {value!r}")


def no_if(condition: str) -> bool:
    raise TemplateError(f"Fn::If ({condition}) cannot appear in a condition")


def marked(name: str) -> str:
    return f"{MARK}{name}{MARK}"


def unresolved(value: str) -> list[str]:
    return MARKED.findall(value)


def _shown(value: str) -> str:
    """A marked string as the template wrote it: `https://${SiteDistribution.DomainName}`."""
    return MARKED.sub(lambda match: "${" + match.group(1) + "}", value)


def concrete(value: Any, where: str) -> str | None:
    """A resolved scalar as text, or None (with a log line naming what to pass) when it needs an AWS-only value."""
    if value is None:
        return None
    text = as_text(value, where)
    missing = unresolved(text)
    if missing:
        names = ", ".join(sorted(set(missing)))
        log.info("%s %s dropped: %s exists only in AWS (give it in resources to keep it)", where, _shown(text), names)
        return None
    return text


def physical(value: Any, ids: Mapping[str, str]) -> Any:
    """`value` with each marker naming a key of `ids` (a logical id, or `Id.Attribute`) replaced by its value.

    What CloudFormation does once a resource exists: `!Ref UserPool` becomes the pool's id. Other markers stay.
    """
    if isinstance(value, str):
        return MARKED.sub(lambda match: ids.get(match.group(1), match.group(0)), value)
    if isinstance(value, list):
        return [physical(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: physical(item, ids) for key, item in value.items()}
    return value


def strings(value: Any, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value] if value is not None else []
    return tuple(text for item in items if (text := concrete(item, where)) is not None)


# ---------------------------------------------------------------------------------------------------- conditions
class _UnsupportedCondition(TemplateError):
    """A function only Rules may use (Fn::Contains, Fn::EachMemberIn, ...): not evaluated locally."""


class Conditions:
    """The template's Conditions for one set of parameter values, each evaluated once."""

    def __init__(self, conditions: Mapping[str, Any], resolve: Resolver) -> None:
        self._conditions = conditions
        self._resolve = resolve
        self._known: dict[str, bool] = {}

    def holds(self, name: str) -> bool:
        if name not in self._known:
            if name not in self._conditions:
                raise TemplateError(f"unknown condition {name}")
            self._known[name] = self.evaluate(self._conditions[name])
        return self._known[name]

    def evaluate(self, expression: Any) -> bool:
        if isinstance(expression, dict) and len(expression) == 1:
            ((function, arguments),) = expression.items()
            if function == "Fn::Equals":
                left, right = (as_text(self._resolve(argument), "Fn::Equals") for argument in arguments)
                return left == right
            if function == "Fn::Not":
                return not self.evaluate(arguments[0])
            if function == "Fn::And":
                return all(self.evaluate(argument) for argument in arguments)
            if function == "Fn::Or":
                return any(self.evaluate(argument) for argument in arguments)
            if function == "Condition":
                return self.holds(arguments)
        raise _UnsupportedCondition(f"unsupported condition {expression!r}")


def check_rules(rules: Mapping[str, Any], conditions: Conditions) -> None:
    """Rules assertions, as CloudFormation checks them before deploying (rule-only functions are skipped)."""
    for name, rule in rules.items():
        try:
            applies = "RuleCondition" not in rule or conditions.evaluate(rule["RuleCondition"])
            failed = [a for a in rule.get("Assertions", []) if applies and not conditions.evaluate(a["Assert"])]
        except _UnsupportedCondition as error:
            log.debug("rule %s not checked locally: %s", name, error)
            continue
        if failed:
            raise TemplateError(f"rule {name}: {failed[0].get('AssertDescription', 'an assertion fails')}")


# ------------------------------------------------------------------------------------------ language extensions
def resolve_language_extensions(template: Mapping[str, Any], parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The template AWS::LanguageExtensions hands SAM's transform, for `parameters` (typed, pseudo ones included).

    Why: SAM rejects an intrinsic where an authorizer is chosen, so the template picks the HttpApi's Auth with Fn::If
    and relies on this transform, listed first, to resolve it before SAM sees it. CloudFormation's transform (and
    SAM CLI's copy of it) does, in Resources and Outputs only (Globals, Conditions and the rest are left alone):
    - Fn::If picks its branch (conditions name parameters only); AWS::NoValue removes the key or list item;
    - Ref to a parameter or a known pseudo parameter becomes its value; Ref to a resource is kept;
    - Fn::Sub substitutes parameters and pseudo parameters, and becomes a plain string once nothing is left;
    - an entry whose Condition is false is rewritten too, with every plain Ref to a non-pseudo name becoming
      AWS::NoValue: such a resource is not created, but SAM's transform still has to accept what is left of it.
    Other functions keep their (resolved) arguments: CloudFormation evaluates them after SAM, to the same values.
    Fn::ForEach, Fn::Length and Fn::ToJsonString are not implemented and are refused. A template that does not
    list the transform is returned unchanged.
    """
    transforms = template.get("Transform")
    listed = [transforms] if isinstance(transforms, str) else list(transforms or [])
    if LANGUAGE_EXTENSIONS not in listed:
        return dict(template)
    for section in ("Resources", "Outputs", "Conditions"):
        used = _extension_in(template.get(section))
        if used:
            raise TemplateError(f"{used} (AWS::LanguageExtensions) in {section} is not resolved locally")
    conditions = Conditions(
        template.get("Conditions") or {}, Resolver(parameters, {}, {}, template.get("Mappings") or {}, no_if)
    )
    result = dict(template)
    rest = [name for name in listed if name != LANGUAGE_EXTENSIONS]
    if rest:
        result["Transform"] = rest if len(rest) > 1 else rest[0]
    else:
        result.pop("Transform", None)
    for section, drop in (("Resources", True), ("Outputs", False)):
        entries = template.get(section)
        if not isinstance(entries, dict):
            continue
        extensions = _Extensions(parameters, conditions.holds, drop_no_value=drop)
        result[section] = {
            name: extensions.false_entry(entry)
            if isinstance(entry, dict) and "Condition" in entry and not conditions.holds(str(entry["Condition"]))
            else extensions(entry)
            for name, entry in entries.items()
        }
    return result


def _extension_in(node: Any) -> str | None:
    if isinstance(node, list):
        return next((found for item in node if (found := _extension_in(item))), None)
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and key.startswith(_UNSUPPORTED_EXTENSIONS):
                return next(name for name in _UNSUPPORTED_EXTENSIONS if key.startswith(name))
            found = _extension_in(value)
            if found:
                return found
    return None


class _Extensions:
    """One pass of AWS::LanguageExtensions over a section (see `resolve_language_extensions`)."""

    def __init__(self, parameters: Mapping[str, Any], holds: Callable[[str], bool], drop_no_value: bool) -> None:
        self.parameters = parameters
        self.holds = holds
        # In Resources a NoValue removes its key; in Outputs the transform leaves it for CloudFormation.
        self.drop_no_value = drop_no_value

    def __call__(self, node: Any) -> Any:
        return self._settle(self._resolve(node))

    def false_entry(self, node: Any) -> Any:
        """An entry whose Condition is false: plain Refs to non-pseudo names become AWS::NoValue."""
        return self._settle(self._partial(node))

    def _partial(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self._partial(item) for item in node]
        if not isinstance(node, dict):
            return node
        if _is_intrinsic(node) or set(node) == {"Condition"}:
            ((function, argument),) = node.items()
            if function == "Ref" and str(argument) not in PSEUDO_PARAMETERS:
                return NO_VALUE
            return self._resolve(node)
        return {key: self._partial(value) for key, value in node.items()}

    def _resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self._resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if not _is_intrinsic(node):
            return {key: self._resolve(value) for key, value in node.items()}
        ((function, argument),) = node.items()
        if function == "Ref":
            name = str(argument)
            if name == "AWS::NoValue":
                return NO_VALUE
            return self.parameters.get(name, node)
        if function == "Fn::If":
            if not (isinstance(argument, list) and len(argument) == 3 and isinstance(argument[0], str)):
                raise TemplateError(f"Fn::If layout is incorrect: {argument!r}")
            condition, if_true, if_false = argument
            return self._resolve(if_true if self.holds(condition) else if_false)
        if function == "Fn::Sub":
            return self._sub(argument)
        return {function: self._resolve(argument)}

    def _sub(self, argument: Any) -> Any:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        if not isinstance(text, str):
            return {"Fn::Sub": self._resolve(argument)}
        variables = self._resolve(variables)

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            value = self.parameters.get(name)
            if name.startswith("!") or name in variables or not isinstance(value, str):
                return match.group(0)
            return value

        substituted = _SUB_VARIABLE.sub(replace, text)
        if not variables and all(name.startswith("!") for name in _SUB_VARIABLE.findall(substituted)):
            return _SUB_VARIABLE.sub(lambda match: "${" + match.group(1)[1:] + "}", substituted)
        return {"Fn::Sub": [substituted, variables] if variables else substituted}

    def _settle(self, node: Any) -> Any:
        """NO_VALUE markers removed (Resources) or written back as CloudFormation's own Ref (Outputs)."""
        if node is NO_VALUE:
            return {"Ref": "AWS::NoValue"}
        if isinstance(node, list):
            if self.drop_no_value:
                return [self._settle(item) for item in node if item is not NO_VALUE]
            return [self._settle(item) for item in node]
        if isinstance(node, dict):
            if self.drop_no_value:
                return {key: self._settle(value) for key, value in node.items() if value is not NO_VALUE}
            return {key: self._settle(value) for key, value in node.items()}
        return node
