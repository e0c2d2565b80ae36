"""Who may call whom (components/access-control.yaml) matches what the services call.

Every Dapr service-invocation call site in services/ is found in the source (`.invoke(...)`, and
every function that passes its own parameters on to one: `call`, `forward`, `batch_lookup`,
...), each is checked against the Configuration its callee's sidecar runs (written by
scripts/dapr_configs.py) with daprd's own matching rules, and every rule must be used by some
call site. A new call needs its rule; a rule no code needs goes.

A call site whose target the source does not spell out (a loop over a setting, a value read
from a stored record) is listed in RESOLVED below with the calls it makes, computed from the
same settings the service reads; a new one fails the test until it is listed.
"""

import ast
import importlib.util
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from services.gateway.config import BACKEND_APPS
from services.order_view.replay import SUBSCRIBERS

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("dapr_configs", ROOT / "scripts/dapr_configs.py")
assert spec is not None and spec.loader is not None
dapr_configs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dapr_configs)

ANY = object()  # a path segment the source computes (an id): matched as a sample id
SAMPLE_ID = "0b6e1c2a-7d1f-4c55-9a43-3f0d3c2b1a00"


# --- daprd's matching (dapr 1.18 pkg/config/acl_trie.go and pkg/acl/acl.go), ported as is ------


@dataclass(frozen=True)
class Operation:
    name: str
    verbs: frozenset[str]


class Trie:
    """daprd's operation trie for one caller: first match wins, a path with data admits what is
    below it, /* admits one more segment (or none), /** any number."""

    def __init__(self) -> None:
        self.root: dict[str, Any] = {"char": "/", "data": None, "subs": []}

    def put(self, operation: str, verbs: set[str]) -> None:
        self.put_operation(Operation(operation, frozenset(verbs)))

    def put_operation(self, data: Operation) -> None:
        operation = data.name.lower()  # HTTP apps: daprd matches without case
        parts = operation.split("/")
        node = self.root
        for index, part in enumerate(parts[1:], start=1):
            char = "/" + part
            sub = next((n for n in node["subs"] if n["char"] == char), None)
            if sub is None:
                sub = {"char": char, "data": data if index == len(parts) - 1 else None, "subs": []}
                node["subs"].append(sub)
                node = sub
            elif index == len(parts) - 1:
                if sub["data"] is None:
                    sub["data"] = data
            else:
                node = sub

    def search(self, operation: str) -> Operation | None:
        parts = operation.split("/")
        node: dict[str, Any] | None = self.root
        for index, part in enumerate(parts[1:], start=1):
            is_end = index == len(parts) - 1
            node = _find(node["subs"] if node else [], "/" + part, is_end)
            if node is None:
                return None
            if node["data"] is not None:
                if not is_end and node["char"].endswith("/*") and not node["char"].endswith("/**"):
                    continue
                return node["data"]  # type: ignore[no-any-return]
            if is_end:
                node = _find(node["subs"], "/*", is_end)
                if node is not None and node["data"] is not None:
                    return node["data"]  # type: ignore[no-any-return]
        return None


def _find(nodes: list[dict[str, Any]], char: str, is_end: bool) -> dict[str, Any] | None:
    for node in nodes:
        if node["char"] == char:
            return node
        if node["char"] == "/*":
            if is_end:
                return node
            continue
        if node["char"] == "/**" or _wildcard_match(char, node["char"]):
            return node
    return None


def _wildcard_match(target: str, pattern: str) -> bool:
    """'*' matches any run of characters, as daprd's isMatch."""
    if not pattern:
        return not target
    if pattern[0] == "*":
        return _wildcard_match(target, pattern[1:]) or (bool(target) and _wildcard_match(target[1:], pattern))
    return bool(target) and target[0] == pattern[0] and _wildcard_match(target[1:], pattern[1:])


@dataclass(frozen=True)
class Rule:
    callee: str
    caller: str
    operation: str
    verb: str


