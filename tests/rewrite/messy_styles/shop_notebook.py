# ruff: noqa  (a deliberately messy script: the input of the rewrite tests)
#!/usr/bin/env python
# coding: utf-8
# Repeat buyers (notebook export: ';'-separated files, comprehensions, a counting dict)

# In[1]:
import os

import numpy as np

lines = open("data/orders.csv").read().splitlines()
header = lines[0].split(";")
orders = [l.split(";") for l in lines[1:]]

# In[2]:
n_orders = {}
for o in orders:
    n_orders[o[1]] = n_orders.get(o[1], 0) + 1

customers = {}
for l in open("data/customers.csv").readlines()[1:]:
    cid, segment, signup_year = l.rstrip("\n").split(";")
    customers[cid] = (segment, int(signup_year))

# In[3]:
data = []
for o in orders:
    if o[1] not in customers:
        continue
    seg, year = customers[o[1]]
    amount = float(o[2])
    if amount <= 0:
        continue
    data.append([o[0], o[1], seg, year, amount, n_orders[o[1]]])
len(data)

# In[4]:
os.makedirs("out", exist_ok=True)
out = open("out/prepared.tsv", "w")
for d in data:
    out.write("\t".join(map(str, d)) + "\n")
out.close()

# In[5]:
amounts = [d[4] for d in data]


def scale(values):
    lo, hi = min(values), max(values)
    return [(v - lo) / (hi - lo) for v in values]


amount_s = scale(amounts)
segments = sorted(set([d[2] for d in data]))
rows = []
for i in range(len(data)):
    row = [amount_s[i]]
    for s in segments:
        row.append(1.0 if data[i][2] == s else 0.0)
    row.append(float(data[i][5]))
    rows.append(row)
X = np.array(rows)
y = np.array([1.0 if d[5] > 1 else 0.0 for d in data])
np.save("out/X.npy", X)
np.save("out/y.npy", y)
