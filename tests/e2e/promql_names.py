#!/usr/bin/env python3
"""tests/e2e/promql_names.py: do the rules and the dashboard ask only for what an edge's /metrics exports?

    promql_names.py METRICS RULES DASHBOARD

METRICS is a scrape of a running edge's /metrics (text format), RULES docs/monitoring/rules.yml, DASHBOARD
docs/monitoring/edgecache-dashboard.json. Every metric name in a PromQL expression of the rules (`expr`) and
of the dashboard (panel targets' `expr`, template variables' queries) must be a family or a sample name of
METRICS (so a histogram's _bucket, _sum and _count count), a series the rules record, or one Prometheus makes
itself (up). Every label name matched or grouped on must be one the edge's samples carry, one the scrape
adds (job, instance, and the targets' edge, region, tier from `edgecache prometheus-targets`), or le.

Prints each unknown name with where it was found and exits 1; prints a summary and exits 0 otherwise.

The PromQL reading is lexical and enough for these files: string literals are dropped, then what stands in
`{...}` gives label names, what follows by/without/on/ignoring/group_left/group_right gives label names, and
every other identifier that is not a function, an aggregation, a keyword or a Grafana variable is a metric.
"""
import json
import re
import sys

import yaml

FUNCTIONS = {
    # aggregations
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile",
    # functions
    "abs", "absent", "absent_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "day_of_month",
    "day_of_week", "day_of_year", "days_in_month", "delta", "deriv", "exp", "floor", "histogram_count",
    "histogram_fraction", "histogram_quantile", "histogram_sum", "holt_winters", "hour", "idelta", "increase",
    "irate", "label_join", "label_replace", "ln", "log2", "log10", "minute", "month", "predict_linear", "rate",
    "resets", "round", "scalar", "sgn", "sort", "sort_desc", "sqrt", "time", "timestamp", "vector", "year",
    "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time", "quantile_over_time",
    "stddev_over_time", "stdvar_over_time", "last_over_time", "present_over_time",
    # Grafana's template queries
    "label_values", "query_result", "metrics", "label_names",
}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "inf",
            "nan"}
BUILTIN_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
SCRAPE_LABELS = {"job", "instance", "edge", "region", "tier", "le", "__name__"}

IDENT = r"[a-zA-Z_:][a-zA-Z0-9_:]*"


def exported(path):
    """The family names (from # TYPE) and sample names of a /metrics scrape, and every label name."""
    names, labels = set(), set()
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            m = re.match(r"# TYPE (" + IDENT + r") ", line)
            if m:
                names.add(m.group(1))
                continue
            if not line or line.startswith("#"):
                continue
            m = re.match(r"(" + IDENT + r")(\{[^}]*\})?\s", line)
            if m:
                names.add(m.group(1))
                if m.group(2):
                    labels.update(re.findall(r"(" + IDENT + r")=\"", m.group(2)))
    return names, labels


def references(expr):
    """(metric names, label names) an expression refers to."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings: label values, regexes
    expr = re.sub(r"'(?:[^'\\]|\\.)*'", '""', expr)
    expr = re.sub(r"\$\{[^}]*\}|\$" + IDENT, "", expr)  # Grafana variables
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges and subqueries' durations
    labels = set()
    for body in re.findall(r"\{([^}]*)\}", expr):
        labels.update(re.findall(r"(" + IDENT + r")\s*(?:=~|!~|!=|=)", body))
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    for body in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", expr):
        labels.update(re.findall(IDENT, body))
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for m in re.finditer(r"(?<![a-zA-Z0-9_:.])(" + IDENT + r")", expr):
        word = m.group(1)
        if word in FUNCTIONS or word.lower() in KEYWORDS:
            continue
        names.add(word)
    # label_values(metric, label): its second argument is a label
    for m in re.finditer(r"label_values\s*\(\s*(?:" + IDENT + r"\s*,\s*)?(" + IDENT + r")\s*\)", expr):
        labels.add(m.group(1))
        names.discard(m.group(1))
    return names, labels


def rule_exprs(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    recorded, exprs = set(), []
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "record" in rule:
                recorded.add(rule["record"])
            exprs.append(("%s: %s" % (path, rule.get("record") or rule.get("alert")), rule["expr"]))
    return recorded, exprs


def dashboard_exprs(path):
    with open(path) as f:
        dash = json.load(f)
    exprs = []

    def panels(ps):
        for p in ps:
            yield p
            yield from panels(p.get("panels", []))

    for p in panels(dash.get("panels", [])):
        for t in p.get("targets", []):
            if "expr" in t:
                exprs.append(("%s: panel %r" % (path, p.get("title")), t["expr"]))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            exprs.append(("%s: variable %s" % (path, v.get("name")), q["query"] if isinstance(q, dict) else q))
    return exprs


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    names, labels = exported(sys.argv[1])
    recorded, exprs = rule_exprs(sys.argv[2])
    exprs += dashboard_exprs(sys.argv[3])
    known_names = names | recorded | BUILTIN_SERIES
    known_labels = labels | SCRAPE_LABELS
    bad = 0
    metrics_used = set()
    for where, expr in exprs:
        used, used_labels = references(expr)
        metrics_used |= used
        for n in sorted(used - known_names):
            print("%s: metric %s is not exported by /metrics nor recorded by the rules" % (where, n))
            bad += 1
        for n in sorted(used_labels - known_labels):
            print("%s: label %s is on no exported sample nor added by the scrape" % (where, n))
            bad += 1
    if bad:
        sys.exit(1)
    print("%d expressions, %d metric names, all exported or recorded" % (len(exprs), len(metrics_used)))


if __name__ == "__main__":
    main()
