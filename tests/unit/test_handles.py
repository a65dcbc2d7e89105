"""Opaque handles: mapping (incomplete structs, declared handles, ``T **`` outputs, destroy
functions), and the generated stub over the fake engine: wrapped results, the checks on
every call (class, closed, thread, instance), and the destroy function run exactly once.
"""

from __future__ import annotations

import gc
import pickle
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from support.fake import FakeCall, FakeInstance, FakeKernels, GeneratedStub, imported_stub

from wasm_ext import WasmExtension
from wasm_ext.builder.c_ast import RawFunction, RawParam, SourceInfo
from wasm_ext.builder.mapping import map_functions
from wasm_ext.builder.model import Function, HandleType, Param
from wasm_ext.declarations import HandleDecl, parse_functions, parse_handles
from wasm_ext.errors import ConfigError, SignatureError

MODULE = "kernels"


def _info(*functions: RawFunction, complete: bool = False) -> SourceInfo:
    info = SourceInfo()
    info.typedefs["state_t"] = "struct state"
    info.records["struct state"] = complete
    info.records["struct point"] = True
    for fn in functions:
        info.functions[fn.name] = fn
    return info


def _raw(name: str, *params: tuple[str, str], result: str = "int") -> RawFunction:
    return RawFunction(name, [RawParam(n, s) for n, s in params], result, False, f"k.c:{len(name)}", defined=True)


NEW = _raw("state_new", ("seed", "int"), result="state_t *")
INIT = _raw("state_init", ("out", "state_t **"))
UPDATE = _raw("state_update", ("s", "state_t *"), ("x", "int"))
FREE = _raw("state_free", ("s", "state_t *"), result="void")


def _map(*raws: RawFunction, complete: bool = False, handles: Any = None, functions: Any = None) -> list[Function]:
    return map_functions(
        _info(*raws, complete=complete),
        [r.name for r in raws],
        module=MODULE,
        declared=parse_functions(functions, where="t"),
        handles=parse_handles(handles, where="t"),
        origin="setup.py",
    )


def test_a_pointer_to_an_incomplete_struct_is_a_handle() -> None:
    new, init, update = _map(NEW, INIT, UPDATE, functions={"state_init": {"out": "out"}})
    handle = HandleType("state_t", "", "struct state")  # named by its typedef
    assert (new.result, new.result_handle, new.handles) == ("u32", "state_t", (handle,))
    assert init.params == (Param("out", "handle_out", "u32", "state_t **", handle="state_t"),)
    assert update.params[0] == Param("s", "handle", "u32", "state_t *", handle="state_t")
    assert update.wasm_params == ("i32", "i32") and not update.uses_memory and update.uses_handles
    assert Function.from_json(update.to_json()) == update


def test_a_defined_struct_is_a_handle_when_declared_one() -> None:
    with pytest.raises(
        SignatureError,
        match=r"its result \(state_t \*\) points to struct state: .* declare it a handle, handles.state_t = ",
    ):
        _map(NEW, complete=True)
    (new, free) = _map(NEW, FREE, complete=True, handles={"state_t": {"destroy": "state_free"}})
    assert new.handles == (HandleType("state_t", "state_free", "struct state"),)
    assert free.params[0].kind == "handle"


def test_a_pointer_to_a_handle_pointer_must_be_declared_out() -> None:
    with pytest.raises(
        SignatureError, match=r'points to a state_t handle: .* declare functions.state_init.out = "out"'
    ):
        _map(INIT)


