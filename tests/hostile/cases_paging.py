"""Hostile ``page`` values on the paged lists (people, gaps, zones): each refused with page_invalid
(or nul_byte), a 400, and nothing changed."""
from __future__ import annotations

from tests.hostile.values import query

PAGES = (("zero", "page=0", "page_invalid"), ("negative", "page=-1", "page_invalid"),
         ("word", "page=two", "page_invalid"), ("fraction", "page=1.5", "page_invalid"),
         ("huge", "page=99999999999", "page_invalid"), ("script", "page=%3Cscript%3E", "page_invalid"),
         ("nul", "page=1%00", "nul_byte"))

PAGING = [query(f"{name}-page-{case}", f"{path}?{qs}", who="browser:admin", code=code)
          for name, path in (("people", "/admin/people"), ("gaps", "/admin/gaps"), ("zones", "/zones"))
          for case, qs, code in PAGES]
