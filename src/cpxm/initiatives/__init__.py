"""Prioritisation and maturity: the initiatives backlog (evidence, Kano, RICE, MoSCoW,
before/after) and the crawl-walk-run maturity assessment.

Other domains use :mod:`cpxm.initiatives.maturity` (``maturity_assessment``) and
:mod:`cpxm.initiatives.service`; the rest is private.
"""
