// Makes a generated Allure 3 report page fully offline: `node offline.mjs INDEX_HTML`.
//
// The Awesome report's page loads Google's analytics (gtag) and has no option to turn it off
// (allure 3.18: `analyticsEnable: true` in plugin-awesome). A report of a production run must not
// call out when opened, nor tell a third party that it was; the app itself never calls gtag, so
// dropping the two script elements changes nothing else.
import { readFileSync, writeFileSync } from "node:fs";

const [page] = process.argv.slice(2);
if (!page) {
  console.error("usage: node offline.mjs INDEX_HTML");
  process.exit(2);
}

const analytics = [
  /\s*<script async src="https:\/\/www\.googletagmanager\.com\/[^"]*"><\/script>/g,
  /\s*<script>\s*window\.dataLayer = window\.dataLayer \|\| \[\];[^<]*?gtag\('config'[^<]*<\/script>/g,
];
let html = readFileSync(page, "utf-8");
for (const pattern of analytics) {
  html = html.replace(pattern, "");
}
// A new Allure version that loads its analytics differently must fail here, not leak quietly.
if (/googletagmanager|gtag\(/.test(html)) {
  console.error(`offline.mjs: ${page} still loads analytics; update reports/offline.mjs for this Allure version`);
  process.exit(1);
}
writeFileSync(page, html);
