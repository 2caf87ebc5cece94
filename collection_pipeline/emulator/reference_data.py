"""Static vocabularies of the emulated services: genres, keys, markets and name fragments.

Genre ids and names are Beatport's real ones, so genre filters written for the live service work
unchanged against the emulator. Name fragments deliberately include accents and non-Latin scripts:
they are where naive slugging and naive artist matching break.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Genre:
    """A Beatport genre; `slot` is its position in GENRES and part of every derived id."""

    id: int
    name: str
    slug: str
    slot: int


_GENRE_ROWS: tuple[tuple[int, str, str], ...] = (
    (1, "Drum & Bass", "drum-bass"),
    (2, "Hard Techno", "hard-techno"),
    (3, "Electronica", "electronica"),
    (5, "House", "house"),
    (6, "Techno (Peak Time / Driving)", "techno-peak-time-driving"),
    (7, "Trance (Main Floor)", "trance-main-floor"),
    (8, "Hard Dance / Hardcore / Neo Rave", "hard-dance-hardcore-neo-rave"),
    (9, "Breaks / Breakbeat / UK Bass", "breaks-breakbeat-uk-bass"),
    (11, "Tech House", "tech-house"),
    (12, "Deep House", "deep-house"),
    (13, "Psy-Trance", "psy-trance"),
    (14, "Minimal / Deep Tech", "minimal-deep-tech"),
    (15, "Progressive House", "progressive-house"),
    (16, "DJ Tools", "dj-tools"),
    (17, "Electro (Classic / Detroit / Modern)", "electro-classic-detroit-modern"),
    (18, "Dubstep", "dubstep"),
    (37, "Indie Dance", "indie-dance"),
    (39, "Dance / Pop", "dance-pop"),
    (50, "Nu Disco / Disco", "nu-disco-disco"),
    (81, "Funky House", "funky-house"),
    (85, "Bass / Club", "bass-club"),
    (86, "UK Garage / Bassline", "uk-garage-bassline"),
    (89, "Afro House", "afro-house"),
    (90, "Melodic House & Techno", "melodic-house-techno"),
    (91, "Bass House", "bass-house"),
    (92, "Techno (Raw / Deep / Hypnotic)", "techno-raw-deep-hypnotic"),
    (93, "Organic House", "organic-house"),
    (95, "140 / Deep Dubstep / Grime", "140-deep-dubstep-grime"),
    (98, "Amapiano", "amapiano"),
)

GENRES: tuple[Genre, ...] = tuple(
    Genre(id=gid, name=name, slug=slug, slot=slot)
    for slot, (gid, name, slug) in enumerate(_GENRE_ROWS)
)
GENRES_BY_ID: dict[int, Genre] = {genre.id: genre for genre in GENRES}
GENRE_SLOTS = 64  # id arithmetic reserves this many genre slots; GENRES must stay below it

# (sub-genre id, name, slug, parent genre id). Most tracks carry none: sub_genre is mostly null.
SUB_GENRES: tuple[tuple[int, str, str, int], ...] = (
    (1, "Jump Up", "jump-up", 1),
    (2, "Liquid", "liquid", 1),
    (3, "Deep Tech", "deep-tech", 14),
    (4, "Acid", "acid", 5),
    (5, "Soulful", "soulful", 5),
    (6, "Peak Time", "peak-time", 6),
    (7, "Driving", "driving", 6),
    (8, "Latin Tech", "latin-tech", 11),
    (9, "Melodic Techno", "melodic-techno", 90),
    (10, "Melodic House", "melodic-house", 90),
    (11, "Jackin", "jackin", 12),
)
SUB_GENRES_BY_PARENT: dict[int, tuple[tuple[int, str, str, int], ...]] = {}
for _row in SUB_GENRES:
    SUB_GENRES_BY_PARENT[_row[3]] = (*SUB_GENRES_BY_PARENT.get(_row[3], ()), _row)

# Camelot wheel: (camelot number, letter, musical letter, sharp, flat, chord "Major"/"Minor").
KEYS: tuple[tuple[int, str, str, bool, bool, str], ...] = (
    (1, "A", "A", False, True, "Minor"),
    (1, "B", "B", False, False, "Major"),
    (2, "A", "E", False, True, "Minor"),
    (2, "B", "G", False, True, "Major"),
    (3, "A", "B", False, True, "Minor"),
    (3, "B", "D", False, True, "Major"),
    (4, "A", "F", False, False, "Minor"),
    (4, "B", "A", False, True, "Major"),
    (5, "A", "C", False, False, "Minor"),
    (5, "B", "E", False, True, "Major"),
    (6, "A", "G", False, False, "Minor"),
    (6, "B", "B", False, True, "Major"),
    (7, "A", "D", False, False, "Minor"),
    (7, "B", "F", False, False, "Major"),
    (8, "A", "A", False, False, "Minor"),
    (8, "B", "C", False, False, "Major"),
    (9, "A", "E", False, False, "Minor"),
    (9, "B", "G", False, False, "Major"),
    (10, "A", "B", False, False, "Minor"),
    (10, "B", "D", False, False, "Major"),
    (11, "A", "F", True, False, "Minor"),
    (11, "B", "A", False, False, "Major"),
    (12, "A", "C", True, False, "Minor"),
    (12, "B", "E", False, False, "Major"),
)

MARKETS: tuple[str, ...] = (
    "AD", "AR", "AT", "AU", "BE", "BR", "CA", "CH", "CL", "CO", "CZ", "DE", "DK", "ES", "FI",
    "FR", "GB", "GR", "HK", "IE", "IT", "JP", "KR", "MX", "NL", "NO", "NZ", "PL", "PT", "SE",
    "SG", "TW", "US", "ZA",
)  # fmt: skip

ISRC_COUNTRIES: tuple[str, ...] = (
    "GB", "US", "DE", "NL", "FR", "BE", "IT", "ES", "SE", "AU", "CA", "BR", "JP", "QZ", "QM",
    "CH", "DK", "NO", "CN", "ZA",
)  # fmt: skip

FIRST_NAMES: tuple[str, ...] = (
    "Adam", "Nina", "Marco", "Lena", "Oscar", "Maya", "Felix", "Ida", "Hugo", "Zoe", "Jonas",
    "Clara", "Victor", "Elsa", "Rafael", "Noa", "Tomas", "Greta", "Luca", "Mila", "Björn",
    "Chloé", "José", "Søren", "Zoë", "André", "Jürgen", "Inés", "Renée", "Ömer",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "Berg", "Costa", "Weiss", "Novak", "Lindqvist", "Moreau", "Rossi", "Kowalski", "Dubois",
    "Haas", "Silva", "Jansen", "Fischer", "Ortega", "Marsh", "Lund", "Rahman", "Okafor",
    "Müller", "Gómez", "Ångström", "Nuñez", "Šimić", "Delacroix", "Vásquez", "Kovač",
)  # fmt: skip
ALIAS_WORDS: tuple[str, ...] = (
    "Solar", "Echo", "Velvet", "Neon", "Quartz", "Pulse", "Orbit", "Cinder", "Atlas", "Nova",
    "Drift", "Prism", "Vortex", "Lumen", "Static", "Harbor", "Ember", "Kinetic", "Mirage",
    "Tundra", "Cobalt", "Helix", "Mono", "Sable", "Aurora", "Falcon", "Ivory", "Radar",
)  # fmt: skip
ALIAS_SUFFIXES: tuple[str, ...] = (
    "Collective", "Theory", "System", "Unit", "Project", "Society", "Machine", "Sound",
)  # fmt: skip
NON_LATIN_NAMES: tuple[str, ...] = (
    "呜唛唛", "林子云", "秀动", "夜の街", "ケンジ", "さくら", "김민준", "서울 밤", "Сергей Волков",
    "Ночной Город", "Δημήτρης", "אור", "نور", "東京ナイト", "李雷", "Алиса",
)  # fmt: skip
TITLE_WORDS: tuple[str, ...] = (
    "Midnight", "Horizon", "Signal", "Gravity", "Ritual", "Fever", "Shadow", "Bloom", "Circuit",
    "Mirage", "Voltage", "Silence", "Tide", "Ether", "Pulse", "Dawn", "Oasis", "Spiral", "Hollow",
    "Chrome", "Velour", "Cascade", "Monsoon", "Vertigo", "Paradise", "Reverie", "Sirens",
    "Lowlands", "Afterglow", "Nightcall", "Heat", "Stars", "Jasmine", "Café", "Señorita",
    "Déjà Vu", "Über", "Naïve",
)  # fmt: skip
NON_LATIN_TITLES: tuple[str, ...] = (
    "水平線", "夜明け", "星空", "茉莉", "바다", "Тишина", "Огни", "光",
)  # fmt: skip
LABEL_WORDS: tuple[str, ...] = (
    "Records", "Recordings", "Music", "Audio", "Sounds", "Label", "Digital", "Tracks",
)  # fmt: skip
DECOY_ARTISTS: tuple[str, ...] = (
    "Kids Bop Choir", "The Lounge Orchestra", "Karaoke Allstars", "Yoga Relax Ensemble",
    "Workout Hits Crew", "Piano Cover Masters", "Lullaby Tribute Band", "Study Beats Factory",
    "Ringtone Makers", "Party Hits Unlimited", "Chillout Cafe Players", "Baroque Strings Quartet",
)  # fmt: skip
MIX_NAMES: tuple[tuple[str, float], ...] = (
    ("Original Mix", 0.55),
    ("Extended Mix", 0.17),
    ("Remix", 0.15),  # becomes "<remixer> Remix" with a remixer
    ("Dub Mix", 0.05),
    ("Radio Edit", 0.04),
    ("VIP Mix", 0.04),
)
