# ruff: noqa  (a deliberately messy script: the input of the rewrite tests)
"""Ticket triage: which support tickets get escalated (messy style: helper functions,
csv module, two quarterly files, a seen-set, tags exploded, sample std)."""

import csv
import os

import numpy as np

AGENTS_FILE = os.path.join("data", "agents.csv")
PRIORITY_INDEX = {"low": 0, "medium": 1, "high": 2}


def read_agents(path):
    teams = {}
    with open(path, newline="") as fh:
        for rec in csv.DictReader(fh):
            teams[rec["agent_id"]] = rec["team"]
    return teams


def main():
    teams = read_agents(AGENTS_FILE)
    tickets = []
    with open("data/tickets_q1.csv", newline="") as fh:
        rdr = csv.reader(fh)
        next(rdr)
        for ticket_id, agent_id, priority, minutes, tags in rdr:
            tickets.append([ticket_id, agent_id, priority, minutes, tags])
    with open("data/tickets_q2.csv", newline="") as fh:
        rdr = csv.reader(fh)
        next(rdr)
        for ticket_id, agent_id, priority, minutes, tags in rdr:
            tickets.append([ticket_id, agent_id, priority, minutes, tags])

    unique = []
    seen = set()
    for t in tickets:
        if t[0] in seen:
            continue
        seen.add(t[0])
        unique.append(t)

    rows = []
    for t in unique:
        team = teams.get(t[1], "unassigned")
        for tag in t[4].split("|"):
            if tag == "":
                continue
            rows.append((t[0], team, t[2], int(t[3]), tag))

    os.makedirs("out", exist_ok=True)
    with open("out/prepared.tsv", "w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        for r in rows:
            w.writerow(r)

    minutes = np.array([r[3] for r in rows], dtype=float)
    minutes_z = (minutes - minutes.mean()) / minutes.std(ddof=1)
    prio = np.zeros((len(rows), 3))
    for i, r in enumerate(rows):
        prio[i, PRIORITY_INDEX[r[2]]] = 1.0
    billing = np.array([[1.0 if r[4] == "billing" else 0.0] for r in rows])
    X = np.hstack([minutes_z.reshape(-1, 1), prio, billing])
    y = np.array([1.0 if r[1] == "unassigned" or r[2] == "high" else 0.0 for r in rows])
    np.save("out/X.npy", X)
    np.save("out/y.npy", y)


if __name__ == "__main__":
    main()
