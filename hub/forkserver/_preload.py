"""What the zygote imports, and what a child must correct of it.

:data:`SERVER_MODULES` (with :func:`enabled_extensions`) and
:data:`KERNEL_PRELOAD` are what each zygote imports; :data:`KERNEL_MODULES`
are ipykernel's own, imported first.

Importing as root, in the zygote's environment, leaves traces a learner's
process must not keep:

- :func:`restricted_modules`: a module only root may read (the grading
  engine, the course service) must never be in a learner's memory; the
  zygote refuses to serve when its imports loaded one.
- :func:`home_references` / :func:`rebase_home`: a few libraries compute
  paths from ``$HOME`` at import (send2trash's trash folder,
  jupyter_server_fileid's database, matplotlib's style folder); the child
  points them at the learner's home.
- :func:`forget_shadowed`: a file in the notebook's folder named like a
  preloaded library (``utils.py``) wins in a fresh kernel; the child forgets
  the preloaded one.
"""

from __future__ import annotations

import glob
import importlib.machinery
import json
import os
import stat
import sys

__all__ = [
    "KERNEL_MODULES",
    "KERNEL_PRELOAD",
    "SERVER_MODULES",
    "add_user_site",
    "enabled_extensions",
    "forget_shadowed",
    "home_references",
    "load",
    "rebase_home",
    "restricted_modules",
]

#: What a learner's server imports before its first request.
SERVER_MODULES = (
    "jupyterhub.singleuser",
    "jupyterhub.singleuser.extension",
    "jupyter_server.serverapp",
    "jupyter_server.services.kernels.kernelmanager",
    "jupyter_server.services.contents.largefilemanager",
    "jupyter_server.services.sessions.sessionmanager",
    "jupyter_server.terminal",
    "jupyterlab",
    "jupyterlab.labapp",
    "jupyterlab_server",
    "jupyter_lsp",
    "jupyter_server_terminals",
    "notebook_shim",
    "tornado.web",
    "ai4scale.hub.forkserver.provisioner",
)

#: What ipykernel imports when a kernel starts, before the notebook's folder is on
#: sys.path (also the grading zygote's preload).
KERNEL_MODULES = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "ipykernel.debugger",
    "ipykernel.comm",
    "IPython.core.interactiveshell",
    "IPython.core.completer",
    "jupyter_client.session",
    "comm",
    "psutil",
    "sqlite3",
    "pdb",
    "pydoc",
    "tornado.gen",
    "tornado.locks",
    "tornado.queues",
    "tornado.platform.asyncio",
    # imported by every kernel as it starts (its shell, magics and extensions)
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.core.logger",
    "IPython.core.oinspect",
    "IPython.extensions.storemagic",
    "IPython.utils.wildcard",
)

#: The libraries a lab kernel imports (the kernel zygote's default preload).
KERNEL_PRELOAD = (
    "numpy",
    "pandas",
    "sklearn",
    "sklearn.linear_model",
    "sklearn.model_selection",
    "sklearn.metrics",
    "sklearn.ensemble",
    "fairlearn",
    "fairlearn.metrics",
    "shap",
    "matplotlib",
    "matplotlib.pyplot",
    "matplotlib_inline.backend_inline",
    "pyarrow",
    "ai4scale.datasets",
)

#: Our own modules the zygote runs (root-only files, no secrets in them).
OWN_FOLDER = os.path.dirname(os.path.abspath(__file__))


def load(modules):
    """Import ``modules``; return the names that failed (each reason printed)."""
    failed = []
    for name in modules:
        try:
            __import__(name)
        except Exception as e:  # the child imports it itself, and says why
            failed.append(name)
            print(f"forkserver: cannot import {name}: {e}", file=sys.stderr)
    return failed


def _world_readable(path):
    path = os.path.abspath(path)
    try:
        if not os.stat(path).st_mode & stat.S_IROTH:
            return False
        folder = os.path.dirname(path)
        while folder != "/":
            if not os.stat(folder).st_mode & stat.S_IXOTH:
                return False
            folder = os.path.dirname(folder)
    except OSError:
        return False
    return True


def restricted_modules():
    """Return the loaded modules whose file other accounts may not read (ours excepted)."""
    found = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not path or os.path.dirname(os.path.abspath(path)) == OWN_FOLDER:
            continue
        if not _world_readable(path):
            found.append(name)
    return sorted(found)


