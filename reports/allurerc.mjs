// Allure 3 configuration for `make report` (scripts/report sets the variables below).
//   ALLURE_RESULTS      results to read         (default: reports/allure-results)
//   ALLURE_OUTPUT       report directory        (default: reports/allure-report)
//   ALLURE_HISTORY      history file, kept across runs so the report shows trends
//                                               (default: reports/allure-history.jsonl)
//   ALLURE_SINGLE_FILE  "1": one self-contained index.html, to attach to a ticket
//   ALLURE_APPEND_HISTORY "0": read the history without adding this run to it
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const setting = (name, fallback) => process.env[name] || fallback;

const results = resolve(here, setting("ALLURE_RESULTS", "allure-results"));
const singleFile = setting("ALLURE_SINGLE_FILE", "0") === "1";

// The suite writes categories.json (one category per failure mode of synthetics/catalogue.py)
// beside its results. Allure 2 reads it from there; Allure 3's Awesome report reads categories
// only from its configuration, so they are handed over here and the catalogue stays their source.
const readCategories = () => {
  const path = resolve(results, "categories.json");
  if (!existsSync(path)) {
    return undefined;
  }
  const rules = JSON.parse(readFileSync(path, "utf-8"));
  // Allure 3 understands Allure 2's keys (matchedStatuses, messageRegex); the rest is for Allure 2.
  return {
    rules: rules.map(({ name, matchedStatuses, messageRegex, traceRegex }) =>
      Object.fromEntries(
        Object.entries({ name, matchedStatuses, messageRegex, traceRegex }).filter(([, v]) => v !== undefined),
      ),
    ),
  };
};

export default {
  name: "Synapse synthetics",
  output: resolve(here, setting("ALLURE_OUTPUT", "allure-report")),
  resultsDir: results,
  historyPath: resolve(here, setting("ALLURE_HISTORY", "allure-history.jsonl")),
  appendHistory: setting("ALLURE_APPEND_HISTORY", "1") !== "0",
  categories: readCategories(),
  plugins: {
    awesome: {
      options: {
        reportName: "Synapse synthetics",
        reportLanguage: "en",
        singleFile,
        // By stack layer (the allure "feature" label each check carries), as the runbook reads.
        groupBy: ["feature"],
      },
    },
  },
};
