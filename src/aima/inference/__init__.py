"""How models are found, verified and run: the model store and inference sessions.

Sits between ``media/`` and ``analyzers/``: analyzers say *what* a model computes,
this package says *where its weights are* and *on which hardware it runs*.
"""
