"""Mutation operators for the mistakes students make in PyTorch code, as cosmic-ray operators.

cosmic-ray's core operators change arithmetic, comparisons, numbers, booleans and loops. A lab's
task regions hold few of those: most of a student's mistakes there are a forgotten keyword
argument (`padding_idx=`, `ignore_index=`, `batch_first=`), a call left out (`model.eval()`,
`handle.remove()`, `.detach()`, `.flip(0)`) or a wrong string (`"weight_hh"`). These four operators
make those mutants through cosmic-ray's own `Operator` interface (parso trees), so that
`cosmic_ray.mutating.mutate_code` applies them like its own.

Every mutant of those removes or changes what the solution contains. Three more add behaviour the
solution never has, as students' code does: a result kept from one call for the next (a memo
keyed by an argument's identity), a statement run twice (an extra call of the model, a second
``backward``, a total added twice), and an extra pass over an iterable before the loop that reads
it (a generator is then empty).

Three more are shortcuts that keep the easy case and break the hard one a docstring promises: the
train/eval mode put back on the top module alone (right while every module shares one mode, wrong
for a frozen embedding kept in eval mode), a ``finally`` that runs only when its ``try`` succeeded
(a hook removed on success only), and a new tensor made from another argument (``x.new_zeros``
from the int64 token ids: an int64 hidden state).
"""

import textwrap

import parso
from parso.python.tree import Keyword, Name, PythonNode, String

from cosmic_ray.operators.operator import Example, Operator

MODULE_NAMES = {"torch", "nn", "F", "math"}  # `torch.stack(...)` is a function, not a method call on a value


def is_call_trailer(node) -> bool:
    return node.type == "trailer" and node.children[0].value == "("


def keyword_arguments(node) -> list:
    """The keyword arguments (`name=value`) of a call's argument trailer `(...)`."""
    if not is_call_trailer(node) or len(node.children) != 3:
        return []
    inner = node.children[1]
    items = inner.children if inner.type == "arglist" else [inner]
    return [a for a in items if a.type == "argument" and a.children[1].type == "operator"
            and a.children[1].value == "="]


class RemoveKeywordArgument(Operator):
    """Drops one keyword argument of a call, so that its default applies: `padding_idx=pad_idx`,
    `ignore_index=ignore_index`, `batch_first=True`, `dim=1`."""

    def mutation_positions(self, node):
        for arg in keyword_arguments(node):
            yield arg.start_pos, arg.end_pos

    def mutate(self, node, index):
        arg = keyword_arguments(node)[index]
        if node.children[1] is arg:  # the call's only argument
            node.children = [node.children[0], node.children[2]]
            return node
        items = node.children[1].children
        i = items.index(arg)
        start = i - 1 if i > 0 else i  # the argument and the comma before it (after it, when first)
        del items[start:start + 2]
        return node

    @classmethod
    def examples(cls):
        return (Example("f(a, b=1, c=2)", "f(a, c=2)"),
                Example("f(a, b=1, c=2)", "f(a, b=1)", occurrence=1),
                Example("x.sum(dim=1)", "x.sum()"),
                Example("f(b=1, c=2)", "f( c=2)"))


def is_call(node) -> bool:
    return node.type == "atom_expr" and is_call_trailer(node.children[-1])


class RemoveCallStatement(Operator):
    """Replaces a statement that is only a call with `pass`: `model.eval()`, `handle.remove()`,
    `states.append(h)`: the step a student forgets."""

    def mutation_positions(self, node):
        if node.type == "simple_stmt" and is_call(node.children[0]):
            yield node.children[0].start_pos, node.children[0].end_pos

    def mutate(self, node, index):
        call = node.children[0]
        node.children[0] = Keyword("pass", call.start_pos, prefix=call.get_first_leaf().prefix)
        return node

    @classmethod
    def examples(cls):
        return (Example("model.eval()\n", "pass\n"), Example("states.append(h)\n", "pass\n"))


