"""``ai4scale image``: the container images of the docker profile and grading executor.

The logic lives in :mod:`ai4scale.hub.images`; this layer parses the
arguments and prints each step.
"""

from __future__ import annotations

from ._errors import UserError

__all__ = ["register"]


def register(subparsers):
    """Add the ``image`` subcommand group (``base``, ``build``, ``status``)."""
    p = subparsers.add_parser(
        "image",
        help="build the learners' container image (docker and kubernetes profiles)",
        description=(
            "Container images without an image registry: `base` makes a Debian 12 base "
            "with debootstrap, `build` the single-user image from hub/Dockerfile with the "
            "packages and ai4scale of this installation (wheels fetched by this machine's "
            "pip; the build needs no index), `status` compares an image with this installation."
        ),
    )
    sub = p.add_subparsers(dest="image_command", metavar="ACTION", required=True)

    b = sub.add_parser("base", help="make the Debian base image with debootstrap")
    b.add_argument("--tag", default=None, help="image to make (default ai4scale/debian:bookworm)")
    b.add_argument("--suite", default="bookworm", help="Debian release (default bookworm)")
    b.add_argument("--mirror", default=None, help="Debian archive (default: the one apt uses here)")
    b.add_argument("--rebuild", action="store_true", help="make it again even when present")
    b.add_argument("--workdir", default=None, help="where the tree is built (default: temporary)")
    b.set_defaults(func=run_base)

    s = sub.add_parser(
        "build", help="build the single-user image (skipped when its inputs are unchanged)"
    )
    s.add_argument(
        "--base",
        default=None,
        help="base image, any Debian 12 (default: ai4scale/debian:bookworm, made first if missing)",
    )
    s.add_argument("--name", default=None, help="repository to tag (default ai4scale/singleuser)")
    s.add_argument(
        "--wheelhouse",
        default=None,
        help="folder of wheels kept between builds (default /var/cache/ai4scale/wheelhouse)",
    )
    s.add_argument(
        "--workdir",
        default=None,
        help="where the build context is assembled (default: the temporary folder)",
    )
    s.add_argument(
        "--rebuild", action="store_true", help="build even when the inputs are unchanged"
    )
    s.set_defaults(func=run_build)

    t = sub.add_parser(
        "status", help="say whether the image matches this installation (exit 1 if not)"
    )
    t.add_argument(
        "name", nargs="?", default=None, help="image (default ai4scale/singleuser:latest)"
    )
    t.set_defaults(func=run_status)


def _client():
    from ai4scale.hub.images import EngineUnavailable, docker_client

    try:
        return docker_client(timeout=600)
    except EngineUnavailable as e:
        raise UserError(str(e)) from None


def _say(line):
    from rich.console import Console

    Console(stderr=True, highlight=False).print(
        f"[bold]==>[/bold] {line}", markup=True, soft_wrap=True
    )


def run_base(args):
    """Make the base image; print whether it was built or already present."""
    from ai4scale.hub.images import BASE_IMAGE, ImageProblem, build_base

    tag = args.tag or BASE_IMAGE
    try:
        action = build_base(
            _client(),
            tag=tag,
            suite=args.suite,
            mirror=args.mirror,
            rebuild=args.rebuild,
            workdir=args.workdir,
            say=_say,
        )
    except ImageProblem as e:
        raise UserError(str(e)) from None
    print(f"{tag}: {action}")
    return 0


def run_build(args):
    """Build the single-user image; print its tags and what was done."""
    from ai4scale.hub.images import IMAGE, WHEELHOUSE, ImageProblem, build_image

    try:
        result = build_image(
            _client(),
            name=args.name or IMAGE,
            base=args.base,
            wheelhouse=args.wheelhouse or WHEELHOUSE,
            workdir=args.workdir,
            rebuild=args.rebuild,
            say=_say,
        )
    except ImageProblem as e:
        raise UserError(str(e)) from None
    what = (
        "built" if result.action == "built" else "already current (inputs unchanged), not rebuilt"
    )
    print(f"{result.tag} ({result.latest}): {what} in {result.seconds:.1f} s")
    return 0


def run_status(args):
    """Print the image's state against this installation; exit 1 unless current."""
    from ai4scale.hub.images import IMAGE, image_status

    state, message = image_status(_client(), args.name or f"{IMAGE}:latest")
    print(f"{state}: {message}")
    return 0 if state == "current" else 1