def policies() -> dict[tuple[str, str], Trie]:
    """(callee, caller) -> daprd's trie, from the Configurations scripts/dapr_configs.py writes."""
    made = {}
    for name, config in dapr_configs.configurations().items():
        if name == "sentry.yaml":
            continue
        acl = config["spec"]["accessControl"]
        assert acl["defaultAction"] == "deny", name
        for policy in acl["policies"]:
            assert policy["defaultAction"] == "deny", (name, policy["appId"])
            trie = Trie()
            for op in policy["operations"]:
                assert op["action"] == "allow"
                trie.put(op["name"], set(op["httpVerb"]))
            made[(name.removesuffix(".yaml"), policy["appId"])] = trie
    return made


def rule_for(callee: str, caller: str, verb: str, path: str) -> Rule | None:
    """The rule of `callee`'s sidecar that admits the call, or None: refused."""
    trie = policies().get((callee, caller))
    operation = trie.search(("/" + path.lstrip("/")).lower()) if trie else None
    if operation is None or verb not in operation.verbs:
        return None
    return Rule(callee, caller, operation.name, verb)


# --- the call sites --------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    caller: str
    callee: str
    verb: str
    path: str
    where: str


Pattern = list[Any]  # parts: str, ANY, or ("param", name)


@dataclass
class Invoker:
    """A function that makes a service-invocation call from (some of) its parameters."""

    params: list[str]
    app: Pattern | None
    verb: Pattern | None
    path: Pattern | None


BASE = Invoker(
    ["target", "method", "path"], [("param", "target")], [("param", "method")], [("param", "path")]
)


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _enclosing(
    node: ast.AST, parents: dict[ast.AST, ast.AST]
) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return node
    return None


