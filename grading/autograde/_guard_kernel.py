"""The grader's guard: runs inside the grading kernel, as its first cell.

This file is never imported by the grader: :mod:`._guard` sends its text as
the source of a cell that runs before any learner code. :func:`install`
adds one audit hook (:func:`sys.addaudithook`) that holds the guard's state.
Nothing else references the hook; it never raises and calls no code the
learner could have replaced (only identity and exact-type tests on the
learner's objects). It

- records calls that tamper with how failures happen and are reported, at
  the moment they are made: ``sys.settrace`` / ``sys.setprofile`` (also
  through ``threading`` hooks, ctypes or other threads), frame and
  object-graph introspection (``sys._current_frames``, ``gc.get_referrers``,
  a traceback or generator leading to the guard's frames), ctypes access to
  the interpreter or memory, ``/proc/*/mem``, new audit hooks, hand-made
  functions;
- checks, after every cell (``post_run_cell``; ``pre_run_cell`` counts
  cells) and in every probe cell, that the machinery of failure reporting is as it
  was: builtins and learner names shadowing them, ``sys`` hooks and
  streams, trace and profile hooks, import hooks, IPython's shell, its
  transformers, traceback printers and event callbacks, the kernel, its
  session and sockets (instance and class level), signal handlers and
  timers, threads running learner code, library functions and modules
  replaced by learner code;
- checks, in every probe cell, the classes made by the learner's code for
  values that lie: a subclass of a library type (``float``, ``str``,
  ``dict``, numpy's and pandas' types) that changes a comparison, an
  operator, a conversion or any inherited method, a class whose
  comparisons or arithmetic answer a constant, and faked ``__class__`` or
  ``isinstance`` answers. Dataclasses' generated comparisons, named tuples
  and enums are not the learner's behaviour; a hand-written ``__eq__`` of
  a plain class is noted for review;
- notes, without calling it tampering, what an honest notebook may also
  do (a comparison written by hand, cell checks out of step): the probe's
  answer then carries the notes, signed with the key, and the grader keeps
  the scores and asks an instructor to look;
- answers probe cells. A probe reads ``__code__`` of a lambda whose default
  is ``"ai4scale-probe:<nonce>"``; the hook sees that read and sets the
  lambda's ``answer``: the findings, or ``sha256(key + findings + nonce)``
  which, with no findings, the grader can check. The key is drawn here and
  printed by this cell before any learner code runs; every finding is fed
  into the hash object at once, so even code that later reaches the hash
  object cannot compute a clean answer.

Learner code runs in this process, so this raises the bar rather than
proves the absence of tampering; see the limits in the docs of ``_guard``.
"""


