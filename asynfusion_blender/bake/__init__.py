"""Motion onto a rig: numpy computes every key (``curve_math``, ``retarget``, ``face_keys``),
``rig_reader`` reads what it needs from Blender, ``bake`` writes the finished arrays all or
nothing (each bake a take: ``take_facts`` stamps its actions), ``action_support`` hides
Blender's 4.2/5.0 API differences, ``cost_estimate`` says what a bake will cost before it starts."""
