"""WarmGrid 暖网 — Streamlit entry point: ``streamlit run app.py``.

Opens the database (building the demo district on first run) and shows the
pages. Sign-in and per-role pages come with the access work (issue 4); for now
every visitor gets the overview.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui import get_store

# A local icon: Material and emoji icons make the browser fetch them from the internet.
_ICON = Path(__file__).resolve().parent / "static" / "favicon.png"
st.set_page_config(page_title="暖网 WarmGrid", page_icon=str(_ICON), layout="wide")
get_store()
page = st.navigation([
    st.Page("pages/overview.py", title="覆盖总览 Overview", default=True),
])
page.run()
