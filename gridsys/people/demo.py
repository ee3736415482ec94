"""Demo people for the demo town: an admin, one leader per area, three workers per grid
who together hold every duty. Passwords are random per role and returned to the caller."""
from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..zones.models import Area, Town
from . import services

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余"
GIVEN = "建国秀英志强桂兰海燕明军丽华春梅文杰德明晓红永福玉珍国庆淑芬俊杰小平红霞伟东"
# The three workers of each grid and the duties they hold between them.
WORKER_DUTIES = {"a": ("general", "civilization", "safety"), "b": ("civil_affairs", "culture"),
                 "c": ("legal", "counseling")}


def _name(n: int) -> str:
    return SURNAMES[n % len(SURNAMES)] + GIVEN[(n * 7) % len(GIVEN)] + GIVEN[(n * 13 + 1) % len(GIVEN)]


def load_demo_people(session: Session, town_code: str) -> dict[str, dict]:
    """Create the demo accounts (skipping any that exist); returns {role: {"password", "usernames"}}."""
    town = session.scalar(select(Town).where(Town.code == town_code))
    if town is None:
        raise ValueError(f"demo town {town_code} is not loaded")
    passwords = {role: secrets.token_urlsafe(9) for role in ("admin", "area_leader", "grid_worker")}
    hashes = {role: services.hash_password(p) for role, p in passwords.items()}
    made = {role: [] for role in passwords}
    n = 0

    def person(username, role, display):
        nonlocal n
        n += 1
        existing = session.scalar(select(services.User).where(services.User.username == username))
        if existing is not None:
            return None
        user, _ = services.create_user(session, username, display_name=display, roles=[role],
                                       phone=f"1380000{n:04d}", password_hash=hashes[role],
                                       must_change_password=False)
        made[role].append(username)
        return user

    admin = person("admin", "admin", _name(0) + "（管理员）")
    if admin:
        services.add_town_admin(session, admin, town.code)
    for area in session.scalars(select(Area).where(Area.town_id == town.id).order_by(Area.code)):
        a = int(area.code[-3:])
        leader = person(f"leader{a:02d}", "area_leader", _name(a * 31) + "（包片领导）")
        if leader:
            services.set_area_leader(session, leader, area.code)
        for grid in area.grids:
            g = int(grid.code[-3:])
            for letter, duties in WORKER_DUTIES.items():
                worker = person(f"w{a:02d}{g:02d}{letter}", "grid_worker", _name(a * 100 + g * 3 + ord(letter)))
                if worker:
                    for duty in duties:
                        services.assign_grid(session, worker, grid.code, duty)
    return {role: {"password": passwords[role], "usernames": made[role]} for role in passwords}
