"""Spawners of the profiles that run learners' servers outside this process tree.

:mod:`.docker` holds the ``ai4scale-docker`` spawner of the docker profile
(one container per learner) and :mod:`.docker_checks` what ``ai4scale up``
checks before it starts a hub of that profile. The local profile's spawner
is still :mod:`ai4scale.hub.spawner`.
"""
