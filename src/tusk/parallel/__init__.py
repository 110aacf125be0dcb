"""Scale-out: run one backend replica per GPU (or CPU worker) and stream requests to them.

:class:`tusk.parallel.ray_backend.RayBackend` is itself a :class:`~tusk.backends.base.Backend`, so evaluation
and the run store need nothing new: ``--model ray:hf:/path/to/model`` spreads the same work over a Ray cluster.
"""
