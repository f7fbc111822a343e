"""Characters: the rigs the add-on builds (built-in, from an SMPL-X model file) and how it
recognises the ones it is given (SMPL-X names, Rigify/Mixamo/VRoid profiles, a user's bone map).
Nothing here bakes; the bake reads rigs through ``bake.rig_reader``."""
