"""Write kubeconform's JSON schemas offline, from Kubernetes' OpenAPI document and from CRDs.

kubeconform normally downloads its schemas from GitHub, out of reach here. The same schemas
derive from sources the Go module proxy serves: `api/openapi-spec/swagger.json` in the
k8s.io/kubernetes module, and the CustomResourceDefinitions in Dapr's and KEDA's modules.

One strict schema per kind, named as kubeconform's `{{.ResourceKind}}{{.KindSuffix}}.json`
(`deployment-apps-v1.json`, `component-dapr-v1alpha1.json`); strict means an object with known
properties accepts no others, so a misspelt field fails validation instead of being dropped.
"""

import argparse
import copy
import json
from pathlib import Path
from typing import Any

import yaml

REF_PREFIX = "#/definitions/"
# Types the API server decodes from either JSON type, while the document says only "string".
EITHER = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": [{"type": "string"}, {"type": "integer"}],
    "io.k8s.apimachinery.pkg.api.resource.Quantity": [{"type": "string"}, {"type": "number"}],
}


def file_name(kind: str, group: str, version: str) -> str:
    """kubeconform's name for a kind: the group's first label only (`apps`, `dapr`, `keda`)."""
    suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
    return f"{kind.lower()}{suffix}.json"


def strict(schema: Any) -> Any:
    """A copy where every object with declared properties refuses undeclared ones."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: strict(value) for key, value in schema.items()}
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "string"}, {"type": "integer"}]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def reachable(name: str, definitions: dict[str, Any]) -> dict[str, Any]:
    """The definitions `name` refers to, transitively (references stay references: some recurse)."""
    seen: dict[str, Any] = {}
    stack = [name]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen[current] = definitions[current]
        stack.extend(refs(definitions[current]))
    return seen


def refs(schema: Any) -> list[str]:
    if isinstance(schema, list):
        return [ref for item in schema for ref in refs(item)]
    if not isinstance(schema, dict):
        return []
    # (JSONSchemaProps has a property named "$ref" too: only a string is a reference.)
    ref = schema.get("$ref")
    found = [ref[len(REF_PREFIX) :]] if isinstance(ref, str) else []
    return found + [ref for value in schema.values() for ref in refs(value)]


def from_openapi(swagger: Path, out: Path) -> int:
    definitions: dict[str, Any] = json.loads(swagger.read_text())["definitions"]
    for name, types in EITHER.items():
        definitions[name] = {"anyOf": types}
    written = 0
    for name, definition in definitions.items():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            needed = reachable(name, definitions)
            schema = strict(copy.deepcopy(definition))
            schema["definitions"] = {key: strict(value) for key, value in needed.items()}
            target = out / file_name(gvk["kind"], gvk["group"], gvk["version"])
            target.write_text(json.dumps(schema))
            written += 1
    return written


def from_crds(directory: Path, out: Path) -> int:
    written = 0
    for path in sorted(directory.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
                # Every object carries these, whether or not the CRD's schema lists them.
                properties = schema.setdefault("properties", {})
                properties.setdefault("apiVersion", {"type": "string"})
                properties.setdefault("kind", {"type": "string"})
                properties.setdefault("metadata", {"type": "object"})
                target = out / file_name(spec["names"]["kind"], spec["group"], version["name"])
                target.write_text(json.dumps(strict(schema)))
                written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--openapi", type=Path, required=True, help="Kubernetes' swagger.json")
    parser.add_argument("--crds", type=Path, action="append", default=[], help="a directory of CRDs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    count = from_openapi(args.openapi, args.out)
    for directory in args.crds:
        count += from_crds(directory, args.out)
    print(f"[k8s-schemas] {count} schemas in {args.out}")


if __name__ == "__main__":
    main()
