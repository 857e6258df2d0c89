"""审计日志 — the inspector's view of the append-only audit log (read-only)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import streamlit as st

import ui
from grid import access, audit, labels
from grid.errors import AccessDenied
from grid.export import download

store = ui.get_store()
actor = ui.require_page("audit")
try:
    access.ensure(actor, "read_audit", log=store)
except AccessDenied as exc:
    ui.show_error(exc)
st.title("审计日志 · Audit log")
st.caption("只读：应用中没有任何功能可以修改或删除审计记录。 · Read-only: nothing in the app can change or delete it.")
c = st.columns(4)
who = c[0].text_input("用户 User")
action = c[1].selectbox("操作 Action", [""] + list(audit.AUDIT_ACTIONS),
                        format_func=lambda a: labels.value(a) if a else "全部 all")
since = c[2].date_input("起 From", value=date.today() - timedelta(days=30))
until = c[3].date_input("止 To", value=date.today())
log = audit.read(store, username=who or None, action=action or None,
                 since=datetime.combine(since, time.min), until=datetime.combine(until, time.max), limit=5000)
shown = labels.labelled(log.assign(scope=log["scope"].map(
    lambda s: "、".join(map(str, s)) if s is not None and not isinstance(s, str) else s)))
st.dataframe(shown, hide_index=True, width="stretch")
st.download_button("下载 CSV · Download", lambda: download(store, actor, "audit_log", shown, ".csv"),
                   file_name=f"audit_{since}_{until}.csv", mime="text/csv", on_click="ignore", key="audit_download")