def _holds(value, home):
    if isinstance(value, str):
        return home in value
    if isinstance(value, bytes):
        return os.fsencode(home) in value
    if isinstance(value, list | tuple):
        return any(isinstance(v, str | bytes) and _holds(v, home) for v in value)
    return False


def home_references(home):
    """Return ``[(module, attribute)]`` of module-level paths under ``home``, and trait defaults.

    Trait defaults are returned as ``(module, "Class.trait")``.
    """
    traitlets = sys.modules.get("traitlets")
    trait_type = getattr(traitlets, "TraitType", None)
    refs = []
    for name, module in list(sys.modules.items()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for attr, value in list(namespace.items()):
            if _holds(value, home):
                refs.append((name, attr))
            elif trait_type and isinstance(value, type) and vars(value).get("__module__") == name:
                # Only real traitlets: touching other attributes can import lazily.
                for trait_name, trait in list(vars(value).items()):
                    if isinstance(trait, trait_type) and _holds(trait.default_value, home):
                        refs.append((name, f"{attr}.{trait_name}"))
    return refs


def _rebased(value, old, new):
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, bytes):
        return value.replace(os.fsencode(old), os.fsencode(new))
    return type(value)(_rebased(v, old, new) if isinstance(v, str | bytes) else v for v in value)


def rebase_home(refs, old, new):
    """Point each of ``refs`` (see :func:`home_references`) from ``old`` to ``new``."""
    for module_name, attr in refs:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        if "." in attr:
            cls_name, trait_name = attr.split(".", 1)
            cls = getattr(module, cls_name)
            trait = vars(cls).get(trait_name)
            if trait is not None:
                trait.default_value = _rebased(trait.default_value, old, new)
            # traitlets copies immutable defaults into each class at class creation.
            todo = [cls]
            while todo:
                klass = todo.pop()
                todo.extend(klass.__subclasses__())
                cached = vars(klass).get("_static_immutable_initial_values")
                if isinstance(cached, dict) and _holds(cached.get(trait_name), old):
                    cached[trait_name] = _rebased(cached[trait_name], old, new)
        elif hasattr(module, attr):
            setattr(module, attr, _rebased(getattr(module, attr), old, new))


def add_user_site():
    """Put the learner's own site-packages on ``sys.path``, as their interpreter would.

    Only when the environment allows user site-packages (a venv usually does
    not); the zygote computed ``sys.path`` with its own home.
    """
    import site

    if site.ENABLE_USER_SITE:
        path = site.getusersitepackages()
        if os.path.isdir(path) and path not in sys.path:
            site.addsitedir(path)


def forget_shadowed(folder, keep=()):
    """Forget preloaded top-level modules that a file or package in ``folder`` shadows.

    In a fresh kernel the notebook's folder comes first on ``sys.path``, so a
    learner's ``utils.py`` wins over an installed ``utils``. Modules in
    ``keep`` (the kernel's own, imported before that folder is on the path)
    stay.
    """
    suffixes = tuple(importlib.machinery.all_suffixes())
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for entry in entries:
        path = os.path.join(folder, entry)
        if entry.endswith(suffixes):
            name = entry.split(".", 1)[0]
        elif os.path.isfile(os.path.join(path, "__init__.py")):
            name = entry
        else:
            continue
        if name not in sys.modules or name in keep or name in sys.builtin_module_names:
            continue
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]


def enabled_extensions():
    """Return the modules of the server extensions enabled in this environment's config.

    Config folders are merged as jupyter_server merges them: a later file, or
    a folder of higher priority, turns an extension off again (the learner
    environment turns nbgrader's and collaboration's off).
    """
    from jupyter_core.paths import jupyter_config_path

    merged = {}
    for folder in reversed(jupyter_config_path()):  # lowest priority first
        files = sorted(glob.glob(os.path.join(folder, "jupyter_server_config.d", "*.json")))
        files.append(os.path.join(folder, "jupyter_server_config.json"))
        for path in files:
            try:
                with open(path) as f:
                    config = json.load(f)
            except (OSError, ValueError):
                continue
            merged.update(config.get("ServerApp", {}).get("jpserver_extensions", {}))
    return [name for name, on in merged.items() if on]