def _params(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    a = func.args
    return [p.arg for p in [*a.posonlyargs, *a.args, *a.kwonlyargs]]


def _alternatives(
    expr: ast.expr, func: ast.FunctionDef | ast.AsyncFunctionDef | None, parents: dict[ast.AST, ast.AST]
) -> list[Pattern] | None:
    """What an argument can be: a literal, an f-string, one of the enclosing function's
    parameters, or a name a `for` loop takes from a literal tuple. None when the source does
    not say."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return [[expr.value]]
    if isinstance(expr, ast.JoinedStr):
        pattern: Pattern = []
        for value in expr.values:
            if isinstance(value, ast.Constant):
                pattern.append(value.value)
            elif (
                isinstance(value, ast.FormattedValue)
                and isinstance(value.value, ast.Name)
                and func
                and value.value.id in _params(func)
            ):
                pattern.append(("param", value.value.id))
            else:
                pattern.append(ANY)
        return [pattern]
    if isinstance(expr, ast.Name):
        if func and expr.id in _params(func):
            return [[("param", expr.id)]]
        node: ast.AST = expr
        while node in parents:
            node = parents[node]
            if (
                isinstance(node, ast.For)
                and isinstance(node.target, ast.Name)
                and node.target.id == expr.id
                and isinstance(node.iter, ast.Tuple | ast.List)
                and all(isinstance(e, ast.Constant) for e in node.iter.elts)
            ):
                return [[e.value] for e in node.iter.elts]  # type: ignore[attr-defined]
    return None


def _substitute(template: Pattern | None, bound: dict[str, list[Pattern] | None]) -> list[Pattern] | None:
    """The template with the call's arguments put in. A part of a longer path the caller does
    not spell out is an id (ANY); a whole target, verb or path it does not spell out is unknown."""
    if template is None:
        return None
    options: list[list[Pattern]] = []
    for part in template:
        if isinstance(part, tuple):
            values = bound.get(part[1])
            if values is None and len(template) == 1:
                return None
            options.append(values or [[ANY]])
        else:
            options.append([[part]])
    return [[p for piece in combo for p in piece] for combo in itertools.product(*options)]


@dataclass
class Site:
    file: str
    function: str
    invoker: str
    caller: str
    app: list[Pattern] | None
    verb: list[Pattern] | None
    path: list[Pattern] | None


def _caller_of(path: Path) -> str:
    return path.relative_to(ROOT / "services").parts[0].replace("_", "-")


def call_sites() -> list[Site]:
    """Every call that reaches `.invoke(...)`, with what the source says of its target, verb
    and path, for the function where the values are spelled out (not inside a wrapper)."""
    files = sorted((ROOT / "services").rglob("*.py"))
    trees = {path: ast.parse(path.read_text()) for path in files}
    parents = {path: _parents(tree) for path, tree in trees.items()}
    # (package or "shared", function name) -> the calls it makes from its parameters
    invokers: dict[tuple[str, str], list[Invoker]] = {}
    for _ in range(5):  # wrappers of wrappers: a few rounds reach the fixpoint
        sites: list[Site] = []
        found: dict[tuple[str, str], list[Invoker]] = {}
        for path, tree in trees.items():
            package = _caller_of(path)
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or not (node.args or node.keywords):
                    continue  # no arguments: not a call (task.cancel() is not orders' cancel(...))
                name = (
                    node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                )
                made = [BASE] if name == "invoke" and isinstance(node.func, ast.Attribute) else []
                made = made or invokers.get((package, name)) or invokers.get(("shared", name)) or []
                func = _enclosing(node, parents[path])
                for invoker in made:
                    site = _site(invoker, node, func, parents[path])
                    if (site.from_params or package == "shared") and func is not None:
                        # A wrapper (and every function of services/shared, which is no app of its
                        # own): its callers are the ones calling.
                        found.setdefault((package, func.name), []).append(site.as_invoker(_params(func)))
                    else:
                        rel = str(path.relative_to(ROOT))
                        sites.append(
                            Site(rel, func.name if func else "<module>", name, package, *site.ids_as_any())
                        )
        if found == invokers:
            return sites
        invokers = found
    raise AssertionError("wrappers of wrappers deeper than five")


@dataclass
class Bound:
    roles: tuple[list[Pattern] | None, list[Pattern] | None, list[Pattern] | None]  # app, verb, path

    @property
    def from_params(self) -> bool:
        """Whether the enclosing function passes its own parameters as the target, the verb or
        the whole path: a wrapper, whose callers say what it calls. A parameter inside a longer
        path (an id from a route's path) is not."""
        app, verb, path = self.roles
        whole_path = path is not None and any(
            p == [("param", p[0][1])] for p in path if p and isinstance(p[0], tuple)
        )
        return whole_path or any(
            isinstance(part, tuple) for role in (app, verb) if role for p in role for part in p
        )

    def ids_as_any(self) -> tuple[list[Pattern] | None, ...]:
        """The roles of a call site: what is still a parameter inside a path is an id."""
        return tuple(
            None if role is None else [[ANY if isinstance(part, tuple) else part for part in p] for p in role]
            for role in self.roles
        )

    def as_invoker(self, params: list[str]) -> Invoker:
        def one(role: list[Pattern] | None) -> Pattern | None:
            return role[0] if role and len(role) == 1 else None

        return Invoker(params, *(one(role) for role in self.roles))


def _site(
    invoker: Invoker,
    node: ast.Call,
    func: ast.FunctionDef | ast.AsyncFunctionDef | None,
    parents: dict[ast.AST, ast.AST],
) -> Bound:
    """The call's target, verb and path: the invoker's, with the call's arguments put in."""
    params = invoker.params[1:] if invoker.params[:1] == ["self"] else invoker.params
    bound: dict[str, list[Pattern] | None] = {}
    for param, arg in zip(params, node.args, strict=False):
        bound[param] = _alternatives(arg, func, parents)
    for keyword in node.keywords:
        if keyword.arg:
            bound[keyword.arg] = _alternatives(keyword.value, func, parents)
    app, verb, path = (_substitute(t, bound) for t in (invoker.app, invoker.verb, invoker.path))
    return Bound((app, verb, path))


def _text(pattern: Pattern) -> str:
    return "".join(SAMPLE_ID if part is ANY else part for part in pattern)


# Call sites whose target, verb or path the source computes; the calls each makes, from the
# settings the service itself reads. (file, function, called) -> calls as (callee, verb, path).
RESOLVED: dict[tuple[str, str, str], list[tuple[str, str, str]]] = {
    # /api/health probes every backend app's liveness.
    ("services/gateway/service.py", "system_health", "probe"): [
        (app, "GET", "healthz") for app in BACKEND_APPS
    ],
    # An admin's dead-letter replay: to the subscriber that failed, on its delivery route.
    ("services/order_view/replay.py", "replay", "_redeliver"): [
        (doc["scopes"][0], "POST", doc["spec"]["routes"]["default"])
        for file in sorted((ROOT / "components/subscriptions").glob("*.yaml"))
        for doc in yaml.safe_load_all(file.read_text())
        if doc["scopes"][0] in SUBSCRIBERS
    ],
}


def calls() -> Iterator[Call]:
    unresolved = []
    resolved_used = set()
    for site in call_sites():
        key = (site.file, site.function, site.invoker)
        if key in RESOLVED:
            resolved_used.add(key)
            for callee, verb, path in RESOLVED[key]:
                yield Call(site.caller, callee, verb, path, f"{site.file}:{site.function}")
            continue
        if site.app is None or site.verb is None or site.path is None:
            unresolved.append(key)
            continue
        for app, verb, path in itertools.product(site.app, site.verb, site.path):
            yield Call(site.caller, _text(app), _text(verb), _text(path), f"{site.file}:{site.function}")
    assert not unresolved, f"call sites the source does not spell out: list them in RESOLVED: {unresolved}"
    assert resolved_used == RESOLVED.keys(), (
        f"RESOLVED lists sites that are gone: {RESOLVED.keys() - resolved_used}"
    )


# --- the tests -------------------------------------------------------------------------------


def remote_calls() -> list[Call]:
    # An app calling itself never leaves its sidecar, so no access control applies.
    return [call for call in calls() if call.callee != call.caller]


def test_the_call_sites_are_found() -> None:
    found = {(c.caller, c.callee, c.verb, c.path.split("/")[0]) for c in remote_calls()}
    # A few edges the README's diagram draws: if these are not found, the parser is broken.
    assert ("auth", "customers", "POST", "customers") in found
    assert ("orders", "products", "POST", "reservations") in found
    assert ("order-view", "products", "POST", "products") in found
    assert ("gateway", "orders", "POST", "orders") in found
    assert len(found) > 20


def test_every_call_in_the_services_is_allowed_by_the_callees_sidecar() -> None:
    refused = [c for c in remote_calls() if rule_for(c.callee, c.caller, c.verb, c.path) is None]
    assert not refused, "add these to components/access-control.yaml:\n" + "\n".join(map(str, refused))


def test_every_rule_is_used_by_a_call() -> None:
    used = {rule_for(c.callee, c.caller, c.verb, c.path) for c in remote_calls()}
    rules = {
        Rule(callee, caller["appId"], op["name"], verb)
        for callee, callers in yaml.safe_load((ROOT / "components/access-control.yaml").read_text())[
            "callees"
        ].items()
        for caller in callers
        for op in caller["operations"]
        for verb in op["httpVerb"]
    }
    dead = rules - used
    assert not dead, "no call needs these rules: remove them\n" + "\n".join(map(str, sorted(dead, key=str)))


def test_what_no_caller_needs_is_refused() -> None:
    # Examples of the edges the issue names: only orders moves stock, only auth creates customers.
    assert rule_for("products", "gateway", "POST", "reservations") is None
    assert rule_for("products", "order-view", "POST", f"reservations/{SAMPLE_ID}/release") is None
    assert rule_for("customers", "gateway", "POST", "customers") is None
    assert rule_for("orders", "notifications", "GET", "orders") is None
    # Nobody calls the gateway through Dapr.
    assert not [key for key in policies() if key[0] == "gateway"]
    # Verbs count: gateway reads orders and places them, never deletes one.
    assert rule_for("orders", "gateway", "DELETE", f"orders/{SAMPLE_ID}") is None


def test_daprd_matching_as_ported() -> None:
    """The port follows daprd's quirks the policies rely on (components/access-control.yaml)."""
    trie = Trie()
    trie.put("/orders/*", {"GET", "POST"})
    trie.put("/orders/**", {"POST"})
    verbs = lambda path: (trie.search(path) or Operation("", frozenset())).verbs  # noqa: E731
    assert verbs("/orders") == verbs(f"/orders/{SAMPLE_ID}") == {"GET", "POST"}
    assert verbs(f"/orders/{SAMPLE_ID}/cancel") == {"POST"}
    assert verbs(f"/orders/{SAMPLE_ID}/cancel/again") == {"POST"}
    assert trie.search("/order") is None
    shadowed = Trie()
    shadowed.put("/dead-letters", {"GET"})
    shadowed.put("/dead-letters/replay", {"POST"})
    # A path with data admits what is below it, with its own verbs.
    assert shadowed.search("/dead-letters/replay") == Operation("/dead-letters", frozenset({"GET"}))
