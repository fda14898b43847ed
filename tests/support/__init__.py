"""What the tests share, in one place: the fixtures every test may ask for (``fixtures.py``, loaded by
``tests/conftest.py``), running the plugin as a user does (``runs.py``), the fault-injected reference targets
(``mutants.py``), reports compared without what is specific to one run (``comparable.py``), a forwarding proxy
(``proxy.py``) and a headless browser (``browser.py``).

A test imports from here (``from support.mutants import RefusesAllowedTransition``), never from ``conftest``.
"""
