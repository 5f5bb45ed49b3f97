# ruff: noqa  (a deliberately messy script: the input of the rewrite tests)
"""Sensor heat alerts -- numpy loading, a set of distinct readings, a most-frequent zone."""
import os
import numpy as np

QUARTERS = [0, 1, 2, 3]

readings = np.loadtxt('data/readings.csv', delimiter=',', skiprows=1)
stations = np.genfromtxt('data/stations.txt', skip_header=1)

elevation = {}
zone_of = {}
for st in stations:
    elevation[int(st[0])] = st[1]
    zone_of[int(st[0])] = int(st[2])

zone_counts = {}
for st in stations:
    z = int(st[2])
    zone_counts[z] = zone_counts.get(z, 0) + 1
busiest_zone = max(zone_counts, key=zone_counts.get)

distinct = set()
for r in readings:
    station, hour, temp = int(r[0]), int(r[1]), r[2]
    if temp < -50:
        continue
    distinct.add((station, hour, temp))

rows = []
for station, hour, temp in sorted(distinct):
    if station not in elevation:
        continue
    in_busy = 1 if zone_of[station] == busiest_zone else 0
    rows.append((station, hour, temp, elevation[station], in_busy))

os.makedirs('out', exist_ok=True)
with open('out/prepared.tsv', 'w') as f:
    for row in rows:
        f.write('\t'.join(map(str, row)) + '\n')

temps = np.array([r[2] for r in rows])
temp_z = (temps - np.mean(temps)) / np.std(temps)
elev = np.array([[r[3] / 1000.0, r[4]] for r in rows])
quarter = np.array([[1.0 if r[1] // 6 == q else 0.0 for q in QUARTERS] for r in rows])
X = np.hstack([temp_z[:, None], elev, quarter])
y = np.array([1.0 if r[2] > 30 else 0.0 for r in rows])
np.save('out/X.npy', X)
np.save('out/y.npy', y)
