"""The rooms worker: create, join, leave, destroy, list, roles and online counts."""
