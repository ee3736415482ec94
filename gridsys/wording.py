"""The names people read, without Flask: the shared vocabulary's names (duties, roles, zone levels)
as English msgids of the message catalogue (gridsys/translations), and ``text`` to translate a
msgid for a named language. Pages translate the same msgids in the request's language
(``i18n.label``); rules that write for a set audience (group robots read Chinese, a routing reason
in the caller's language) use ``text``. A concept has one English and one Chinese name, here."""
from __future__ import annotations

from functools import lru_cache
from gettext import NullTranslations
from pathlib import Path

from babel.support import Translations

TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def N_(msgid: str) -> str:
    """Marks a msgid for the catalogue (`make messages` extracts N_); translated where it is shown."""
    return msgid


DUTY_NAMES = {"civilization": N_("Civilization"), "safety": N_("Safety & order"),
              "civil_affairs": N_("Civil affairs"), "culture": N_("Culture"), "legal": N_("Legal publicity"),
              "counseling": N_("Counseling"), "general": N_("General worker")}
ROLE_NAMES = {"admin": N_("Administrator"), "area_leader": N_("Area leader"), "grid_worker": N_("Grid worker")}
ZONE_LEVEL_NAMES = {"town": N_("Town"), "area": N_("Area"), "grid": N_("Grid")}


@lru_cache(maxsize=8)
def translations(locale: str) -> NullTranslations:
    """The catalogue of ``locale``; English (the msgids themselves) when there is none."""
    return Translations.load(str(TRANSLATIONS), [locale], domain="messages")


def text(locale: str, msgid: str, **values) -> str:
    """``msgid`` in ``locale``, with ``%(name)s`` placeholders filled from ``values``."""
    translated = translations(locale).gettext(msgid)
    return translated % values if values else translated


def name(locale: str, names: dict, code, default: str | None = None) -> str:
    """The name of ``code`` in one of the tables of names, in ``locale``; an unknown code as it is."""
    msgid = names.get(code)
    if msgid is None:
        return default if default is not None else str(code)
    return text(locale, msgid)
