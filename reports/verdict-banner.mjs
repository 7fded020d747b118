// Puts the run's verdict on the report's first screen: `node verdict-banner.mjs INDEX_HTML VERDICT_JSON`.
//
// The Allure app opens on a pass rate and a list of checks; the engineer paged at 3 a.m. needs the
// answer first: the status, and when it is not healthy the root cause (the verdict's first diagnosis
// entry) with its evidence and what to do. This inserts that, read from the verdict the suite copies
// beside its results (synthetics-verdict.json, already redacted), as a static block at the very top
// of <body>: inline CSS, no script, no external resource, every text HTML-escaped. The app renders
// below it, in the page's normal flow, and stays usable.
//
// Stable hooks for the tests and for people: #synthetics-verdict (data-status), .status, .summary,
// .root-cause (data-failure-mode), .failure-mode, .likely-cause, .evidence, .messages, .remediation,
// .further (one line per further diagnosis entry).
//
// Without the verdict file the page is left as it is (exit 0, said on stderr); a verdict that cannot
// be read is said on stderr too and the page left as it is (the report itself is still worth having).
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const [page, verdictPath] = process.argv.slice(2);
if (!page || !verdictPath) {
  console.error("usage: node verdict-banner.mjs INDEX_HTML VERDICT_JSON");
  process.exit(2);
}

const MESSAGE_CHARS = 300; // each message shown in full in the check's own result, below
const MESSAGES_SHOWN = 2;
const FURTHER_SHOWN = 8;

const STATUSES = {
  healthy: { colour: "#15803d", tint: "#f0fdf4", says: "every check that ran passed" },
  degraded: { colour: "#b45309", tint: "#fffbeb", says: "chat works, but not fully: the cause is below" },
  unhealthy: { colour: "#b91c1c", tint: "#fef2f2", says: "a check found its failure mode" },
  inconclusive: {
    colour: "#475569",
    tint: "#f8fafc",
    says: "the runner could not reach the network: nothing here is about chat",
  },
  incomplete: { colour: "#6d28d9", tint: "#f5f3ff", says: "the run was interrupted, or could not run any check" },
};
const UNKNOWN = { colour: "#374151", tint: "#f9fafb", says: "a status this report does not know" };
const OUTCOMES = ["passed", "failed", "skipped", "error"];

