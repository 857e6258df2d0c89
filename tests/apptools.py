"""Helpers for driving the app headless in tests (not a test module)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent


def sign_in(name: str, password: str) -> AppTest:
    """The app after signing in through its login form."""
    at = AppTest.from_file(str(ROOT / "main.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    at.text_input[0].input(name)
    at.text_input[1].input(password)
    next(b for b in at.button if "登录" in b.label).click().run()
    assert not at.exception, at.exception
    return at


def sign_in_demo(role: str) -> AppTest:
    """The app after signing in with the demo account of ``role``."""
    from grid.demo import DEMO_ACCOUNTS

    return sign_in(*DEMO_ACCOUNTS[role])