def method_calls(node) -> list[int]:
    """Indices i in an `atom_expr`'s children where `.name` (i) and `(...)` (i + 1) call a method
    of the value before them."""
    if node.type != "atom_expr":
        return []
    children = node.children
    found = []
    for i in range(1, len(children) - 1):
        if children[i].children[0].value == "." and is_call_trailer(children[i + 1]):
            module_function = i == 1 and isinstance(children[0], Name) and children[0].value in MODULE_NAMES
            if not module_function:
                found.append(i)
    return found


class RemoveMethodCall(Operator):
    """Leaves out one method call of a chain, keeping the value it was called on:
    `g.detach().sqrt()` -> `g.detach()`, `norms.flip(0)` -> `norms`, `model.eval()` -> `model`."""

    def mutation_positions(self, node):
        # a list, not a generator: cosmic-ray mutates the node while it iterates over the positions
        return [(node.children[i].start_pos, node.children[i + 1].end_pos) for i in method_calls(node)]

    def mutate(self, node, index):
        i = method_calls(node)[index]
        del node.children[i:i + 2]
        return node

    @classmethod
    def examples(cls):
        return (Example("y = g.detach().sqrt()", "y = g.sqrt()"),
                Example("y = g.detach().sqrt()", "y = g.detach()", occurrence=1),
                Example("y = norms.flip(0)", "y = norms"))


def is_docstring(leaf) -> bool:
    return leaf.parent.type == "simple_stmt" and leaf.parent.children[0] is leaf


class ReplaceStringLiteral(Operator):
    """Changes a string constant (as mutmut does): `"weight_hh"` -> `"XXweight_hhXX"`; a wrong name
    or option."""

    def mutation_positions(self, node):
        if isinstance(node, String) and not is_docstring(node) and node.value[:1] in "'\"":
            yield node.start_pos, node.end_pos

    def mutate(self, node, index):
        quote = node.value[0]
        return String(f"{quote}XX{node.value[1:-1]}XX{quote}", node.start_pos, prefix=node.prefix)

    @classmethod
    def examples(cls):
        return (Example("x = 'tanh'", "x = 'XXtanhXX'"),)


def expression(code: str, prefix: str):
    """A parso expression node for ``code``, with ``prefix`` (the whitespace before it)."""
    node = parso.parse(code + "\n").children[0]
    node = node.children[0] if node.type == "simple_stmt" else node
    node.get_first_leaf().prefix = prefix
    return node


def enclosing_parameters(node) -> list[str]:
    """The names of the parameters of the function that holds ``node`` (``self`` included)."""
    while node is not None and node.type != "funcdef":
        node = node.parent
    return [] if node is None else [p.name.value for p in node.get_params()]


class MemoizeByArgument(Operator):
    """Keeps the first result for each identity of one argument and returns it on every later call
    with that object: `return x` -> `return <memo>.setdefault(id(model), x)` (one mutant a parameter)."""

    def mutation_positions(self, node):
        if node.type == "return_stmt" and len(node.children) == 2:
            for _ in enclosing_parameters(node):
                yield node.start_pos, node.end_pos

    def mutate(self, node, index):
        argument = enclosing_parameters(node)[index]
        value = node.children[1]
        node.children[1] = expression(f"globals().setdefault('_MEMO', {{}}).setdefault((id({argument}), "
                                      f"{node.start_pos[0]}), ({value.get_code(include_prefix=False)}))",
                                      value.get_first_leaf().prefix)
        node.children[1].parent = node
        return node

    @classmethod
    def examples(cls):
        return (Example("def f(a, b):\n    return a + b\n",
                        "def f(a, b):\n    return globals().setdefault('_MEMO', {}).setdefault((id(a), 2), (a + b))\n"),)


def repeatable(statement) -> bool:
    """A call on its own (`loss.backward()`, `states.append(h)`), a total added to (`total += f(x)`),
    or the model called (`logits, _ = model(x)`, a parameter of the function called)."""
    if is_call(statement):
        return True
    if statement.type != "expr_stmt" or "(" not in statement.get_code():
        return False
    operator, value = statement.children[1], statement.children[-1]
    if operator.type == "operator" and operator.value in ("+=", "-=", "*="):
        return True
    return (is_call(value) and isinstance(value.children[0], Name) and len(value.children) == 2
            and value.children[0].value in enclosing_parameters(statement))