const escape = (value) =>
  String(value ?? "").replace(
    /[&<>"']/g,
    (char) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[char],
  );
const cut = (text, limit) => {
  const value = String(text ?? "");
  return value.length <= limit ? value : `${value.slice(0, limit - 1)}…`;
};
const list = (value) => (Array.isArray(value) ? value : []);
// The verdict's status is a string; anything else must not reach a class name or the CSS.
const statusName = (value) => (typeof value === "string" && /^[a-z-]{1,32}$/.test(value) ? value : "unknown");

const counts = (checks) => {
  const tally = OUTCOMES.map((outcome) => [outcome, checks.filter((c) => c.outcome === outcome).length])
    .filter(([, n]) => n)
    .map(([outcome, n]) => `${n} ${outcome}`);
  const blocked = checks.filter((c) => c.blocked_by).length;
  const text = tally.join(", ") || "no checks ran";
  return blocked ? `${text} (${blocked} blocked by a failing lower layer)` : text;
};

const duration = (verdict) => {
  const seconds = Number(verdict.duration_s);
  if (!Number.isFinite(seconds)) {
    return "";
  }
  const deadline = Number(verdict.deadline_s);
  return `${seconds.toFixed(1)} s` + (Number.isFinite(deadline) ? ` of its ${deadline} s deadline` : "");
};

const rootCause = (entry) => {
  const mode = escape(entry.failure_mode);
  const messages = [...new Set(list(entry.messages).map(String))].slice(0, MESSAGES_SHOWN);
  const evidence = list(entry.evidence).map((id) => `<code>${escape(id)}</code>`).join(", ");
  const steps = list(entry.remediation);
  const optional = [
    ["why-first", "Why first", entry.why_first],
    ["contradicted-by", "Contradicted by", list(entry.contradicted_by).join(", ")],
    ["conflicts", "Evidence conflicts", list(entry.conflicts).join("; ")],
  ]
    .filter(([, , text]) => text)
    .map(([name, label, text]) => `<p class="${name}"><b>${label}:</b> ${escape(text)}</p>`)
    .join("");
  return `<div class="root-cause" data-failure-mode="${mode}">
<div class="cause">
<p class="failure-mode"><span class="label">Root cause</span> <code>[${mode}]</code> ${escape(entry.symptom ?? entry.title)}</p>
${entry.likely_cause ? `<p class="likely-cause"><b>Likely cause:</b> ${escape(entry.likely_cause)}</p>` : ""}
${optional}
<div class="evidence"><p><b>Seen by:</b> ${evidence || "no check named"}</p>
${messages.length ? `<ul class="messages">${messages.map((m) => `<li title="${escape(m)}">${escape(cut(m, MESSAGE_CHARS))}</li>`).join("")}</ul>` : ""}
</div>
</div>
<div class="remediation"><p class="label">What to do</p>
${steps.length ? `<ol>${steps.map((step) => `<li><code>${escape(step)}</code></li>`).join("")}</ol>` : "<p>The runbook names no step for this target.</p>"}
</div>
</div>`;
};

const further = (entries) => {
  if (!entries.length) {
    return "";
  }
  const shown = entries.slice(0, FURTHER_SHOWN).map(
    (entry) =>
      `<li class="further" data-failure-mode="${escape(entry.failure_mode)}"><code>[${escape(entry.failure_mode)}]</code> ` +
      `${escape(entry.symptom ?? entry.title)}; seen by ${list(entry.evidence).map(escape).join(", ")}</li>`,
  );
  const left = entries.length - shown.length;
  if (left > 0) {
    shown.push(`<li class="further-left">and ${left} more failure mode(s): see Categories below</li>`);
  }
  return `<div class="also"><p class="label">Also seen</p><ul>${shown.join("")}</ul></div>`;
};

const banner = (verdict) => {
  const status = statusName(verdict.status);
  const look = STATUSES[status] ?? UNKNOWN;
  const checks = list(verdict.checks);
  const diagnosis = list(verdict.diagnosis).filter((entry) => entry && typeof entry === "object");
  const facts = [
    `target <b class="target">${escape(verdict.target)}</b>`,
    `<span class="counts">${escape(counts(checks))}</span>`,
    duration(verdict) && `<span class="duration">${escape(duration(verdict))}</span>`,
    verdict.started_at && `<span class="started">started ${escape(verdict.started_at)}</span>`,
  ].filter(Boolean);
  const body =
    status !== "healthy" && diagnosis.length
      ? rootCause(diagnosis[0]) + further(diagnosis.slice(1))
      : "";
  const errored = checks.filter((c) => c.outcome === "error").length;
  return `<!-- synthetics-verdict -->
<style id="synthetics-verdict-style">${css(look)}</style>
<section id="synthetics-verdict" class="synthetics-verdict status-${status}" data-status="${status}" aria-label="Synthetics verdict">
<div class="summary">
<span class="status">${escape(status)}</span>
<span class="says">${escape(look.says)}</span>
<span class="facts">${facts.join(" · ")}</span>
</div>
${verdict.note ? `<p class="note">${escape(verdict.note)}</p>` : ""}
${errored ? `<p class="note">${errored} check(s) could not run to a result (an error of the suite, not a finding)</p>` : ""}
${body}
</section>
<!-- /synthetics-verdict -->`;
};

// Every rule is scoped to the banner and sets what the app's global styles might otherwise change.
const css = (look) => `
#synthetics-verdict{all:initial;display:block;position:relative;box-sizing:border-box;width:100%;margin:0;
 padding:10px 20px 12px;background:${look.tint};border-bottom:3px solid ${look.colour};color:#111827;
 font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;text-align:left}
/* Above the app's loading screen (which covers the page until the app has rendered, or for ever without
   script), and only while it is there: the app's own overlays, later, cover the banner as they should. */
body:has(#allure-app-loader) #synthetics-verdict{z-index:2147483647}
body #allure-app-loader{z-index:2147483646}
#synthetics-verdict *{box-sizing:border-box;margin:0;padding:0;font:inherit;color:inherit;letter-spacing:normal}
#synthetics-verdict b{font-weight:700}
#synthetics-verdict code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;
 background:rgba(0,0,0,.06);border-radius:3px;padding:0 3px;overflow-wrap:anywhere}
#synthetics-verdict .summary{display:flex;flex-wrap:wrap;align-items:baseline;gap:6px 16px}
#synthetics-verdict .status{font-size:30px;line-height:1.15;font-weight:800;text-transform:uppercase;
 color:#fff;background:${look.colour};border-radius:6px;padding:2px 12px}
#synthetics-verdict .says{font-weight:600;color:${look.colour}}
#synthetics-verdict .facts{color:#374151}
#synthetics-verdict .note{margin-top:4px;font-style:italic;color:#374151}
#synthetics-verdict .label{font-size:11px;font-weight:700;text-transform:uppercase;letter-spacing:.06em;color:${look.colour}}
#synthetics-verdict .root-cause{display:flex;flex-wrap:wrap;gap:8px 24px;margin-top:10px}
#synthetics-verdict .cause{flex:1 1 520px;min-width:0}
#synthetics-verdict .remediation{flex:1 1 420px;min-width:0;align-self:flex-start;background:#fff;border:1px solid ${look.colour};
 border-radius:6px;padding:6px 10px}
#synthetics-verdict .failure-mode{font-size:17px;font-weight:700}
#synthetics-verdict .failure-mode .label{display:block}
#synthetics-verdict .cause p,#synthetics-verdict .evidence{margin-top:3px}
#synthetics-verdict ul,#synthetics-verdict ol{margin:2px 0 0 20px;list-style-position:outside}
#synthetics-verdict ul{list-style-type:disc}
#synthetics-verdict ol{list-style-type:decimal}
#synthetics-verdict li{display:list-item;margin-top:2px}
#synthetics-verdict .messages li{color:#374151;overflow-wrap:anywhere}
#synthetics-verdict .also{margin-top:8px}
#synthetics-verdict .further{color:#374151}
`;

let html = readFileSync(page, "utf-8");
// Built again from the same page: one banner, this verdict's.
html = html.replace(/<!-- synthetics-verdict -->[\s\S]*?<!-- \/synthetics-verdict -->\n?/g, "");
if (!existsSync(verdictPath)) {
  console.error(`verdict-banner.mjs: no verdict at ${verdictPath}; the report opens without the verdict banner`);
  writeFileSync(page, html);
  process.exit(0);
}
let verdict;
try {
  verdict = JSON.parse(readFileSync(verdictPath, "utf-8"));
  if (!verdict || typeof verdict !== "object" || Array.isArray(verdict)) {
    throw new Error("not a JSON object");
  }
} catch (error) {
  console.error(`verdict-banner.mjs: ${verdictPath} is not a readable verdict (${error.message}); no verdict banner`);
  writeFileSync(page, html);
  process.exit(0);
}
const body = /<body[^>]*>/i;
// A new Allure version whose page has no <body> tag must fail here, not lose the banner quietly.
if (!body.test(html)) {
  console.error(`verdict-banner.mjs: ${page} has no <body> tag; update reports/verdict-banner.mjs for this Allure version`);
  process.exit(1);
}
const block = banner(verdict);
html = html.replace(body, (tag) => `${tag}\n${block}\n`);
writeFileSync(page, html);
