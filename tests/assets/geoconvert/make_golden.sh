#!/usr/bin/env bash
# Regenerates the GeoConvert golden files in this directory. Oracle: GeographicLib's GeoConvert
# (Debian package geographiclib-tools; these files were made with GeoConvert 2.1.2).
# The input points are drawn by the embedded Python (standard library only, fixed seed) and written
# in fixed notation, since GeoConvert does not read exponents.
set -euo pipefail
cd "$(dirname "$0")"
GeoConvert --version

python3 - <<'PY'
import random

rng = random.Random(20261122)
pts = []

def add(lat, lon):
    pts.append((lat, lon))

# random points: most of the UTM domain, and the polar caps
for _ in range(3000):
    add(rng.uniform(-80, 84), rng.uniform(-180, 180))
for _ in range(300):
    add(rng.uniform(84, 90), rng.uniform(-180, 180))
    add(rng.uniform(-90, -80), rng.uniform(-180, 180))
tiny = 1e-9
# zone edges: every multiple of 6 degrees of longitude, exactly and a hair either side
for k in range(-180, 181, 6):
    for lat in (-79.5, -45.25, -0.5, 0.5, 33.3, 55.5, 60.1, 71.5, 75.2, 83.5):
        for d in (-tiny, 0.0, tiny):
            lon = k + d
            if -180 <= lon <= 180:
                add(lat, lon)
# band edges: every 8 degrees of latitude from 80S, and 84N
for b in list(range(-80, 81, 8)) + [84]:
    for lon in (-177.5, -3.1, 0.5, 3.5, 10.25, 45.0, 71.0917, 100.75, 179.9):
        for d in (-tiny, 0.0, tiny):
            add(b + d, lon)
# the Norway exception (32V reaches west to 3E between 56N and 64N)
for lat in (56.0, 56 + tiny, 56 - tiny, 58.7, 63.9, 64 - tiny, 64.0):
    for lon in (0.0, 2.5, 3 - tiny, 3.0, 3 + tiny, 5.5, 6.0, 8.99, 11.99, 12 - tiny, 12.0):
        add(lat, lon)
# the Svalbard exception (31X, 33X, 35X, 37X between 72N and 84N)
for lat in (72.0, 72 + tiny, 72 - tiny, 76.3, 80.0, 83.99, 84 - tiny):
    for edge in (0, 6, 9, 12, 18, 21, 24, 30, 33, 36, 42):
        for d in (-tiny, 0.0, tiny, 0.5, -0.5):
            add(lat, edge + d)
# equator, poles, antimeridian
for lat in (0.0, 1e-12, -1e-12, 90.0, -90.0, 84.0, -80.0, 84 - tiny, -80 - tiny):
    for lon in (-180.0, -179.999999999, -90.0, -0.5, 0.0, 0.5, 45.0, 90.0, 179.999999999, 180.0):
        add(lat, lon)

with open("points.txt", "w") as f:
    for lat, lon in pts:
        f.write(f"{lat:.13f} {lon:.13f}\n")

# MGRS squares read back: every band, every column index and every row letter, in zones of both
# parities (1, 2, 3) and a few others; GeoConvert says which exist.
bands = "CDEFGHJKLMNPQRSTUVWX"
cols = ("ABCDEFGH", "JKLMNPQR", "STUVWXYZ")
rows = "ABCDEFGHJKLMNPQRSTUV"
with open("mgrs_squares.txt", "w") as f:
    for zone in (1, 2, 3, 32):
        for band in bands:
            for col in cols[(zone - 1) % 3]:
                for row in rows:
                    f.write(f"{zone:02d}{band}{col}{row}\n")
    upscols = ("JKLPQRSTUXYZ", "ABCFGHJKLPQR", "RSTUXYZ", "ABCFGHJ")
    upsrows = ("ABCDEFGHJKLMNPQRSTUVWXYZ", "ABCDEFGHJKLMNP")
    for i, band in enumerate("ABYZ"):
        for col in upscols[i]:
            for row in upsrows[i >= 2]:
                f.write(f"{band}{col}{row}55\n")
    # letters outside the sets, and other malformed references
    for s in ("42SIA", "42SOA", "42SXI", "42SXO", "42SAD", "42AXD", "42BXD", "42YXD", "42ZXD",
              "00SXD", "61SXD", "042SXD", "42SXD1", "42SXD123", "AAA", "ZZZ", "BAA", "YAA",
              "ZAA55", "AJA", "1CDA", "4QFJ12345678", "4qfj1234567890", "32VKJ", "31VEJ"):
        f.write(s + "\n")

# latitude/longitude text in the notations people type (ours), each with a form GeoConvert reads the
# same way (GeoConvert takes "-" as subtraction and does not split "34 55 06 N" into parts)
def dms(v, hemi, width):
    h = hemi[0] if v >= 0 else hemi[1]
    a = abs(v)
    d = int(a)
    m = int((a - d) * 60)
    s = round(((a - d) * 60 - m) * 60, 2)
    if s >= 60:
        s = 59.99
    return d, m, s, h

