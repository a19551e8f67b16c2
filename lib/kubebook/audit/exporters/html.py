"""Self-contained HTML report: summary, score per section, findings table (all values escaped)."""

from __future__ import annotations

from html import escape

from kubebook.audit.engine import AuditResult
from kubebook.audit.exporters.common import counts, nullable, resource_name, shown

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;width:100%}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;font-size:13px}
th{background:#f3f3f3}.FAIL{color:#b00020;font-weight:600}.ERROR{color:#7a0000;font-weight:700}
.WARN{color:#a36a00}.PASS{color:#1b7a1b}.INFO{color:#555}.waived{opacity:.6}"""


def to_html(result: AuditResult, include_passed: bool = False) -> str:
    c = counts(result)
    overall = result.score.get("overall")
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>kubebook audit: {escape(result.source)}</title><style>{STYLE}</style></head><body>",
        f"<h1>kubebook audit</h1><p>Source: {escape(result.source)} {escape(result.location)}<br>"
        f"Generated: {escape(result.generated_at)}</p>",
        f"<h2>Score: {'n/a' if overall is None else overall}</h2>",
        "<p>" + ", ".join(f"{escape(k)}: {v}" for k, v in c.items()) + "</p>",
        "<table><tr><th>Section</th><th>Score</th><th>Checks passing everywhere</th></tr>",
    ]
    for section, info in result.score.get("sections", {}).items():
        score = "n/a" if info["score"] is None else info["score"]
        parts.append(f"<tr><td>{escape(section)}</td><td>{score}</td><td>{info['passed']}/{info['checks']}</td></tr>")
    parts.append("</table>")
    if result.expired_waivers:
        parts.append("<h2>Expired waivers (not applied)</h2><ul>")
        parts += [f"<li>{escape(w.describe())}</li>" for w in result.expired_waivers]
        parts.append("</ul>")
    parts.append("<h2>Findings</h2><table><tr><th>Result</th><th>Severity</th><th>Check</th><th>CIS</th>"
                 "<th>Resource</th><th>Message</th><th>Remediation</th></tr>")
    for row in shown(result, include_passed):
        css = row["result"] + (" waived" if row["waived"] else "")
        label = f"{row['result']} (waived: {row['waiver']})" if row["waived"] else row["result"]
        parts.append(
            f'<tr class="{escape(css)}"><td class="{escape(row["result"])}">{escape(label)}</td>'
            f"<td>{escape(row['severity'])}</td><td>{escape(row['check'])}</td>"
            f"<td>{escape(nullable(row['cis']) or '')}</td><td>{escape(resource_name(row))}</td>"
            f"<td>{escape(row['message'])}</td><td>{escape(row['remediation'])}</td></tr>")
    parts.append("</table></body></html>")
    return "\n".join(parts) + "\n"
