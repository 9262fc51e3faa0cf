"""Plausible results for each job type, for the demo and for tests."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from jobledger.domain.results import JobType

PEOPLE = ["Ivan Petrov", "Mara Lind", "Omar Haddad", "Chen Wei", "Lena Vogel", "Sam Okafor"]
ORGS = ["Northwind Holdings", "Blue Harbor Ltd", "Kestrel Trading", "Atlas Remit"]
ACCOUNTS = ["ACC-0913", "ACC-4471", "ACC-7720", "ACC-1188"]


def _findings(rng: random.Random, kind: str, labels: list[str]) -> list[dict[str, Any]]:
    chosen = rng.sample(labels, k=rng.randint(1, min(3, len(labels))))
    return [
        {"kind": kind, "label": label, "confidence": round(rng.uniform(0.55, 0.99), 2)}
        for label in chosen
    ]


def _entity_extraction(rng: random.Random) -> dict[str, Any]:
    people, orgs = rng.randint(3, 40), rng.randint(1, 15)
    return {
        "summary": f"{people} people and {orgs} organisations across the corpus",
        "findings": _findings(rng, "person", PEOPLE) + _findings(rng, "organisation", ORGS),
        "entities": people + orgs,
        "relationships": rng.randint(0, 30),
        "entity_types": {"person": people, "organisation": orgs},
    }


def _graph_analysis(rng: random.Random) -> dict[str, Any]:
    nodes = rng.randint(20, 400)
    central = rng.sample(PEOPLE + ORGS, k=3)
    return {
        "summary": f"{nodes} nodes; {central[0]} sits between two communities",
        "findings": [{"kind": "central_actor", "label": c} for c in central],
        "entities": nodes,
        "relationships": nodes * 2,
        "nodes": nodes,
        "edges": nodes * 2,
        "communities": rng.randint(2, 9),
        "central_entities": central,
    }


def _threat_modelling(rng: random.Random) -> dict[str, Any]:
    threats = [
        {"name": "credential stuffing", "severity": "high", "likelihood": 0.6},
        {"name": "insider data export", "severity": "critical", "likelihood": 0.2},
    ]
    return {
        "summary": "two attack paths reach the payments ledger",
        "findings": [
            {"kind": "threat", "label": t["name"], "severity": t["severity"]} for t in threats
        ],
        "anomalies": 1,
        "risk_score": rng.randint(40, 90),
        "threats": threats,
    }


def _pattern_recognition(rng: random.Random) -> dict[str, Any]:
    patterns = [
        {"name": "structuring below 10k", "occurrences": rng.randint(3, 30), "support": 0.4},
        {"name": "round-trip transfers", "occurrences": rng.randint(1, 9), "support": 0.2},
    ]
    return {
        "summary": "recurring structuring across accounts",
        "findings": [{"kind": "pattern", "label": p["name"]} for p in patterns],
        "relationships": rng.randint(1, 12),
        "patterns": patterns,
    }


def _anomaly_detection(rng: random.Random) -> dict[str, Any]:
    outliers = [
        {"subject": a, "score": round(rng.uniform(3, 9), 2)} for a in rng.sample(ACCOUNTS, 2)
    ]
    return {
        "summary": f"{len(outliers)} accounts far outside their peer group",
        "findings": [
            {"kind": "outlier", "label": o["subject"], "severity": "high"} for o in outliers
        ],
        "anomalies": len(outliers),
        "threshold": 3.0,
        "outliers": outliers,
    }


def _correlation_analysis(rng: random.Random) -> dict[str, Any]:
    pairs = [
        {"left": "login from new device", "right": "wire > 5k", "coefficient": 0.71},
        {"left": "address change", "right": "card reissue", "coefficient": 0.43},
    ]
    return {
        "summary": "device changes precede large wires",
        "findings": [
            {"kind": "correlation", "label": f"{p['left']} ~ {p['right']}"} for p in pairs
        ],
        "relationships": len(pairs),
        "correlations": pairs,
    }


def _predictive_modelling(rng: random.Random) -> dict[str, Any]:
    forecasts = [
        {"subject": a, "outcome": "chargeback", "probability": round(rng.uniform(0.1, 0.9), 2)}
        for a in rng.sample(ACCOUNTS, 2)
    ]
    return {
        "summary": "chargeback risk over the next 30 days",
        "findings": [{"kind": "forecast", "label": f["subject"]} for f in forecasts],
        "predictions": len(forecasts),
        "horizon_days": 30,
        "forecasts": forecasts,
    }


SAMPLERS: dict[JobType, Callable[[random.Random], dict[str, Any]]] = {
    JobType.ENTITY_EXTRACTION: _entity_extraction,
    JobType.GRAPH_ANALYSIS: _graph_analysis,
    JobType.THREAT_MODELLING: _threat_modelling,
    JobType.PATTERN_RECOGNITION: _pattern_recognition,
    JobType.ANOMALY_DETECTION: _anomaly_detection,
    JobType.CORRELATION_ANALYSIS: _correlation_analysis,
    JobType.PREDICTIVE_MODELLING: _predictive_modelling,
}


def sample_result(job_type: JobType, rng: random.Random) -> dict[str, Any]:
    return {"type": job_type.value, **SAMPLERS[job_type](rng)}