@pytest.mark.parametrize(
    ("handles", "raws", "message"),
    [
        (
            {"state_t": {"destroy": "state_free"}},
            (NEW,),
            "handles.state_t.destroy = 'state_free' \\(setup.py\\): state_free\\(\\) is not exported",
        ),
        (
            {"state_t": {"destroy": "state_update"}},
            (NEW, UPDATE),
            "state_update\\(\\) must take one state_t and nothing else",
        ),
        (
            {"int": {}},
            (NEW,),
            "handles.int \\(setup.py\\): not a struct or union the sources declare \\(it is 'int'\\)",
        ),
        ({"struct nope": {}}, (NEW,), "handles.struct nope .*not a struct or union the sources declare"),
    ],
)
def test_bad_handle_declarations(handles: Any, raws: tuple[RawFunction, ...], message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        _map(*raws, handles=handles)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (["state_t"], "handles must be a table"),
        ({"state t": {}}, "handles.state t: not a C type name"),
        ({"state_t": "free"}, "handles.state_t must be a table"),
        ({"state_t": {"free": "f"}}, "handles.state_t: unknown key 'free' \\(known: destroy, base\\)"),
        ({"state_t": {"base": "a b"}}, "handles.state_t.base = 'a b': not a C type name"),
        ({"state_t": {"destroy": "a b"}}, "handles.state_t.destroy = 'a b': not a C function name"),
    ],
)
def test_handle_table_shape_errors(table: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=f"^pkg.k: {message}"):
        WasmExtension("pkg.k", ["k.c"], handles=table)
    assert parse_handles({"struct  s": {}}, where="") == (HandleDecl("struct s"),)


# --- the stub over the fake engine -----------------------------------------------------

FUNCTIONS = _map(
    NEW, INIT, UPDATE, FREE, handles={"state_t": {"destroy": "state_free"}}, functions={"state_init": {"out": "out"}}
)
FUNCTIONS = [Function(**{**f.__dict__, "export": f.name}) for f in FUNCTIONS]


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GeneratedStub]:
    with imported_stub(FUNCTIONS, tmp_path_factory.mktemp("handles")) as generated:
        yield generated


@pytest.fixture
def kernels(stub: GeneratedStub) -> FakeKernels:
    k = FakeKernels(stub)
    k.program("state_new", result=0x1230)
    return k


def _destroys(kernels: FakeKernels) -> list[tuple[Any, ...]]:
    return [e for e in kernels.instance.events if e[0] == "call_u32"]


def test_a_returned_handle_is_an_object_of_its_class(kernels: FakeKernels, stub: GeneratedStub) -> None:
    state_t = stub.import_module().state_t
    s = kernels["state_new"](7)
    assert type(s) is state_t and not s.closed and repr(s) == "<state_t handle at 0x1230>"
    kernels.program("state_new", result=0)
    assert kernels["state_new"](7) is None  # NULL
    with pytest.raises(TypeError, match="state_t objects are made by the kernels that return them"):
        state_t()
    with pytest.raises(TypeError, match="cannot pickle a state_t handle"):
        pickle.dumps(s)
    assert "def state_new(seed: int) -> state_t | None:" in stub.pyi and "class state_t(_Handle):" in stub.pyi


def test_a_handle_is_passed_as_its_address(kernels: FakeKernels) -> None:
    s = kernels["state_new"](1)
    kernels["state_update"](s, 5)
    assert kernels.calls[-1].value("u32", 0) == 0x1230 and kernels.calls[-1].value("i32", 1) == 5
    with pytest.raises(TypeError, match=r"^state_update\(\): s must be a state_t handle, not int$"):
        kernels["state_update"](0x1230, 5)


def test_a_handle_out_parameter(kernels: FakeKernels, stub: GeneratedStub) -> None:
    def store(call: FakeCall, instance: FakeInstance) -> None:
        instance.memory[int(call.value("u32", 0))][:4] = (0x4560).to_bytes(4, "little")

    kernels.program("state_init", effect=store, result=0)
    error, s = kernels["state_init"]()
    assert error == 0 and type(s) is stub.import_module().state_t and s._address == 0x4560


def test_destroy_runs_once_on_close_with_or_the_destroy_function(kernels: FakeKernels) -> None:
    s = kernels["state_new"](1)
    s.close()
    s.close()
    assert _destroys(kernels) == [("call_u32", "state_free", 0x1230)] and s.closed
    with pytest.raises(ValueError, match=r"^state_update\(\): the state_t handle s is closed$"):
        kernels["state_update"](s, 1)
    with kernels["state_new"](2) as t:
        pass
    assert t.closed and len(_destroys(kernels)) == 2
    u = kernels["state_new"](3)
    assert kernels["state_free"](u) is None and u.closed and len(_destroys(kernels)) == 3
    assert not [c for c in kernels.calls if c.export == "state_free"]  # closed, not called a second time
    with pytest.raises(ValueError, match="is closed"):
        kernels["state_free"](u)