pairs = [
    ("34.9183, 71.0917", "34.9183 71.0917"),
    ("34.9183N 71.0917E", "34.9183N 71.0917E"),
    ("71.0917E 34.9183N", "71.0917E 34.9183N"),
    ("N34.9183 E71.0917", "N34.9183 E71.0917"),
    ("-34.5, -58.25", "-34.5 -58.25"),
    ("34.5S 58.25W", "34.5S 58.25W"),
    ("34°55'06\"N 71°05'30\"E", "34d55'06\"N 71d05'30\"E"),
    ("34 55 06 N 71 05 30 E", "34:55:06N 71:05:30E"),
    ("34-55-06N 071-05-30E", "34:55:06N 071:05:30E"),
    ("34°55′06″N 71°05′30″E", "34d55'06\"N 71d05'30\"E"),
    ("34°55.1'N 71°05.5'E", "34d55.1'N 71d05.5'E"),
    ("34:55:06 71:05:30", "34:55:06 71:05:30"),
    ("S 33 51 35.9, E 151 12 40", "33:51:35.9S 151:12:40E"),
    ("0°00'00.01\"S 000°00'00.01\"W", "0:0:0.01S 0:0:0.01W"),
    ("90, 180", "90 180"),
    ("-90, -180", "-90 -180"),
    ("89°59'59.99\"N 179°59'59.99\"W", "89:59:59.99N 179:59:59.99W"),
]
for _ in range(600):
    lat, lon = rng.uniform(-90, 90), rng.uniform(-180, 180)
    a, b = dms(lat, "NS", 2), dms(lon, "EW", 3)
    gc = f"{a[0]}:{a[1]}:{a[2]:.2f}{a[3]} {b[0]}:{b[1]}:{b[2]:.2f}{b[3]}"
    style = rng.randrange(5)
    if style == 0:
        ours = f"{a[0]}°{a[1]:02d}'{a[2]:05.2f}\"{a[3]} {b[0]:03d}°{b[1]:02d}'{b[2]:05.2f}\"{b[3]}"
    elif style == 1:
        ours = f"{a[0]} {a[1]} {a[2]:.2f} {a[3]} {b[0]} {b[1]} {b[2]:.2f} {b[3]}"
    elif style == 2:
        ours = f"{a[0]:02d}-{a[1]:02d}-{a[2]:05.2f}{a[3]} {b[0]:03d}-{b[1]:02d}-{b[2]:05.2f}{b[3]}"
    elif style == 3:
        ours = f"{b[3]}{b[0]}°{b[1]}′{b[2]:.2f}″ {a[3]}{a[0]}°{a[1]}′{a[2]:.2f}″"
    else:
        mins_a = round(a[1] + a[2] / 60, 4)
        mins_b = round(b[1] + b[2] / 60, 4)
        if mins_a >= 60 or mins_b >= 60:
            continue
        ours = f"{a[0]}°{mins_a:.4f}'{a[3]}, {b[0]}°{mins_b:.4f}'{b[3]}"
        gc = f"{a[0]}:{mins_a:.4f}{a[3]} {b[0]}:{mins_b:.4f}{b[3]}"
    pairs.append((ours, gc))
with open("geographic_pairs.tmp", "w") as f:
    for ours, gc in pairs:
        f.write(f"{ours}\t{gc}\n")
PY

# forward: geographic -> MGRS at 5..0 digit pairs (truncated), UTM/UPS (-l: north/south), DMS,
# decimal degrees
GeoConvert -m -p 0 < points.txt > m5.tmp
GeoConvert -m -p -1 < points.txt > m4.tmp
GeoConvert -m -p -2 < points.txt > m3.tmp
GeoConvert -m -p -3 < points.txt > m2.tmp
GeoConvert -m -p -4 < points.txt > m1.tmp
GeoConvert -m -p -5 < points.txt > m0.tmp
GeoConvert -u -l -p 0 < points.txt > utm.tmp
GeoConvert -d -p 1 < points.txt > dms.tmp
GeoConvert -g -p 1 < points.txt > dec.tmp
paste -d '\t' points.txt m5.tmp m4.tmp m3.tmp m2.tmp m1.tmp m0.tmp utm.tmp dms.tmp dec.tmp \
  > forward.tsv

# reverse: every MGRS string above (all precisions) -> centre of its square, as lat/lon and UTM/UPS
cat m5.tmp m4.tmp m3.tmp m2.tmp m1.tmp m0.tmp | awk 'NR % 6 == 1' > mgrs_in.tmp
GeoConvert -p 9 < mgrs_in.tmp > mgrs_ll.tmp
GeoConvert -u -l -p 3 < mgrs_in.tmp > mgrs_utm.tmp
paste -d '\t' mgrs_in.tmp mgrs_ll.tmp mgrs_utm.tmp > mgrs_read.tsv

# squares: which exist (GeoConvert prints ERROR: ... for the others), and their centres
GeoConvert -u -l -p 3 < mgrs_squares.txt > sq.tmp 2>&1 || true  # exits 1: some are errors
paste -d '\t' mgrs_squares.txt sq.tmp > mgrs_squares.tsv

# reverse: UTM/UPS text (to the millimetre) -> lat/lon
GeoConvert -u -l -p 3 < points.txt > utm3.tmp
GeoConvert -p 9 < utm3.tmp > utm_ll.tmp
paste -d '\t' utm3.tmp utm_ll.tmp > utm_read.tsv

# latitude/longitude text: ours, GeoConvert's equivalent, and GeoConvert's reading of it
cut -f 2 geographic_pairs.tmp | GeoConvert -p 9 > geo_ll.tmp
paste -d '\t' geographic_pairs.tmp geo_ll.tmp > geographic_read.tsv

rm -f ./*.tmp mgrs_squares.txt
wc -l forward.tsv mgrs_read.tsv mgrs_squares.tsv utm_read.tsv geographic_read.tsv
