"""Torch-free contracts shared by the backend and the Blender add-on.

Everything in this package imports only the standard library and numpy, so the
add-on can bundle it (``build_addon.py`` copies it) and read the same skeleton,
motion-file schema and worker protocol that the backend writes.
"""
