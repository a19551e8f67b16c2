"""Plain-text table for a terminal: summary, score per section, then the findings worst first."""

from __future__ import annotations

from kubebook.audit.engine import AuditResult
from kubebook.audit.exporters.common import counts, resource_name, shown

WIDTHS = {"result": 6, "severity": 8, "check": 28, "resource": 48}


def to_table(result: AuditResult, include_passed: bool = False) -> str:
    lines = [f"kubebook audit of {result.source} {result.location}".rstrip()]
    c = counts(result)
    lines.append("results: " + ", ".join(f"{k} {v}" for k, v in c.items()))
    overall = result.score.get("overall")
    lines.append(f"score: {'n/a' if overall is None else overall} "
                 f"({result.score.get('passed', 0)}/{result.score.get('checks', 0)} scored checks pass everywhere)")
    for section, info in result.score.get("sections", {}).items():
        score = "n/a" if info["score"] is None else info["score"]
        lines.append(f"  {section:<14} {score!s:>6}  {info['passed']}/{info['checks']} checks")
    for waiver in result.expired_waivers:
        lines.append(f"expired waiver (not applied): {waiver.describe()}")
    rows = shown(result, include_passed)
    if not rows:
        lines.append("no findings other than PASS")
        return "\n".join(lines) + "\n"
    header = f"{'RESULT':<6} {'SEVERITY':<8} {'CHECK':<28} {'RESOURCE':<48} MESSAGE"
    lines += ["", header]
    for row in rows:
        result_text = "WAIVED" if row["waived"] else row["result"]
        message = row["message"]  # never cut: the guidance is often at the end of the message
        lines.append(f"{result_text:<6} {row['severity']:<8} {row['check']:<28} {resource_name(row):<48} {message}")
    return "\n".join(lines) + "\n"
