#!/usr/bin/env python3
"""Writes the bookshop example's CSVs (deterministic: same files every run).

customers.csv    favourite authors (a `|` list, as customers typed them) and a favourite genre
transactions.csv two years of purchases, each line a book with its author and genre
catalog.csv      the shop's feed: new titles (`arrival`) and price cuts (`markdown`)
events.csv       a few opt-outs and a changed favourite author (`profile_update`)

    python3 examples/bookshop/generate.py
"""
import csv
import datetime as dt
import os
import random

R = random.Random(7)
HERE = os.path.dirname(os.path.abspath(__file__))
START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
END = dt.datetime(2025, 12, 31, 18, tzinfo=dt.timezone.utc)

AUTHORS = {
    "Michael Chabon": "literary",
    "Ursula K. Le Guin": "fantasy",
    "Octavia E. Butler": "science_fiction",
    "Kazuo Ishiguro": "literary",
    "Tana French": "crime",
    "Ann Cleeves": "crime",
    "Terry Pratchett": "fantasy",
    "N. K. Jemisin": "fantasy",
    "Ted Chiang": "science_fiction",
    "Zadie Smith": "literary",
    "Mick Herron": "crime",
    "Becky Chambers": "science_fiction",
    "Hilary Mantel": "historical",
    "Kate Atkinson": "historical",
    "Robert Macfarlane": "nature",
    "Helen Macdonald": "nature",
}
GENRES = sorted(set(AUTHORS.values()))
FIRST = ["Ada", "Ben", "Cara", "Dev", "Elif", "Finn", "Gita", "Hugo", "Iris", "Jon", "Kemi", "Luca",
         "Maya", "Nils", "Omar", "Pia", "Quinn", "Rosa", "Sami", "Tess", "Uma", "Viktor", "Wren", "Yara"]
LAST = ["Adeyemi", "Brennan", "Castro", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito",
        "Jensen", "Kowalski", "Larsen", "Moreau", "Novak", "Okafor", "Petrov", "Quist", "Rossi"]


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def titles_of(author, n):
    words = ["Night", "River", "Glass", "Orchard", "Signal", "Harbour", "Winter", "Lantern", "Atlas",
             "Echo", "Meridian", "Fable", "Cinder", "Compass", "Hollow", "Tide"]
    out = []
    for k in range(n):
        a, b = R.sample(words, 2)
        out.append(f"The {a} {b}")
    return out


def main():
    authors = list(AUTHORS)
    backlist = {a: titles_of(a, 4) for a in authors}
    price = {}
    for a in authors:
        for t in backlist[a]:
            price[(a, t)] = R.choice([9.99, 12.99, 14.99, 18.99, 24.99])

    customers = []
    for i in range(1, 151):
        cid = f"B{i:04d}"
        name = f"{R.choice(FIRST)} {R.choice(LAST)}"
        favs = R.sample(authors, R.choice([0, 1, 1, 2, 2, 3]))
        # Typed by hand: some lower case, some with stray spaces.
        shown = [f.lower() if R.random() < 0.2 else f for f in favs]
        fav_text = " | ".join(shown) if R.random() < 0.3 else "|".join(shown)
        genre = R.choice(GENRES + [""])
        customers.append((cid, name, f"{name.lower().replace(' ', '.')}{i}@example.com", fav_text, genre, favs))

    lines = []
    order = 0
    for cid, _, _, _, genre, favs in customers:
        if cid in ("B0149", "B0150"):
            continue  # profile only: never bought, still hears about their author
        n_orders = R.randint(1, 9)
        # Readers lean to their favourites and their genre.
        pool = favs * 3 + [a for a in authors if AUTHORS[a] == genre] * 2 + authors
        for _ in range(n_orders):
            order += 1
            t = START + dt.timedelta(seconds=R.randint(0, int((END - START).total_seconds())))
            for _ in range(R.choice([1, 1, 1, 2])):
                a = R.choice(pool)
                title = R.choice(backlist[a])
                lines.append((cid, iso(t), f"O{order:05d}", title, "books", a, AUTHORS[a], 1, price[(a, title)]))
    lines.sort(key=lambda r: (r[1], r[0], r[2], r[3]))

    catalog = []
    n = 0
    for month in range(1, 13):
        for _ in range(3):
            n += 1
            a = R.choice(authors)
            t = dt.datetime(2025, month, R.randint(1, 28), 8, tzinfo=dt.timezone.utc)
            title = titles_of(a, 1)[0]
            p = R.choice([16.99, 18.99, 22.00, 27.50])
            catalog.append((f"I{n:04d}", iso(t), "arrival", title, a, AUTHORS[a], p, ""))
    # One busy day: four new titles by two popular authors at once (caps decide).
    for k, a in enumerate(["Terry Pratchett", "Terry Pratchett", "Tana French", "Tana French"]):
        n += 1
        catalog.append((f"I{n:04d}", "2025-11-20T08:00:00Z", "arrival", f"Collected Stories, Volume {k + 1}", a,
                        AUTHORS[a], 19.99, ""))
    for month in (3, 6, 9, 11):
        for g in R.sample(GENRES, 2):
            a = R.choice([x for x in authors if AUTHORS[x] == g])
            title = R.choice(backlist[a])
            n += 1
            old = price[(a, title)]
            catalog.append((f"I{n:04d}", iso(dt.datetime(2025, month, 15, 7, tzinfo=dt.timezone.utc)), "markdown",
                            title, a, g, round(old * 0.6, 2), old))
    # Announced for after the as-of day (2025-12-31): not yet news.
    n += 1
    catalog.append((f"I{n:04d}", "2026-01-15T08:00:00Z", "arrival", "The Winter Signal", "Michael Chabon",
                    "literary", 24.00, ""))
    R.shuffle(catalog)  # a feed comes in any order

    events = [
        ("B0007", "2025-02-01T10:00:00Z", "opt_out", "email", "", ""),
        ("B0021", "2025-05-01T10:00:00Z", "opt_out", "email", "", ""),
        ("B0033", "2025-06-30T12:00:00Z", "profile_update", "", "favourite_authors", "Mick Herron"),
        ("B0044", "2025-03-10T09:00:00Z", "profile_update", "", "favourite_genre", "nature"),
    ]

    def write(name, header, rows):
        with open(os.path.join(HERE, name), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(header)
            w.writerows(rows)

    write("customers.csv", ["customer_id", "name", "email", "favourite_authors", "favourite_genre"],
          [c[:5] for c in customers])
    write("transactions.csv", ["customer_id", "timestamp", "order_id", "product", "category", "author", "genre",
                               "quantity", "amount"], lines)
    write("catalog.csv", ["item_id", "timestamp", "type", "title", "author", "genre", "price", "old_price"], catalog)
    write("events.csv", ["customer_id", "timestamp", "type", "channel", "column", "value"], events)


if __name__ == "__main__":
    main()
