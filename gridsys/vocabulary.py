"""The shared vocabulary at the bottom of every domain: duties and roles, their codes and the
names people read. Every domain takes them from here, so none reaches up to another for them."""
from __future__ import annotations

# The six duties of a grid worker (the town grid model); incidents' categories map onto them.
DUTIES = ("civilization", "safety", "civil_affairs", "culture", "legal", "counseling")
# What a grid assignment may hold: a duty, or the grid's general worker.
ASSIGNABLE_DUTIES = (*DUTIES, "general")
ROLES = ("admin", "area_leader", "grid_worker")

DUTY_ZH = {"civilization": "创文工作", "safety": "平安综治", "civil_affairs": "民政救济",
           "culture": "文化建设", "legal": "法制宣传", "counseling": "心理咨询", "general": "综合网格员"}
DUTY_EN = {"civilization": "Civilization", "safety": "Safety & order", "civil_affairs": "Civil affairs",
           "culture": "Culture", "legal": "Legal publicity", "counseling": "Counseling",
           "general": "General worker"}
ROLE_ZH = {"admin": "管理员", "area_leader": "包片领导", "grid_worker": "网格员"}
ROLE_EN = {"admin": "Administrator", "area_leader": "Area leader", "grid_worker": "Grid worker"}