def install(cells, marker, packages=None):  # noqa: C901 - one closure on purpose: its state has one owner
    """Install the guard; print ``marker`` and the probe key.

    Parameters
    ----------
    cells : list of str
        The names of the code cells that will run, in order (for the
        findings).
    marker : str
        Printed before the key.
    packages : dict, optional
        Top-level packages the lab's own cells import (``pandas``, ``numpy``),
        each with the folder it is installed in (``"built-in"`` for modules
        built into the interpreter): their modules and classes are checked
        for learner code; these folders and the ones holding them count as
        library code.
    """
    import _thread
    import builtins
    import functools
    import hashlib
    import os
    import signal
    import sys
    import threading
    import types

    from IPython.core import interactiveshell

    ip = get_ipython()  # noqa: F821 - IPython's builtin
    execution_result = interactiveshell.ExecutionResult
    execution_info = interactiveshell.ExecutionInfo

    get_ident = _thread.get_ident
    function, method, builtin = types.FunctionType, types.MethodType, types.BuiltinFunctionType
    frame_type, traceback_type = types.FrameType, types.TracebackType
    module_type, mappingproxy = types.ModuleType, types.MappingProxyType
    packages = {k: v for k, v in (packages or {}).items() if type(k) is str and type(v) is str}
    builtin_names = frozenset(sys.builtin_module_names)
    generators = (types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType)
    descriptors = (types.GetSetDescriptorType, types.MemberDescriptorType)
    cls_dict = type.__dict__["__dict__"].__get__
    cls_mro = type.__dict__["__mro__"].__get__
    cls_flags = type.__dict__["__flags__"].__get__
    cls_name = type.__dict__["__qualname__"].__get__
    function_module = types.FunctionType.__dict__["__module__"].__get__
    heap_type, type_subclass = 1 << 9, 1 << 31
    partial = functools.partial
    missing = object()
    current_frames = sys._current_frames
    getsignal, getitimer = signal.getsignal, signal.getitimer
    timers = [getattr(signal, n) for n in ("ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF")]
    main_ident = get_ident()
    own_file = sys._getframe().f_code.co_filename
    get_frame = sys._getframe

    # ---- safe access: never runs a method of the learner's ------------------

    def static(cls, name):
        for c in cls_mro(cls):
            d = cls_dict(c)
            if name in d:
                return d[name]
        return missing

    def idict(obj):
        d = static(type(obj), "__dict__")
        if type(d) not in descriptors:
            return {}
        try:
            got = d.__get__(obj)
        except Exception:
            return {}
        return got if type(got) is dict else {}

    def strkeys(d):
        """``d`` itself when every key is a plain str, else a copy with only those.

        A key of another type could run the learner's ``__eq__`` in a lookup.
        """
        if type(d) is mappingproxy:
            return d  # a class's namespace: str keys only
        if type(d) is not dict:
            return {}
        for k in d:
            if type(k) is not str:
                return {k: v for k, v in d.items() if type(k) is str}
        return d

    def attr(obj, name):
        d = strkeys(idict(obj))
        if name in d:
            return d[name]
        return strkeys(d.get("_trait_values")).get(name, missing)

    def is_str(value, text):
        return type(value) is str and value == text

    prefixes = tuple(
        sorted(
            {
                os.path.join(os.path.realpath(p), "")
                for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)
            }
            | {os.path.join(p, "") for p in (sys.prefix, sys.base_prefix)}
            # and the folders holding them (an editable project's other packages)
            | {
                os.path.join(os.path.dirname(p.rstrip("/")), "")
                for p in packages.values()
                if p.startswith("/")
            }
        )
    )

    def library_file(name):
        return type(name) is str and (
            name.startswith(prefixes) or name.startswith("<frozen ") or name == own_file
        )

    def user_code(obj, depth=0):
        """Whether ``obj`` is (or wraps) code defined outside the installed libraries."""
        if depth > 4:
            return True
        t = type(obj)
        if t is function:
            name = obj.__code__.co_filename
            if library_file(name):
                return False
            if type(name) is str and name.startswith("<"):
                # generated (exec, namedtuple, dataclasses): the notebook's own, or a library's
                return type(function_module(obj)) is not str or function_module(obj) == "__main__"
            return True
        if t is method:
            return user_code(obj.__func__, depth + 1)
        if t is builtin or obj is None:
            return False
        if cls_flags(t) & type_subclass:
            return user_class(obj)
        if t is partial:
            return user_code(obj.func, depth + 1)
        if t in (staticmethod, classmethod):
            return user_code(obj.__func__, depth + 1)
        if t is property:
            return any(user_code(f, depth + 1) for f in (obj.fget, obj.fset, obj.fdel) if f)
        call = static(t, "__call__")
        if type(call) is function:
            return user_code(call, depth + 1)
        return user_class(t)

    def user_class(cls):
        """Whether ``cls`` was made outside the libraries (C types never are)."""
        if not cls_flags(cls) & heap_type:
            return False
        for v in cls_dict(cls).values():
            if type(v) in (staticmethod, classmethod):
                v = v.__func__
            if type(v) is function and user_code(v):
                return True
        # else: a class of the notebook's own namespace, or of a library
        return is_str(cls_dict(cls).get("__module__"), "__main__")

    def own_frame(frame):
        return type(frame) is frame_type and is_str(frame.f_code.co_filename, own_file)

    # ---- what the learner's code must not change ---------------------------

    def snap_object(obj):
        inst = {k: v for k, v in strkeys(idict(obj)).items() if callable(v)}
        classes = [(c, dict(cls_dict(c))) for c in cls_mro(type(obj)) if cls_flags(c) & heap_type]
        return obj, type(obj), inst, classes

    kernel = getattr(ip, "kernel", None)
    watched = {
        "the shell": ip,
        "the kernel": kernel,
        "the session": getattr(kernel, "session", None),
        "the iopub socket": getattr(kernel, "iopub_socket", None),
        "the iopub thread": getattr(kernel, "iopub_thread", None),
        "the shell stream": getattr(kernel, "shell_stream", None),
        "the displayhook": ip.displayhook,
        "the display publisher": ip.display_pub,
        "the traceback printer": ip.InteractiveTB,
        "the syntax error printer": ip.SyntaxTB,
        "the compiler": ip.compile,
        "the events": ip.events,
        "the input transformer manager": ip.input_transformer_manager,
        "the builtin trap": ip.builtin_trap,
        "the display trap": ip.display_trap,
        "stdout": sys.stdout,
        "stderr": sys.stderr,
    }
    watched = {k: snap_object(v) for k, v in watched.items() if v is not None}
    for name in ("ExecutionResult", "ExecutionInfo"):
        klass = getattr(interactiveshell, name)
        watched[name] = (None, None, {}, [(klass, dict(cls_dict(klass)))])

    trap_names = {"_", "__", "___", "exit", "quit", "get_ipython", "display", "__IPYTHON__"}
    trap_names |= {"help", "copyright", "credits", "license", "In", "Out", "input"}
    builtins_dict = idict(builtins)
    builtins_snap = {k: v for k, v in strkeys(builtins_dict).items() if k not in trap_names}
    sys_dict = idict(sys)
    sys_names = (
        "excepthook displayhook unraisablehook breakpointhook stdout stderr stdin settrace "
        "setprofile gettrace getprofile audit addaudithook exc_info exception _getframe "
        "modules meta_path path_hooks"
    ).split()
    sys_snap = {k: sys_dict.get(k, missing) for k in sys_names}
    # While a cell runs IPython puts in its own displayhook and excepthook (a
    # fresh bound method each time); the values outside are learnt right
    # after this cell, before any learner code.
    sys_outer = {}
    shell_excepthook = static(type(ip), "excepthook")

    def shell_method(obj):
        """IPython's own excepthook, bound afresh for every statement it runs."""
        return type(obj) is method and obj.__self__ is ip and obj.__func__ is shell_excepthook

    meta_path, path_hooks = list(sys.meta_path), list(sys.path_hooks)
    threading_dict = idict(threading)
    threading_snap = {
        k: threading_dict.get(k, missing)
        for k in ("_trace_hook", "_profile_hook", "settrace", "setprofile")
    }
    user_ns = ip.user_ns
    shell_attrs = {
        k: attr(ip, k)
        for k in ("user_ns", "user_global_ns", "custom_exceptions", "CustomTB", "events", "kernel")
    }
    lists = {
        "AST transformers": attr(ip, "ast_transformers"),
        "input transformers": attr(ip, "input_transformers_post"),
    }
    itm = ip.input_transformer_manager
    for k in ("cleanup_transforms", "line_transforms", "token_transformers"):
        lists["input " + k.replace("_", " ")] = attr(itm, k)
    lists_snap = {k: (v, list(v)) for k, v in lists.items() if type(v) is list}
    callbacks = attr(ip.events, "callbacks")
    signals = {}
    for s in signal.valid_signals():
        try:
            signals[s] = getsignal(s)
        except (OSError, ValueError):
            pass
    # The libraries the lab's own cells import: their modules and the modules
    # and classes these expose (with their bases) must hold no learner code.
    # A namespace found clean is passed over while the ids of its callables
    # sum to the same (a C-level pass).
    ident = id

    def fingerprint(d):
        return sum(map(ident, filter(callable, d.values())))

    clean = {}  # id of a module or class checked -> its namespace's fingerprint then
    loaded_at_start = {n: m for n, m in strkeys(sys_dict.get("modules")).items() if n in packages}

    # ---- the findings, seen only by the hook --------------------------------

    found = {}  # kind -> message, in order
    noted = {}  # kind -> message: what an honest notebook may also do, for review
    where = {"depth": 0, "top": 0}
    busy = set()
    chain = hashlib.sha256()

    def label():
        top = where["top"]
        return cells[top - 1] if 0 < top <= len(cells) else f"run {top}"

    def flag(kind, text):
        if kind not in found:
            message = f"{label()}: {text}"
            chain.update(message.encode())
            if len(found) < 30:
                found[kind] = message

    def note(kind, text):
        if kind not in noted and kind not in found and len(noted) < 30:
            noted[kind] = f"{label()}: {text}"

    def same_items(now, then):
        return len(now) == len(then) and all(a is b for a, b in zip(now, then, strict=True))

    def same(old, new):
        if old is new or shell_method(new):
            return True
        # IPython sets a fresh stream.write closure for every cell (its tee).
        return type(old) is function and type(new) is function and old.__code__ is new.__code__

    def check_object(what, snap):
        obj, t, inst, classes = snap
        if obj is not None:
            if type(obj) is not t:
                flag(f"class:{what}", f"the class of {what} was replaced")
                return
            now = strkeys(idict(obj))
            for k, v in now.items():
                if callable(v) and not same(inst.get(k), v):
                    flag(f"attr:{what}.{k}", f"{what}'s {k} was replaced")
            for k in inst:
                if k not in now:
                    flag(f"attr:{what}.{k}", f"{what}'s {k} was removed")
        for c, d in classes:
            now = cls_dict(c)
            if len(now) != len(d) or any(now.get(k, missing) is not v for k, v in d.items()):
                changed = [k for k in now if d.get(k, missing) is not now[k]]
                changed += [k for k in d if k not in now]
                flag(f"class:{cls_name(c)}", f"{cls_name(c)}.{(changed or ['?'])[0]} was replaced")

    def check_threads():
        for ident, frame in current_frames().items():
            if ident == main_ident:
                continue
            f, n = frame, 0
            while f is not None and n < 200:
                if not library_file(f.f_code.co_filename):
                    flag("thread", "a thread runs the learner's code")
                    return
                f, n = f.f_back, n + 1

    def namespaces(name):
        """Yield (what, owner, namespace) of a loaded library package, as its users see it."""
        mod = strkeys(sys_dict.get("modules")).get(name)
        if mod is None:
            return
        top = strkeys(idict(mod))
        where = packages[name]
        if not (
            (where == "built-in" and name in builtin_names and "__file__" not in top)
            or (type(top.get("__file__")) is str and top["__file__"].startswith(where))
        ):
            flag(f"module:{name}", f"the module {name} is not the installed library")
            return
        yield name, mod, top
        seen = set()
        for attr_name, v in top.items():
            t = type(v)
            if t is module_type:
                d = strkeys(idict(v))
                if type(d.get("__name__")) is str and d["__name__"].startswith(name + "."):
                    yield f"{name}.{attr_name}", v, d
            elif cls_flags(t) & type_subclass:
                for c in cls_mro(v):
                    if cls_flags(c) & heap_type and ident(c) not in seen:
                        seen.add(ident(c))
                        yield f"{name}.{cls_name(c)}", c, cls_dict(c)

    def check_libraries():
        for name, mod in loaded_at_start.items():
            if strkeys(sys_dict.get("modules")).get(name, mod) is not mod:
                flag(f"module:{name}", f"the module {name} was replaced")
        for name in packages:
            for what, owner, d in namespaces(name):
                mark = fingerprint(d)
                if clean.get(ident(owner)) == mark:
                    continue
                for k, v in strkeys(d).items():
                    if cls_flags(type(v)) & type_subclass and not is_str(
                        cls_dict(v).get("__module__"), "__main__"
                    ):
                        continue  # a library's class: its own namespace is checked
                    wrapped = type(v) in (staticmethod, classmethod, property)
                    if (callable(v) or wrapped) and user_code(v):
                        flag(f"lib:{what}.{k}", f"{what}.{k} was replaced by the learner's code")
                clean[ident(owner)] = mark

    # ---- values whose comparisons the learner's code defines ----------------
    # A learner's class that lies: a float subclass whose __eq__ is always True,
    # an object whose __sub__ returns 0. Tests compare values with ==, -, abs()
    # and float(); a class of the learner's must not define what they do.

    subclasses = type.__dict__["__subclasses__"]
    value_names = frozenset(
        (
            "eq ne lt le gt ge sub rsub add radd mul rmul truediv rtruediv floordiv rfloordiv "
            "mod rmod pow rpow neg pos abs invert and rand or ror xor rxor bool float int "
            "index complex round trunc floor ceil len contains getitem iter array "
            "array_ufunc array_function array_interface instancecheck subclasscheck class "
            "getattr getattribute subclasshook"
        ).split()
    )
    value_names = frozenset(f"__{n}__" for n in value_names)
    # What a class may define without changing how its values compare.
    plain_names = frozenset(
        (
            "module qualname doc dict weakref slots annotations orig_bases parameters "
            "init_subclass class_getitem firstlineno static_attributes init new repr str "
            "format match_args getnewargs reduce reduce_ex copy deepcopy getstate setstate "
            "sizeof del hash dataclass_fields dataclass_params type_params "
            "annotate annotations_cache"
        ).split()
    )
    plain_names = frozenset(f"__{n}__" for n in plain_names)
    always_lie = frozenset(("__class__", "__instancecheck__", "__subclasscheck__"))
    code_ops = __import__("dis").opmap
    constant_ops = frozenset(
        code_ops[n]
        for n in ("RESUME", "LOAD_CONST", "RETURN_VALUE", "RETURN_CONST", "NOP")
        if n in code_ops
    )
    dataclass_maker = __import__("dataclasses").make_dataclass
    known_classes = {}  # id -> the class, kept: a freed id is not reused while we hold it
    learner_classes = {}  # id -> class of the learner's
    generated_ok = {}  # (id of function) -> True when it is what dataclasses would write

    def all_classes():
        """Return the classes not seen before (the whole tree is walked: C calls only)."""
        stack, out = [object], []
        pop, push, keep = stack.pop, stack.extend, out.extend
        while stack:
            subs = subclasses(pop())
            push(subs)
            keep(subs)
        return [c for c in out if ident(c) not in known_classes]

    def classify():
        """Sort the classes made since the last look into the learner's and the others."""
        for c in all_classes():
            known_classes[ident(c)] = c
            if learner_class(c):
                learner_classes[ident(c)] = c

    def constant(fn):
        code = fn.__code__
        ops = code.co_code[::2]
        return all(op in constant_ops for op in ops)

    def dataclass_written(cls, name, fn):
        """Whether ``fn`` is the comparison dataclasses writes for ``cls``'s fields."""
        key = ident(fn)
        if key in generated_ok:
            return generated_ok[key]
        ok = False
        fields = cls_dict(cls).get("__dataclass_fields__")
        params = cls_dict(cls).get("__dataclass_params__")
        if type(fields) is dict and params is not None and type(fn) is function:
            names = [k for k in fields if type(k) is str]
            try:
                ref = dataclass_maker(
                    "ref", names, eq=True, order=name in ("__lt__", "__le__", "__gt__", "__ge__")
                )
                want = static(ref, name)
                ok = (
                    type(want) is function
                    and want.__code__.co_code == fn.__code__.co_code
                    and want.__code__.co_names == fn.__code__.co_names
                    and want.__code__.co_consts == fn.__code__.co_consts
                )
            except Exception:
                ok = False
        generated_ok[key] = ok
        return ok

    def defines(v):
        """Whether the class-level value ``v`` is behaviour (not plain data)."""
        t = type(v)
        return (
            callable(v)
            or t in (staticmethod, classmethod, property)
            or (static(t, "__get__") is not missing)
        )

    def reachable(c, mod):
        """Whether the class is where its module and name say (a library's usually is)."""
        obj = strkeys(sys_dict.get("modules")).get(mod)
        name = cls_name(c)
        if obj is None or type(name) is not str:
            return False
        for part in name.split("."):
            obj = strkeys(idict(obj) if type(obj) is module_type else cls_dict(obj)).get(part)
            if obj is None:
                return False
            if not (type(obj) is module_type or cls_flags(type(obj)) & type_subclass):
                return False
        return obj is c

    def learner_class(c):
        """Whether the class was made by the learner's code (not by a library's)."""
        if not cls_flags(c) & heap_type:
            return False
        d = cls_dict(c)
        mod = d.get("__module__")
        if is_str(mod, "__main__"):
            return True
        generated = False  # C types made at run time (Cython) have no functions at all
        for v in d.values():
            if type(v) in (staticmethod, classmethod):
                v = v.__func__
            elif type(v) is property:
                v = v.fget
            if type(v) is not function:
                continue
            name = v.__code__.co_filename
            if library_file(name):
                continue
            if type(name) is str and name.startswith("<"):
                # made by exec: in the notebook, or by a library (attrs, dataclasses)
                if function_module(v) == "__main__":
                    return True
                generated = True
                continue
            return True
        return generated and not reachable(c, mod)

    def check_values():
        classify()
        for c in learner_classes.values():
            what = cls_name(c)
            bases = [
                b for b in cls_mro(c)[1:] if b is not object and ident(b) not in learner_classes
            ]
            for name, v in strkeys(cls_dict(c)).items():
                if not defines(v) or name in plain_names:
                    continue
                fn = v.__func__ if type(v) in (staticmethod, classmethod) else v
                if dataclass_written(c, name, fn):
                    continue
                if name in always_lie:
                    flag(f"value:{what}", f"the learner's class {what} fakes {name}")
                    continue
                inherited = [b for b in bases if static(b, name) is not missing]
                if name not in value_names and not (inherited and user_code(v)):
                    continue  # new behaviour, or a library's own helper (enum, namedtuple)
                if any(static(b, name) is v for b in inherited):
                    continue
                if bases:
                    flag(
                        f"value:{what}",
                        f"the learner's class {what} (a {cls_name(bases[0])}) changes {name}, "
                        "so its values do not behave as a real one's",
                    )
                elif type(fn) is not function or constant(fn):
                    flag(
                        f"value:{what}",
                        f"the learner's class {what} answers {name} with a constant",
                    )
                elif user_code(fn):
                    note(f"value:{what}", f"the learner's class {what} defines {name}")

    def check(libraries=False):
        now_builtins = strkeys(builtins_dict)
        for k, v in builtins_snap.items():
            if now_builtins.get(k, missing) is not v:
                flag(f"builtin:{k}", f"builtins.{k} was replaced")
        sys_now = strkeys(sys_dict)
        if not sys_outer:
            sys_outer.update((k, sys_now.get(k, missing)) for k in sys_snap)
        for k, v in sys_snap.items():
            now = sys_now.get(k, missing)
            if now is v or now is sys_outer[k]:
                continue
            if shell_method(now):
                continue
            flag(f"sys:{k}", f"sys.{k} was replaced")
        for k, then in (("meta_path", meta_path), ("path_hooks", path_hooks)):
            now = sys_now.get(k)
            if type(now) is list and not same_items(now, then):
                if any(not any(e is t for t in then) and user_code(e) for e in now):
                    flag(f"sys:{k}", "an import hook of the learner's was added")
        threading_now = strkeys(threading_dict)
        for k, v in threading_snap.items():
            if threading_now.get(k, missing) is not v:
                flag(f"threading:{k}", f"threading.{k} was set")
        for k, v in shell_attrs.items():
            if attr(ip, k) is not v:
                flag(f"shell:{k}", f"the shell's {k} was replaced")
        names = strkeys(user_ns)
        if names.get("__builtins__", builtins) is not builtins:
            flag("user:__builtins__", "__builtins__ was replaced")
        for k, v in names.items():
            if k in trap_names or builtins_snap.get(k, v) is v or not callable(v):
                continue
            if user_code(v) or (type(v) is builtin and v.__self__ is builtins):
                flag(f"shadow:{k}", f"the learner's code replaced the builtin {k}")
        for what, (lst, items) in lists_snap.items():
            if not same_items(lst, items):
                flag(f"list:{what}", f"{what} were changed")
        for event, cbs in strkeys(callbacks).items():
            if type(cbs) is not list:
                flag("events", "the event callbacks were replaced")
                continue
            known = own_callbacks.get(event, []) + base_callbacks.get(event, [])
            for cb in cbs:
                if not any(cb is c for c in known) and user_code(cb):
                    flag(f"event:{event}", f"a {event} callback of the learner's was registered")
            for cb in own_callbacks.get(event, ()):
                if not any(c is cb for c in cbs):
                    flag("events:own", "the grader's cell checks were removed")
        for what, snap in watched.items():
            check_object(what, snap)
        for s, h in signals.items():
            try:
                now = getsignal(s)
            except (OSError, ValueError):
                continue
            if now is not h and user_code(now):
                flag(f"signal:{s}", f"a signal handler of the learner's was set ({s})")
        for t in timers:
            if getitimer(t) != (0.0, 0.0):
                flag("timer", "an interval timer was set")
        check_threads()
        if libraries:
            check_libraries()
            check_values()

    def probe(fn):
        defaults = fn.__defaults__
        if type(defaults) is not tuple or len(defaults) != 1 or type(defaults[0]) is not str:
            return
        nonce = defaults[0]
        if not nonce.startswith("ai4scale-probe:"):
            return
        if where["depth"] != 1:
            note("bookkeeping", "the grader's cell checks ran out of step")
        check(libraries=True)
        if found:
            fn.answer = "tampering: " + "; ".join(found.values())
        else:
            h = chain.copy()
            review = "; ".join(noted.values())
            if review:
                # Signed with the key, so the grader knows the guard wrote it.
                h.update(("review:" + review).encode())
            h.update(nonce.encode())
            fn.answer = f"review: {review} #{h.hexdigest()}" if review else h.hexdigest()

    def blank(result):
        # IPython runs post_run_cell, and not pre_run_cell, for a blank cell.
        info = idict(result).get("info") if type(result) is execution_result else None
        raw = idict(info).get("raw_cell") if type(info) is execution_info else None
        return type(raw) is str and not str.strip(raw)

    def on_cell(step, result=None):
        # Checked after top-level cells only: a cell may run others inside a
        # capture of its output (%%capture), which is its own business; and
        # what a cell leaves installed is seen after it, its callbacks included.
        if is_str(step, "post") and blank(result):
            return
        if is_str(step, "pre"):
            where["depth"] += 1
            if where["depth"] == 1:
                where["top"] += 1
        elif where["depth"] == 0:
            note("bookkeeping", "the grader's cell checks ran out of step")
        else:
            where["depth"] -= 1
            if where["depth"] == 0:
                check()

    def on_getattr(obj, name):
        if is_str(name, "__code__"):
            if type(obj) is function:
                probe(obj)
        elif is_str(name, "tb_frame"):
            if type(obj) is traceback_type and own_frame(obj.tb_frame):
                flag("frame", "a traceback was followed into the grader's checks")
        elif type(obj) in generators and type(name) is str and name[1:] == "i_frame":
            if own_frame(obj.gi_frame if type(obj) is generators[0] else None):
                flag("frame", "a generator was followed into the grader's checks")

    recorded = {
        "sys.settrace": "sys.settrace was called",
        "sys.setprofile": "sys.setprofile was called",
        "sys._current_frames": "the frames of all threads were read",
        "gc.get_objects": "the object graph was searched (gc)",
        "gc.get_referrers": "the object graph was searched (gc)",
        "gc.get_referents": "the object graph was searched (gc)",
        "sys.addaudithook": "an audit hook was added",
        "function.__new__": "a function was built by hand",
        "ctypes.string_at": "memory was read with ctypes",
        "ctypes.wstring_at": "memory was read with ctypes",
        "ctypes.cdata": "memory was read with ctypes",
    }
    # What libraries do for honest notebooks too (IPython's autoreload searches
    # the object graph; joblib builds functions): recorded when the learner's
    # own code calls it.
    libraries_may = frozenset(
        (
            "gc.get_objects",
            "gc.get_referrers",
            "gc.get_referents",
            "sys._current_frames",
            "function.__new__",
        )
    )
    getattr_names = frozenset(("__code__", "tb_frame", "gi_frame", "cr_frame", "ag_frame"))
    handled = frozenset(recorded) | {"object.__getattr__", "ctypes.dlsym", "open", "ai4scale.cell"}

    def hook(event, args):
        if type(event) is not str or event not in handled or type(args) is not tuple:
            return
        if event == "object.__getattr__" and (
            len(args) != 2 or type(args[1]) is not str or args[1] not in getattr_names
        ):
            return
        me = get_ident()
        if me in busy:
            return
        busy.add(me)
        try:
            if event in recorded:
                caller = get_frame(1)
                if not (event in libraries_may and library_file(caller.f_code.co_filename)):
                    flag(event, recorded[event])
            elif event == "object.__getattr__":
                on_getattr(*args)
            elif event == "ctypes.dlsym":
                name = args[1] if len(args) > 1 else None
                if type(name) is str and name.startswith(("Py", "_Py")):
                    flag("ctypes", "the interpreter's C API was called through ctypes")
            elif event == "open":
                path = args[0] if args else None
                if type(path) is bytes:
                    path = path.decode("utf-8", "replace")
                if type(path) is str and path.startswith("/proc/") and path.endswith("/mem"):
                    flag("memory", "the process memory was opened")
            elif event == "ai4scale.cell" and args:
                on_cell(*args[:2])
        except BaseException as e:  # never raise: a traceback would lead to this frame
            tb = e.__traceback__
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            line = tb.tb_lineno if tb is not None else 0
            flag("guard", f"the grader's checks failed ({cls_name(type(e))} at line {line})")
            del e, tb
        finally:
            busy.discard(me)

    key = os.urandom(32)
    chain.update(key)
    audit = sys.audit
    own_callbacks = {
        "pre_run_cell": [lambda *_, a=audit: a("ai4scale.cell", "pre")],
        "post_run_cell": [lambda *r, a=audit: a("ai4scale.cell", "post", *r[:1])],
    }
    for event, cbs in own_callbacks.items():
        ip.events.register(event, cbs[0])
    base_callbacks = {k: list(v) for k, v in strkeys(callbacks).items() if type(v) is list}
    # No learner code has run yet: every class there is now (the libraries a
    # grading zygote imported included) is not the learner's.
    for c in all_classes():
        known_classes[ident(c)] = c
    sys.addaudithook(hook)
    # This cell is running: it counts as the first cell, begun.
    where["top"], where["depth"] = 1, 1
    print(marker, key.hex())
    del key
