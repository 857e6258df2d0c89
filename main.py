"""WarmGrid 暖网 — the Streamlit script that ``app.py`` serves (``streamlit run app.py``).

Opens the database (building the demo district on first run), asks who you
are, and shows each role the pages the access policy grants it
(:func:`grid.access.pages_for`). The menu is not the guard: every page asks the
policy again and its queries take the actor's scope. Before sign-in nothing but
the sign-in form exists: the pages live in ``views/``, which Streamlit does not
list on its own (it would list a ``pages/`` folder beside this file to anyone).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

import ui
from grid import access, model
from grid.errors import WarmGridError

# A local icon: Material and emoji icons make the browser fetch them from the internet.
_ICON = Path(__file__).resolve().parent / "static" / "favicon.png"
st.set_page_config(page_title="暖网 WarmGrid", page_icon=str(_ICON), layout="wide")
store = ui.get_store()


def _oidc_enabled() -> bool:
    """OpenID Connect sign-in is on when the deployment configures ``[auth]`` in secrets.toml."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def _prefetch(actor: access.Actor) -> None:
    """Start what the signed-in actor's slower pages will show first (the assistance page's first view)."""
    import ui_assistance

    ui_assistance.prefetch(store, actor)


def login_page() -> None:
    st.title("暖网 WarmGrid")
    st.caption("网格化管理 · 走访慰问 — 请登录 · Please sign in")
    if st.session_state.pop("expired", False):
        st.info("长时间未操作，已自动退出 · Signed out after inactivity.")
    if st.session_state.pop("revoked", False):
        st.warning("您的账户已停用或密码已更改，请重新登录。 · Your account was disabled or its password changed; "
                   "please sign in again.")
    if _oidc_enabled():
        if getattr(st.user, "is_logged_in", False):
            try:  # the provider vouches for the e-mail; roles and scope still come from our users table
                _prefetch(ui.sign_in_sso(store, str(st.user.get("email") or "")))
                st.rerun()
            except WarmGridError as exc:
                ui.error(exc)
        elif st.button("统一身份认证登录 · Sign in with SSO"):
            st.login()
    with st.form("login"):
        name = st.text_input("用户名 Username")
        password = st.text_input("密码 Password", type="password")
        if st.form_submit_button("登录 Sign in", type="primary"):
            try:
                _prefetch(ui.sign_in(store, name.strip(), password))
                st.rerun()
            except WarmGridError as exc:
                ui.error(exc)


actor = ui.current_actor()
if actor is None:
    page = st.navigation([st.Page(login_page, title="登录 Sign in")])
else:
    with st.sidebar:
        st.markdown(ui.md("**{}** · {}", actor.display_name, model.USER_ROLES[actor.role].zh))
        if st.button("退出 Sign out"):
            ui.sign_out()
            st.rerun()
    keys = access.pages_for(actor)
    page = st.navigation([st.Page(ui.PAGES[k], title=access.PAGES[k], default=(i == 0))
                          for i, k in enumerate(keys)])
ui.show_notices()  # the confirmation of what was done before the last rerun
page.run()
