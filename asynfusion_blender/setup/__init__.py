"""Set Up Backend: a venv with torch and the bundled backend, made from the preferences.

``install`` is the plan and the job and ``wheel`` packages the bundled backend (neither imports
bpy), ``session`` is the one setup of this Blender session and its box in the preferences. The
buttons that start and stop it sit beside the preferences (``setup_operators.py``): nothing here
imports the rest of the add-on's UI, and the worker client imports nothing here.
"""