def test_destroy_runs_at_garbage_collection(kernels: FakeKernels) -> None:
    s = kernels["state_new"](1)
    del s
    gc.collect()
    assert _destroys(kernels) == [("call_u32", "state_free", 0x1230)]


def test_a_handle_collected_in_another_thread_is_freed_by_its_own(kernels: FakeKernels) -> None:
    # Collected by the worker's gc.collect(): the handle is only reachable from a reference cycle, so
    # the worker's collection runs its finalizer. (Dropping the last reference in the worker is not
    # enough: on free-threaded CPython the owner thread deallocates an object it made.)
    enabled = gc.isenabled()
    gc.disable()  # no collection in this thread in between
    try:
        cycle: list[Any] = [kernels["state_new"](1)]
        cycle.append(cycle)
        del cycle
        worker = threading.Thread(target=gc.collect)
        worker.start()
        worker.join()
    finally:
        if enabled:
            gc.enable()
    assert _destroys(kernels) == [] and kernels.instance.deferred == [("state_free", 0x1230)]
    keep = kernels["state_new"](2)  # the next handle operation of the owner thread frees it
    assert _destroys(kernels) == [("call_u32", "state_free", 0x1230)] and not keep.closed


def test_a_handle_of_another_thread_or_a_dead_instance_is_refused(kernels: FakeKernels, stub: GeneratedStub) -> None:
    """Each thread has an instance of its own (the fake shares one, so the check is called as the stub's slow path)."""
    check_handle = stub.runtime("handles").check_handle
    state_t = stub.import_module().state_t
    s = kernels["state_new"](1)
    errors: list[BaseException] = []

    def use() -> None:
        for call in (lambda: check_handle(s, state_t, kernels.instance, "state_update", "s"), s.close):
            try:
                call()
            except ValueError as exc:
                errors.append(exc)

    worker = threading.Thread(target=use)
    worker.start()
    worker.join()
    assert [str(e) for e in errors] == [
        "state_update(): s was made by another thread; a handle can only be used by its own",
        "state_t.close(): a handle can only be used by the thread that made it",
    ]
    old = FakeKernels(stub)  # the instance a trap replaced: the thread's binding now has a new one
    old.program("state_new", result=0x1230)
    stale = old["state_new"](1)
    old.instance.dead = True
    with pytest.raises(ValueError, match=r"^state_update\(\): s belongs to an instance that was reset after a trap"):
        kernels["state_update"](stale, 1)
    del stale
    gc.collect()
    assert _destroys(old) == []  # its memory is gone: nothing to free


def test_a_handle_of_another_sandbox_is_refused(kernels: FakeKernels, stub: GeneratedStub) -> None:
    other = FakeKernels(stub)
    other.program("state_new", result=0x1230)
    foreign = other["state_new"](1)
    with pytest.raises(ValueError, match=r"^state_update\(\): s belongs to another instance of the module"):
        kernels["state_update"](foreign, 1)
    assert not [c for c in kernels.calls if c.export == "state_update"]


def test_a_handle_out_of_a_call_that_succeeded_is_never_none(tmp_path: Any) -> None:
    """With an error convention, success and NULL contradict each other: it raises, and the type says so."""
    (init,) = _map(INIT, functions={"state_init": {"out": "out", "return": "error if != 0"}})
    with imported_stub([Function(**{**init.__dict__, "export": "state_init"})], tmp_path) as generated:
        kernels = FakeKernels(generated)
        kernels.program("state_init", result=0)  # success, and the out slot left NULL
        with pytest.raises(
            generated.runtime("exceptions").KernelError,
            match=r"state_init\(\): the call succeeded but gave no state_t \(NULL\)",
        ):
            kernels["state_init"]()
        assert "def state_init() -> state_t:" in generated.pyi