class RepeatStatement(Operator):
    """Runs a statement twice: `loss.backward()` (a second backward), `states.append(h)`, `total +=
    ...` (added twice), `logits, _ = model(x)` (an extra call of the model)."""

    def mutation_positions(self, node):
        if node.type == "simple_stmt" and len(node.children) == 2 and repeatable(node.children[0]):
            yield node.children[0].start_pos, node.children[0].end_pos

    def mutate(self, node, index):
        statement = node.children[0].get_code(include_prefix=False)
        prefix = node.get_first_leaf().prefix
        repeated = parso.parse(f"{statement}; {statement}\n").children[0]  # a simple_stmt: a; a NEWLINE
        node.children = repeated.children
        for child in node.children:
            child.parent = node
        node.get_first_leaf().prefix = prefix
        return node

    @classmethod
    def examples(cls):
        return (Example("loss.backward()\n", "loss.backward(); loss.backward()\n"),)


class ExtraPassOverIterable(Operator):
    """Goes through a loop's iterable once before the loop does: `for x, y in loader:` ->
    `for x, y in (list(loader), loader)[1]:` (a generator is then empty)."""

    def mutation_positions(self, node):
        if node.type == "for_stmt" and node.children[3].type == "name":
            yield node.children[3].start_pos, node.children[3].end_pos

    def mutate(self, node, index):
        name = node.children[3]
        node.children[3] = expression(f"(list({name.value}), {name.value})[1]", name.prefix)
        node.children[3].parent = node
        return node

    @classmethod
    def examples(cls):
        return (Example("for x in xs:\n    pass\n", "for x in (list(xs), xs)[1]:\n    pass\n"),)


def descendants(node):
    yield node
    for child in getattr(node, "children", []):
        yield from descendants(child)


def mode_assignments(for_stmt) -> list:
    """The statements `<loop variable>.training = <value>` in a for loop's body."""
    targets = {name.value for name in for_stmt.get_defined_names()}
    return [stmt for stmt in descendants(for_stmt.children[-1])
            if stmt.type == "expr_stmt" and len(stmt.children) == 3 and stmt.children[1].type == "operator"
            and stmt.children[1].value == "=" and stmt.children[0].type == "atom_expr"
            and len(stmt.children[0].children) == 2 and isinstance(stmt.children[0].children[0], Name)
            and stmt.children[0].children[0].value in targets
            and stmt.children[0].children[1].get_code(include_prefix=False) == ".training"]


class ModeFromTopModuleOnly(Operator):
    """Puts a saved train/eval mode back on the first module alone, with `.train()`: `for m, mode in
    modes: m.training = mode` -> `for m, mode in modes[:1]: m.train(mode)`. The first of
    `model.modules()` is the model, and `.train(mode)` gives every submodule its mode: right while
    all modules share one mode, wrong for a submodule the caller kept in another."""

    def mutation_positions(self, node):
        if node.type == "for_stmt" and mode_assignments(node):
            yield node.start_pos, node.end_pos

    def mutate(self, node, index):
        iterable = node.children[3]
        node.children[3] = expression(f"({iterable.get_code(include_prefix=False)})[:1]", iterable.prefix)
        node.children[3].parent = node
        for stmt in mode_assignments(node):
            module, value = stmt.children[0].children[0].value, stmt.children[2]
            call = expression(f"{module}.train({value.get_code(include_prefix=False)})", stmt.get_first_leaf().prefix)
            stmt.parent.children[stmt.parent.children.index(stmt)] = call
            call.parent = stmt.parent
        return node

    @classmethod
    def examples(cls):
        return (Example("for m, mode in modes:\n    m.training = mode\n",
                        "for m, mode in (modes)[:1]:\n    m.train(mode)\n"),)


