"""Valkey keys and scripts, shared by the workers. Nothing else touches Valkey.

Every key carries a hash tag, `{u:<uid>}` for a user's keys and `{r:<room>}` for a room's,
so each script touches one slot and runs unchanged on Redis Cluster.
"""