# --- a kind of another handle, and handles a function takes over ---------------------------

BASE_NEW = _raw("base_new", result="struct point *")  # struct point: complete, declared a handle
KIND_NEW = _raw("kind_new", ("out", "state_t **"))
ADOPT = _raw("adopt", ("b", "struct point *"), ("out", "struct point **"))
BASE_FREE = _raw("base_free", ("b", "struct point *"), result="void")
KIND_FREE = _raw("kind_free", ("b", "struct point *"), result="void")  # frees a state_t through its base
KINDS = {"struct point": {"destroy": "base_free"}, "state_t": {"destroy": "kind_free", "base": "struct point"}}
KIND_FUNCTIONS = {"kind_new": {"out": "out"}, "adopt": {"b": "own", "out": "out"}}


def _kinds() -> list[Function]:
    raws = (BASE_NEW, KIND_NEW, ADOPT, BASE_FREE, KIND_FREE)
    mapped = _map(*raws, complete=True, handles=KINDS, functions=KIND_FUNCTIONS)
    return [Function(**{**f.__dict__, "export": f.name}) for f in mapped]


def test_a_handle_type_can_be_a_kind_of_another() -> None:
    _, kind_new, adopt, _, kind_free = _kinds()
    point, state = (
        HandleType("point", "base_free", "struct point"),
        HandleType("state_t", "kind_free", "struct state", "point"),
    )
    assert kind_new.handles == (point, state)  # its base comes with it: the stub defines both classes
    assert adopt.params[0] == Param("b", "handle", "u32", "struct point *", handle="point", owned=True)
    assert state in kind_free.handles  # its destroy function takes the base: it closes a state_t too


@pytest.mark.parametrize(
    ("handles", "functions", "message"),
    [
        (
            {"state_t": {"base": "struct point"}},
            {},
            r"handles.state_t.base = 'struct point' \(setup.py\): not a handle type",
        ),
        (
            {"struct point": {"base": "state_t"}, "state_t": {"base": "struct point"}},
            {},
            r"the bases of .* come back to it",
        ),
        (
            KINDS,
            {**KIND_FUNCTIONS, "scaled": {"x": "own"}},
            r"""scaled.x = 'own' .*"own" is for a handle parameter, not 'int'""",
        ),
    ],
)
def test_bad_kinds_and_owners(handles: Any, functions: Any, message: str) -> None:
    raws = (BASE_NEW, KIND_NEW, ADOPT, BASE_FREE, KIND_FREE, _raw("scaled", ("x", "int")))
    with pytest.raises(SignatureError, match=message):
        _map(*raws, complete=True, handles=handles, functions=functions)


def test_a_kind_passes_for_its_base_and_an_owned_handle_is_closed_not_freed(tmp_path: Any) -> None:
    with imported_stub(_kinds(), tmp_path) as generated:
        kernels = FakeKernels(generated)
        module = kernels.module
        assert issubclass(module.state_t, module.point) and module.state_t.__mro__.index(module.point) == 1

        def store(address: int) -> Any:
            def effect(call: FakeCall, instance: FakeInstance) -> None:
                instance.poke(int(call.value("u32", 1 if call.export == "adopt" else 0)), address.to_bytes(4, "little"))

            return effect

        kernels.program("kind_new", effect=store(0x40), result=0)
        _, state = kernels["kind_new"]()  # (its int result, the handle)
        assert type(state) is module.state_t
        kernels.program("adopt", effect=store(0x40), result=0)
        _, adopted = kernels["adopt"](state)  # a state_t passes for a point; adopt takes it over
        assert state.closed and type(adopted) is module.point
        del state
        gc.collect()
        assert ("call_u32", "kind_free", 0x40) not in kernels.instance.events  # taken over: never freed here
        kernels.program("adopt", trap=True)
        with pytest.raises(Exception, match="adopt failed"):
            kernels["adopt"](adopted)
        assert not adopted.closed  # the call failed: nothing was taken over