def statements(code: str, column: int, prefix: str):
    """One parso node holding the statements of ``code`` (indented to ``column``), the first with ``prefix``."""
    if column == 0:
        parsed = parso.parse(code).children[:-1]  # the module's statements, without its end marker
    else:
        parsed = parso.parse("if True:\n" + code).children[0].children[-1].children[1:]  # the suite's, after its newline
    parsed[0].get_first_leaf().prefix = prefix
    return PythonNode("suite", parsed)


def suite_code(suite) -> str:
    """A block's statements, dedented to column 0."""
    return textwrap.dedent(suite.get_code(include_prefix=False).lstrip("\n"))


class FinallyOnSuccessOnly(Operator):
    """Runs a `finally` block only when its `try` block succeeded: `try: A finally: B` -> `A; B`
    (a hook removed, a mode restored, on success only: an exception leaves them behind)."""

    def mutation_positions(self, node):
        keywords = [c.value for c in node.children if c.type == "keyword"] if node.type == "try_stmt" else []
        if keywords == ["try", "finally"]:
            yield node.start_pos, node.end_pos

    def mutate(self, node, index):
        column = node.start_pos[1]
        code = textwrap.indent(suite_code(node.children[2]) + suite_code(node.children[5]), " " * column)
        return statements(code, column, node.get_first_leaf().prefix)

    @classmethod
    def examples(cls):
        return (Example("def f():\n    try:\n        a()\n    finally:\n        b()\n", "def f():\n    a()\n    b()\n"),
                Example("try:\n    a()\nfinally:\n    b()\nc()\n", "a()\nb()\nc()\n"))


NEW_TENSOR_METHODS = {"new_zeros", "new_ones", "new_full", "new_empty", "new_tensor"}


def new_tensor_call(node) -> bool:
    """`name.new_zeros(...)` (or another `Tensor.new_*` method) on a plain name."""
    return (node.type == "atom_expr" and len(node.children) == 3 and isinstance(node.children[0], Name)
            and node.children[1].type == "trailer" and node.children[1].children[0].value == "."
            and node.children[1].children[1].value in NEW_TENSOR_METHODS and is_call_trailer(node.children[2]))


def other_arguments(node) -> list[str]:
    """The enclosing function's parameters a new tensor could be made from instead (not ``self``,
    not the tensor it is made from now)."""
    return [p for p in enclosing_parameters(node) if p not in ("self", node.children[0].value)]


class NewTensorFromOtherArgument(Operator):
    """Makes a new tensor from another argument of the function: `e.new_zeros(B, H)` ->
    `x.new_zeros(B, H)`, which takes `x`'s dtype and device (one mutant an argument): from int64
    token ids, an int64 hidden state."""

    def mutation_positions(self, node):
        if new_tensor_call(node):
            for _ in other_arguments(node):
                yield node.start_pos, node.end_pos

    def mutate(self, node, index):
        source = node.children[0]
        node.children[0] = Name(other_arguments(node)[index], source.start_pos, prefix=source.prefix)
        node.children[0].parent = node
        return node

    @classmethod
    def examples(cls):
        return (Example("def f(self, x, h0):\n    e = g(x)\n    h = e.new_zeros(2, 3)\n",
                        "def f(self, x, h0):\n    e = g(x)\n    h = x.new_zeros(2, 3)\n"),
                Example("def f(self, x, h0):\n    e = g(x)\n    h = e.new_zeros(2, 3)\n",
                        "def f(self, x, h0):\n    e = g(x)\n    h = h0.new_zeros(2, 3)\n", occurrence=1))


OPERATORS = {f"rnnlab/{cls.__name__}": cls for cls in
             (RemoveKeywordArgument, RemoveCallStatement, RemoveMethodCall, ReplaceStringLiteral,
              MemoizeByArgument, RepeatStatement, ExtraPassOverIterable, ModeFromTopModuleOnly,
              FinallyOnSuccessOnly, NewTensorFromOtherArgument)}
