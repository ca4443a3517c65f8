"""Publishing built artifacts: never part of a build. `doit push`, `doit load`, `doit release` and
`doit publish` call it.

    plan.py     what is pushed where (images, then charts), what published files name
    release.py  checks against the registries, the pushes, the release directory
    run.py      which components a release or publish takes, and the whole sequence
    engine.py   loading an image into a Docker-API engine
"""


class PublishError(Exception):
    """Nothing can be published as asked: the message says what and how to fix it."""
