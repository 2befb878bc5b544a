"""Course-style (CS231n API) conv layers, each with one mistake a learner makes, planted in
otherwise right code: `convcheck verify ... --impl cs231n:tests/course/mistakes/NAME.py`."""
