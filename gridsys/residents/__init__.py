"""Residents' voice (诉求表达, 接诉即办): reports without an account, tracking, 回访, public results,
and Open311 GeoReport v2. Above incidents: a resident's report enters the same lifecycle."""
